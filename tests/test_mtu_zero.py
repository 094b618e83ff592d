"""What `mtu: 0` does, end to end: the README's answer is the code's (Harvester's meaning: the default, 1500)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harvester_network.agent.desired import desired_host_state
from harvester_network.agent.inputs import ClusterObjects, LinkInfo, NodeInfo
from harvester_network.facts import DEFAULT_MTU
from harvester_network.model import load_plan
from harvester_network.render import render_plan
from harvester_network.render.nodeplan import node_plan

README = Path(__file__).parents[1] / "README.md"


def _plan(mtu: int | None) -> dict[str, object]:
    uplink: dict[str, object] = {"nics": ["eth1"]} if mtu is None else {"nics": ["eth1"], "mtu": mtu}
    return {
        "clusterNetworks": [{"name": "vlan", "uplink": uplink}],
        "networks": [{"name": "vlan100", "clusterNetwork": "vlan", "vlan": 100}],
    }


@pytest.mark.parametrize(("mtu", "agent_sets"), [(None, DEFAULT_MTU), (0, DEFAULT_MTU), (9000, 9000), (576, 576)])
def test_what_the_agent_sets_for_the_plans_mtu(mtu: int | None, agent_sets: int) -> None:
    plan, _ = load_plan(_plan(mtu))
    objects = render_plan(plan)
    node = NodeInfo("node1", {"kubernetes.io/hostname": "node1"}, {"eth1": LinkInfo()})
    bridge = desired_host_state(ClusterObjects.from_objects(objects), node).bridge_for("vlan")
    assert bridge is not None and bridge.uplink.mtu == agent_sets
    # `hvnet plan` shows the same number.
    assert [b.mtu for b in node_plan(plan).nodes["*"]] == [agent_sets]
    # The VlanConfig carries the plan's value as Harvester stores it (0: its default); a NAD only a non-zero one.
    vlan_config = next(o for o in objects if o["kind"] == "VlanConfig")
    assert vlan_config["spec"]["uplink"]["linkAttributes"]["mtu"] == (mtu or 0)
    nad = next(o for o in objects if o["kind"] == "NetworkAttachmentDefinition")
    assert json.loads(nad["spec"]["config"]).get("mtu") == (mtu or None)


def test_the_readme_says_what_mtu_0_does() -> None:
    line = next(line for line in README.read_text().splitlines() if re.match(r"\s+mtu: ", line))
    assert f"0 (default) = Harvester's default, {DEFAULT_MTU}" in line and "leave as is" not in line
