"""What the kernel has now: the links the agent cares about and the VLANs on bridge ports, read with two dumps.

`read_kernel_state(route)` makes one RTM_GETLINK dump (every link: kind, master, MTU, queue length, admin state,
ifalias, bond mode/miimon, bridge VLAN filtering) and one AF_BRIDGE dump with compressed VLAN info (every
bridge port's VIDs as ranges). Nothing is written. `inventory_of(state.links, ipv4_link_indexes(route))` is the NIC
inventory `desired.py` checks NICs against (masters, IPv4 addresses, agent ownership), from the same link dump.

`route` is a RouteSocket (agent/netlink_raw.py): the pass's own NETLINK_ROUTE socket, beside the IPRoute in the same
network namespace, whose LinkMessages (the link events' too) are decoded only where read. pyroute2 decodes every
attribute of every message, about 0.25 ms a link in the lab kernel: 30 ms a pass on a node with 60 VM ports, where
the pass reads a dozen attributes of each (benchmarks/RESULTS.md, "Agent in Kubernetes mode").
"""

from __future__ import annotations

import functools
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from harvester_network.agent.hoststate import OWNER_ALIAS_PREFIX
from harvester_network.agent.inputs import LinkInfo
from harvester_network.agent.netlink_raw import (
    IFLA_BOND_MIIMON,
    IFLA_BOND_MODE,
    IFLA_BR_VLAN_FILTERING,
    IFLA_GROUP,
    IFLA_IFALIAS,
    IFLA_IFNAME,
    IFLA_INFO_DATA,
    IFLA_INFO_KIND,
    IFLA_LINKINFO,
    IFLA_MASTER,
    IFLA_MTU,
    IFLA_TXQLEN,
    U32,
    LinkMessage,
    RouteSocket,
)
from harvester_network.facts import BOND_MODES
from harvester_network.model import names

IFF_UP = 0x1
# include/uapi/linux/if_bridge.h
BRIDGE_VLAN_INFO_PVID = 0x2
BRIDGE_VLAN_INFO_UNTAGGED = 0x4
BRIDGE_VLAN_INFO_RANGE_BEGIN = 0x8
BRIDGE_VLAN_INFO_RANGE_END = 0x10
RTEXT_FILTER_BRVLAN_COMPRESSED = 0x4
RTEXT_FILTER_SKIP_STATS = 0x8  # the agent never reads counters, and decoding them is not free
# The link group ("hvnt") the agent gives a link in the request that creates it. The kernel takes no ifalias in
# that request, so a link the agent made but was killed before naming its owner still shows it was the agent's.
OWNER_LINK_GROUP = 0x68766E74
AGENT_LINK_SUFFIXES = (names.bridge_name(""), names.bond_name(""))


def owner_of(alias: str | None, name: str = "", group: int = 0) -> str | None:
    """The cluster network an agent-made link belongs to, None for links it did not make: from the ifalias,
    else (a link whose creation was cut short) from the name `<cn>-br`/`<cn>-bo` when it has the agent's group."""
    if alias and alias.startswith(OWNER_ALIAS_PREFIX):
        return alias[len(OWNER_ALIAS_PREFIX) :]
    unnamed_but_ours = not alias and group == OWNER_LINK_GROUP
    owners = (name.removesuffix(suffix) for suffix in AGENT_LINK_SUFFIXES if name.endswith(suffix))
    return next((owner for owner in owners if owner and unnamed_but_ours), None)


def owner_alias(cluster_network: str) -> str:
    return f"{OWNER_ALIAS_PREFIX}{cluster_network}"


@dataclass(frozen=True)
class PortVlan:
    """A VID's flags on one bridge port."""

    pvid: bool = False
    untagged: bool = False

    @property
    def tagged(self) -> bool:
        return not (self.pvid or self.untagged)


@dataclass(frozen=True)
class LinkState:
    index: int
    name: str
    kind: str  # "" for physical NICs
    master: str | None  # name of the master link, None when free
    mtu: int
    txqlen: int
    up: bool  # administratively up (IFF_UP)
    alias: str | None
    group: int = 0
    bond_mode: str | None = None  # bonds only
    miimon: int | None = None  # bonds only
    vlan_filtering: bool | None = None  # bridges only

    @property
    def owner(self) -> str | None:
        return owner_of(self.alias, self.name, self.group)


@dataclass(frozen=True)
class KernelState:
    links: Mapping[str, LinkState] = field(default_factory=dict)
    # {bridge port: {vid: flags}} for every port of every bridge (not the bridges themselves)
    port_vlans: Mapping[str, Mapping[int, PortVlan]] = field(default_factory=dict)

    def owned_by(self, cluster_network: str) -> list[LinkState]:
        return [link for link in self.links.values() if link.owner == cluster_network]

    def owners(self) -> set[str]:
        """The cluster networks that have links the agent made."""
        return {owner for owner in (link.owner for link in self.links.values()) if owner is not None}

    def ports_of(self, master: str) -> list[LinkState]:
        return [link for link in self.links.values() if link.master == master]

    def vlans(self, port: str) -> Mapping[int, PortVlan]:
        return self.port_vlans.get(port, {})


