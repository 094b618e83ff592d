"""`hvnet lab demo` on the quickstart plan, as `make demo` runs it (inside the lab kernel already)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from harvester_network.cli import app
from harvester_network.lab.netns import lab_namespaces
from tests.lab.conftest import ROOT, require_vlan_kernel

pytestmark = pytest.mark.lab


def test_demo_brings_the_quickstart_up_checks_draws_and_leaves_nothing_behind(tmp_path: Path) -> None:
    require_vlan_kernel()
    result = CliRunner().invoke(
        app, ["lab", "demo", str(ROOT / "examples/quickstart/plan.yaml"), "--workdir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    for progress in ("kernel", "switch", "node", "agent", "vm", "dhcp", "all as planned", "picture"):
        assert progress in result.output
    assert "out of the lab's scope" in result.output  # web-1's management NIC
    assert (tmp_path / "topology.svg").read_text().startswith("<svg")
    assert lab_namespaces() == []
