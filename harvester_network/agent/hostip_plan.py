"""Host-IP migration as data (pure, no I/O): what is moved (HostAddress, HostRoute), what must answer afterwards
(Witness, chosen by `witness_candidates`), where a NIC's move is (Phase, in a MigrationRecord), and what recovery
does with a record left behind (`recovery_for`).

The steps that act on it are in hostip.py, the netlink requests in hostip_kernel.py, the record on disk in
hostip_journal.py; docs/host-ip-migration.md walks through them.
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, NamedTuple

RECORD_VERSION = 1
MAX_NEIGHBOUR_WITNESSES = 3

# linux/neighbour.h
NUD_REACHABLE, NUD_STALE, NUD_DELAY, NUD_PROBE, NUD_FAILED = 0x02, 0x04, 0x08, 0x10, 0x20
NUD_PROBEABLE = NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE  # not INCOMPLETE/FAILED, NOARP, PERMANENT
# linux/rtnetlink.h
RTN_UNICAST = 1
FOREVER = 0xFFFFFFFF  # an address lifetime that never runs out


class Phase(StrEnum):
    """Where a NIC's migration is; the record is written when a phase is reached."""

    INTENT = "intent"  # nothing moved yet (the bridge may have some of the addresses)
    BRIDGE_ADDRESSED = "bridge-addressed"  # the addresses and routes are on the NIC and on the bridge
    NIC_CLEARED = "nic-cleared"  # enslaved; the addresses and routes are only on the bridge, not verified yet
    MIGRATED = "migrated"  # verified (or nothing to verify against); kept for teardown
    RESTORING = "restoring"  # rolling back or tearing down: everything goes back to the NIC


@dataclass(frozen=True)
class HostAddress:
    """One IPv4 address of the NIC as the kernel reported it."""

    address: str
    prefixlen: int
    broadcast: str | None = None
    label: str = ""
    scope: int = 0
    flags: int = 0  # only the flags a user sets: noprefixroute, autojoin
    valid_lft: int = FOREVER  # seconds left when recorded (DHCP); FOREVER for static addresses
    preferred_lft: int = FOREVER

    def __str__(self) -> str:
        return f"{self.address}/{self.prefixlen}"

    def request(self, index: int, label: str) -> dict[str, Any]:
        attrs: dict[str, Any] = {"index": index, "address": self.address, "prefixlen": self.prefixlen}
        attrs |= {"label": label, "scope": self.scope, "flags": self.flags}
        if self.broadcast:
            attrs["broadcast"] = self.broadcast
        if self.valid_lft != FOREVER:
            attrs |= {"valid_lft": self.valid_lft, "preferred_lft": self.preferred_lft}
        return attrs


@dataclass(frozen=True)
class HostRoute:
    """A route through the NIC (not one the kernel derives from an address)."""

    dst: str  # "0.0.0.0" with dst_len 0: the default route
    dst_len: int = 0
    gateway: str | None = None
    table: int = 254
    priority: int | None = None
    scope: int = 0
    proto: int = 3
    tos: int = 0
    prefsrc: str | None = None

    @property
    def is_default(self) -> bool:
        return self.dst_len == 0

    def __str__(self) -> str:
        via = f" via {self.gateway}" if self.gateway else ""
        return ("default" if self.is_default else f"{self.dst}/{self.dst_len}") + via

    def request(self, oif: int) -> dict[str, Any]:
        attrs: dict[str, Any] = {"dst": f"{self.dst}/{self.dst_len}", "oif": oif, "table": self.table}
        attrs |= {"scope": self.scope, "proto": self.proto, "tos": self.tos, "type": RTN_UNICAST}
        for key in ("gateway", "priority", "prefsrc"):
            if getattr(self, key) is not None:
                attrs[key] = getattr(self, key)
        return attrs


@dataclass(frozen=True)
class Witness:
    """An address that answered through the NIC before the move and must answer through the bridge after it."""

    address: str
    kind: Literal["gateway", "neighbour"]

    def __str__(self) -> str:
        return f"{self.kind} {self.address}"


class MigrationKey(NamedTuple):
    """One NIC's migration within its cluster network."""

    cluster_network: str
    nic: str


@dataclass(frozen=True)
class MigrationRecord:
    """What the agent is doing with one NIC's host addresses, kept on disk so a killed agent can finish it."""

    node: str
    cluster_network: str
    nic: str
    bond: str
    bridge: str
    phase: Phase
    addresses: tuple[HostAddress, ...]
    routes: tuple[HostRoute, ...] = ()
    witness: Witness | None = None
    reason: str = ""  # why it is being restored
    version: int = RECORD_VERSION

    @property
    def key(self) -> MigrationKey:
        return MigrationKey(self.cluster_network, self.nic)

    def at(self, phase: Phase, reason: str | None = None) -> MigrationRecord:
        return dataclasses.replace(self, phase=phase, reason=self.reason if reason is None else reason)

    def moved(self) -> str:
        """ "10.0.0.10/24 and default via 10.0.0.1" for log lines."""
        return ", ".join([*map(str, self.addresses), *map(str, self.routes)])


def witness_candidates(routes: Iterable[HostRoute], neighbours: Mapping[str, int]) -> list[Witness]:
    """What to probe before moving: the gateways (of default routes first, lowest metric first), else up to
    MAX_NEIGHBOUR_WITNESSES neighbours the kernel knows on the NIC ({address: NUD state}), in address order."""
    ordered = sorted(routes, key=lambda r: (not r.is_default, r.priority or 0))
    gateways = list(dict.fromkeys(r.gateway for r in ordered if r.gateway))
    if gateways:
        return [Witness(gateway, "gateway") for gateway in gateways]
    known = sorted(
        (address for address, state in neighbours.items() if state & NUD_PROBEABLE),
        key=lambda address: socket.inet_aton(address),
    )
    return [Witness(address, "neighbour") for address in known[:MAX_NEIGHBOUR_WITNESSES]]


Recovery = Literal["keep", "finish", "roll back"]


def recovery_for(record: MigrationRecord, nic_in_bond: bool, still_wanted: bool) -> Recovery:
    """What `recover` does with a record: a migration is finished (then verified as usual) only when the NIC
    is already in the bond and still wanted there; everything else unverified goes back to the NIC."""
    if record.phase is Phase.MIGRATED:
        return "keep"
    if record.phase in (Phase.BRIDGE_ADDRESSED, Phase.NIC_CLEARED) and nic_in_bond and still_wanted:
        return "finish"
    return "roll back"