def _kind_data(msg: LinkMessage, attr: int) -> bytes | None:
    """An attribute of the link's IFLA_INFO_DATA (whose types depend on the kind), undecoded."""
    return msg.payload(attr, (IFLA_LINKINFO, IFLA_INFO_DATA))


def _bond_mode_name(mode: int | None) -> str | None:
    if mode is not None and mode in range(len(BOND_MODES)):
        return BOND_MODES[mode]
    return None if mode is None else str(mode)


def link_from_message(msg: LinkMessage, names: Mapping[int, str]) -> LinkState:
    kind = msg.text(IFLA_INFO_KIND, (IFLA_LINKINFO,)) or ""
    master = msg.u32(IFLA_MASTER)
    bond_mode = _kind_data(msg, IFLA_BOND_MODE) if kind == "bond" else None
    miimon = _kind_data(msg, IFLA_BOND_MIIMON) if kind == "bond" else None
    vlan_filtering = _kind_data(msg, IFLA_BR_VLAN_FILTERING) if kind == "bridge" else None
    return LinkState(
        index=msg.ifindex,
        name=msg.text(IFLA_IFNAME) or "",
        kind=kind,
        master=names.get(master) if master else None,
        mtu=msg.u32(IFLA_MTU) or 0,
        txqlen=msg.u32(IFLA_TXQLEN) or 0,
        up=bool(msg.flags & IFF_UP),
        alias=msg.text(IFLA_IFALIAS),
        group=msg.u32(IFLA_GROUP) or 0,
        bond_mode=_bond_mode_name(bond_mode[0] if bond_mode else None),
        miimon=int(U32.unpack_from(miimon)[0]) if miimon else None,
        vlan_filtering=bool(vlan_filtering[0]) if vlan_filtering else None,
    )


@functools.cache
def _port_vlan(pvid: bool, untagged: bool) -> PortVlan:
    # One object per flag pair: comparing two reads' {vid: flags} of thousands of VIDs is then identity checks.
    return PortVlan(pvid=pvid, untagged=untagged)


def vlans_from_infos(infos: Iterable[Mapping[str, int]]) -> dict[int, PortVlan]:
    """IFLA_BRIDGE_VLAN_INFO entries (single VIDs and RANGE_BEGIN/RANGE_END pairs) as {vid: flags}."""
    vids: dict[int, PortVlan] = {}
    begin: int | None = None
    for info in infos:
        flags, vid = info["flags"], info["vid"]
        if flags & BRIDGE_VLAN_INFO_RANGE_BEGIN:
            begin = vid
            continue
        first = begin if flags & BRIDGE_VLAN_INFO_RANGE_END and begin is not None else vid
        begin = None
        entry = _port_vlan(bool(flags & BRIDGE_VLAN_INFO_PVID), bool(flags & BRIDGE_VLAN_INFO_UNTAGGED))
        for each in range(first, vid + 1):
            vids[each] = entry
    return vids


def read_port_vlans(route: RouteSocket, names: Mapping[int, str]) -> dict[str, dict[int, PortVlan]]:
    """{port: {vid: flags}} for every bridge port (one AF_BRIDGE dump; bridges' own entries are left out)."""
    ports: dict[str, dict[int, PortVlan]] = {}
    for msg in route.links(socket.AF_BRIDGE, RTEXT_FILTER_BRVLAN_COMPRESSED):
        master = msg.u32(IFLA_MASTER)
        if master and master != msg.ifindex:
            ports[names.get(msg.ifindex) or msg.text(IFLA_IFNAME) or ""] = vlans_from_infos(msg.vlan_infos() or [])
    return ports


def read_links(route: RouteSocket) -> dict[str, LinkState]:
    messages = route.links(socket.AF_UNSPEC, RTEXT_FILTER_SKIP_STATS)
    names = {msg.ifindex: msg.text(IFLA_IFNAME) or "" for msg in messages}
    return {link.name: link for link in (link_from_message(msg, names) for msg in messages)}


def read_kernel_state(route: RouteSocket) -> KernelState:
    links = read_links(route)
    names = {link.index: name for name, link in links.items()}
    return KernelState(links=links, port_vlans=read_port_vlans(route, names))


def ipv4_link_indexes(route: RouteSocket) -> set[int]:
    """The indexes of the links that carry IPv4 addresses (one address dump)."""
    return route.address_indexes(socket.AF_INET)


def inventory_of(links: Mapping[str, LinkState], with_ipv4: set[int]) -> dict[str, LinkInfo]:
    """Every link by name with its master, whether it has IPv4 addresses and its agent owner (for desired.py)."""
    return {
        name: LinkInfo(master=link.master, has_ipv4=link.index in with_ipv4, owner=link.owner)
        for name, link in links.items()
    }


def link_inventory(route: RouteSocket) -> dict[str, LinkInfo]:
    return inventory_of(read_links(route), ipv4_link_indexes(route))
