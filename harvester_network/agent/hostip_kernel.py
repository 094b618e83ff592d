"""The host-IP migration's netlink steps: read a NIC's addresses, routes and neighbours, put a record's addresses
and routes on a link or take them off, and probe a witness with ARP. Every write request is counted (`writes`)
and a failed one is a ChangeFailed naming the action.

    links = MigrationLinks(ipr); links.put(record, bridge, links.require(bridge)); links.take(record, nic, index)

What to move and when is decided in hostip_plan.py and hostip.py; this module only talks to the kernel.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import time
from collections.abc import Iterable, Sequence
from typing import Any

from pyroute2.netlink.exceptions import NetlinkError

from harvester_network.agent.hostip_plan import (
    FOREVER,
    NUD_FAILED,
    NUD_REACHABLE,
    RTN_UNICAST,
    HostAddress,
    HostRoute,
    MigrationRecord,
    Witness,
    witness_candidates,
)
from harvester_network.agent.netlink_apply import ChangeFailed

log = logging.getLogger("harvester_network.agent.hostip")

# The kernel gives up on an address after 3 ARP requests 1 s apart (mcast_solicit, retrans_time); one more
# second lets a second round start when the first failed early.
PROBE_TIMEOUT_S = 4.0
PROBE_POLL_S = 0.05

NTF_USE = 0x01  # linux/neighbour.h: "resolve this entry now" (what `ip neigh replace ... use` sends)
# linux/rtnetlink.h, linux/if_addr.h
RTPROT_KERNEL, RT_TABLE_LOCAL = 2, 255
IFA_F_NOPREFIXROUTE, IFA_F_MCAUTOJOIN = 0x200, 0x400


class MigrationLinks:
    """The kernel side of a host-IP migration, through one pyroute2 IPRoute; `writes` counts its write requests."""

    def __init__(self, ipr: Any, probe_timeout_s: float = PROBE_TIMEOUT_S) -> None:
        self.ipr = ipr
        self.probe_timeout_s = probe_timeout_s
        self.writes = 0

    # -- moving addresses and routes ------------------------------------------------------------------------------

    def put(self, record: MigrationRecord, link: str, index: int) -> None:
        """Add the record's addresses (in order: the primary stays primary), then its routes, to `link`. On the
        bridge an address is labelled with the bridge's name; back on the NIC it gets its own label again."""
        for address in record.addresses:
            label = (address.label or record.nic) if link == record.nic else link
            request = address.request(index, label)
            self.write(f"add {address} to {link}", "addr", "add", tolerate=(errno.EEXIST,), **request)
        for route in record.routes:
            # "append": the other link's route to the same destination may still be there
            request = route.request(index)
            self.write(f"add route {route} to {link}", "route", "append", tolerate=(errno.EEXIST,), **request)

    def take(self, record: MigrationRecord, link: str, index: int) -> None:
        """Remove the record's routes and addresses from `link` (secondaries first: a primary takes them along)."""
        for route in record.routes:
            request = route.request(index)
            self.write(f"remove route {route} from {link}", "route", "del", tolerate=(errno.ESRCH,), **request)
        for address in reversed(record.addresses):
            key = {"address": address.address, "prefixlen": address.prefixlen}
            self.write(
                f"remove {address} from {link}", "addr", "del", index=index, tolerate=(errno.EADDRNOTAVAIL,), **key
            )

    # -- probing --------------------------------------------------------------------------------------------------

    def choose_witness(self, nic: str, nic_index: int, routes: Sequence[HostRoute]) -> Witness | None:
        """The first candidate (hostip_plan.witness_candidates) that answers through the NIC now, if any."""
        neighbours = self.neighbours(nic_index)
        candidates = witness_candidates(routes, neighbours)
        recent = {address for address, state in neighbours.items() if state & NUD_REACHABLE}
        answered = self.probe(nic, nic_index, [c.address for c in candidates], already=recent)
        return next((c for c in candidates if c.address in answered), None)

    def probe(self, link: str, index: int, targets: Sequence[str], already: Iterable[str] = ()) -> set[str]:
        """The targets that answer ARP on `link` within the probe timeout. Each is asked afresh (its entry
        deleted, then resolved by the kernel); `already`: confirmed reachable moments ago, not asked again."""
        answered = set(already) & set(targets)
        pending = [target for target in targets if target not in answered]
        for target in pending:
            self._ask(link, index, target)
        deadline = time.monotonic() + self.probe_timeout_s
        while pending and time.monotonic() < deadline:
            time.sleep(PROBE_POLL_S)
            states = self.neighbours(index)
            for target in list(pending):
                state = states.get(target, 0)
                if state & NUD_REACHABLE:
                    answered.add(target)
                    pending.remove(target)
                elif not state or state & NUD_FAILED:
                    self._ask(link, index, target)  # another round of requests within the deadline
        return answered

    def _ask(self, link: str, index: int, target: str) -> None:
        entry: dict[str, Any] = {"dst": target, "ifindex": index}
        self.write(f"forget neighbour {target} on {link}", "neigh", "del", tolerate=(errno.ENOENT,), **entry)
        self.write(f"resolve neighbour {target} on {link}", "neigh", "replace", state=0, flags=NTF_USE, **entry)

    # -- reads and writes -----------------------------------------------------------------------------------------

    def write(self, action: str, method: str, *args: Any, tolerate: tuple[int, ...] = (), **attrs: Any) -> None:
        """One netlink write request; `action` ("add 10.0.0.10/24 to vlan-br") names it in the error."""
        self.writes += 1
        try:
            getattr(self.ipr, method)(*args, **attrs)
        except NetlinkError as error:
            if error.code not in tolerate:
                raise ChangeFailed(f"{action}: {os.strerror(error.code) if error.code else error}") from error

    def index(self, name: str) -> int | None:
        found = self.ipr.link_lookup(ifname=name)
        return found[0] if found else None

    def require(self, name: str) -> int:
        index = self.index(name)
        if index is None:
            raise ChangeFailed(f"{name} does not exist")
        return index

    def master(self, index: int) -> int | None:
        [link] = self.ipr.link("get", index=index)
        master: int | None = link.get("IFLA_MASTER") or None
        return master

    def in_bond(self, nic_index: int, bond: str) -> bool:
        bond_index = self.index(bond)
        return bond_index is not None and self.master(nic_index) == bond_index

    def addresses(self, index: int) -> tuple[HostAddress, ...]:
        found = []
        for msg in self.ipr.addr("dump", family=socket.AF_INET):
            if msg["index"] != index:
                continue
            lifetimes = msg.get("IFA_CACHEINFO") or {}
            found.append(
                HostAddress(
                    address=msg.get("IFA_LOCAL") or msg.get("IFA_ADDRESS"),
                    prefixlen=msg["prefixlen"],
                    broadcast=msg.get("IFA_BROADCAST"),
                    label=msg.get("IFA_LABEL") or "",
                    scope=msg["scope"],
                    flags=(msg.get("IFA_FLAGS") or msg["flags"]) & (IFA_F_NOPREFIXROUTE | IFA_F_MCAUTOJOIN),
                    valid_lft=lifetimes.get("ifa_valid", FOREVER),
                    preferred_lft=lifetimes.get("ifa_preferred", FOREVER),
                )
            )
        return tuple(found)

    def routes(self, nic: str, index: int) -> tuple[HostRoute, ...]:
        """The routes out of the NIC in every table, but not the kernel's own (from addresses, table local)."""
        found = []
        for msg in self.ipr.route("dump", family=socket.AF_INET):
            table = msg.get("RTA_TABLE") or msg["table"]
            if msg["proto"] == RTPROT_KERNEL or table == RT_TABLE_LOCAL or msg["type"] != RTN_UNICAST:
                continue
            if msg.get("RTA_OIF") != index:
                if any(hop["oif"] == index for hop in msg.get("RTA_MULTIPATH") or ()):
                    log.warning(
                        "a multipath route over %s is not moved to the bridge (only single-path routes are)",
                        nic,
                        extra={"link": nic, "reason": "hostip"},
                    )
                continue
            found.append(
                HostRoute(
                    dst=msg.get("RTA_DST") or "0.0.0.0",
                    dst_len=msg["dst_len"],
                    gateway=msg.get("RTA_GATEWAY"),
                    table=table,
                    priority=msg.get("RTA_PRIORITY"),
                    scope=msg["scope"],
                    proto=msg["proto"],
                    tos=msg["tos"],
                    prefsrc=msg.get("RTA_PREFSRC"),
                )
            )
        return tuple(found)

    def neighbours(self, index: int) -> dict[str, int]:
        return {
            msg.get("NDA_DST"): msg["state"]
            for msg in self.ipr.neigh("dump", family=socket.AF_INET)
            if msg["ifindex"] == index and msg.get("NDA_DST")
        }
