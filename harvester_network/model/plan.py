"""The network plan: what a user declares, as pydantic models.

Types and `Field` constraints are the documentation of each field; `rules.py` holds the
cross-object rules. YAML keys are camelCase (the public contract), Python attributes snake_case.
Facts come from shared/reference/harvester-objects.md ("the reference").
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, model_validator
from pydantic.alias_generators import to_camel

from harvester_network.facts import (
    DEFAULT_BOND_MODE,
    DEFAULT_MIIMON,
    DEFAULT_MTU,
    MAX_MTU,
    MAX_PORT,
    MAX_VID,
    MIN_MTU,
    BondMode,
)
from harvester_network.model import names

DnsLabel = Annotated[str, Field(min_length=1, max_length=names.DNS_LABEL_MAX, pattern=names.DNS_LABEL_RE)]
NodeName = Annotated[str, Field(min_length=1, max_length=names.DNS_LABEL_MAX, pattern=names.DNS_SUBDOMAIN_RE)]


def _check_ifname(value: str) -> str:
    if value in (".", ".."):
        raise ValueError("'.' and '..' are not valid interface names")
    encoded = value.encode()
    if len(encoded) > names.IFNAME_MAX:
        raise ValueError(f"is {len(encoded)} bytes in UTF-8; Linux takes at most {names.IFNAME_MAX}")
    if names.IFNAME_KERNEL_SPACE_BYTE in encoded:
        raise ValueError("holds a character whose UTF-8 has byte 0xa0, which Linux reads as a space; rename it")
    return value


InterfaceName = Annotated[str, Field(pattern=names.IFNAME_RE), AfterValidator(_check_ifname)]


def _check_unique_nics(nics: list[str]) -> list[str]:
    dupes = sorted({n for n in nics if nics.count(n) > 1})
    if dupes:
        raise ValueError(f"lists {', '.join(dupes)} more than once; list each NIC once")
    return nics


# An uplink's NICs: each one can be enslaved to the bond once.
UplinkNics = Annotated[list[InterfaceName], Field(min_length=1), AfterValidator(_check_unique_nics)]
VlanId = Annotated[StrictInt, Field(ge=0, le=MAX_VID, description=f"0 = untagged, 1..{MAX_VID} tagged")]


def _check_mtu(value: int) -> int:
    if value != 0 and not MIN_MTU <= value <= MAX_MTU:
        raise ValueError(f"must be 0 (the default, {DEFAULT_MTU}) or between {MIN_MTU} and {MAX_MTU}")
    return value


def _check_cluster_network_name(value: str) -> str:
    if value == names.MANAGEMENT_NETWORK:
        raise ValueError(f"'{names.MANAGEMENT_NETWORK}' is Harvester's built-in management network; pick another name")
    return value


def _check_unicast_mac(value: str) -> str:
    if value == "00:00:00:00:00:00":  # MacAddress's pattern leaves one way to write it
        raise ValueError("00:00:00:00:00:00 is no NIC's address; use a unicast MAC such as 52:54:00:..")
    if names.is_multicast_mac(value):
        raise ValueError(
            "is a multicast MAC (lowest bit of the first octet set); use a unicast MAC such as 52:54:00:.."
        )
    return value.lower()


def _lease_time_from_number(value: object) -> object:
    """YAML reads `leaseTime: 3600` as an integer: take it as seconds, kept as the string "3600" (the form the
    string check accepts and renders as before)."""
    if isinstance(value, bool):
        return value  # `yes`/`true`: left to the string type's error
    if isinstance(value, int):
        if value <= 0:
            raise ValueError(
                f"{value} seconds is not a lease time; give a positive number of seconds such as 3600, "
                "or a duration such as 30m, 1h, 1d, or 'infinite'"
            )
        return str(value)
    if isinstance(value, float):
        raise ValueError(f"{value} is not a whole number of seconds; write whole seconds such as 3600, or 30m, 1h, 1d")
    return value


def _check_lease_time(value: str) -> str:
    if value != "infinite" and not re.fullmatch(r"[1-9][0-9]*[smhd]?", value):
        raise ValueError("must be a duration such as 3600, 30m, 1h, 1d, or 'infinite'")
    return value


def _check_ip_mode(value: str) -> str:
    if value in ("dhcp", "none"):
        return value
    try:
        iface = ipaddress.IPv4Interface(value)
    except ValueError:
        raise ValueError("must be 'dhcp', 'none' or a static IPv4 address with prefix, like 10.0.0.100/24") from None
    if "/" not in value:
        raise ValueError("a static address needs its prefix length, like 10.0.0.100/24")
    return str(iface)


def _check_service_port_name(value: str) -> str:
    if not any(c.isalpha() for c in value) or "--" in value:
        raise ValueError("a Service port name (IANA_SVC_NAME) needs a letter and no '--', like 'ssh' or 'http-alt'")
    return value


def _check_annotation_size(value: str) -> str:
    size = len(value.encode())
    if size > names.DESCRIPTION_MAX_BYTES:
        raise ValueError(
            f"is {size} bytes; it becomes an annotation, and Kubernetes takes at most "
            f"{names.DESCRIPTION_MAX_BYTES} bytes of annotations per object"
        )
    return value


Mtu = Annotated[StrictInt, AfterValidator(_check_mtu)]
Uint32 = Annotated[StrictInt, Field(le=2**32 - 1)]  # a netlink u32 attribute (IFLA_TXQLEN)
# The bond driver's int options (miimon): netlink carries a u32, the kernel refuses what exceeds INT_MAX.
BondInt = Annotated[StrictInt, Field(le=2**31 - 1)]
# A container image reference (the DHCP server's, a VM's containerDisk): [registry/]path[:tag][@sha256:digest].
ContainerImage = Annotated[str, Field(max_length=512, pattern=names.IMAGE_RE)]
Description = Annotated[str, AfterValidator(_check_annotation_size)]
ServicePortName = Annotated[
    str,
    Field(min_length=1, max_length=names.SERVICE_PORT_NAME_MAX, pattern=names.SERVICE_PORT_NAME_RE),
    AfterValidator(_check_service_port_name),
]
ClusterNetworkName = Annotated[
    str,
    Field(min_length=1, max_length=names.CLUSTER_NETWORK_NAME_MAX, pattern=names.DNS_LABEL_RE),
    AfterValidator(_check_cluster_network_name),
]
MacAddress = Annotated[str, Field(pattern=names.MAC_RE), AfterValidator(_check_unicast_mac)]
# A string duration, or a YAML integer taken as seconds.
LeaseTime = Annotated[str, BeforeValidator(_lease_time_from_number), AfterValidator(_check_lease_time)]
IpMode = Annotated[str, AfterValidator(_check_ip_mode)]
# KubeVirt's validInterfaceModels (kubevirt/kubevirt pkg/network/admitter/netiface.go).
NicModel = Literal["virtio", "e1000", "e1000e", "igb", "ne2k_pci", "pcnet", "rtl8139"]


class Spec(BaseModel):
    """Base of every plan model: camelCase keys, unknown keys rejected, values immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, str_strip_whitespace=False
    )


