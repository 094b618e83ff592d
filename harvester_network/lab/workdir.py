"""Where a lab keeps its files: rendered objects, agent status, dnsmasq configs and leases, logs, the picture.

It lives in the project directory (the lab kernel shares it read-write), so the results outlive the boot.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

DEFAULT_WORKDIR = Path(".hvnet-lab")
_RUN_STATE = ("objects", "status", "nodes", "logs", "dnsmasq")  # what one lab run writes; the next starts without


@dataclass(frozen=True)
class Workdir:
    root: Path

    @property
    def objects(self) -> Path:
        """`hvnet render -o` output: what the agents read with --from-dir."""
        return self.root / "objects"

    def status(self, node: str) -> Path:
        return self.root / "status" / node

    def node_file(self, node: str) -> Path:
        return self.root / "nodes" / f"{node}.yaml"

    def log(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"

    def dnsmasq(self, name: str, suffix: str) -> Path:
        return self.root / "dnsmasq" / f"{name}.{suffix}"

    @property
    def picture(self) -> Path:
        return self.root / "topology.svg"

    @property
    def matrix(self) -> Path:
        return self.root / "matrix.json"

    def create(self) -> None:
        """Empty directories for a new lab run. A previous run's files are removed first: its agents'
        VlanStatus files would read as 'converged' before this run's agents wrote anything, and its
        leases and logs would be mistaken for this run's."""
        for sub in _RUN_STATE:
            shutil.rmtree(self.root / sub, ignore_errors=True)
            (self.root / sub).mkdir(parents=True)
