"""What each node gets from a plan (`hvnet plan`), and the physical switch-port checklist.

The seed's requirement: the switch port of every node NIC must be a trunk (or hybrid) port that
permits the cluster network's VLANs tagged, with PVID 1 untagged for untagged traffic and VLAN 1.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from harvester_network.facts import DEFAULT_MTU
from harvester_network.model import names
from harvester_network.model.plan import Plan

ALL_NODES = "*"  # the row for "every node" when the plan lists none


@dataclass(frozen=True)
class BridgePlan:
    cluster_network: str
    bridge: str
    bond: str
    nics: list[str]
    bond_mode: str
    mtu: int  # what the agent sets: the uplink's MTU, DEFAULT_MTU for 0
    vids: list[int]  # tagged on the uplink: the networks' VLANs, without 0 and 1
    untagged: bool  # some network is untagged (vlan 0) or VLAN 1: carried on PVID 1


@dataclass(frozen=True)
class SwitchPort:
    node: str
    nic: str
    cluster_network: str
    tagged_vids: list[int]
    native_vlan: int = 1  # PVID 1, untagged


@dataclass(frozen=True)
class VmNic:
    vm: str
    interface: str
    network: str
    cluster_network: str
    vlan: int | None  # None: the management network
    mac: str
    ip: str


@dataclass(frozen=True)
class NodePlan:
    nodes: dict[str, list[BridgePlan]] = field(default_factory=dict)
    switch_ports: list[SwitchPort] = field(default_factory=list)
    vm_nics: list[VmNic] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def uplink_vids(plan: Plan, cluster_network: str) -> list[int]:
    """VIDs trunked on a cluster network's uplink: every network's VLAN except 0 and 1 (1 is the PVID)."""
    return sorted({n.vlan for n in plan.networks if n.cluster_network == cluster_network and n.vlan > 1})


def node_plan(plan: Plan) -> NodePlan:
    result = NodePlan()
    for node in plan.nodes if plan.nodes is not None else [ALL_NODES]:
        bridges = []
        for cn in plan.cluster_networks:
            uplink = cn.uplink_for(node)
            vids = uplink_vids(plan, cn.name)
            untagged = any(n.cluster_network == cn.name and n.vlan <= 1 for n in plan.networks)
            bridges.append(
                BridgePlan(
                    cn.name,
                    names.bridge_name(cn.name),
                    names.bond_name(cn.name),
                    list(uplink.nics),
                    uplink.bond_mode,
                    uplink.mtu or DEFAULT_MTU,
                    vids,
                    untagged,
                )
            )
            result.switch_ports.extend(SwitchPort(node, nic, cn.name, vids) for nic in uplink.nics)
        result.nodes[node] = bridges
    for vm in plan.virtual_machines:
        for nic in vm.interfaces:
            net = plan.network_for(vm, nic)
            result.vm_nics.append(
                VmNic(
                    f"{vm.namespace}/{vm.name}",
                    nic.name,
                    net.ref if net else names.MANAGEMENT_NETWORK,
                    net.cluster_network if net else names.MANAGEMENT_NETWORK,
                    net.vlan if net else None,
                    vm.mac_of(nic),
                    nic.ip,
                )
            )
    return result
