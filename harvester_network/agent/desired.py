"""The node's desired host network state from ClusterNetworks, VlanConfigs and NADs. Pure: no I/O, no clock.

Entry points: `desired_host_state(objects, node)` (from scratch) and `DesiredState.compute` (kept between passes:
each NAD object parsed once, the VlanConfigs matched again only when they, the ClusterNetworks or the node
changed). Harvester's meaning of each field, and where we choose otherwise, is in
docs/agent.md ("Desired state: the rules"); each rule is commented where it is applied below.
"""

from __future__ import annotations

import bisect
import ipaddress
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from harvester_network.agent.hoststate import BridgeState, HostState, LocalArea, NodeError, UplinkState
from harvester_network.agent.inputs import ClusterObjects, NodeInfo
from harvester_network.facts import (
    BOND_MODES,
    DEFAULT_BOND_MODE,
    DEFAULT_MIIMON,
    DEFAULT_MTU,
    DEFAULT_PVID,
    MAX_MTU,
    MAX_VID,
    MIN_MTU,
)
from harvester_network.model import names
from harvester_network.render import harvester as h

UNSET = -1  # miimon / txQLen "not given"
BRIDGE_CNI_TYPES = ("bridge", "")  # Harvester's IsBridgeCNI: an empty type is the bridge plugin too


def desired_host_state(objects: ClusterObjects, node: NodeInfo, host_ip_migration: bool = True) -> HostState:
    """The bridges this node should have and the errors of the cluster networks it cannot set up, from scratch.
    `host_ip_migration`: the NIC's host addresses move to the bridge, so a NIC with IPv4 may be an uplink."""
    return DesiredState(host_ip_migration).compute(objects, node)


class DesiredState:
    """`desired_host_state` kept between passes, so a change costs what it touches: each NAD object is parsed
    once (NadNetworks); what the ClusterNetworks, VlanConfigs and node decide (a `_Frame`) is worked out again
    only when one of them changed, not on a NAD-only change; the same objects and node give the last result
    without any work."""

    def __init__(self, host_ip_migration: bool = True) -> None:
        self.host_ip_migration = host_ip_migration
        self.nads = NadNetworks()
        self._last: _Computed | None = None

    def compute(self, objects: ClusterObjects, node: NodeInfo) -> HostState:
        # KubeSource hands over the same tuples while nothing changed (identity: comparing 10,000 NADs would cost
        # what parsing them does); the node's name, labels and links are small to compare.
        node_key = (node.name, node.labels, node.links)
        last = self._last
        same_frame = (
            last is not None
            and objects.cluster_networks is last.cluster_networks
            and objects.vlan_configs is last.vlan_configs
            and node_key == last.node
        )
        if last is not None and same_frame and objects.nads is last.nads:
            return last.result
        if last is None or objects.nads is not last.nads:  # the bulk: looked at only when the mirror changed it
            self.nads.update(objects.nads)
        frame = last.frame if last is not None and same_frame else _frame(objects, node, self.host_ip_migration)
        result = self._with_nads(frame)
        self._last = _Computed(objects.cluster_networks, objects.vlan_configs, node_key, objects.nads, frame, result)
        return result

    def _with_nads(self, frame: _Frame) -> HostState:
        bridges = []
        for cn, uplink, vlan_config in frame.ready:
            bridge = names.bridge_name(cn)
            vids, local_areas = self.nads.of_bridge(bridge)
            bridges.append(BridgeState(cn, bridge, uplink, vids, vlan_config, local_areas))
        warnings = sorted({*self.nads.warnings(), *frame.warnings})
        return HostState(bridges=tuple(bridges), errors=frame.errors, warnings=tuple(warnings))


class _Computed(NamedTuple):
    """The last computation and what it was made from (the object tuples are held, so their identities stay
    theirs)."""

    cluster_networks: tuple[Mapping[str, Any], ...]
    vlan_configs: tuple[Mapping[str, Any], ...]
    node: tuple[Any, ...]
    nads: tuple[Mapping[str, Any], ...]
    frame: _Frame
    result: HostState


