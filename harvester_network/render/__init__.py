"""Pure functions from a validated plan to Kubernetes objects (plain dicts). The one place manifests are shaped."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harvester_network.render.objects import object_file_name, object_key, render_plan

__all__ = ["object_file_name", "object_key", "render_plan"]


def __getattr__(name: str) -> Any:
    # Loaded on first use: the node agent reads render.harvester/vlanstatus and needs no plan model.
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.objects"), name)
