"""The wires and boxes: the switch, node namespaces with their NICs, the router and the untagged host.

Each function returns the iproute2 commands of one change (pure, so they can be read and tested);
`build_fabric` runs them batched per namespace. Node bridges, bonds and VLAN trunks on the nodes are
NOT made here: that is the node agent's job (`agents.py` runs it).
"""

from __future__ import annotations

from collections.abc import Sequence

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

Command = tuple[str, ...]  # an `ip` or `bridge` command line without the program and `-n <netns>`
# A gateway that does not route between VLANs, so the matrix shows layer-2 reachability only.
ROUTER_SYSCTLS = ("net.ipv4.ip_forward=0",)


def switch_bridge() -> list[Command]:
    """A VLAN-filtering bridge: ports start with PVID 1 untagged, like a switch's native VLAN."""
    return [
        ("link", "add", SWITCH_BRIDGE, "type", "bridge", "vlan_filtering", "1", "vlan_default_pvid", "1"),
        ("link", "set", SWITCH_BRIDGE, "up"),
    ]


def switch_port(port: SwitchPort) -> list[Command]:
    """The switch end of a cable: a veth whose peer lands as `port.peer` in `port.peer_ns`."""
    return [
        ("link", "add", port.name, "mtu", str(SWITCH_MTU), "type", "veth", "peer", "name", port.peer,
         "netns", port.peer_ns),
        ("link", "set", port.name, "alias", port.label),
        ("link", "set", port.name, "master", SWITCH_BRIDGE),
        ("link", "set", port.name, "up"),
    ]  # fmt: skip


def switch_port_trunk(port: SwitchPort) -> list[Command]:
    """`bridge` commands: the port's VIDs, tagged (PVID 1 untagged stays from the bridge default)."""
    return [("vlan", "add", "dev", port.name, "vid", str(vid)) for vid in port.tagged_vids]


def cable_end_up(port: SwitchPort) -> list[Command]:
    return [("link", "set", port.peer, "up")]


def host_ip(node: LabNodeSpec) -> list[Command]:
    """The node's host IP on its management NIC, as the installer would set it."""
    if node.host_ip is None or node.management_nic is None:
        return []
    return [("addr", "add", str(node.host_ip), "dev", node.management_nic)]


def router_leg(leg: RouterLeg) -> list[Command]:
    commands: list[Command] = []
    if leg.ifname != UPLINK_IF:
        commands += [
            ("link", "add", "link", UPLINK_IF, "name", leg.ifname, "type", "vlan", "id", str(leg.vlan)),
            ("link", "set", leg.ifname, "up"),
        ]
    return [*commands, ("addr", "add", str(leg.address), "dev", leg.ifname)]


def addresses(ifname: str, values: Sequence[object]) -> list[Command]:
    return [("addr", "add", str(value), "dev", ifname) for value in values]


def switch_port_vids(port_name: str) -> set[int]:
    """The VIDs a switch port carries tagged right now (PVID excluded)."""
    flags = ns.bridge_vlans(SWITCH_NS).get(port_name, {})
    return {vid for vid, f in flags.items() if "PVID" not in f}


def build_fabric(topology: Topology) -> None:
    """Everything but the agents and the workloads: switch, nodes with NICs and host IPs, router, untagged host."""
    namespaces = [SWITCH_NS, *(node.netns for node in topology.nodes)]
    namespaces += [ROUTER_NS] if topology.has_router else []
    namespaces += [UNTAGGED_HOST_NS] if topology.untagged_host else []
    ns.batch("ip", None, [("netns", "add", name) for name in namespaces])
    for name in namespaces:
        ns.batch("ip", name, [ns.mark_lab_namespace()])
        ns.quiet_sysctls(name, ROUTER_SYSCTLS if name == ROUTER_NS else ())
    ns.batch("ip", SWITCH_NS, switch_bridge() + [c for p in topology.switch_ports for c in switch_port(p)])
    ns.batch("bridge", SWITCH_NS, [c for p in topology.switch_ports for c in switch_port_trunk(p)])
    per_ns: dict[str, list[Command]] = {name: [] for name in namespaces}
    for port in topology.switch_ports:
        per_ns[port.peer_ns] += cable_end_up(port)
    for node in topology.nodes:
        per_ns[node.netns] += host_ip(node)
    if topology.router_address is not None:
        per_ns[ROUTER_NS] += addresses(UPLINK_IF, [topology.router_address])
        per_ns[ROUTER_NS] += [c for leg in topology.router_legs for c in router_leg(leg)]
    if topology.untagged_host:
        per_ns[UNTAGGED_HOST_NS] += addresses(UPLINK_IF, topology.untagged_host)
    for name, commands in per_ns.items():
        ns.batch("ip", name, commands)