@dataclass(frozen=True)
class _Frame:
    """What the ClusterNetworks, VlanConfigs and the node decide, whatever the NADs say."""

    ready: tuple[tuple[str, UplinkState, str], ...]  # (cluster network, its uplink, its VlanConfig), sorted
    errors: tuple[NodeError, ...]  # sorted by cluster network
    warnings: tuple[str, ...]


def _frame(objects: ClusterObjects, node: NodeInfo, host_ip_migration: bool) -> _Frame:
    existing, unnamed = _cluster_network_names(objects.cluster_networks)
    matched, unmatched = _matched_vlan_configs(objects.vlan_configs, node)

    problems = {cn: _cluster_network_problems(cn, vcs, existing) for cn, vcs in matched.items()}
    vlan_config_names = {cn: vcs[0].name for cn, vcs in matched.items()}  # the first by name names the error
    uplinks: dict[str, UplinkState] = {}
    for cn, vcs in matched.items():
        if not problems[cn]:
            [vlan_config] = vcs  # two or more are a problem above
            uplinks[cn], problems[cn] = _uplink(cn, vlan_config)
    agent_links = {name for cn in matched for name in (names.bridge_name(cn), names.bond_name(cn))}
    for cn, message in _shared_nic_problems(uplinks, vlan_config_names):
        problems[cn].append(message)
    for cn, uplink in uplinks.items():
        problems[cn] += _inventory_problems(uplink, node, agent_links, host_ip_migration)

    ready = []
    errors = []
    for cn in sorted(matched):
        if problems[cn]:
            errors.append(NodeError(cn, "; ".join(problems[cn]), vlan_config_names[cn]))
        else:
            ready.append((cn, uplinks[cn], vlan_config_names[cn]))
    return _Frame(tuple(ready), tuple(errors), (*unnamed, *unmatched))


# --- VlanConfigs ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _VlanConfig:
    name: str
    spec: Mapping[str, Any]


def _is_deleting(obj: Mapping[str, Any]) -> bool:
    return bool(_mapping(obj.get("metadata")).get("deletionTimestamp"))


def _mapping(value: Any) -> Mapping[str, Any]:
    """The value when it is a map, else an empty one (for optional sub-objects that may be null)."""
    return value if isinstance(value, Mapping) else {}


def _object_name(obj: Mapping[str, Any]) -> str | None:
    name = _mapping(obj.get("metadata")).get("name")
    return name if isinstance(name, str) and name else None


def _cluster_network_names(cluster_networks: Iterable[Mapping[str, Any]]) -> tuple[set[str], list[str]]:
    """(the names of the ClusterNetworks not being deleted, warnings)."""
    existing, warnings = set(), []
    for obj in cluster_networks:
        name = _object_name(obj)
        if name is None:
            warnings.append("a ClusterNetwork without metadata.name is ignored")
        elif not _is_deleting(obj):
            existing.add(name)
    return existing, warnings


def _selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def _matched_vlan_configs(
    vlan_configs: Iterable[Mapping[str, Any]], node: NodeInfo
) -> tuple[dict[str, list[_VlanConfig]], list[str]]:
    """({cluster network: the VlanConfigs selecting this node, sorted by name}, warnings)."""
    matched: dict[str, list[_VlanConfig]] = defaultdict(list)
    warnings: list[str] = []
    for obj in vlan_configs:
        name = _object_name(obj)
        if name is None:
            warnings.append("a VlanConfig without metadata.name is ignored")
            continue
        if _is_deleting(obj):  # gone already, as in Harvester
            continue
        spec = _mapping(obj.get("spec"))
        cn = spec.get("clusterNetwork")
        if not isinstance(cn, str) or not cn:
            warnings.append(f"VlanConfig {name} has no spec.clusterNetwork and is ignored")
            continue
        selector = spec.get("nodeSelector") or {}
        if not isinstance(selector, Mapping) or not all(isinstance(v, str) for v in selector.values()):
            warnings.append(f"VlanConfig {name}: spec.nodeSelector is not a map of label to string; ignored")
            continue
        # The selector itself, not Harvester's matched-nodes annotation: the same answer, also for new nodes
        # and without its webhook.
        if _selects(selector, node.labels):
            matched[cn].append(_VlanConfig(name, spec))
    return {cn: sorted(vcs, key=lambda vc: vc.name) for cn, vcs in matched.items()}, warnings


