"""The plan model: pydantic specs and every validation rule. No I/O beyond reading the plan file."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harvester_network.model.issues import PlanError, PlanIssue
    from harvester_network.model.load import load_plan, load_plan_file
    from harvester_network.model.plan import Plan

__all__ = ["Plan", "PlanError", "PlanIssue", "load_plan", "load_plan_file"]

# Loaded on first use, so that `model.names` (pure naming facts the node agent uses) costs no pydantic models.
_HOMES = {"Plan": "plan", "PlanError": "issues", "PlanIssue": "issues", "load_plan": "load", "load_plan_file": "load"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
