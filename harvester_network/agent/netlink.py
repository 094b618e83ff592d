"""The agent's kernel side: diff the desired `HostState` with the kernel (`plan_changes`, pure) and apply it.

    result = Reconciler(ipr).reconcile(desired)   # read (one link dump + one bridge-VLAN dump), plan, apply

The link events that ask for a pass, or for a VM port's prune at once, are read in agent/link_events.py.

Ownership (ifalias `hvnet:<cn>` and a link group), teardown, VID-1 pruning and "no writes when nothing
changed" are described in docs/agent.md; each rule is a comment where it is applied.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harvester_network.agent.hoststate import OWNER_ALIAS_PREFIX, BridgeState, HostState, NodeError
from harvester_network.agent.netlink_apply import (
    AddVids,
    Applier,
    ApplyResult,
    AttachToBridge,
    Change,
    ClaimLink,
    CreateBond,
    CreateBridge,
    DeleteLink,
    DelVids,
    EnableVlanFiltering,
    EnslaveHook,
    EnslaveNic,
    PruneVid1,
    ReleaseNic,
    SetMiimon,
    SetMtu,
    SetTxqlen,
    SetUp,
)
from harvester_network.agent.netlink_read import (
    KernelState,
    LinkState,
    PortVlan,
    RouteSocket,
    link_inventory,
    read_kernel_state,
)
from harvester_network.facts import DEFAULT_PVID, MAX_VID
from harvester_network.vids import vid_ranges

__all__ = [
    "ApplyResult",
    "EnslaveHook",
    "NotOwnedError",
    "Plan",
    "Reconciler",
    "link_inventory",
    "plan_changes",
    "prune_default_vlan",
]

PRUNE_REASON = (
    "its PVID is not 1, and in VLAN 1 it would receive the bridge's untagged traffic (harvester/harvester#8816)"
)


class NotOwnedError(ValueError):
    """An operation was asked for on a link the agent does not own."""


@dataclass
class Plan:
    """What to change, in order, and the cluster networks that cannot be set up (left as they are)."""

    changes: list[Change] = field(default_factory=list)
    errors: list[NodeError] = field(default_factory=list)


@dataclass
class _NetworkPlan:
    """One cluster network's part of a plan; `plan_changes` joins them: every release, every deletion, then the
    builds (a NIC moving between cluster networks is free before it is enslaved again)."""

    releases: dict[str, ReleaseNic] = field(default_factory=dict)  # by NIC: the first cluster network to free it
    deletions: list[Change] = field(default_factory=list)
    builds: list[Change] = field(default_factory=list)
    error: NodeError | None = None


def plan_changes(desired: HostState, current: KernelState) -> Plan:
    """The changes that turn `current` into `desired` (pure)."""
    wanted = {bridge.cluster_network: bridge for bridge in desired.bridges}
    parts = [_plan_teardown(cn, current) for cn in sorted(current.owners() - wanted.keys())]
    parts += [_plan_cluster_network(wanted[cn], wanted, current) for cn in sorted(wanted)]
    releases: dict[str, ReleaseNic] = {}
    for part in parts:
        releases |= {nic: release for nic, release in part.releases.items() if nic not in releases}
    return Plan(
        changes=[
            *releases.values(),
            *(change for part in parts for change in part.deletions),
            *(change for part in parts for change in part.builds),
        ],
        errors=[part.error for part in parts if part.error is not None],
    )


def _plan_teardown(cn: str, current: KernelState) -> _NetworkPlan:
    reason = f"cluster network {cn} is no longer wanted on this node"
    plan = _NetworkPlan()
    for link in sorted(current.owned_by(cn), key=_bonds_first):
        if link.kind == "bond":
            for nic in current.ports_of(link.name):
                plan.releases.setdefault(nic.name, ReleaseNic(cn, nic.name, reason, bond=link.name))
        plan.deletions.append(DeleteLink(cn, link.name, reason, kind=link.kind or "link"))
    return plan


def _bonds_first(link: LinkState) -> tuple[bool, str]:
    # Deleting the bridge first would be fine too; bonds first keeps the NICs' release explicit in the log.
    return (link.kind != "bond", link.name)


def _ownership_problem(name: str, what: str, cn: str, link: LinkState | None) -> str | None:
    if link is None or (link.owner == cn and link.kind == what):
        return None
    if link.owner is None:
        return f"{name} exists and is not owned by hvnet (no '{OWNER_ALIAS_PREFIX}' ifalias); rename or delete it"
    if link.owner != cn:
        return f"{name} belongs to hvnet cluster network {link.owner}; remove that cluster network's VlanConfig first"
    return f"{name} is a {link.kind or 'NIC'}, not a {what}; delete it and hvnet makes the {what}"


def _nic_problem(nic: str, bridge: BridgeState, wanted: Mapping[str, BridgeState], current: KernelState) -> str | None:
    link = current.links.get(nic)
    bond = bridge.uplink.bond
    if link is None:
        return f"NIC {nic} does not exist; list a NIC this node has"
    if link.owner is not None:
        return f"NIC {nic} is a link hvnet made itself (cluster network {link.owner}), not a NIC; list a NIC instead"
    if link.master in (None, bond):
        return None
    master = current.links.get(link.master or "")
    master_owner = master.owner if master else None
    if master_owner is None:
        where = f"{nic} is already enslaved to {link.master} (not owned by hvnet)"
        return f"enslave {nic} to {bond}: {where}; release it or list another NIC"
    other = wanted.get(master_owner)
    if master_owner == bridge.cluster_network or other is None or nic not in other.uplink.nics:
        return None  # its master is ours, or gives it up (released first)
    where = f"{nic} is already enslaved to {link.master} (cluster network {other.cluster_network} uses it)"
    return f"enslave {nic} to {bond}: {where}; list it in one VlanConfig only"


def _plan_cluster_network(bridge: BridgeState, wanted: Mapping[str, BridgeState], current: KernelState) -> _NetworkPlan:
    cn, uplink = bridge.cluster_network, bridge.uplink
    br, bo = current.links.get(bridge.bridge), current.links.get(uplink.bond)
    plan = _NetworkPlan()
    # NICs the bond has but should not have any more are released even when the rest cannot be set up.
    for port in current.ports_of(uplink.bond) if bo is not None and bo.owner == cn else ():
        if port.name not in uplink.nics:
            reason = f"{port.name} is no longer an uplink of cluster network {cn}"
            plan.releases.setdefault(port.name, ReleaseNic(cn, port.name, reason, bond=uplink.bond))
    problems = [
        problem
        for problem in (
            _ownership_problem(bridge.bridge, "bridge", cn, br),
            _ownership_problem(uplink.bond, "bond", cn, bo),
            *(_nic_problem(nic, bridge, wanted, current) for nic in uplink.nics),
        )
        if problem
    ]
    if problems:
        plan.error = NodeError(cn, "; ".join(problems), bridge.vlan_config)
        if br is not None and br.owner == cn and br.kind == "bridge":  # its VM ports stay isolated meanwhile
            plan.builds += _prune_changes(cn, bridge.bridge, current, uplink.bond)
        return plan
    # NICs still enslaved to another owned master (one that gives them up) are released first.
    for nic in uplink.nics:
        master = current.links[nic].master
        if master not in (None, uplink.bond):
            reason = f"{nic} is an uplink of cluster network {cn} now"
            plan.releases.setdefault(nic, ReleaseNic(cn, nic, reason, bond=master or ""))
    if bo is not None and bo.bond_mode != uplink.bond_mode:
        # Deleting the bond releases its NICs (the kernel restores their MTUs); they are enslaved again below.
        reason = f"bond mode is {bo.bond_mode}, wanted {uplink.bond_mode}; a bond changes mode only without NICs"
        plan.deletions.append(DeleteLink(cn, uplink.bond, reason, kind="bond"))
        bo = None
    plan.builds += [
        ClaimLink(cn, link.name, "it was made by hvnet (link group), which stopped before naming its owner")
        for link in (br, bo)
        if link is not None and not link.alias
    ]
    plan.builds += _bridge_changes(bridge, br)
    plan.builds += _bond_changes(bridge, bo)
    if br is not None and uplink.mtu and br.mtu != uplink.mtu:
        plan.builds.append(SetMtu(cn, bridge.bridge, f"MTU is {br.mtu}, wanted {uplink.mtu}", mtu=uplink.mtu))
    plan.builds += _nic_changes(bridge, bo, current)
    port_is_new = bo is None or bo.master != bridge.bridge
    plan.builds += _vid_changes(bridge, {} if port_is_new else current.vlans(uplink.bond))
    if br is not None:
        plan.builds += _prune_changes(cn, bridge.bridge, current, uplink.bond)
    return plan


def _bridge_changes(bridge: BridgeState, br: LinkState | None) -> list[Change]:
    cn, name = bridge.cluster_network, bridge.bridge
    if br is None:
        return [CreateBridge(cn, name, f"cluster network {cn} has no bridge yet", mtu=bridge.uplink.mtu)]
    changes: list[Change] = []
    if not br.vlan_filtering:
        changes.append(EnableVlanFiltering(cn, name, "VLAN filtering is off"))
    if not br.up:
        changes.append(SetUp(cn, name, "the bridge is down"))
    return changes


def _bond_changes(bridge: BridgeState, bo: LinkState | None) -> list[Change]:
    cn, uplink = bridge.cluster_network, bridge.uplink
    name = uplink.bond
    if bo is None:
        reason = f"cluster network {cn} has no bond yet"
        return [
            CreateBond(
                cn,
                name,
                reason,
                bridge=bridge.bridge,
                mode=uplink.bond_mode,
                miimon=uplink.miimon,
                mtu=uplink.mtu,
                txqlen=uplink.txqlen,
            )
        ]
    changes: list[Change] = []
    if bo.miimon != uplink.miimon:
        changes.append(SetMiimon(cn, name, f"miimon is {bo.miimon}, wanted {uplink.miimon}", miimon=uplink.miimon))
    if uplink.txqlen >= 0 and bo.txqlen != uplink.txqlen:
        reason = f"txqueuelen is {bo.txqlen}, wanted {uplink.txqlen}"
        changes.append(SetTxqlen(cn, name, reason, txqlen=uplink.txqlen))
    if uplink.mtu and bo.mtu != uplink.mtu:
        changes.append(SetMtu(cn, name, f"MTU is {bo.mtu}, wanted {uplink.mtu}", mtu=uplink.mtu))
    if bo.master != bridge.bridge:
        reason = f"its master is {bo.master or 'none'}, wanted {bridge.bridge}"
        changes.append(AttachToBridge(cn, name, reason, bridge=bridge.bridge))
    if not bo.up:
        changes.append(SetUp(cn, name, "the bond is down"))
    return changes


def _nic_changes(bridge: BridgeState, bo: LinkState | None, current: KernelState) -> list[Change]:
    cn, uplink = bridge.cluster_network, bridge.uplink
    changes: list[Change] = []
    for nic in uplink.nics:
        link = current.links[nic]
        if bo is None or link.master != uplink.bond:
            reason = f"{nic} is an uplink of cluster network {cn}"
            changes.append(EnslaveNic(cn, nic, reason, bond=uplink.bond))
            continue
        if not link.up:
            changes.append(SetUp(cn, nic, f"uplink of {uplink.bond} is down"))
        # A bond MTU change reaches the NICs by itself; only a NIC changed behind the bond's back is fixed here.
        if uplink.mtu and bo.mtu == uplink.mtu and link.mtu != uplink.mtu:
            changes.append(SetMtu(cn, nic, f"MTU is {link.mtu}, its bond has {uplink.mtu}", mtu=uplink.mtu))
    return changes


def _vid_changes(bridge: BridgeState, vlans: Mapping[int, PortVlan]) -> list[Change]:
    cn, bond = bridge.cluster_network, bridge.uplink.bond
    wanted = {vid for vid in bridge.vids if DEFAULT_PVID < vid <= MAX_VID}
    tagged = {vid for vid, flags in vlans.items() if flags.tagged}
    stale = [vid for vid in vlans if vid not in wanted and vid != DEFAULT_PVID]
    changes: list[Change] = []
    if stale:
        changes.append(
            DelVids(cn, bond, "no network of the cluster network uses them", ranges=tuple(vid_ranges(stale)))
        )
    missing = wanted - tagged
    if missing:
        reason = "networks of the cluster network use them"
        changes.append(AddVids(cn, bond, reason, ranges=tuple(vid_ranges(missing))))
    return changes


def _prune_changes(cn: str, bridge: str, current: KernelState, uplink_port: str) -> list[Change]:
    changes: list[Change] = []
    for port in current.ports_of(bridge):
        entry = current.vlans(port.name).get(DEFAULT_PVID)
        if port.name != uplink_port and entry is not None and not entry.pvid:
            changes.append(PruneVid1(cn, port.name, PRUNE_REASON, bridge=bridge))
    return changes


class Reconciler:
    """Reads, plans and applies on one IPRoute (bound to the node's network namespace)."""

    def __init__(self, ipr: Any, enslave_hooks: Iterable[EnslaveHook] = ()) -> None:
        self.ipr = ipr
        self.route = RouteSocket.beside(ipr)  # the reads: cheaper than decoding them with pyroute2 (netlink_read.py)
        self.applier = Applier(ipr, tuple(enslave_hooks))

    @property
    def writes(self) -> int:
        """Netlink write requests made so far."""
        return self.applier.writes

    def read(self) -> KernelState:
        return read_kernel_state(self.route)

    def plan(self, desired: HostState) -> Plan:
        return plan_changes(desired, self.read())

    def _apply(self, changes: list[Change], current: KernelState) -> ApplyResult:
        return self.applier.apply(changes, indexes={name: link.index for name, link in current.links.items()})

    def reconcile(self, desired: HostState, current: KernelState | None = None) -> ApplyResult:
        """One pass; the result lists the applied changes and the NodeErrors (planning's and applying's).
        `current`: the kernel as read since the last write (None: read it now)."""
        current = self.read() if current is None else current
        plan = plan_changes(desired, current)
        result = self._apply(plan.changes, current)
        result.errors[:0] = plan.errors
        return result

    def prune_default_vlan(self, bridge: str) -> list[str]:
        """Remove VLAN 1 from the ports of the owned `bridge` that need it (see module docstring); their names."""
        current = self.read()
        link = current.links.get(bridge)
        cn = link.owner if link else None
        if link is None or cn is None or link.kind != "bridge":
            raise NotOwnedError(f"refusing to prune the ports of {bridge}: not a bridge owned by hvnet")
        uplinks = [port.name for port in current.ports_of(bridge) if port.owner == cn and port.kind == "bond"]
        changes = _prune_changes(cn, bridge, current, uplinks[0] if uplinks else "")
        result = self._apply(changes, current)
        return [change.link for change in result.applied]


def prune_default_vlan(ipr: Any, bridge: str) -> list[str]:
    return Reconciler(ipr).prune_default_vlan(bridge)