def _cluster_network_problems(cn: str, vcs: list[_VlanConfig], existing: set[str]) -> list[str]:
    """What keeps `cn` from being set up before its uplink is even looked at."""
    vc_names = ", ".join(vc.name for vc in vcs)
    if len(vcs) > 1:
        return [
            f"VlanConfigs {vc_names} all match this node for cluster network {cn}; "
            "only one VlanConfig per cluster network may match a node"
        ]
    if cn == names.MANAGEMENT_NETWORK:
        return [f"VlanConfig {vc_names}: the built-in cluster network {cn} takes no VlanConfigs"]
    if len(cn) > names.CLUSTER_NETWORK_NAME_MAX or not names.is_dns_label(cn):
        return [
            f"VlanConfig {vc_names}: cluster network name {cn!r} must be a DNS label of at most "
            f"{names.CLUSTER_NETWORK_NAME_MAX} characters (bridge {names.bridge_name(cn)} must fit "
            f"{names.IFNAME_MAX} characters)"
        ]
    missing = (
        f"VlanConfig {vc_names}: cluster network {cn} does not exist; "
        "create its ClusterNetwork or fix spec.clusterNetwork"
    )
    return [] if cn in existing else [missing]


@dataclass(frozen=True)
class _IntField:
    """An optional integer field of spec.uplink: `default` when missing, else a value in one of `valid`."""

    section: str
    default: int
    valid: tuple[range, ...]
    expected: str


_UPLINK_INT_FIELDS = {
    "miimon": _IntField("bondOptions", UNSET, (range(UNSET, 2**31),), "-1 (100 ms) or milliseconds >= 0"),
    "mtu": _IntField(
        "linkAttributes",
        0,
        (range(1), range(MIN_MTU, MAX_MTU + 1)),
        f"0 (default {DEFAULT_MTU}) or {MIN_MTU}..{MAX_MTU}",
    ),
    "txQLen": _IntField("linkAttributes", UNSET, (range(UNSET, 2**32),), "-1 (leave as is) or a queue length >= 0"),
}


def _uplink_ints(uplink: Mapping[str, Any], where: str) -> tuple[dict[str, int], list[str]]:
    """(the integer fields of spec.uplink, defaults where missing or malformed; the malformed ones)."""
    values, problems = {}, []
    for name, spec in _UPLINK_INT_FIELDS.items():
        value = _mapping(uplink.get(spec.section)).get(name)
        if value is None:
            values[name] = spec.default
        elif isinstance(value, int) and not isinstance(value, bool) and any(value in r for r in spec.valid):
            values[name] = value
        else:
            problems.append(f"{where}.{spec.section}.{name} is {value!r}, expected {spec.expected}")
            values[name] = spec.default
    return values, problems