class Uplink(Spec):
    nics: UplinkNics = Field(description="NICs the agent bonds into <cn>-bo")
    bond_mode: BondMode = DEFAULT_BOND_MODE
    bond_miimon: BondInt = Field(
        default=DEFAULT_MIIMON, ge=-1, description=f"-1 means the kernel default, {DEFAULT_MIIMON} ms"
    )
    # 0 is Harvester's "no MTU given": the VlanConfig carries 0, the agent sets DEFAULT_MTU (facts.py).
    mtu: Mtu = Field(default=0, description=f"{MIN_MTU}..{MAX_MTU}, or 0 for the default {DEFAULT_MTU}")
    tx_q_len: Uint32 = Field(default=-1, ge=-1, alias="txQLen", description="-1 leaves it as it is")


class NodeOverride(Spec):
    """The seed's per-node "HOST > Network" NIC override. MTU stays cluster-wide (the reference's rule)."""

    node: NodeName
    nics: UplinkNics
    bond_mode: BondMode | None = None
    bond_miimon: BondInt | None = Field(default=None, ge=-1)


class ClusterNetwork(Spec):
    name: ClusterNetworkName
    description: Description = ""
    uplink: Uplink
    node_overrides: list[NodeOverride] = []

    def uplink_for(self, node: str) -> Uplink:
        """The uplink a node gets: its override merged over the default, or the default."""
        override = next((o for o in self.node_overrides if o.node == node), None)
        if override is None:
            return self.uplink
        return self.uplink.model_copy(
            update={
                "nics": override.nics,
                "bond_mode": override.bond_mode or self.uplink.bond_mode,
                "bond_miimon": self.uplink.bond_miimon if override.bond_miimon is None else override.bond_miimon,
            }
        )


