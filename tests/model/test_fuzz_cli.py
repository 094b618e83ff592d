"""Property test over generated plan documents, valid ones and mutated ones, through the command line:
never a traceback or a raw escape sequence, and `validate` succeeds exactly when `render` does."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from harvester_network.cli import app
from harvester_network.lab.topology import LabPlanError, build_topology
from harvester_network.model import load_plan
from tests.model.test_hostile_inputs import assert_terminal_safe
from tests.model.test_properties import valid_plans

HOSTILE_VALUES = st.one_of(
    st.sampled_from(
        [
            None,
            True,
            0,
            -1,
            1,
            4095,
            2**31,
            2**64,
            1.5,
            "",
            " ",
            "[/x]",
            "[link=https://e]x[/link]",
            "\x1b[31m",
            "\x1b]8;;https://e\x1b\\x\x1b]8;;\x1b\\",
            "a\x00b",
            "é" * 9,
            "0x64",
            "mgmt",
            "vlan-br",
            "00:00:00:00:00:00",
            "10.0.0.0/8",
            "dhcp",
            "none",
            [],
            {},
            [None],
            {"a": [1]},
        ]
    ),
    st.text(max_size=20),
    st.integers(),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a document: mapping keys and list indexes."""
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*prefix, index))
    return out


@st.composite
def plan_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A valid plan, then 0-3 mutations: a value replaced by a hostile one, a key or item removed, a key added."""
    doc = copy.deepcopy(draw(valid_plans()))
    for _ in range(draw(st.integers(0, 3))):
        paths = _paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = doc
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "remove", "add-key"]))
        if action == "replace":
            parent[path[-1]] = draw(HOSTILE_VALUES)
        elif action == "remove":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(["[/x]", "\x1b[2J", "nmae", "vlan", "<<"]))] = draw(HOSTILE_VALUES)
    return doc


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(doc=plan_documents())
def test_no_plan_document_crashes_and_validate_agrees_with_render(doc: dict[str, Any], tmp_path_factory: Any) -> None:
    plan_file = Path(tmp_path_factory.mktemp("fuzz")) / "plan.yaml"
    plan_file.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    validated = CliRunner().invoke(app, ["validate", str(plan_file)])
    rendered = CliRunner().invoke(app, ["render", str(plan_file)])
    planned = CliRunner().invoke(app, ["plan", str(plan_file), "--json"])
    for result in (validated, rendered, planned):
        assert_terminal_safe(result)
        assert result.exit_code in (0, 1), result.output
    assert validated.exit_code == rendered.exit_code == planned.exit_code, (validated.output, rendered.output)
    if rendered.exit_code:
        assert rendered.stdout == ""  # nothing rendered from a refused plan


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=valid_plans(), data=st.data())
def test_the_lab_models_a_valid_plan_or_refuses_it_with_a_reason(doc: dict[str, Any], data: st.DataObject) -> None:
    """Every valid plan with a `lab:` section either becomes a lab topology or is refused with LabPlanError
    (what `hvnet lab demo` reports before booting); nothing else is raised."""
    # Every node gets every NIC any uplink or override names.
    nics = {nic for cn in doc["clusterNetworks"] for nic in cn["uplink"]["nics"]}
    nics |= {nic for cn in doc["clusterNetworks"] for o in cn.get("nodeOverrides", []) for nic in o["nics"]}
    nodes = doc.get("nodes") or ["node1"]
    doc["lab"] = {
        "nodes": {node: {"nics": sorted(nics)} for node in nodes},
        "placement": {vm["name"]: data.draw(st.sampled_from(nodes)) for vm in doc["virtualMachines"]},
        "router": data.draw(st.booleans()),
    }
    plan, _ = load_plan(doc)
    try:
        topology = build_topology(plan)
    except LabPlanError as refusal:
        assert str(refusal).startswith("the lab cannot run this plan: ")
        return
    placed = {vm.name for vm in plan.virtual_machines if vm.name in plan.lab.placement}  # type: ignore[union-attr]
    assert {vm.ref.split("/")[-1] for vm in topology.vms} == placed
