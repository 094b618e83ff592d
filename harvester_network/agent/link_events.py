"""The agent's link events (RTMGRP_LINK): which ask for a pass, and which VM ports to take out of VLAN 1 at once.

    news = LinkEventWatcher(ipr).wait(timeout, wake, prune)   # LinkNews: full_pass, prunes (`prune` sent them)

Messages are read raw (agent/netlink_raw.py), only the attributes the agent looks at, and nothing between the
`select` that wakes the thread and the prune hands the GIL over (netlink_raw.py says why that matters).
"""

from __future__ import annotations

import errno
import select
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyroute2.netlink.rtnl import RTM_DELLINK, RTM_NEWLINK, RTMGRP_LINK

from harvester_network.agent.netlink import PRUNE_REASON
from harvester_network.agent.netlink_apply import PruneVid1
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
    LinkMessage,
    NetlinkSocket,
    RouteSocket,
    links,
)
from harvester_network.agent.netlink_read import (
    IFF_UP,
    RTEXT_FILTER_BRVLAN_COMPRESSED,
    RTEXT_FILTER_SKIP_STATS,
    link_from_message,
    owner_of,
    vlans_from_infos,
)
from harvester_network.facts import DEFAULT_PVID

_LINK_MESSAGES = (RTM_NEWLINK, RTM_DELLINK)


@dataclass
class LinkNews:
    """What the link events since the last look ask of the agent."""

    full_pass: bool = False  # an owned link, or a NIC of an owned bond, changed; or the kernel dropped events
    # VM ports of owned bridges still in VLAN 1 without PVID 1, fixed at once from their own event (no pass)
    prunes: list[PruneVid1] = field(default_factory=list)
    indexes: dict[str, int] = field(default_factory=dict)  # {port: ifindex} of the prunes

    def __bool__(self) -> bool:
        return self.full_pass or bool(self.prunes)


def _signature(link: LinkMessage) -> tuple[object, ...]:
    """What the plan reads of a link in one link message (AF_BRIDGE ones: its VLANs), undecoded."""
    if link.family == socket.AF_BRIDGE:
        return (link.payload(IFLA_MASTER), tuple((info["flags"], info["vid"]) for info in link.vlan_infos() or ()))
    kind = link.text(IFLA_INFO_KIND, (IFLA_LINKINFO,))
    return (
        *(link.payload(attr) for attr in (IFLA_IFNAME, IFLA_MASTER, IFLA_MTU, IFLA_TXQLEN, IFLA_IFALIAS, IFLA_GROUP)),
        link.flags & IFF_UP,
        kind,
        *(link.payload(attr, (IFLA_LINKINFO, IFLA_INFO_DATA)) for attr in _PLANNED_LINK_DATA.get(kind or "", ())),
    )


# What the plan reads in IFLA_INFO_DATA, whose attribute types depend on the link's kind.
_PLANNED_LINK_DATA = {"bond": (IFLA_BOND_MODE, IFLA_BOND_MIIMON), "bridge": (IFLA_BR_VLAN_FILTERING,)}


@dataclass(frozen=True)
class _Owned:
    name: str
    kind: str
    cluster_network: str


