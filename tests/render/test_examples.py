"""Every example plan stays valid and renders; the examples are what users copy first."""

from __future__ import annotations

from pathlib import Path

import pytest

from harvester_network.model import load_plan_file
from harvester_network.render import object_key, render_plan

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*/plan.yaml"))


def test_examples_exist() -> None:
    assert {p.parent.name for p in EXAMPLES} >= {"quickstart", "bond-uplink", "dhcp-server", "multi-nic-vms"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.parent.name)
def test_example_renders_without_warnings(path: Path) -> None:
    plan, warnings = load_plan_file(path)
    assert warnings == []
    objects = render_plan(plan)
    keys = [object_key(o) for o in objects]
    assert len(keys) == len(set(keys)), "two rendered objects share kind/namespace/name"
    assert {"ClusterNetwork", "VlanConfig", "NetworkAttachmentDefinition", "VirtualMachine"} <= {
        o["kind"] for o in objects
    }