def _uplink(cn: str, vc: _VlanConfig) -> tuple[UplinkState, list[str]]:
    """(the bond of `cn` from the VlanConfig's spec.uplink, the problems of its fields)."""
    where = f"VlanConfig {vc.name}: spec.uplink"
    problems = []
    uplink = _mapping(vc.spec.get("uplink"))
    nics = uplink.get("nics")
    if not isinstance(nics, list) or not nics or not all(isinstance(nic, str) and nic for nic in nics):
        problems.append(f"{where}.nics must be a non-empty list of NIC names")
        nics = []
    for nic in sorted({nic for nic in nics if nics.count(nic) > 1}):
        problems.append(f"{where}.nics lists {nic} more than once")
    mode = _mapping(uplink.get("bondOptions")).get("mode") or DEFAULT_BOND_MODE
    if mode not in BOND_MODES:
        # Kept as given: a cluster network with problems never gets its bond built.
        problems.append(f"{where}.bondOptions.mode is {mode!r}, expected one of {', '.join(BOND_MODES)}")
    ints, int_problems = _uplink_ints(uplink, where)
    uplink_state = UplinkState(
        bond=names.bond_name(cn),
        nics=tuple(nics),
        bond_mode=mode,
        miimon=DEFAULT_MIIMON if ints["miimon"] == UNSET else ints["miimon"],  # -1: the kernel's 100 ms
        # 0 is Harvester's "the user gave none": its webhook writes 1500, so 0 resets a bond left at 9000 too.
        mtu=ints["mtu"] or DEFAULT_MTU,
        txqlen=ints["txQLen"],
    )
    return uplink_state, problems + int_problems


def _shared_nic_problems(
    uplinks: Mapping[str, UplinkState], vlan_config_names: Mapping[str, str]
) -> list[tuple[str, str]]:
    """(cluster network, message) for every NIC that the uplinks of two cluster networks on this node list."""
    users: dict[str, list[str]] = defaultdict(list)
    for cn in sorted(uplinks):
        for nic in dict.fromkeys(uplinks[cn].nics):  # a NIC listed twice in one VlanConfig is reported elsewhere
            users[nic].append(cn)
    problems = []
    for nic in sorted(users):
        for cn in users[nic] if len(users[nic]) > 1 else []:
            others = ", ".join(
                f"cluster network {other} (VlanConfig {vlan_config_names[other]})"
                for other in users[nic]
                if other != cn
            )
            problems.append((cn, f"NIC {nic} is also the uplink of {others}; a NIC can serve one cluster network"))
    return problems


def _inventory_problems(
    uplink: UplinkState, node: NodeInfo, agent_links: set[str], host_ip_migration: bool
) -> list[str]:
    """What the node's existing links say against enslaving the uplink's NICs to its bond."""
    problems = []
    for nic in uplink.nics:
        link = node.links.get(nic)
        if nic in agent_links or (link is not None and link.owner is not None):
            problems.append(f"NIC {nic} is a link the agent manages itself, not a NIC; list a NIC of the node instead")
        elif link is None:
            problems.append(f"NIC {nic} does not exist on node {node.name}; list a NIC the node has")
        elif link.master not in (None, uplink.bond) and not _agent_made(link.master, node):
            problems.append(f"NIC {nic} is already enslaved to {link.master}; release it or list another NIC")
        elif link.master != uplink.bond and link.has_ipv4 and not host_ip_migration:
            problems.append(
                f"NIC {nic} carries IPv4 addresses; enslaving it to {uplink.bond} would cut the node's own traffic "
                "over it (move the addresses off or pick another NIC)"
            )
    return problems


def _agent_made(link_name: str | None, node: NodeInfo) -> bool:
    link = node.links.get(link_name or "")
    return link is not None and link.owner is not None


# --- NADs ----------------------------------------------------------------------------------------------------


class _MalformedConfig(ValueError):
    pass


def _nad_vids(config: Mapping[str, Any]) -> tuple[int, set[int]]:
    """(access-mode VID or 0, every VID) of a bridge CNI config; raises _MalformedConfig saying why."""
    vlan = config.get("vlan", 0)
    if not isinstance(vlan, int) or isinstance(vlan, bool) or not 0 <= vlan <= MAX_VID:
        raise _MalformedConfig(f"vlan {vlan!r} is not 0..{MAX_VID}")
    trunk = config.get("vlanTrunk") or []
    if not isinstance(trunk, list):
        raise _MalformedConfig("vlanTrunk is not a list")
    if trunk and vlan:
        raise _MalformedConfig(f"vlan is {vlan}, but must be 0 when vlanTrunk is set")
    vids = {vlan} if vlan else set()
    for entry in trunk:
        vids |= _trunk_entry_vids(entry)
    return vlan if not trunk else 0, vids


