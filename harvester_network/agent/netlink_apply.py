"""The changes the agent makes to the kernel, one dataclass per kind, and the applier that makes them.

Every netlink write goes through `LinkOps`, which counts it (`writes`, for metrics and the zero-writes-when-
nothing-changed guarantee). Each applied change logs one line (logger `harvester_network.agent.netlink`) whose
`extra` names the change, the link, its cluster network and the reason. A change that fails becomes a
`NodeError` for its cluster network saying which link and why; that cluster network's later changes are
skipped, other cluster networks go on. The one exception to "through LinkOps": `PruneRequests`, the pruner
thread's own writer of PruneVid1 (one raw request each, counted and logged the same way).

Plugging in around "enslave a NIC" (e.g. moving the host's IP addresses from the NIC to the bridge later):
pass `EnslaveHook`s to `Applier`; `before_enslave`/`after_enslave` run around every `EnslaveNic` with the same
`LinkOps` (so their writes are counted too); a `ChangeFailed` they raise fails that cluster network like a
failed netlink request.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl import RTM_DELLINK

from harvester_network.agent.hoststate import NodeError
from harvester_network.agent.netlink_raw import NetlinkSocket, bridge_vlan_request
from harvester_network.agent.netlink_read import (
    BRIDGE_VLAN_INFO_RANGE_BEGIN,
    BRIDGE_VLAN_INFO_RANGE_END,
    OWNER_LINK_GROUP,
    owner_alias,
)
from harvester_network.facts import BOND_MODES, DEFAULT_PVID
from harvester_network.vids import VidRange, format_ranges

log = logging.getLogger("harvester_network.agent.netlink")


def vlan_infos(ranges: Sequence[VidRange], flags: int = 0) -> list[tuple[str, dict[str, int]]]:
    """IFLA_BRIDGE_VLAN_INFO attributes for all ranges, to go into one request (the kernel's range flags)."""
    infos = []
    for first, last in ranges:
        if first == last:
            infos.append(("IFLA_BRIDGE_VLAN_INFO", {"flags": flags, "vid": first}))
        else:
            infos.append(("IFLA_BRIDGE_VLAN_INFO", {"flags": flags | BRIDGE_VLAN_INFO_RANGE_BEGIN, "vid": first}))
            infos.append(("IFLA_BRIDGE_VLAN_INFO", {"flags": flags | BRIDGE_VLAN_INFO_RANGE_END, "vid": last}))
    return infos


class ChangeFailed(Exception):
    """A netlink write (or an enslave hook) failed; the message says why."""


class LinkOps:
    """The agent's only netlink writer. Links are named; their indexes come from the last read or a lookup."""

    def __init__(self, ipr: Any, indexes: dict[str, int] | None = None) -> None:
        self.ipr = ipr
        self.writes = 0
        self.indexes: dict[str, int] = dict(indexes or {})

    def index(self, name: str) -> int:
        if name not in self.indexes:
            found = self.ipr.link_lookup(ifname=name)
            if not found:
                raise ChangeFailed(f"{name} does not exist")
            self.indexes[name] = found[0]
        return self.indexes[name]

    def _write(self, method: str, *args: Any, **kwargs: Any) -> None:
        self.writes += 1
        try:
            getattr(self.ipr, method)(*args, **kwargs)
        except NetlinkError as error:
            raise ChangeFailed(os.strerror(error.code) if error.code else str(error)) from error

    def add_link(self, name: str, kind: str, **attrs: Any) -> None:
        self._write("link", "add", ifname=name, kind=kind, group=OWNER_LINK_GROUP, **attrs)

    def set_link(self, name: str, **attrs: Any) -> None:
        self._write("link", "set", index=self.index(name), **attrs)

    def delete_link(self, name: str) -> None:
        self._write("link", "del", index=self.index(name))
        self.indexes.pop(name, None)

    def set_vlans(self, command: str, port: str, ranges: Sequence[VidRange]) -> None:
        """Add ("add") or remove ("del") tagged VIDs on a bridge port: all ranges in one request."""
        self._write("vlan_filter", command, index=self.index(port), af_spec={"attrs": vlan_infos(ranges)})


@dataclass(frozen=True)
class Change:
    """One change to one link, on behalf of one cluster network, for a reason (all three go into the log)."""

    cluster_network: str
    link: str
    reason: str

    def summary(self) -> str:
        raise NotImplementedError

    def apply(self, ops: LinkOps) -> None:
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class CreateBridge(Change):
    mtu: int  # 0 sets none

    def summary(self) -> str:
        return f"create bridge {self.link} (VLAN filtering)"

    def apply(self, ops: LinkOps) -> None:
        ops.add_link(self.link, "bridge", br_vlan_filtering=1, **({"mtu": self.mtu} if self.mtu else {}))
        # the kernel ignores IFLA_IFALIAS when it creates a link
        ops.set_link(self.link, ifalias=owner_alias(self.cluster_network), state="up")


@dataclass(frozen=True, kw_only=True)
class CreateBond(Change):
    bridge: str
    mode: str
    miimon: int
    mtu: int  # 0 sets none
    txqlen: int  # -1 sets none

    def summary(self) -> str:
        return f"create bond {self.link} ({self.mode}, miimon {self.miimon}) as a port of {self.bridge}"

    def apply(self, ops: LinkOps) -> None:
        attrs: dict[str, Any] = {"bond_mode": BOND_MODES.index(self.mode), "bond_miimon": self.miimon}
        if self.mtu:
            attrs["mtu"] = self.mtu
        if self.txqlen >= 0:
            attrs["txqlen"] = self.txqlen
        ops.add_link(self.link, "bond", **attrs)
        ops.set_link(self.link, ifalias=owner_alias(self.cluster_network), master=ops.index(self.bridge), state="up")


@dataclass(frozen=True, kw_only=True)
class EnslaveNic(Change):
    bond: str

    def summary(self) -> str:
        return f"enslave {self.link} to {self.bond}"

    def apply(self, ops: LinkOps) -> None:
        # A bond takes only NICs that are down; the kernel handles the flags before the master in one request,
        # and the bond brings the NIC up again (with the bond's MTU; it restores the NIC's own on release).
        ops.set_link(self.link, state="down", master=ops.index(self.bond))


@dataclass(frozen=True, kw_only=True)
class ReleaseNic(Change):
    bond: str

    def summary(self) -> str:
        return f"release {self.link} from {self.bond}"

    def apply(self, ops: LinkOps) -> None:
        # The bond driver restores the NIC's MTU and MAC from before it was enslaved, and leaves it down.
        ops.set_link(self.link, master=0)
        ops.set_link(self.link, state="up")


@dataclass(frozen=True)
class ClaimLink(Change):
    """Give a link the agent made (its group says so) the owner ifalias that its creation did not get to set."""

    def summary(self) -> str:
        return f"set ifalias {owner_alias(self.cluster_network)} on {self.link}"

    def apply(self, ops: LinkOps) -> None:
        ops.set_link(self.link, ifalias=owner_alias(self.cluster_network))


@dataclass(frozen=True, kw_only=True)
class DeleteLink(Change):
    kind: str

    def summary(self) -> str:
        return f"delete {self.kind} {self.link}"

    def apply(self, ops: LinkOps) -> None:
        ops.delete_link(self.link)


@dataclass(frozen=True, kw_only=True)
class SetMtu(Change):
    mtu: int

    def summary(self) -> str:
        return f"set MTU of {self.link} to {self.mtu}"

    def apply(self, ops: LinkOps) -> None:
        ops.set_link(self.link, mtu=self.mtu)


@dataclass(frozen=True, kw_only=True)
class SetTxqlen(Change):
    txqlen: int

    def summary(self) -> str:
        return f"set txqueuelen of {self.link} to {self.txqlen}"

    def apply(self, ops: LinkOps) -> None:
        ops.set_link(self.link, txqlen=self.txqlen)


@dataclass(frozen=True, kw_only=True)
class SetMiimon(Change):
    miimon: int

    def summary(self) -> str:
        return f"set miimon of bond {self.link} to {self.miimon}"

    def apply(self, ops: LinkOps) -> None:
        ops.set_link(self.link, kind="bond", bond_miimon=self.miimon)


@dataclass(frozen=True)
class EnableVlanFiltering(Change):
    def summary(self) -> str:
        return f"turn on VLAN filtering on bridge {self.link}"

    def apply(self, ops: LinkOps) -> None:
        ops.set_link(self.link, kind="bridge", br_vlan_filtering=1)


@dataclass(frozen=True)
class SetUp(Change):
    def summary(self) -> str:
        return f"set {self.link} up"

    def apply(self, ops: LinkOps) -> None:
        ops.set_link(self.link, state="up")


@dataclass(frozen=True, kw_only=True)
class AttachToBridge(Change):
    bridge: str

    def summary(self) -> str:
        return f"make {self.link} a port of {self.bridge}"

    def apply(self, ops: LinkOps) -> None:
        ops.set_link(self.link, master=ops.index(self.bridge))


@dataclass(frozen=True, kw_only=True)
class AddVids(Change):
    ranges: tuple[VidRange, ...]

    def summary(self) -> str:
        return f"add tagged VIDs {format_ranges(self.ranges)} to {self.link}"

    def apply(self, ops: LinkOps) -> None:
        ops.set_vlans("add", self.link, self.ranges)


@dataclass(frozen=True, kw_only=True)
class DelVids(Change):
    ranges: tuple[VidRange, ...]

    def summary(self) -> str:
        return f"remove VIDs {format_ranges(self.ranges)} from {self.link}"

    def apply(self, ops: LinkOps) -> None:
        ops.set_vlans("del", self.link, self.ranges)


@dataclass(frozen=True, kw_only=True)
class PruneVid1(Change):
    bridge: str

    def summary(self) -> str:
        return f"remove VLAN {DEFAULT_PVID} from {self.link} (port of {self.bridge})"

    def apply(self, ops: LinkOps) -> None:
        ops.set_vlans("del", self.link, [(DEFAULT_PVID, DEFAULT_PVID)])


class PruneRequests:
    """The pruner thread's writer (agent/pruner.py): each PruneVid1 is one RTM_DELLINK request on a socket of its
    own whose calls keep the GIL (agent/netlink_raw.py), where pyroute2's request path hands the GIL over several
    times. Counted in `writes` and logged like the Applier's changes; a failure is logged and left for the next
    pass."""

    # Answers that need nothing more, named by the race behind them: the port changed after its event was sent.
    SETTLED = {
        errno.ENODEV: "the port was deleted since its event",
        errno.ENOENT: "its VLAN 1 was removed since its event",
    }

    def __init__(self) -> None:
        self.sock = NetlinkSocket()
        self.writes = 0

    def close(self) -> None:
        self.sock.close()

    def prune(self, ports: Sequence[tuple[PruneVid1, int]]) -> None:
        """Remove VID 1 from each port (its change and ifindex): every request first, then the logs (a log line
        is a write to stderr, which hands the GIL over)."""
        answers = []
        for _, index in ports:
            self.writes += 1
            answers.append(self.sock.request(RTM_DELLINK, bridge_vlan_request(socket.AF_BRIDGE, index, DEFAULT_PVID)))
        for (change, _), code in zip(ports, answers, strict=True):
            if code == 0:
                log.info("%s: %s", change.summary(), change.reason, extra=_log_fields(change))
            elif code in self.SETTLED:
                log.debug("%s: not needed, %s", change.summary(), self.SETTLED[code], extra=_log_fields(change))
            else:
                error = os.strerror(code)
                log.warning("%s failed: %s", change.summary(), error, extra=_log_fields(change) | {"error": error})


class EnslaveHook(Protocol):
    """Runs around enslaving a NIC to a bond (see the module docstring)."""

    def before_enslave(self, ops: LinkOps, change: EnslaveNic) -> None: ...

    def after_enslave(self, ops: LinkOps, change: EnslaveNic) -> None: ...


@dataclass
class ApplyResult:
    applied: list[Change] = field(default_factory=list)
    errors: list[NodeError] = field(default_factory=list)
    writes: int = 0


class Applier:
    def __init__(self, ipr: Any, enslave_hooks: Sequence[EnslaveHook] = ()) -> None:
        self.ops = LinkOps(ipr)
        self.enslave_hooks = tuple(enslave_hooks)

    @property
    def writes(self) -> int:
        """Netlink write requests made so far (reads are not counted)."""
        return self.ops.writes

    def _apply_one(self, change: Change) -> None:
        if not isinstance(change, EnslaveNic):
            change.apply(self.ops)
            return
        for hook in self.enslave_hooks:
            hook.before_enslave(self.ops, change)
        change.apply(self.ops)
        for hook in self.enslave_hooks:
            hook.after_enslave(self.ops, change)

    def apply(self, changes: Iterable[Change], indexes: dict[str, int] | None = None) -> ApplyResult:
        """Apply in order; `indexes` ({name: ifindex} from the read the changes were planned on) saves lookups."""
        if indexes:
            self.ops.indexes.update(indexes)
        result = ApplyResult()
        writes_before = self.ops.writes
        failed: set[str] = set()
        for change in changes:
            if change.cluster_network in failed:
                continue
            try:
                self._apply_one(change)
            except (ChangeFailed, OSError) as error:
                failed.add(change.cluster_network)
                result.errors.append(NodeError(change.cluster_network, f"{change.summary()}: {error}"))
                log.warning(
                    "%s failed: %s",
                    change.summary(),
                    error,
                    extra=_log_fields(change) | {"error": str(error)},
                )
                continue
            result.applied.append(change)
            log.info("%s: %s", change.summary(), change.reason, extra=_log_fields(change))
        result.writes = self.ops.writes - writes_before
        return result


def _log_fields(change: Change) -> dict[str, str]:
    return {
        "change": type(change).__name__,
        "link": change.link,
        "cluster_network": change.cluster_network,
        "reason": change.reason,
    }
