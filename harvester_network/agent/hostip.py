"""Host-IP migration: when an uplink NIC carries the node's own IPv4 addresses, move them and the routes over the
NIC to the bridge `<cn>-br` around enslaving it, crash-safely (intent record, verify a witness, roll back), so the
host stays reachable (Harvester #1314, #1541). Not pure: netlink and a state directory.

    migrator = HostIpMigrator(ipr, RecordStore(state_dir, node))
    migrator.before_pass(desired); Reconciler(ipr, enslave_hooks=[migrator]); migrator.recover()

Steps, records, recovery after a crash at each step, and HVNET_TEST_CRASH_AFTER: docs/host-ip-migration.md.
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import logging
import os
import signal
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, NamedTuple, NoReturn

import pydantic
from pyroute2.netlink.exceptions import NetlinkError

from harvester_network.agent.hoststate import HostState, NodeError, UplinkState
from harvester_network.agent.netlink_apply import ChangeFailed, EnslaveNic, LinkOps
from harvester_network.model import names

log = logging.getLogger("harvester_network.agent.hostip")

CRASH_AFTER_ENV = "HVNET_TEST_CRASH_AFTER"
RECORD_VERSION = 1
# The kernel gives up on an address after 3 ARP requests 1 s apart (mcast_solicit, retrans_time); one more
# second lets a second round start when the first failed early.
PROBE_TIMEOUT_S = 4.0
PROBE_POLL_S = 0.05
MAX_NEIGHBOUR_WITNESSES = 3

# linux/neighbour.h
NUD_REACHABLE, NUD_STALE, NUD_DELAY, NUD_PROBE, NUD_FAILED = 0x02, 0x04, 0x08, 0x10, 0x20
NUD_PROBEABLE = NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE  # not INCOMPLETE/FAILED, NOARP, PERMANENT
NTF_USE = 0x01  # "resolve this entry now" (what `ip neigh replace ... use` sends)
# linux/rtnetlink.h, linux/if_addr.h
RTPROT_KERNEL, RTN_UNICAST, RT_TABLE_LOCAL = 2, 1, 255
IFA_F_NOPREFIXROUTE, IFA_F_MCAUTOJOIN = 0x200, 0x400
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

    def at(self, phase: Phase, reason: str | None = None) -> MigrationRecord:
        return dataclasses.replace(self, phase=phase, reason=self.reason if reason is None else reason)

    def moved(self) -> str:
        """ "10.0.0.10/24 and default via 10.0.0.1" for log lines."""
        return ", ".join([*map(str, self.addresses), *map(str, self.routes)])


@functools.cache
def _record_adapter() -> pydantic.TypeAdapter[MigrationRecord]:
    # Built on first use: a node that never migrates a host IP never pays for the schema.
    return pydantic.TypeAdapter(MigrationRecord)


class RecordStore:
    """One JSON file per NIC under `<state dir>/hostip/<node>/` (per node: lab nodes share one filesystem)."""

    def __init__(self, state_dir: Path, node: str) -> None:
        self.directory = state_dir / "hostip" / node
        self.node = node

    def path(self, nic: str) -> Path:
        return self.directory / f"{nic}.json"

    def load(self, nic: str) -> MigrationRecord | None:
        try:
            return _record_adapter().validate_json(self.path(nic).read_bytes())
        except FileNotFoundError:
            return None

    def records(self) -> list[MigrationRecord]:
        """Every readable record; an unreadable one is logged and left for a human (it is never half-written)."""
        found = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                found.append(_record_adapter().validate_json(path.read_bytes()))
            except (OSError, pydantic.ValidationError) as error:
                log.error("unreadable host-IP migration record %s: %s", path, error, extra={"reason": "hostip"})
        return found

    def save(self, record: MigrationRecord) -> None:
        """Write, fsync and rename into place, then fsync the directory: after a crash the old or the new
        record is there, never a torn one. A failure is a ChangeFailed: the migration stops and is undone."""
        path = self.path(record.nic)
        staged = path.with_name(f".{path.name}.tmp")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with staged.open("wb") as out:
                out.write(_record_adapter().dump_json(record, indent=2))
                out.flush()
                os.fsync(out.fileno())
            os.replace(staged, path)
            self._sync_directory()
        except OSError as error:
            raise ChangeFailed(f"cannot write the host-IP migration record {path}: {error}") from error

    def remove(self, nic: str) -> None:
        try:
            self.path(nic).unlink(missing_ok=True)
            self._sync_directory()
        except OSError as error:
            raise ChangeFailed(f"cannot remove the host-IP migration record {self.path(nic)}: {error}") from error

    def _sync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --- pure decisions --------------------------------------------------------------------------------------------


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


# --- the hook --------------------------------------------------------------------------------------------------


class _Wanted(NamedTuple):
    """A cluster network as this pass wants it: the VlanConfig it comes from and its uplink."""

    vlan_config: str
    uplink: UplinkState


class _Failure(NamedTuple):
    """A migration that failed, remembered (not retried) until its cluster network's `_Wanted` changes."""

    wanted: _Wanted | None  # what was wanted when it failed
    message: str