class ManualRoute(Spec):
    mode: Literal["manual"]
    cidr: ipaddress.IPv4Network
    gateway: ipaddress.IPv4Address

    @model_validator(mode="after")
    def _gateway_in_cidr(self) -> ManualRoute:
        if self.cidr.prefixlen == 0:
            raise ValueError(f"cidr {self.cidr} has a zero mask; give the VLAN's subnet, like 10.100.0.0/24")
        if self.gateway not in self.cidr:
            raise ValueError(f"gateway {self.gateway} is outside cidr {self.cidr}; use an address inside it")
        if self.cidr.prefixlen < 31 and self.gateway in (self.cidr.network_address, self.cidr.broadcast_address):
            raise ValueError(f"gateway {self.gateway} is the network or broadcast address of {self.cidr}")
        return self


class AutoRoute(Spec):
    """Harvester probes DHCP on the VLAN (optionally at serverIP) and writes cidr/gateway back."""

    mode: Literal["auto"]
    server_ip: ipaddress.IPv4Address | None = Field(default=None, alias="serverIP")


Route = Annotated[ManualRoute | AutoRoute, Field(discriminator="mode")]


class DhcpRange(Spec):
    start: ipaddress.IPv4Address
    end: ipaddress.IPv4Address


# poseidon/dnsmasq (Alpine: dnsmasq, busybox `ip` and sh) at a release tag, never `latest`.
DEFAULT_DHCP_IMAGE = "quay.io/poseidon/dnsmasq:v0.5.0-51-gc8a9de4"


class DhcpServer(Spec):
    """A DHCP server we deploy on the VLAN, for VLANs without a router that serves DHCP."""

    server_ip: ipaddress.IPv4Address = Field(alias="serverIP")
    range: DhcpRange
    lease_time: LeaseTime = "1h"
    dns: list[ipaddress.IPv4Address] = []
    # dnsmasq: a Deployment attached to the VLAN through Multus (works anywhere);
    # ippool: Harvester's vm-dhcp-controller add-on IPPool.
    backend: Literal["dnsmasq", "ippool"] = "dnsmasq"
    image: ContainerImage = Field(
        default=DEFAULT_DHCP_IMAGE, description="needs dnsmasq, `ip` and /bin/sh; pin it by digest: REPO@sha256:..."
    )

    @property
    def lease_seconds(self) -> int | None:
        """The lease time in seconds; None for 'infinite'."""
        if self.lease_time == "infinite":
            return None
        unit = self.lease_time[-1]
        scale = {"s": 1, "m": 60, "h": 3600, "d": 86400}.get(unit)
        return int(self.lease_time) if scale is None else int(self.lease_time[:-1]) * scale


class Network(Spec):
    name: DnsLabel
    namespace: DnsLabel = "default"
    cluster_network: ClusterNetworkName
    vlan: VlanId
    route: Route | None = None
    dhcp_server: DhcpServer | None = None

    @property
    def ref(self) -> str:
        return names.network_ref(self.namespace, self.name)


