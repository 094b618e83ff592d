"""Plan problems, each naming the field path, what is wrong and the fix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, order=True)
class PlanIssue:
    path: str  # e.g. "networks[1].vlan"; "" for the whole document
    message: str
    fix: str = ""
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = self.path or "<plan>"
        fix = f" (fix: {self.fix})" if self.fix else ""
        return f"{where}: {self.message}{fix}"


class PlanError(ValueError):
    """A plan that cannot be used. Carries every error found, not just the first."""

    def __init__(self, issues: list[PlanIssue], source: str = "plan") -> None:
        # No super().__init__: BaseException keeps the arguments as `args`, so a copy or pickle rebuilds it.
        self.issues = [i for i in issues if i.severity == "error"]
        self.warnings = [i for i in issues if i.severity == "warning"]
        self.source = source

    def __str__(self) -> str:
        lines = "\n".join(f"  - {i}" for i in self.issues)
        return f"{self.source} is invalid ({len(self.issues)} error(s)):\n{lines}"


def format_path(loc: tuple[str | int, ...]) -> str:
    """('networks', 1, 'vlan') -> 'networks[1].vlan'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
