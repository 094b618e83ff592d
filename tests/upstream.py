"""The peers' own schemas: ../shared/reference/upstream/ beside the repository (unchanged copies; never in the repo)."""

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

UPSTREAM = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "upstream"


def upstream_path(relative: str) -> Path:
    """The upstream file at `relative`; a missing copy fails under CI and skips (saying why) elsewhere."""
    path = UPSTREAM / relative
    if not path.is_file():
        message = f"upstream reference {path} is missing (the repository expects shared/ beside it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def upstream_yaml(relative: str) -> Any:
    return yaml.safe_load(upstream_path(relative).read_text())


def upstream_json(relative: str) -> Any:
    return json.loads(upstream_path(relative).read_text())