def _trunk_vid(entry: Mapping[str, Any], key: str) -> int:
    vid = entry[key]
    if not isinstance(vid, int) or isinstance(vid, bool) or not 1 <= vid <= MAX_VID:
        raise _MalformedConfig(f"vlanTrunk {key} {vid!r} is not 1..{MAX_VID}")
    return vid


def _trunk_entry_vids(entry: Any) -> set[int]:
    if not isinstance(entry, Mapping) or not entry.keys() & {"id", "minID", "maxID"}:
        raise _MalformedConfig(f"vlanTrunk entry {entry!r} has none of id, minID/maxID")
    vids = set()
    if ("minID" in entry) != ("maxID" in entry):
        raise _MalformedConfig(f"vlanTrunk entry {entry!r} needs minID and maxID together")
    if "minID" in entry:
        low, high = _trunk_vid(entry, "minID"), _trunk_vid(entry, "maxID")
        if low > high:
            raise _MalformedConfig(f"vlanTrunk minID {low} is greater than maxID {high}")
        vids |= set(range(low, high + 1))
    if "id" in entry:
        vids.add(_trunk_vid(entry, "id"))
    return vids


def _route_cidr(route: Any, nad: str, warnings: list[str]) -> str:
    """The cidr of a route annotation, "" when it has none or is malformed (then with a warning)."""
    if route is None:
        return ""
    try:
        parsed = json.loads(route) if isinstance(route, str) else None
        cidr = _mapping(parsed).get("cidr") or ""
        if not isinstance(parsed, Mapping) or not isinstance(cidr, str):
            raise ValueError("not a JSON object with a string cidr")
        if cidr:
            ipaddress.ip_network(cidr, strict=False)
        return cidr
    except ValueError as error:
        warnings.append(f"{nad}: annotation {h.ANNOTATION_ROUTE} is malformed ({error}); its localArea has no cidr")
        return ""


@dataclass(frozen=True, slots=True)
class _NadNetwork:
    """What one NAD asks of its bridge; nothing when it is another plugin's, malformed or being deleted."""

    bridge: str = ""
    vids: tuple[int, ...] = ()  # sorted; a tuple of one VID is a quarter of a frozenset's size
    local_area: LocalArea | None = None
    warnings: tuple[str, ...] = ()


def _nad_network(obj: Mapping[str, Any]) -> _NadNetwork:
    """The VIDs and local area of one NAD, from its CNI config (pure)."""
    if _is_deleting(obj):
        return _NadNetwork()
    metadata = _mapping(obj.get("metadata"))
    nad = f"NAD {metadata.get('namespace', '')}/{metadata.get('name', '')}"
    try:
        config = json.loads(_mapping(obj.get("spec")).get("config") or "")
    except (TypeError, ValueError):
        return _NadNetwork(warnings=(f"{nad}: spec.config is not JSON; it adds no VIDs",))
    if not isinstance(config, Mapping):
        return _NadNetwork(warnings=(f"{nad}: spec.config is not a JSON object; it adds no VIDs",))
    bridge = config.get("bridge")
    if config.get("type", "") not in BRIDGE_CNI_TYPES or not isinstance(bridge, str) or not bridge:
        return _NadNetwork()  # another CNI plugin's network, or no Harvester bridge: not the agent's
    try:
        access_vid, vids = _nad_vids(config)
    except _MalformedConfig as error:  # a warning, where Harvester fails the whole cluster network
        return _NadNetwork(warnings=(f"{nad}: spec.config {error}; it adds no VIDs to {bridge}",))
    warnings = []
    label = _mapping(metadata.get("labels")).get(h.LABEL_CLUSTER_NETWORK)
    if label is not None and names.bridge_name(str(label)) != bridge:  # the config wins: the plugin acts on it
        warnings.append(f"{nad}: label {h.LABEL_CLUSTER_NETWORK}={label} but its config uses bridge {bridge}")
    local_area = None
    if access_vid:
        cidr = _route_cidr(_mapping(metadata.get("annotations")).get(h.ANNOTATION_ROUTE), nad, warnings)
        local_area = LocalArea(access_vid, cidr)
    # VID 0 is untagged and 1 the default PVID: neither goes on the uplink (VLAN 1 is still a local area).
    uplink_vids = tuple(sorted(vid for vid in vids if vid > DEFAULT_PVID))
    # Interned: the NADs of one bridge repeat its name (a JSON decoder makes a new string each time).
    return _NadNetwork(sys.intern(bridge), uplink_vids, local_area, tuple(warnings))


