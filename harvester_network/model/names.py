"""Names derived from the plan, and the limits that make them legal.

Every name the renderer or the agent derives is computed here, so validation checks exactly
the names that will be used. Linux interface names are at most 15 characters (IFNAMSIZ - 1),
which is why a cluster network name is at most 12 (`<cn>-br`, `<cn>-bo`).
"""

from __future__ import annotations

import hashlib
import re

MANAGEMENT_NETWORK = "mgmt"
IFNAME_MAX = 15
CLUSTER_NETWORK_NAME_MAX = IFNAME_MAX - len("-br")
HOSTNAME_LABEL = "kubernetes.io/hostname"
DNS_LABEL_MAX = 63
DHCP_WORKLOAD_SUFFIX = "-dhcp"
DHCP_NAME_HASH_LEN = 10

DNS_LABEL_RE = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN_RE = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# Linux dev_valid_name(): no '/', ':' or whitespace, and not "." or ".."; no control characters either (NUL ends
# the name in netlink). The 15 are BYTES of UTF-8: plan.py's interface-name check counts them.
IFNAME_RE = r"^[^/:\s\x00-\x1f\x7f]+$"
# The byte the kernel's isspace() refuses besides ASCII whitespace: its ctype table is Latin-1, where 0xa0 is a
# space; UTF-8 uses that byte inside characters such as 'à' (c3 a0).
IFNAME_KERNEL_SPACE_BYTE = 0xA0
# Kubernetes' IANA_SVC_NAME (a Service port name): at most 15 of [a-z0-9-], a letter, no '-' at either end or twice.
SERVICE_PORT_NAME_MAX = 15
# Kubernetes' TotalAnnotationSizeLimitB (256 KiB, keys and values), less room for the other annotations.
DESCRIPTION_MAX_BYTES = 256 * 1024 - 4096
SERVICE_PORT_NAME_RE = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
MAC_RE = r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$"
# A container image reference (github.com/distribution/reference): [registry[:port]/]path[:tag][@sha256:digest].
# A digest pins the image: a tag (even not `latest`) can be moved to other contents by whoever controls the registry.
_IMAGE_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_HOST_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_IMAGE_REGISTRY = rf"(?:{_IMAGE_HOST_LABEL}(?:\.{_IMAGE_HOST_LABEL})*(?::[0-9]+)?/)?"
_IMAGE_TAG = r"(?::[\w][\w.-]{0,127})?"
_IMAGE_DIGEST = r"(?:@sha256:[0-9a-f]{64})?"
IMAGE_RE = rf"^{_IMAGE_REGISTRY}{_IMAGE_COMPONENT}(?:/{_IMAGE_COMPONENT})*{_IMAGE_TAG}{_IMAGE_DIGEST}$"


def bridge_name(cluster_network: str) -> str:
    return f"{cluster_network}-br"


def bond_name(cluster_network: str) -> str:
    return f"{cluster_network}-bo"


def vlanconfig_name(cluster_network: str, node: str | None) -> str:
    """One VlanConfig per node when nodes are listed, else one for all nodes (see render/clusternetwork.py)."""
    return cluster_network if node is None else f"{cluster_network}-{node}"


def dhcp_workload_name(network: str) -> str:
    """The ConfigMap and Deployment of a network's dnsmasq DHCP server: `<network>-dhcp`.

    A name over 63 characters (a network name over 58) keeps the network name's head and ends in a hash of the
    whole name instead: cutting it off at 63 made two long names with a common head share one Deployment. A hashed
    name ends in hex digits, never in "-dhcp", so it cannot meet an unshortened one either.
    """
    name = f"{network}{DHCP_WORKLOAD_SUFFIX}"
    if len(name) <= DNS_LABEL_MAX:
        return name
    digest = hashlib.sha256(network.encode()).hexdigest()[:DHCP_NAME_HASH_LEN]
    return f"{network[: DNS_LABEL_MAX - DHCP_NAME_HASH_LEN - 1].rstrip('-')}-{digest}"


def network_ref(namespace: str, name: str) -> str:
    """The `<ns>/<name>` form a VM's multus networkName uses."""
    return f"{namespace}/{name}"


def service_port_name(protocol: str, port: int, name: str | None) -> str:
    """A Service port's name; Kubernetes needs one per port once there are several, each unique."""
    return name or f"{protocol.lower()}-{port}"


def is_multicast_mac(mac: str) -> bool:
    return bool(int(mac.split(":")[0], 16) & 0x01)


def pinned_mac(namespace: str, vm: str, interface: str) -> str:
    """A stable MAC for a NIC the plan gives none, so DHCP leases survive VM restarts.

    QEMU's 52:54:00 prefix (locally administered, unicast) plus 24 bits of a hash of the NIC's identity.
    """
    digest = hashlib.sha256(f"{namespace}/{vm}/{interface}".encode()).digest()
    return "52:54:00:" + ":".join(f"{b:02x}" for b in digest[:3])


def is_image_reference(value: str) -> bool:
    return re.fullmatch(IMAGE_RE, value) is not None


def is_dns_label(value: str) -> bool:
    return len(value) <= DNS_LABEL_MAX and re.match(DNS_LABEL_RE, value) is not None
