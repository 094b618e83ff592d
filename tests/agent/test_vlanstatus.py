"""VlanStatus shaping and the node label patch (render/vlanstatus.py)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harvester_network.render.crds import vlan_status_crd
from harvester_network.render.vlanstatus import node_labels, vlanstatus_name, vlanstatus_object

NOW = "2024-05-01T10:00:00Z"


# CRC-32 (IEEE) values below were computed outside Python: `printf '%s' NAME | gzip -c | tail -c8 | head -c4`.
@pytest.mark.parametrize(
    ("cn", "node", "expected"),
    [
        ("cn1", "node1", "cn1-node1-b06d7115"),
        ("storage", "harvester-node-01", "storage-harvester-node-01-fb8ceeda"),
        # 73 characters joined: cut to 54, the checksum is of the uncut name
        ("a" * 12, "n" * 60, "a" * 12 + "-" + "n" * 41 + "-cc869011"),
    ],
)
def test_name_matches_harvesters_utils_name(cn: str, node: str, expected: str) -> None:
    assert vlanstatus_name(cn, node) == expected


@given(
    st.from_regex(r"[a-z][a-z0-9]{0,11}", fullmatch=True),
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", fullmatch=True),
)
def test_property_names_fit_63_characters_and_differ_per_pair(cn: str, node: str) -> None:
    name = vlanstatus_name(cn, node)
    assert len(name) <= 63
    assert vlanstatus_name(cn, node + "x") != name
    prefix, _, checksum = name.rpartition("-")
    assert len(checksum) == 8 and int(checksum, 16) >= 0
    assert f"{cn}-{node}".startswith(prefix)


def test_ready_status_with_owner_and_local_areas() -> None:
    obj = vlanstatus_object(
        cluster_network="cn1",
        node="node1",
        vlan_config="cn1-node1",
        ready=True,
        message="ignored when ready",
        updated_at=NOW,
        local_areas=[(200, ""), (100, "10.100.0.0/24"), (200, "")],
        vlan_config_uid="0b5b6ab0-1c1e-4c4e-9d70-6c3b1fb7d001",
    )
    assert obj == {
        "apiVersion": "network.harvesterhci.io/v1beta1",
        "kind": "VlanStatus",
        "metadata": {
            "name": "cn1-node1-b06d7115",
            "labels": {
                "network.harvesterhci.io/vlanconfig": "cn1-node1",
                "network.harvesterhci.io/clusternetwork": "cn1",
                "network.harvesterhci.io/node": "node1",
                "app.kubernetes.io/managed-by": "hvnet",
            },
            "ownerReferences": [
                {
                    "apiVersion": "network.harvesterhci.io/v1beta1",
                    "kind": "VlanConfig",
                    "name": "cn1-node1",
                    "uid": "0b5b6ab0-1c1e-4c4e-9d70-6c3b1fb7d001",
                }
            ],
        },
        "status": {
            "clusterNetwork": "cn1",
            "vlanConfig": "cn1-node1",
            "linkMonitor": "cn1",
            "node": "node1",
            "localAreas": [{"vlanID": 100, "cidr": "10.100.0.0/24"}, {"vlanID": 200, "cidr": ""}],
            "conditions": [{"type": "ready", "status": "True", "message": "", "lastUpdateTime": NOW}],
        },
    }


def status(ready: bool, message: str, local_areas: list[tuple[int, str]]) -> dict[str, Any]:
    """A VlanStatus of cn1 on node1 from VlanConfig cn1, its uid unknown."""
    return vlanstatus_object(
        cluster_network="cn1",
        node="node1",
        vlan_config="cn1",
        ready=ready,
        message=message,
        updated_at=NOW,
        local_areas=local_areas,
    )


def test_failed_status_carries_the_error_and_no_local_areas_and_no_owner_without_uid() -> None:
    obj = status(False, "NIC eth9 does not exist on node node1", [(100, "")])
    assert "ownerReferences" not in obj["metadata"]
    assert obj["status"]["localAreas"] == []
    assert obj["status"]["conditions"] == [
        {"type": "ready", "status": "False", "message": "NIC eth9 does not exist on node node1", "lastUpdateTime": NOW}
    ]


def _undeclared(value: Any, schema: dict[str, Any], path: str) -> list[str]:
    """Fields the CRD schema would prune, and required fields that are missing."""
    if isinstance(value, dict) and schema.get("type") == "object" and "properties" in schema:
        found = [f"{path}.{key} is missing" for key in schema.get("required", []) if key not in value]
        for key, child in value.items():
            if key not in schema["properties"]:
                found.append(f"{path}.{key} is not in the schema")
            else:
                found += _undeclared(child, schema["properties"][key], f"{path}.{key}")
        return found
    if isinstance(value, list) and schema.get("type") == "array":
        return [
            problem for i, item in enumerate(value) for problem in _undeclared(item, schema["items"], f"{path}[{i}]")
        ]
    return []


def test_status_fits_the_vlanstatus_crd() -> None:
    obj = status(True, "", [(100, "10.0.0.0/24")])
    schema = vlan_status_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert _undeclared(obj, schema, "") == []


def test_node_labels_for_ready_cluster_networks_and_failed_ones_keep_what_the_node_has() -> None:
    current = {"network.harvesterhci.io/broken": "true", "network.harvesterhci.io/mgmt": "true", "zone": "a"}
    assert node_labels(["cn1", "cn2"], ["broken", "never-up"], current) == {
        "network.harvesterhci.io/cn1": "true",
        "network.harvesterhci.io/cn2": "true",
        "network.harvesterhci.io/broken": "true",  # a failed setup leaves the label as it was
    }  # a failed one without a label gets none; other labels are not the agent's to apply
    assert node_labels([], [], current) == {}
