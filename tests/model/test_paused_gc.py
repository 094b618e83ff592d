"""`paused_gc`: the collector is off inside and back as it was after, also when reading the plan fails."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from harvester_network.model import PlanError, load_plan_file
from harvester_network.model.load import paused_gc


@pytest.fixture
def collector_restored() -> Iterator[None]:
    was_enabled = gc.isenabled()
    yield
    if was_enabled:
        gc.enable()


@pytest.mark.parametrize("enabled_before", [True, False])
def test_off_inside_and_as_before_after(enabled_before: bool, collector_restored: None) -> None:
    (gc.enable if enabled_before else gc.disable)()
    with paused_gc():
        assert not gc.isenabled()
    assert gc.isenabled() is enabled_before


def test_back_on_after_a_plan_error(tmp_path: Path, collector_restored: None) -> None:
    gc.enable()
    plan = tmp_path / "plan.yaml"
    plan.write_text("networks: [")
    with pytest.raises(PlanError, match="not valid YAML"):
        load_plan_file(plan)
    assert gc.isenabled()
