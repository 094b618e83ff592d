"""Every object every example plan renders validates against the schema the real cluster serves for its kind
(../shared/reference/upstream): Harvester's and vm-dhcp-controller's CRDs, Multus' NAD CRD, KubeVirt's OpenAPI.

Validation is the test API server's (tests/k8s_api/schema.py: types, enums, required, bounds, formats, list
rules); a field the schema does not know — which structural pruning would silently drop — is an error here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from harvester_network.model import load_plan
from harvester_network.render import object_key, render_plan
from harvester_network.render.vlanstatus import vlanstatus_object
from tests.k8s_api.harvester.schemas import crd_schemas, kubevirt_schema
from tests.k8s_api.schema import prune, validate
from tests.k8s_api.util import clone

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*/plan.yaml"))
# Built-in kinds: no upstream copy is kept for them (the test API server and kubectl know them).
BUILTIN_KINDS = {"ConfigMap", "Deployment", "Secret", "Service"}


def _plans() -> list[tuple[str, Any]]:
    """Every example, plus the DHCP example with the other backend (`ippool`), so each kind hvnet renders is here."""
    plans = [(path.parent.name, yaml.safe_load(path.read_text())) for path in EXAMPLES]
    for name, data in list(plans):
        servers = [net["dhcpServer"] for net in data.get("networks") or [] if "dhcpServer" in net]
        if servers:
            variant = yaml.safe_load(yaml.safe_dump(data))
            for net in variant["networks"]:
                if "dhcpServer" in net:
                    net["dhcpServer"]["backend"] = "ippool"
            plans.append((f"{name}+ippool", variant))
    return plans


def _example_objects() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, data in _plans():
        plan, _ = load_plan(data, name)
        found += [(f"{name}:{object_key(obj)}", obj) for obj in render_plan(plan) if obj["kind"] not in BUILTIN_KINDS]
    return found


EXAMPLE_OBJECTS = _example_objects()


@pytest.fixture(scope="module")
def schemas() -> dict[str, dict[str, Any]]:
    return {**crd_schemas(), "VirtualMachine": kubevirt_schema("v1.VirtualMachine")}


def schema_errors(obj: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """What the API server would refuse, plus the fields it would prune (unknown to the schema)."""
    pruned = clone(obj)
    unknown = [f"{path}: unknown field" for path in prune(pruned, schema)]
    return unknown + [str(error) for error in validate(pruned, schema)]


@pytest.mark.parametrize(("key", "obj"), EXAMPLE_OBJECTS, ids=[key for key, _ in EXAMPLE_OBJECTS])
def test_rendered_object_validates_against_the_upstream_schema(
    key: str, obj: dict[str, Any], schemas: dict[str, dict[str, Any]]
) -> None:
    assert obj["kind"] in schemas, f"no upstream schema for {obj['kind']}: add its file to shared/reference/upstream"
    assert schema_errors(obj, schemas[obj["kind"]]) == []


def test_every_upstream_kind_an_example_renders_is_checked(schemas: dict[str, dict[str, Any]]) -> None:
    rendered = {obj["kind"] for _, obj in EXAMPLE_OBJECTS}
    assert rendered == {"ClusterNetwork", "VlanConfig", "NetworkAttachmentDefinition", "IPPool", "VirtualMachine"}
    assert rendered <= set(schemas)


@pytest.mark.parametrize("ready", [True, False], ids=["ready", "failed"])
def test_the_agents_vlanstatus_validates_against_harvesters_crd(
    ready: bool, schemas: dict[str, dict[str, Any]]
) -> None:
    """What `hvnet agent` writes (agent/reconcile.py via render/vlanstatus.py), as Harvester's agent writes it."""
    status = vlanstatus_object(
        cluster_network="cn1",
        node="node1",
        vlan_config="vc1",
        ready=ready,
        message="" if ready else "NIC eth9 not found",
        updated_at="2026-01-01T00:00:00Z",
        local_areas=[(100, "10.0.0.0/24"), (200, "")],
        vlan_config_uid="0b6f1c2e-0000-4000-8000-000000000001",
    )
    assert schema_errors(status, schemas["VlanStatus"]) == []


@pytest.mark.parametrize(
    ("kind", "mutate", "expected"),
    [
        ("VlanConfig", lambda o: o["spec"]["uplink"].update(bondOptions={"mode": "fast"}), "Unsupported value"),
        ("VlanConfig", lambda o: o["spec"].pop("clusterNetwork"), "spec.clusterNetwork: Required value"),
        ("VlanConfig", lambda o: o["spec"]["uplink"].update(linkAttributes={"txQLen": -2}), "greater than or equal"),
        ("VlanConfig", lambda o: o["spec"].update(nics=["eth1"]), "spec.nics: unknown field"),
        ("VirtualMachine", lambda o: o["spec"]["template"]["spec"].update(hostname=3), "must be of type string"),
        ("VirtualMachine", lambda o: o["spec"]["template"]["spec"].update(bogus=True), "spec.template.spec.bogus"),
        ("NetworkAttachmentDefinition", lambda o: o["spec"].update(config={"a": 1}), "must be of type string"),
    ],
    ids=["enum", "required", "minimum", "unknown-field", "vm-type", "vm-unknown-field", "nad-type"],
)
def test_the_check_catches_what_the_api_server_refuses_or_prunes(
    kind: str, mutate: Any, expected: str, schemas: dict[str, dict[str, Any]]
) -> None:
    obj = clone(next(o for _, o in EXAMPLE_OBJECTS if o["kind"] == kind))
    mutate(obj)
    assert any(expected in error for error in schema_errors(obj, schemas[kind]))
