"""Where a lab keeps its files: rendered objects, agent status, dnsmasq configs and leases, logs, the picture.

It lives in the project directory (the lab kernel shares it read-write), so the results outlive the boot.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_WORKDIR = Path(".hvnet-lab")


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
        for sub in ("objects", "status", "nodes", "logs", "dnsmasq"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
