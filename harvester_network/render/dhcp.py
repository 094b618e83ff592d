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


def _server(net: Network) -> tuple[DhcpServer, ManualRoute]:
    # Validation guarantees a manual route wherever there is a dhcpServer.
    assert net.dhcp_server is not None and isinstance(net.route, ManualRoute)
    return net.dhcp_server, net.route


def server_address(net: Network) -> str:
    """serverIP with the VLAN's prefix, as the DHCP pod (or lab namespace) configures it."""
    dhcp, route = _server(net)
    return f"{dhcp.server_ip}/{route.cidr.prefixlen}"


def dnsmasq_conf(net: Network, lease_file: str = "/var/lib/dnsmasq/dnsmasq.leases") -> str:
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
    start = (
        f"ip addr add {server_address(net)} dev {DHCP_INTERFACE} && "
        f"exec dnsmasq --keep-in-foreground --log-facility=- --conf-file=/etc/dnsmasq/{DNSMASQ_CONF_KEY}"
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
                    "containers": [
                        {
                            "name": "dnsmasq",
                            "image": dhcp.image,
                            "command": ["/bin/sh", "-c", start],
                            "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}},
                            "volumeMounts": [
                                {"name": "config", "mountPath": "/etc/dnsmasq"},
                                {"name": "leases", "mountPath": "/var/lib/dnsmasq"},
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