class Interface(Spec):
    name: DnsLabel
    network: str = Field(
        min_length=1, description="'mgmt', '<namespace>/<network>', or '<network>' in the VM's namespace"
    )
    model: NicModel = "virtio"
    mac_address: MacAddress | None = None
    ip: IpMode = "dhcp"
    boot_order: StrictInt | None = Field(default=None, ge=1)

    @property
    def is_management(self) -> bool:
        return self.network == names.MANAGEMENT_NETWORK


class ServicePort(Spec):
    port: StrictInt = Field(ge=1, le=MAX_PORT)
    target_port: StrictInt | None = Field(default=None, ge=1, le=MAX_PORT)
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"
    name: ServicePortName | None = None


class ManagementService(Spec):
    """A Service that gives a VM a stable address on the management (pod) network."""

    ports: list[ServicePort] = Field(min_length=1)
    type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = "ClusterIP"


class VirtualMachine(Spec):
    name: DnsLabel
    namespace: DnsLabel = "default"
    interfaces: list[Interface] = Field(min_length=1)
    management_service: ManagementService | None = None
    cpu: StrictInt = Field(default=1, ge=1, le=512)
    memory: str = Field(default="1Gi", pattern=r"^[1-9][0-9]*(Mi|Gi)$")
    image: ContainerImage = "quay.io/containerdisks/ubuntu:24.04"
    user_data: str | None = Field(
        default=None, description="cloud-init user data; rendered into the VM's cloud-init Secret, never its spec"
    )
    network_data_version: Literal[1, 2] = 2
    dns: list[ipaddress.IPv4Address] = Field(
        default=[], description="nameservers for the guest, on top of what its DHCP NIC (if any) is given"
    )

    def mac_of(self, interface: Interface) -> str:
        return interface.mac_address or names.pinned_mac(self.namespace, self.name, interface.name)


class LabNode(Spec):
    nics: list[InterfaceName] = Field(min_length=1)
    # A NIC that carries the node's host IP (the seed allows it as the VLAN uplink).
    management_nic: InterfaceName | None = None


class Lab(Spec):
    """Only read by `hvnet lab`: where each node's NICs and each VM live in the real-kernel lab."""

    nodes: dict[NodeName, LabNode] = {}
    placement: dict[DnsLabel, NodeName] = Field(default={}, description="VM name -> node it runs on")
    router: bool = True
    untagged_host: bool = True


class Plan(Spec):
    cluster_networks: list[ClusterNetwork] = []
    nodes: list[NodeName] | None = None
    service_cidr: ipaddress.IPv4Network = Field(
        default=ipaddress.IPv4Network("10.53.0.0/16"), alias="serviceCIDR", description="Harvester's default"
    )
    networks: list[Network] = []
    virtual_machines: list[VirtualMachine] = []
    lab: Lab | None = None

    def cluster_network(self, name: str) -> ClusterNetwork | None:
        return next((cn for cn in self.cluster_networks if cn.name == name), None)

    def network_for(self, vm: VirtualMachine, interface: Interface) -> Network | None:
        """Resolve an interface's network reference; None for mgmt or an unknown network."""
        ref = interface.network if "/" in interface.network else names.network_ref(vm.namespace, interface.network)
        return self._networks_by_ref().get(ref)

    def _networks_by_ref(self) -> dict[str, Network]:
        """ref -> the first network with it. Built once: a linear search per VM NIC made rules and rendering
        quadratic (10 000 networks x 1 000 NICs). Kept outside the fields, so it is never dumped or compared,
        and tied to the `networks` list it indexes, so a `model_copy(update={"networks": ...})` rebuilds it."""
        cached = self.__dict__.get(_NETWORK_INDEX)
        if cached is None or cached[0] is not self.networks:
            index: dict[str, Network] = {}
            for net in self.networks:
                index.setdefault(net.ref, net)
            cached = (self.networks, index)
            self.__dict__[_NETWORK_INDEX] = cached
        return cached[1]


_NETWORK_INDEX = "_hvnet_networks_by_ref"
