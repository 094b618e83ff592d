"""The host-IP migration's journal: one MigrationRecord (hostip_plan.py) per NIC on disk, written before each
phase's changes are relied on, so a killed agent finds what it was doing (hostip.py's `recover` reads it).

    store = RecordStore(state_dir, node); store.save(record); store.records(); store.remove(nic)
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

import pydantic

from harvester_network.agent.hostip_plan import MigrationRecord
from harvester_network.agent.netlink_apply import ChangeFailed

log = logging.getLogger("harvester_network.agent.hostip")


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
