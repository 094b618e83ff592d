"""The agent's link events (RTMGRP_LINK): which ask for a pass, and which VM ports to take out of VLAN 1 at once.

    news = LinkEventWatcher(ipr).wait(timeout, wake, prune)   # LinkNews: full_pass, prunes (`prune` sent them)

Each received message is first read raw (agent/netlink_raw.py: its index, master and VLAN list), so a VM port's
prune goes out before anything is decoded; the messages of the agent's own links and of its bonds' NICs are then
decoded by pyroute2 to see whether anything the plan reads changed.
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
from pyroute2.netlink.rtnl.marshal import MarshalRtnl

from harvester_network.agent.netlink import PRUNE_REASON
from harvester_network.agent.netlink_apply import PruneVid1
from harvester_network.agent.netlink_raw import (
    IFLA_GROUP,
    IFLA_IFALIAS,
    IFLA_IFNAME,
    IFLA_MASTER,
    LinkMessage,
    NetlinkSocket,
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


def _signature(msg: Any) -> Any:
    """What the plan reads of a link in one link message (AF_BRIDGE ones: its VLANs)."""
    if msg["family"] == socket.AF_BRIDGE:
        spec = msg.get("IFLA_AF_SPEC")
        infos = spec.get_attrs("IFLA_BRIDGE_VLAN_INFO") if spec else []
        return (msg.get("IFLA_MASTER"), tuple((info["flags"], info["vid"]) for info in infos))
    data = [msg.get_nested("IFLA_LINKINFO", "IFLA_INFO_DATA", key) for key in _PLANNED_LINK_DATA]
    return (
        *(msg.get(attr) for attr in ("IFLA_IFNAME", "IFLA_MASTER", "IFLA_MTU", "IFLA_TXQLEN", "IFLA_IFALIAS")),
        msg.get("IFLA_GROUP"),
        msg["flags"] & IFF_UP,
        msg.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND"),
        *data,
    )


_PLANNED_LINK_DATA = ("IFLA_BOND_MODE", "IFLA_BOND_MIIMON", "IFLA_BR_VLAN_FILTERING")


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
        self.marshal = MarshalRtnl()
        # Bound before this read: whatever changes after it arrives as an event.
        messages = list(ipr.link("dump", ext_mask=RTEXT_FILTER_SKIP_STATS))
        names = {msg["index"]: msg.get("IFLA_IFNAME") for msg in messages}
        links_read = [(msg, link_from_message(msg, names)) for msg in messages]
        self.owned = {link.index: _Owned(link.name, link.kind, link.owner) for _, link in links_read if link.owner}
        bonds = {owned.name for owned in self.owned.values() if owned.kind == "bond"}
        # What the plan reads of each owned link and each NIC of an owned bond, as last seen (by index, family).
        self._signatures: dict[tuple[int, int], Any] = {
            (msg["index"], msg["family"]): _signature(msg)
            for msg, link in links_read
            if link.owner or link.master in bonds
        }
        for msg in ipr.link("dump", family=socket.AF_BRIDGE, ext_mask=RTEXT_FILTER_BRVLAN_COMPRESSED):
            if msg["index"] in self.owned:
                self._signatures[(msg["index"], msg["family"])] = _signature(msg)
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
        the news as soon as the VM ports to prune are known, before the rest of the events is decoded."""
        readable, _, _ = select.select([self.sock, *([wake] if wake is not None else [])], [], [], timeout)
        news = LinkNews()
        if self.sock in readable:
            to_decode = self._receive(news)
            if prune is not None and news.prunes:
                prune(news)
            for data in to_decode:
                for msg in self.marshal.parse(data):
                    self._read_event(msg, news)
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

    def _receive(self, news: LinkNews) -> list[bytes]:
        """Every queued message read raw: VM ports' prunes go into `news`; the messages to decode are returned."""
        to_decode: list[bytes] = []
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
                return to_decode
            for link in links(data, _LINK_MESSAGES):
                if self._concerns_a_pass(link):
                    to_decode.append(link.raw())
                else:
                    self._vm_port_event(link, news)

    def _concerns_a_pass(self, link: LinkMessage) -> bool:
        """An owned link (or one becoming owned), or a link of an owned bond: what `_read_event` decodes."""
        if link.ifindex in self.owned:
            return True
        if owner_of(link.text(IFLA_IFALIAS), link.text(IFLA_IFNAME) or "", link.u32(IFLA_GROUP) or 0) is not None:
            return True
        master = self.owned.get(link.u32(IFLA_MASTER) or 0)
        return master is not None and master.kind != "bridge"

    def _vm_port_event(self, link: LinkMessage, news: LinkNews) -> None:
        if link.kind == RTM_DELLINK:
            self._reported.discard(link.ifindex)
            return
        bridge = self.owned.get(link.u32(IFLA_MASTER) or 0)
        if bridge is None or link.family != socket.AF_BRIDGE:
            return
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
            name = link.text(IFLA_IFNAME) or ""
            news.prunes.append(PruneVid1(bridge.cluster_network, name, PRUNE_REASON, bridge=bridge.name))
            news.indexes[name] = link.ifindex

    def _read_event(self, msg: Any, news: LinkNews) -> None:
        index = msg["index"]
        removed = msg["header"]["type"] == RTM_DELLINK
        name = msg.get("IFLA_IFNAME") or ""
        owner = owner_of(msg.get("IFLA_IFALIAS"), name, msg.get("IFLA_GROUP") or 0)
        kind = msg.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND")
        known = self.owned.get(index)
        if owner is not None or known is not None:
            if removed and msg["family"] != socket.AF_BRIDGE:
                self.owned.pop(index, None)
            elif owner is not None:
                self.owned[index] = _Owned(name, kind or (known.kind if known else ""), owner)
        news.full_pass |= self._changed(index, msg, removed)

    def _changed(self, index: int, msg: Any, removed: bool) -> bool:
        # A VM port joining a bridge makes the bridge and the bond's NICs report a change (features are
        # recomputed) that leaves all the plan reads as it was: no reason for a pass.
        seen = (index, msg["family"])
        signature = None if removed else _signature(msg)
        if signature is not None and self._signatures.get(seen) == signature:
            return False
        self._signatures[seen] = signature
        return True
