"""A DHCP server on a VLAN without one (Harvester #947, #4428): dnsmasq through Multus, or an IPPool.

`backend: dnsmasq` renders a ConfigMap with dnsmasq.conf and a one-replica Deployment attached to the
VLAN's NAD as `net1`. The NAD has no IPAM, so the pod sets its own static serverIP (NET_ADMIN) before
starting dnsmasq. The lab runs the same dnsmasq.conf. `backend: ippool` renders the IPPool of
Harvester's vm-dhcp-controller add-on instead.
"""

from __future__ import annotations

from typing import Any

from harvester_network.model import names
from harvester_network.model.plan import DhcpServer, ManualRoute, Network
from harvester_network.render import harvester as h
from harvester_network.render.nad import compact_json

DHCP_INTERFACE = "net1"
DNSMASQ_CONF_KEY = "dnsmasq.conf"
LEASE_DIR = "/var/lib/dnsmasq"  # an emptyDir (mode 0777: dnsmasq writes it as nobody)
# Only what dnsmasq needs (dnsmasq(8)): NET_ADMIN for the server address and the ARP entries of replies to clients
# without an address; NET_RAW for the ping that checks an address is free before offering it; NET_BIND_SERVICE for
# port 67; SETUID/SETGID to drop to `nobody` after binding.
DHCP_CAPABILITIES = ["NET_ADMIN", "NET_RAW", "NET_BIND_SERVICE", "SETUID", "SETGID"]


def _server(net: Network) -> tuple[DhcpServer, ManualRoute]:
    # Validation guarantees a manual route wherever there is a dhcpServer; a caller that skipped it learns here.
    if net.dhcp_server is None or not isinstance(net.route, ManualRoute):
        raise ValueError(f"network {net.ref}: no dhcpServer with a manual route to render (validate the plan first)")
    return net.dhcp_server, net.route


def server_address(net: Network) -> str:
    """serverIP with the VLAN's prefix, as the DHCP pod (or lab namespace) configures it."""
    dhcp, route = _server(net)
    return f"{dhcp.server_ip}/{route.cidr.prefixlen}"


def dnsmasq_conf(net: Network, lease_file: str = f"{LEASE_DIR}/dnsmasq.leases") -> str:
    dhcp, route = _server(net)
    lease = "infinite" if dhcp.lease_seconds is None else f"{dhcp.lease_seconds}s"
    lines = [
        f"# hvnet: DHCP for network {net.ref} (VLAN {net.vlan}); rendered, do not edit",
        "port=0",  # DHCP only, no DNS service
        f"interface={DHCP_INTERFACE}",
        "bind-interfaces",
        "dhcp-authoritative",
        f"dhcp-range={dhcp.range.start},{dhcp.range.end},{route.cidr.netmask},{lease}",
        f"dhcp-option=option:router,{route.gateway}",
    ]
    if dhcp.dns:
        lines.append("dhcp-option=option:dns-server," + ",".join(str(d) for d in dhcp.dns))
    lines += [f"dhcp-leasefile={lease_file}", "log-dhcp"]
    return "\n".join(lines) + "\n"


def dhcp_objects(net: Network) -> list[dict[str, Any]]:
    dhcp, _ = _server(net)
    if dhcp.backend == "ippool":
        return [ippool_object(net)]
    name = names.dhcp_workload_name(net.name)
    labels = {
        "app.kubernetes.io/name": "hvnet-dhcp",
        "app.kubernetes.io/instance": name,
        h.LABEL_MANAGED_BY: h.MANAGED_BY,
    }
    selector = {"app.kubernetes.io/instance": name}
    attachment = [{"name": net.name, "namespace": net.namespace, "interface": DHCP_INTERFACE}]
    # Root only to set the address and bind; dnsmasq then runs as nobody:nogroup (the built-in default group
    # differs by distribution), keeping NET_ADMIN alone (dnsmasq(8), --user). The pid file goes to the writable
    # lease directory: the root filesystem is read-only.
    start = (
        f"ip addr add {server_address(net)} dev {DHCP_INTERFACE} && "
        "exec dnsmasq --keep-in-foreground --log-facility=- --user=nobody --group=nogroup "
        f"--pid-file={LEASE_DIR}/dnsmasq.pid --conf-file=/etc/dnsmasq/{DNSMASQ_CONF_KEY}"
    )
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": net.namespace, "labels": labels},
        "data": {DNSMASQ_CONF_KEY: dnsmasq_conf(net)},
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": net.namespace, "labels": labels},
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},  # two servers must never hand out the same pool
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": labels, "annotations": {h.ANNOTATION_MULTUS_NETWORKS: compact_json(attachment)}},
                "spec": {
                    "automountServiceAccountToken": False,  # a DHCP server has no business with the API
                    "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [
                        {
                            "name": "dnsmasq",
                            "image": dhcp.image,
                            "command": ["/bin/sh", "-c", start],
                            "securityContext": {
                                "capabilities": {"drop": ["ALL"], "add": DHCP_CAPABILITIES},
                                # Not restricted: root until dnsmasq drops to nobody, since `ip addr add` needs
                                # NET_ADMIN effective, which Kubernetes gives root only (no ambient capabilities).
                                "runAsUser": 0,
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                            },
                            "resources": {
                                "requests": {"cpu": "10m", "memory": "16Mi"},
                                "limits": {"cpu": "200m", "memory": "64Mi"},
                            },
                            "volumeMounts": [
                                {"name": "config", "mountPath": "/etc/dnsmasq", "readOnly": True},
                                {"name": "leases", "mountPath": LEASE_DIR},
                            ],
                        }
                    ],
                    "volumes": [{"name": "config", "configMap": {"name": name}}, {"name": "leases", "emptyDir": {}}],
                },
            },
        },
    }
    return [config_map, deployment]


def ippool_object(net: Network) -> dict[str, Any]:
    dhcp, route = _server(net)
    ipv4: dict[str, Any] = {
        "cidr": str(route.cidr),
        "serverIP": str(dhcp.server_ip),
        "router": str(route.gateway),
        "dns": [str(d) for d in dhcp.dns],
        "pool": {"start": str(dhcp.range.start), "end": str(dhcp.range.end), "exclude": []},
    }
    if dhcp.lease_seconds is not None:
        ipv4["leaseTime"] = dhcp.lease_seconds
    return {
        "apiVersion": h.DHCP_API,
        "kind": "IPPool",
        "metadata": {"name": net.name, "namespace": net.namespace, "labels": {h.LABEL_MANAGED_BY: h.MANAGED_BY}},
        "spec": {"networkName": net.ref, "ipv4Config": ipv4},
    }