class LinkEventWatcher:
    """Link events that concern the agent's links: an owned link changed or went away, a NIC of an owned bond
    changed (a full pass), or a VM port of an owned bridge is in VLAN 1 (a prune from the event's own VLAN list,
    no pass). Create it in the namespace the agent manages.

    A prune reported once is not reported again for events the kernel sent before it was applied: they still
    show VID 1; the prune's own notification (VID 1 gone), the port's deletion or lost events end that."""

    QUEUE_SIZE = 1 << 20

    def __init__(self, ipr: Any) -> None:
        self.sock = NetlinkSocket(RTMGRP_LINK, self.QUEUE_SIZE)
        # Bound before this read: whatever changes after it arrives as an event.
        route = RouteSocket.beside(ipr)
        try:
            messages = route.links(socket.AF_UNSPEC, RTEXT_FILTER_SKIP_STATS)
            names = {msg.ifindex: msg.text(IFLA_IFNAME) or "" for msg in messages}
            links_read = [(msg, link_from_message(msg, names)) for msg in messages]
            self.owned = {link.index: _Owned(link.name, link.kind, link.owner) for _, link in links_read if link.owner}
            bonds = {owned.name for owned in self.owned.values() if owned.kind == "bond"}
            # What the plan reads of each owned link and each NIC of an owned bond, as last seen (by index, family).
            self._signatures: dict[tuple[int, int], Any] = {
                (msg.ifindex, msg.family): _signature(msg)
                for msg, link in links_read
                if link.owner or link.master in bonds
            }
            for msg in route.links(socket.AF_BRIDGE, RTEXT_FILTER_BRVLAN_COMPRESSED):
                if msg.ifindex in self.owned:
                    self._signatures[(msg.ifindex, msg.family)] = _signature(msg)
        finally:
            route.close()
        self._reported: set[int] = set()  # VM ports whose prune was reported and whose VID 1 was not seen gone yet

    def close(self) -> None:
        self.sock.close()

    def fileno(self) -> int:
        return self.sock.fileno()

    def __enter__(self) -> LinkEventWatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait(self, timeout: float, wake: Any = None, prune: Callable[[LinkNews], object] | None = None) -> LinkNews:
        """The news of the events that came within `timeout` seconds; returns early (maybe with no news) when
        `wake` (anything with a fileno, e.g. agent/wakeup.py's Wakeup) becomes readable. `prune` is called with
        the news when there are VM ports to prune."""
        readable, _, _ = select.select([self.sock, *([wake] if wake is not None else [])], [], [], timeout)
        news = LinkNews()
        if self.sock in readable:
            self._receive(news)
            if prune is not None and news.prunes:
                prune(news)
        return news

    def wait_for_link_events(self, timeout: float) -> bool:
        """True as soon as a relevant event arrived (or events were lost), False after `timeout` seconds without."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            if self.wait(remaining):
                return True
            if remaining == 0.0:
                return False

    def _receive(self, news: LinkNews) -> None:
        while True:
            try:
                data = self.sock.receive_now()
            except OSError as error:
                if error.errno not in (errno.ENOBUFS, errno.EMSGSIZE):
                    raise
                news.full_pass = True  # the kernel dropped events, or one was cut: look again
                self._reported.clear()  # a prune's own notification may be among them
                continue
            if data is None:
                return
            for link in links(data, _LINK_MESSAGES):
                self._read_event(link, news)

    def _read_event(self, link: LinkMessage, news: LinkNews) -> None:
        removed = link.kind == RTM_DELLINK
        name = link.text(IFLA_IFNAME) or ""
        owner = owner_of(link.text(IFLA_IFALIAS), name, link.u32(IFLA_GROUP) or 0)
        known = self.owned.get(link.ifindex)
        if owner is not None or known is not None:
            if removed and link.family != socket.AF_BRIDGE:
                self.owned.pop(link.ifindex, None)
            elif owner is not None:
                kind = link.text(IFLA_INFO_KIND, (IFLA_LINKINFO,))
                self.owned[link.ifindex] = _Owned(name, kind or (known.kind if known else ""), owner)
            news.full_pass |= self._changed(link, removed)
            return
        if removed:
            self._reported.discard(link.ifindex)
        master = self.owned.get(link.u32(IFLA_MASTER) or 0)
        if master is None:
            return
        if master.kind != "bridge":  # a NIC of an owned bond
            news.full_pass |= self._changed(link, removed)
        elif link.family == socket.AF_BRIDGE and not removed:
            self._vm_port_event(link, name, master, news)

    def _changed(self, link: LinkMessage, removed: bool) -> bool:
        # A VM port joining a bridge makes the bridge and the bond's NICs report a change (features are
        # recomputed) that leaves all the plan reads as it was: no reason for a pass.
        seen = (link.ifindex, link.family)
        signature = None if removed else _signature(link)
        if signature is not None and self._signatures.get(seen) == signature:
            return False
        self._signatures[seen] = signature
        return True

    def _vm_port_event(self, link: LinkMessage, name: str, bridge: _Owned, news: LinkNews) -> None:
        # The kernel sends a port's whole VLAN list with each AF_BRIDGE notification (br_ifinfo_notify): a port that
        # joined with PVID 1 and then got its own VLAN shows VID 1 without PVID here, and is fixed at once.
        infos = link.vlan_infos()
        if infos is None:
            news.full_pass = True  # no VLAN list in the event: the pass reads it
            return
        entry = vlans_from_infos(infos).get(DEFAULT_PVID)
        if entry is None or entry.pvid:
            self._reported.discard(link.ifindex)
        elif link.ifindex not in self._reported:
            self._reported.add(link.ifindex)
            news.prunes.append(PruneVid1(bridge.cluster_network, name, PRUNE_REASON, bridge=bridge.name))
            news.indexes[name] = link.ifindex
