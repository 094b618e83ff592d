"""The wires and boxes: the switch, node namespaces with their NICs, the router and the untagged host.

Each function makes one change. Node bridges, bonds and VLAN trunks on the nodes are NOT made here:
that is the node agent's job (`agents.py` runs it).
"""

from __future__ import annotations

from harvester_network.lab import netns as ns
from harvester_network.lab.topology import (
    ROUTER_NS,
    SWITCH_BRIDGE,
    SWITCH_MTU,
    SWITCH_NS,
    UNTAGGED_HOST_NS,
    UPLINK_IF,
    LabNodeSpec,
    RouterLeg,
    SwitchPort,
    Topology,
)


def create_switch() -> None:
    """A VLAN-filtering bridge: ports start with PVID 1 untagged, like a switch's native VLAN."""
    ns.add_netns(SWITCH_NS)
    ns.ip(SWITCH_NS, "link", "add", SWITCH_BRIDGE, "type", "bridge", "vlan_filtering", "1", "vlan_default_pvid", "1")
    ns.ip(SWITCH_NS, "link", "set", SWITCH_BRIDGE, "up")


def cable_port(port: SwitchPort) -> None:
    """A veth from the switch to `port.peer` in `port.peer_ns`, trunking the port's VIDs tagged."""
    ns.ip(SWITCH_NS, "link", "add", port.name, "mtu", str(SWITCH_MTU), "type", "veth", "peer", "name", port.peer,
          "netns", port.peer_ns)  # fmt: skip
    ns.ip(SWITCH_NS, "link", "set", port.name, "alias", port.label)
    ns.ip(SWITCH_NS, "link", "set", port.name, "master", SWITCH_BRIDGE)
    for vid in port.tagged_vids:
        ns.bridge(SWITCH_NS, "vlan", "add", "dev", port.name, "vid", str(vid))
    ns.ip(SWITCH_NS, "link", "set", port.name, "up")
    ns.ip(port.peer_ns, "link", "set", port.peer, "up")


def switch_port_vids(port_name: str) -> set[int]:
    """The VIDs a switch port carries tagged right now (PVID excluded)."""
    flags = ns.bridge_vlans(SWITCH_NS).get(port_name, {})
    return {vid for vid, f in flags.items() if "PVID" not in f}


def create_node(node: LabNodeSpec) -> None:
    ns.add_netns(node.netns)


def set_host_ip(node: LabNodeSpec) -> None:
    """The node's host IP on its management NIC, as the installer would set it."""
    if node.host_ip is not None and node.management_nic is not None:
        ns.ip(node.netns, "addr", "add", str(node.host_ip), "dev", node.management_nic)


def create_router(topology: Topology) -> None:
    ns.add_netns(ROUTER_NS)
    # A gateway that does not route between VLANs, so the matrix shows layer-2 reachability only.
    ns.sysctl(ROUTER_NS, "net.ipv4.ip_forward", "0")


def add_router_leg(leg: RouterLeg) -> None:
    if leg.ifname != UPLINK_IF:
        ns.ip(ROUTER_NS, "link", "add", "link", UPLINK_IF, "name", leg.ifname, "type", "vlan", "id", str(leg.vlan))
        ns.ip(ROUTER_NS, "link", "set", leg.ifname, "up")
    ns.ip(ROUTER_NS, "addr", "add", str(leg.address), "dev", leg.ifname)


def set_router_address(topology: Topology) -> None:
    if topology.router_address is not None:
        ns.ip(ROUTER_NS, "addr", "add", str(topology.router_address), "dev", UPLINK_IF)


def create_untagged_host() -> None:
    ns.add_netns(UNTAGGED_HOST_NS)


def set_untagged_host_addresses(topology: Topology) -> None:
    for address in topology.untagged_host:
        ns.ip(UNTAGGED_HOST_NS, "addr", "add", str(address), "dev", UPLINK_IF)


def build_fabric(topology: Topology) -> None:
    """Everything but the agents and the workloads: switch, nodes with NICs and host IPs, router, untagged host."""
    create_switch()
    for node in topology.nodes:
        create_node(node)
    if topology.has_router:
        create_router(topology)
    if topology.untagged_host:
        create_untagged_host()
    for port in topology.switch_ports:
        cable_port(port)
    for node in topology.nodes:
        set_host_ip(node)
    if topology.has_router:
        set_router_address(topology)
        for leg in topology.router_legs:
            add_router_leg(leg)
    set_untagged_host_addresses(topology)
