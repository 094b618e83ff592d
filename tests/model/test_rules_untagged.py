"""model/rules.py: VLAN 0 beside VLAN 1 in either order (one untagged segment), and an agent link name given as
a node override's uplink NIC; whole issue lists."""

from __future__ import annotations

from typing import Any

import pytest

from harvester_network.model import PlanError, load_plan

CN = {"name": "cn1", "uplink": {"nics": ["eth1"]}}


def _issues(data: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    try:
        _, warnings = load_plan(data)
    except PlanError as exc:
        return [(i.path, i.message, i.fix, i.severity) for i in exc.issues]
    return [(i.path, i.message, i.fix, i.severity) for i in warnings]


@pytest.mark.parametrize(("first", "second"), [(0, 1), (1, 0), (0, 0)])
def test_vlan_0_and_1_are_one_segment(first: int, second: int) -> None:
    networks = [{"name": f"n{k}", "clusterNetwork": "cn1", "vlan": vid} for k, vid in enumerate((first, second))]
    issues = [i for i in _issues({"clusterNetworks": [CN], "networks": networks}) if "untagged segment" in i[1]]
    expected = [
        (
            "networks[1].vlan",
            f"VLAN {second} and network 'default/n0' (VLAN {first}) on cluster network 'cn1' are one untagged "
            "segment: the bridge sends VLAN 1 untagged (PVID 1), so their VMs and DHCP servers meet",
            "keep one of them, or move the VLAN-1 network to another VLAN ID",
            "warning",
        )
    ]
    assert issues == (expected if first != second else [])


def test_agent_link_name_as_a_node_override_nic() -> None:
    data = {
        "clusterNetworks": [{**CN, "nodeOverrides": [{"node": "node1", "nics": ["eth2", "cn1-bo"]}]}],
        "nodes": ["node1"],
    }
    assert _issues(data) == [
        (
            "clusterNetworks[0].nodeOverrides[0].nics[1]",
            "'cn1-bo' is the name the agent gives the bridge or bond of cluster network 'cn1': it cannot also be an "
            "uplink NIC",
            "name the node's physical NIC (e.g. eth1)",
            "error",
        )
    ]
