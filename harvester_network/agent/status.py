"""Where VlanStatus objects go: a directory (manifest-directory mode) or the Kubernetes API (kube_source.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

import yaml

from harvester_network.render import harvester as h


class StatusSink(Protocol):
    def publish(self, node: str, statuses: list[dict[str, Any]]) -> None:
        """Make this node's VlanStatuses exactly `statuses`: write changed ones, remove the rest."""


def _without_timestamps(status: dict[str, Any]) -> Any:
    """The status minus lastUpdateTime, to write only what really changed."""
    body = dict(status.get("status", {}))
    body["conditions"] = [{k: v for k, v in c.items() if k != "lastUpdateTime"} for c in body.get("conditions", [])]
    return {**status, "status": body}


class DirStatusSink:
    """One `<VlanStatus name>.yaml` per status, written atomically (temp file + rename)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _ours(self, node: str) -> dict[str, Path]:
        found = {}
        for path in self.directory.glob("*.yaml"):
            try:
                loaded = yaml.safe_load(path.read_text())
            except (OSError, yaml.YAMLError):
                continue
            if isinstance(loaded, dict) and loaded.get("metadata", {}).get("labels", {}).get(h.LABEL_NODE) == node:
                found[path.stem] = path
        return found

    def publish(self, node: str, statuses: list[dict[str, Any]]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        stale = self._ours(node)
        for status in statuses:
            name = status["metadata"]["name"]
            path = self.directory / f"{name}.yaml"
            stale.pop(name, None)
            if path.exists() and _without_timestamps(yaml.safe_load(path.read_text()) or {}) == _without_timestamps(
                status
            ):
                continue
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(yaml.safe_dump(status, sort_keys=False))
            os.replace(tmp, path)
        for path in stale.values():
            path.unlink(missing_ok=True)