class HostIpMigrator:
    """Moves a NIC's host addresses to its cluster network's bridge around `EnslaveNic`, crash-safe.

    Also an `EnslaveHook` (netlink_apply.py). `writes` counts its netlink write requests."""

    def __init__(self, ipr: Any, store: RecordStore, probe_timeout_s: float = PROBE_TIMEOUT_S) -> None:
        self.ipr = ipr
        self.store = store
        self.probe_timeout_s = probe_timeout_s
        self.writes = 0
        # {cluster network: what the pass's desired state wants of it}; None before the first pass.
        self._wanted: dict[str, _Wanted] | None = None
        self._failures: dict[tuple[str, str], _Failure] = {}  # by (cluster network, NIC)

    # -- pass level ---------------------------------------------------------------------------------------------

    def before_pass(self, desired: HostState) -> list[NodeError]:
        """Before a pass: forget failures whose VlanConfig changed, finish or undo what a killed agent left
        half-done, and move the addresses back to NICs their bridge gives up (teardown, NIC dropped)."""
        self._wanted = {b.cluster_network: _Wanted(b.vlan_config, b.uplink) for b in desired.bridges}
        for (cn, nic), failure in list(self._failures.items()):
            if failure.wanted != self._wanted.get(cn):
                del self._failures[(cn, nic)]
        errors = self.recover()
        for record in self.store.records():
            if record.phase is Phase.MIGRATED and not self._still_wanted(record):
                reason = f"{record.nic} is no longer an uplink of cluster network {record.cluster_network}"
                errors += self._attempt(record, functools.partial(self._restore, record, reason))
        return errors

    def recover(self) -> list[NodeError]:
        """Finish or roll back every record not `migrated` (left by a killed agent, or by an enslave that failed);
        the errors of what could not be put right (retried on the next call)."""
        errors = []
        for record in self.store.records():
            index = self._index(record.nic)
            in_bond = index is not None and self._in_bond(index, record)
            action = recovery_for(record, in_bond, self._still_wanted(record))
            if action == "finish":
                log.warning(
                    "finishing the move of %s's addresses to %s, left at phase %s",
                    record.nic,
                    record.bridge,
                    record.phase,
                    extra=self._fields(record, "recover"),
                )
                errors += self._attempt(record, functools.partial(self._finish, record))
            elif action == "roll back":
                reason = record.reason or f"the agent stopped at phase {record.phase} of moving {record.nic}"
                errors += self._attempt(record, functools.partial(self._restore, record, reason))
        return errors

    def _attempt(self, record: MigrationRecord, action: Callable[[], None]) -> list[NodeError]:
        """Run a recovery action; a failure is an error of the record's cluster network when the record is left
        (a finished-but-rolled-back migration is reported by the pass, when it tries to enslave the NIC again)."""
        try:
            action()
        except ChangeFailed as error:
            if self.store.load(record.nic) is not None:
                wanted = (self._wanted or {}).get(record.cluster_network)
                return [NodeError(record.cluster_network, str(error), wanted.vlan_config if wanted else "")]
        return []

    def _still_wanted(self, record: MigrationRecord) -> bool:
        if self._wanted is None:
            return True  # no desired state yet: leave the decision to the kernel's state
        wanted = self._wanted.get(record.cluster_network)
        return wanted is not None and record.nic in wanted.uplink.nics and wanted.uplink.bond == record.bond

    # -- EnslaveHook --------------------------------------------------------------------------------------------

    def before_enslave(self, ops: LinkOps, change: EnslaveNic) -> None:
        cn, nic = change.cluster_network, change.link
        wanted = (self._wanted or {}).get(cn)
        failed = self._failures.get((cn, nic))
        if failed is not None and failed.wanted == wanted:
            vlan_config = f"VlanConfig {wanted.vlan_config}" if wanted else "the VlanConfig"
            raise ChangeFailed(f"{failed.message} (not retried until {vlan_config} changes or the agent restarts)")
        nic_index = ops.index(nic)
        addresses = self._addresses(nic_index)
        if not addresses:
            return
        routes = self._routes(nic, nic_index)
        bridge = names.bridge_name(cn)
        record = MigrationRecord(
            self.store.node,
            cn,
            nic,
            change.bond,
            bridge,
            Phase.INTENT,
            addresses,
            routes,
            witness=self._choose_witness(nic, nic_index, routes),
        )
        if record.witness is None:
            log.warning(
                "no gateway or neighbour answers through %s, so moving its addresses to %s cannot be verified",
                nic,
                bridge,
                extra=self._fields(record, "unverified"),
            )
        self.store.save(record)
        self._step(record, "intent", f"moving {record.moved()} from {nic} to {bridge}")
        try:
            bridge_index = self._require(bridge)
            self._write(f"set {bridge} up", "link", "set", index=bridge_index, state="up")
            self._put(record, bridge, bridge_index)
        except ChangeFailed as error:
            self._fail(record, f"adding {nic}'s addresses to {bridge} failed: {error}")
        record = self._save(record.at(Phase.BRIDGE_ADDRESSED))
        self._step(record, "bridge-addressed", f"{bridge} has {record.moved()} too")

    def after_enslave(self, ops: LinkOps, change: EnslaveNic) -> None:
        record = self.store.load(change.link)
        if record is None or record.phase is not Phase.BRIDGE_ADDRESSED or record.bond != change.bond:
            return  # this NIC's addresses were not being moved
        self._step(record, "enslaved", f"{record.nic} is in {record.bond}")
        self._finish(record)

    # -- the steps ----------------------------------------------------------------------------------------------

    def _finish(self, record: MigrationRecord) -> None:
        """From `bridge-addressed` (NIC enslaved): clear the NIC, verify through the bridge, mark `migrated`."""
        try:
            self._take(record, record.nic, self._require(record.nic))
        except ChangeFailed as error:
            self._fail(record, f"removing the addresses from {record.nic} failed: {error}")
        record = self._save(record.at(Phase.NIC_CLEARED))
        self._step(record, "nic-cleared", f"{record.nic} has no addresses left; {record.bridge} carries them")
        witness = record.witness
        bridge_index = self._require(record.bridge)
        if witness is not None and witness.address not in self._probe(record.bridge, bridge_index, [witness.address]):
            self._fail(record, f"{witness} unreachable through {record.bridge} after moving {record.nic}'s addresses")
        record = self._save(record.at(Phase.MIGRATED))
        checked = f"{witness} answers through it" if witness else "unverified: nothing answered through the NIC before"
        self._step(record, "migrated", f"{record.bridge} carries {record.nic}'s host addresses; {checked}")

    def _fail(self, record: MigrationRecord, cause: str) -> NoReturn:
        """Roll back, remember the failure for this VlanConfig's uplink, and fail the cluster network."""
        try:
            self._restore(record, cause)
            message = f"rolled back: {cause}"
        except ChangeFailed as error:
            message = f"{cause}; rolling back failed too ({error}), retried on the next pass"
        wanted = (self._wanted or {}).get(record.cluster_network)
        self._failures[(record.cluster_network, record.nic)] = _Failure(wanted, message)
        log.error("%s", message, extra=self._fields(record, "failed"))
        raise ChangeFailed(message)

    def _restore(self, record: MigrationRecord, reason: str) -> None:
        """Put everything back on the NIC (idempotent: what is already in place is skipped), then forget it."""
        record = self._save(record.at(Phase.RESTORING, reason))
        self._step(record, "restoring", f"moving {record.moved()} back to {record.nic}: {reason}")
        nic_index = self._require(record.nic)
        master = self._master(nic_index)
        bond_index = self._index(record.bond)
        if master is not None and master != bond_index:
            raise ChangeFailed(f"{record.nic} is enslaved to another master now; its addresses stay on {record.bridge}")
        if master is not None:
            self._write(f"release {record.nic} from {record.bond}", "link", "set", index=nic_index, master=0)
        self._write(f"set {record.nic} up", "link", "set", index=nic_index, state="up")
        self._step(record, "released", f"{record.nic} is free and up")
        self._put(record, record.nic, nic_index)
        self._step(record, "nic-restored", f"{record.nic} has {record.moved()} again")
        bridge_index = self._index(record.bridge)
        if bridge_index is not None:
            self._take(record, record.bridge, bridge_index)
        self.store.remove(record.nic)
        self._step(record, "restored", f"{record.bridge} no longer carries {record.nic}'s addresses")

    def _put(self, record: MigrationRecord, link: str, index: int) -> None:
        """Add the record's addresses (in order: the primary stays primary), then its routes, to `link`. On the
        bridge an address is labelled with the bridge's name; back on the NIC it gets its own label again."""
        for address in record.addresses:
            label = (address.label or record.nic) if link == record.nic else link
            request = address.request(index, label)
            self._write(f"add {address} to {link}", "addr", "add", tolerate=(errno.EEXIST,), **request)
        for route in record.routes:
            # "append": the other link's route to the same destination may still be there
            request = route.request(index)
            self._write(f"add route {route} to {link}", "route", "append", tolerate=(errno.EEXIST,), **request)

    def _take(self, record: MigrationRecord, link: str, index: int) -> None:
        """Remove the record's routes and addresses from `link` (secondaries first: a primary takes them along)."""
        for route in record.routes:
            request = route.request(index)
            self._write(f"remove route {route} from {link}", "route", "del", tolerate=(errno.ESRCH,), **request)
        for address in reversed(record.addresses):
            key = {"address": address.address, "prefixlen": address.prefixlen}
            self._write(
                f"remove {address} from {link}", "addr", "del", index=index, tolerate=(errno.EADDRNOTAVAIL,), **key
            )

    # -- probing ------------------------------------------------------------------------------------------------

    def _choose_witness(self, nic: str, nic_index: int, routes: Sequence[HostRoute]) -> Witness | None:
        neighbours = self._neighbours(nic_index)
        candidates = witness_candidates(routes, neighbours)
        recent = {address for address, state in neighbours.items() if state & NUD_REACHABLE}
        answered = self._probe(nic, nic_index, [c.address for c in candidates], already=recent)
        return next((c for c in candidates if c.address in answered), None)

    def _probe(self, link: str, index: int, targets: Sequence[str], already: Iterable[str] = ()) -> set[str]:
        """The targets that answer ARP on `link` within the probe timeout. Each is asked afresh (its entry
        deleted, then resolved by the kernel); `already`: confirmed reachable moments ago, not asked again."""
        answered = set(already) & set(targets)
        pending = [target for target in targets if target not in answered]
        for target in pending:
            self._ask(link, index, target)
        deadline = time.monotonic() + self.probe_timeout_s
        while pending and time.monotonic() < deadline:
            time.sleep(PROBE_POLL_S)
            states = self._neighbours(index)
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
        self._write(f"forget neighbour {target} on {link}", "neigh", "del", tolerate=(errno.ENOENT,), **entry)
        self._write(f"resolve neighbour {target} on {link}", "neigh", "replace", state=0, flags=NTF_USE, **entry)

    # -- kernel reads and writes --------------------------------------------------------------------------------

    def _write(self, action: str, method: str, *args: Any, tolerate: tuple[int, ...] = (), **attrs: Any) -> None:
        """One netlink write request; `action` ("add 10.0.0.10/24 to vlan-br") names it in the error."""
        self.writes += 1
        try:
            getattr(self.ipr, method)(*args, **attrs)
        except NetlinkError as error:
            if error.code not in tolerate:
                raise ChangeFailed(f"{action}: {os.strerror(error.code) if error.code else error}") from error

    def _index(self, name: str) -> int | None:
        found = self.ipr.link_lookup(ifname=name)
        return found[0] if found else None

    def _require(self, name: str) -> int:
        index = self._index(name)
        if index is None:
            raise ChangeFailed(f"{name} does not exist")
        return index

    def _master(self, index: int) -> int | None:
        [link] = self.ipr.link("get", index=index)
        master: int | None = link.get("IFLA_MASTER") or None
        return master

    def _in_bond(self, nic_index: int, record: MigrationRecord) -> bool:
        bond_index = self._index(record.bond)
        return bond_index is not None and self._master(nic_index) == bond_index

    def _addresses(self, index: int) -> tuple[HostAddress, ...]:
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

    def _routes(self, nic: str, index: int) -> tuple[HostRoute, ...]:
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

    def _neighbours(self, index: int) -> dict[str, int]:
        return {
            msg.get("NDA_DST"): msg["state"]
            for msg in self.ipr.neigh("dump", family=socket.AF_INET)
            if msg["ifindex"] == index and msg.get("NDA_DST")
        }

    # -- records and log ----------------------------------------------------------------------------------------

    def _save(self, record: MigrationRecord) -> MigrationRecord:
        self.store.save(record)
        return record

    def _fields(self, record: MigrationRecord, step: str) -> dict[str, str]:
        return {"step": step, "link": record.nic, "cluster_network": record.cluster_network, "bridge": record.bridge}

    def _step(self, record: MigrationRecord, step: str, message: str) -> None:
        log.info("host IP: %s", message, extra=self._fields(record, step))


# --- test-only crash points ------------------------------------------------------------------------------------


class _CrashAfter(logging.Handler):
    """Kills the process with SIGKILL right after the log line of a step or an applied change."""

    def __init__(self, step: str) -> None:
        super().__init__(logging.INFO)
        self.step = step

    def emit(self, record: logging.LogRecord) -> None:
        if self.step in (getattr(record, "step", None), getattr(record, "change", None)):
            os.kill(os.getpid(), signal.SIGKILL)


def install_test_crash_point(environ: Mapping[str, str] = os.environ) -> str | None:
    """Test-only: with HVNET_TEST_CRASH_AFTER=<step or change name> set, the agent SIGKILLs itself right after
    logging that step (`intent`, `bridge-addressed`, `enslaved`, `nic-cleared`, `migrated`, `restoring`,
    `released`, `nic-restored`, `restored`) or applied change (`CreateBridge`, `EnslaveNic`, ...), so tests can
    check recovery after a crash at every step. Needs log level info or debug. Returns the step, if any."""
    step = environ.get(CRASH_AFTER_ENV)
    if step:
        logging.getLogger().addHandler(_CrashAfter(step))
        log.warning("test crash point: the agent kills itself after step %s", step, extra={"reason": "test"})
    return step
