"""render/crds.py (the CRDs the agent install and the test API server serve) held against the upstream CRDs in
../shared/reference/upstream, field by field: every difference must be listed with its reason in
`crds.DIFFERENCES_FROM_UPSTREAM`, and every listed difference must still exist. Descriptions are not compared."""

from __future__ import annotations

from typing import Any

import pytest

from harvester_network.render import crds
from harvester_network.render.agent_install import agent_install_objects
from tests.k8s_api.harvester.schemas import upstream_crds

ABSENT = "<absent>"


def flatten(node: Any, path: str = "", into: dict[str, Any] | None = None) -> dict[str, Any]:
    """path -> leaf value. Lists of named entries (versions, printer columns) are keyed by name; a version's
    `subresources` becomes the sorted list of their names (`{}` and no key both mean none)."""
    found: dict[str, Any] = {} if into is None else into
    if isinstance(node, dict) and node:
        for key, value in node.items():
            if key == "description":
                continue
            if key == "subresources" and isinstance(value, dict):
                found[f"{path}.{key}"] = sorted(value)
                continue
            flatten(value, f"{path}.{key}" if path else key, found)
    elif isinstance(node, list) and node and all(isinstance(item, dict) and "name" in item for item in node):
        for item in node:
            flatten(item, f"{path}[{item['name']}]", found)
    else:
        found[path] = node
    return found


def differences(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    mine, upstream = flatten(ours["spec"]), flatten(theirs["spec"])
    for flat in (mine, upstream):  # a version without subresources has none, whether it says `{}` or nothing
        for version in [p.removesuffix(".name") for p in flat if p.startswith("versions[") and p.endswith(".name")]:
            flat.setdefault(f"{version}.subresources", [])
    pairs = {path: (mine.get(path, ABSENT), upstream.get(path, ABSENT)) for path in sorted(set(mine) | set(upstream))}
    return {path: pair for path, pair in pairs.items() if pair[0] != pair[1]}


@pytest.fixture(scope="module")
def upstream_by_name() -> dict[str, dict[str, Any]]:
    return {crd["metadata"]["name"]: crd for crd in upstream_crds()}


# Rendered inside the test, not at collection: tools/mutation.py swaps a mutant in after collection.
@pytest.mark.parametrize("name", [crd["metadata"]["name"] for crd in crds.custom_resource_definitions()])
def test_our_crd_differs_from_upstream_only_where_listed(
    name: str, upstream_by_name: dict[str, dict[str, Any]]
) -> None:
    ours = next(crd for crd in crds.custom_resource_definitions() if crd["metadata"]["name"] == name)
    assert name in upstream_by_name, f"no upstream CRD {name} in shared/reference/upstream"
    found = differences(ours, upstream_by_name[name])
    unlisted = {path: values for path, values in found.items() if (name, path) not in crds.DIFFERENCES_FROM_UPSTREAM}
    assert unlisted == {}, "(ours, upstream) differences not in crds.DIFFERENCES_FROM_UPSTREAM"
    stale = sorted(path for crd, path in crds.DIFFERENCES_FROM_UPSTREAM if crd == name and path not in found)
    assert stale == [], "listed in crds.DIFFERENCES_FROM_UPSTREAM but no longer different"


def test_every_listed_difference_names_a_crd_we_serve_and_a_reason() -> None:
    served = {crd["metadata"]["name"] for crd in crds.custom_resource_definitions()}
    for (name, path), reason in crds.DIFFERENCES_FROM_UPSTREAM.items():
        assert name in served, name
        assert path and len(reason) > 20, (name, path)


def test_the_comparison_sees_a_changed_field(upstream_by_name: dict[str, dict[str, Any]]) -> None:
    ours = crds.vlan_status_crd()
    schema = ours["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    schema["properties"]["status"]["properties"]["linkMonitor"] = {"type": "integer"}
    found = differences(ours, upstream_by_name[ours["metadata"]["name"]])
    path = "versions[v1beta1].schema.openAPIV3Schema.properties.status.properties.linkMonitor.type"
    assert found[path] == ("integer", "string")


def test_the_agent_install_ships_exactly_the_compared_crds() -> None:
    """`hvnet render --install-agent` objects with an upstream CRD are these CRDs: the comparison above covers them."""
    shipped = [obj for obj in agent_install_objects() if obj["kind"] == "CustomResourceDefinition"]
    assert shipped == crds.custom_resource_definitions()