class NadNetworks:
    """What the NADs ask of each bridge, kept per NAD object: `update` parses only the NADs it has not seen (the
    mirrors hand over the same object while a NAD is unchanged, also through a relist; a directory source's new
    copies are parsed again) and re-counts only the bridges they touch."""

    # The NADs counted now (set by `update`; held so no other object can have one of their ids: the mirror's
    # snapshot is this tuple, so holding it costs nothing).
    _held: tuple[Mapping[str, Any], ...]

    def __init__(self) -> None:
        self._live: dict[int, _NadNetwork] = {}  # {id(obj): what it asks} of the NADs in `_held`
        # How many NADs ask for each VID / local area / warning: a count at 0 is gone.
        self._vids: dict[str, Counter[int]] = defaultdict(Counter)
        self._areas: dict[str, Counter[LocalArea]] = defaultdict(Counter)
        self._sorted_areas: dict[str, list[LocalArea]] = defaultdict(list)  # the areas counted, kept sorted
        self._warnings: Counter[str] = Counter()
        self._bridges: dict[str, tuple[frozenset[int], tuple[LocalArea, ...]]] = {}
        self._shared: dict[_NadNetwork, _NadNetwork] = {}  # one object per distinct answer (NADs repeat VIDs)

    def update(self, nads: tuple[Mapping[str, Any], ...]) -> None:
        current = {id(obj): obj for obj in nads}
        for gone in self._live.keys() - current.keys():  # set operations: no Python loop over every NAD
            self._add(self._live.pop(gone), -1)
        for key in current.keys() - self._live.keys():
            network = _nad_network(current[key])
            self._live[key] = self._shared.setdefault(network, network)
            self._add(self._live[key], 1)
        self._held = nads
        if len(self._shared) > 2 * len(self._live) + 1000:  # answers no NAD gives any more: start afresh
            self._shared.clear()

    def _add(self, network: _NadNetwork, sign: int) -> None:
        _count(self._warnings, network.warnings, sign)
        _count(self._vids[network.bridge], network.vids, sign)
        area = network.local_area
        if area is not None:
            areas, ordered = self._areas[network.bridge], self._sorted_areas[network.bridge]
            if area not in areas:  # the first NAD of this area
                bisect.insort(ordered, area)
            _count(areas, (area,), sign)
            if area not in areas:  # its last NAD is gone
                del ordered[bisect.bisect_left(ordered, area)]
        self._bridges.pop(network.bridge, None)

    def of_bridge(self, bridge: str) -> tuple[frozenset[int], tuple[LocalArea, ...]]:
        """(the VIDs the bridge's uplink carries, its local areas sorted), built once per change of the bridge."""
        if bridge not in self._bridges:
            self._bridges[bridge] = (frozenset(self._vids.get(bridge, ())), tuple(self._sorted_areas.get(bridge, ())))
        return self._bridges[bridge]

    def warnings(self) -> list[str]:
        return list(self._warnings)


def _count(counter: Counter[Any], items: Iterable[Any], sign: int) -> None:
    for item in items:
        counter[item] += sign
        if counter[item] <= 0:
            del counter[item]
