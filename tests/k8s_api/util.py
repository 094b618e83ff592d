"""Small helpers every module uses."""

from __future__ import annotations

import time
from typing import Any


def clone(value: Any) -> Any:
    """A deep copy of JSON-like data (faster than copy.deepcopy)."""
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) for v in value]
    return value


def now_rfc3339() -> str:
    """Kubernetes timestamps: RFC 3339, whole seconds, UTC."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
