"""Two lab runs in one checkout (`make demo; make demo`): the second must not trust the first one's files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from harvester_network.cli import app
from harvester_network.lab.netns import lab_namespaces
from tests.lab.conftest import ROOT, require_vlan_kernel

pytestmark = pytest.mark.lab


def test_a_second_demo_in_the_same_workdir_passes_and_waits_for_its_own_agents(tmp_path: Path) -> None:
    require_vlan_kernel()
    argv = ["lab", "demo", str(ROOT / "examples/quickstart/plan.yaml"), "--workdir", str(tmp_path)]
    first = CliRunner().invoke(app, argv)
    assert first.exit_code == 0, first.output
    statuses = sorted((tmp_path / "status").glob("*/*.yaml"))
    assert statuses, "the first run's agents wrote no VlanStatus"
    # What the first run leaves behind, plus a stale 'ready' for a node that is not in the plan's lab.
    stale = tmp_path / "status" / "gone-node" / "stale.yaml"
    stale.parent.mkdir()
    stale.write_text(yaml.safe_dump({"status": {"clusterNetwork": "x", "conditions": [{"type": "ready"}]}}))
    second = CliRunner().invoke(app, argv)
    assert second.exit_code == 0, second.output
    assert "all as planned" in second.output
    assert not stale.exists()
    assert lab_namespaces() == []
