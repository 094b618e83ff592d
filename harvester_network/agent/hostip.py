"""Host-IP migration: when an uplink NIC carries the node's own IPv4 addresses, move them and the routes over the
NIC to the bridge `<cn>-br` around enslaving it, crash-safely (intent record, verify a witness, roll back), so the
host stays reachable (Harvester #1314, #1541). Not pure: netlink and a state directory.

    migrator = HostIpMigrator(ipr, RecordStore(state_dir, node))
    migrator.before_pass(desired); Reconciler(ipr, enslave_hooks=[migrator]); migrator.recover()

The rooms (each module's docstring is its map):
    hostip.py          HostIpMigrator: the pass-level decisions, the EnslaveHook and the steps, in order
    hostip_plan.py     the migration as data: addresses, routes, witness, phases, record; recovery_for (pure)
    hostip_kernel.py   the netlink reads and writes the steps make (MigrationLinks), ARP probing of a witness
    hostip_journal.py  the record on disk (RecordStore): what a killed agent finds and finishes or undoes
    hostip_crash.py    test-only: HVNET_TEST_CRASH_AFTER kills the agent after a named step

Steps, records, recovery after a crash at each step: docs/host-ip-migration.md.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, NamedTuple, NoReturn

from harvester_network.agent.hostip_journal import RecordStore
from harvester_network.agent.hostip_kernel import PROBE_TIMEOUT_S, MigrationLinks
from harvester_network.agent.hostip_plan import MigrationKey, MigrationRecord, Phase, recovery_for
from harvester_network.agent.hoststate import HostState, NodeError, UplinkState
from harvester_network.agent.netlink_apply import ChangeFailed, EnslaveNic, LinkOps
from harvester_network.model import names

log = logging.getLogger("harvester_network.agent.hostip")


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
        self.links = MigrationLinks(ipr, probe_timeout_s)
        self.store = store
        # {cluster network: what the pass's desired state wants of it}; None before the first pass.
        self._wanted: dict[str, _Wanted] | None = None
        self._failures: dict[MigrationKey, _Failure] = {}

    # -- pass level ---------------------------------------------------------------------------------------------

    def before_pass(self, desired: HostState) -> list[NodeError]:
        """Before a pass: forget failures whose VlanConfig changed, finish or undo what a killed agent left
        half-done, and move the addresses back to NICs their bridge gives up (teardown, NIC dropped)."""
        self._wanted = {b.cluster_network: _Wanted(b.vlan_config, b.uplink) for b in desired.bridges}
        for key, failure in list(self._failures.items()):
            if failure.wanted != self._wanted.get(key.cluster_network):
                del self._failures[key]
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
            index = self.links.index(record.nic)
            in_bond = index is not None and self.links.in_bond(index, record.bond)
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

    @property
    def writes(self) -> int:
        """Its netlink write requests so far."""
        return self.links.writes

    # -- EnslaveHook --------------------------------------------------------------------------------------------

    def before_enslave(self, ops: LinkOps, change: EnslaveNic) -> None:
        cn, nic = change.cluster_network, change.link
        wanted = (self._wanted or {}).get(cn)
        failed = self._failures.get(MigrationKey(cn, nic))
        if failed is not None and failed.wanted == wanted:
            vlan_config = f"VlanConfig {wanted.vlan_config}" if wanted else "the VlanConfig"
            raise ChangeFailed(f"{failed.message} (not retried until {vlan_config} changes or the agent restarts)")
        nic_index = ops.index(nic)
        addresses = self.links.addresses(nic_index)
        if not addresses:
            return
        routes = self.links.routes(nic, nic_index)
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
            witness=self.links.choose_witness(nic, nic_index, routes),
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
            bridge_index = self.links.require(bridge)
            self.links.write(f"set {bridge} up", "link", "set", index=bridge_index, state="up")
            self.links.put(record, bridge, bridge_index)
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
            self.links.take(record, record.nic, self.links.require(record.nic))
        except ChangeFailed as error:
            self._fail(record, f"removing the addresses from {record.nic} failed: {error}")
        record = self._save(record.at(Phase.NIC_CLEARED))
        self._step(record, "nic-cleared", f"{record.nic} has no addresses left; {record.bridge} carries them")
        witness = record.witness
        bridge_index = self.links.require(record.bridge)
        if witness is not None and witness.address not in self.links.probe(
            record.bridge, bridge_index, [witness.address]
        ):
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
        self._failures[record.key] = _Failure(wanted, message)
        log.error("%s", message, extra=self._fields(record, "failed"))
        raise ChangeFailed(message)

    def _restore(self, record: MigrationRecord, reason: str) -> None:
        """Put everything back on the NIC (idempotent: what is already in place is skipped), then forget it."""
        record = self._save(record.at(Phase.RESTORING, reason))
        self._step(record, "restoring", f"moving {record.moved()} back to {record.nic}: {reason}")
        nic_index = self.links.require(record.nic)
        master = self.links.master(nic_index)
        bond_index = self.links.index(record.bond)
        if master is not None and master != bond_index:
            raise ChangeFailed(f"{record.nic} is enslaved to another master now; its addresses stay on {record.bridge}")
        if master is not None:
            self.links.write(f"release {record.nic} from {record.bond}", "link", "set", index=nic_index, master=0)
        self.links.write(f"set {record.nic} up", "link", "set", index=nic_index, state="up")
        self._step(record, "released", f"{record.nic} is free and up")
        self.links.put(record, record.nic, nic_index)
        self._step(record, "nic-restored", f"{record.nic} has {record.moved()} again")
        bridge_index = self.links.index(record.bridge)
        if bridge_index is not None:
            self.links.take(record, record.bridge, bridge_index)
        self.store.remove(record.nic)
        self._step(record, "restored", f"{record.bridge} no longer carries {record.nic}'s addresses")

    # -- records and log ----------------------------------------------------------------------------------------

    def _save(self, record: MigrationRecord) -> MigrationRecord:
        self.store.save(record)
        return record

    def _fields(self, record: MigrationRecord, step: str) -> dict[str, str]:
        return {"step": step, "link": record.nic, "cluster_network": record.cluster_network, "bridge": record.bridge}

    def _step(self, record: MigrationRecord, step: str, message: str) -> None:
        log.info("host IP: %s", message, extra=self._fields(record, step))
