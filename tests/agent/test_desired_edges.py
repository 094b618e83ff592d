"""desired_host_state at its edges: the default host-IP migration, the longest cluster network name, names and
selectors of the wrong type, a route cidr with host bits, the highest VID in a trunk."""

from __future__ import annotations

from typing import Any

from harvester_network.agent.desired import desired_host_state
from harvester_network.agent.hoststate import LocalArea
from harvester_network.agent.inputs import ClusterObjects, LinkInfo, NodeInfo
from harvester_network.facts import MAX_VID
from tests.agent.test_desired import cluster_network, nad, state, vlan_config


def test_host_ip_migration_is_on_by_default() -> None:
    objects = ClusterObjects.from_objects([cluster_network("cn1"), vlan_config("vc1", "cn1", ["eth1"])])
    with_ipv4 = NodeInfo("node1", {"kubernetes.io/hostname": "node1"}, {"eth1": LinkInfo(has_ipv4=True)})
    result = desired_host_state(objects, with_ipv4)
    assert result.errors == () and result.bridge_for("cn1") is not None


def test_the_longest_cluster_network_name_is_set_up() -> None:
    cn = "c" * 12
    result = state(cluster_network(cn), vlan_config("vc1", cn, ["eth1"]))
    bridge = result.bridge_for(cn)
    assert result.errors == () and bridge is not None and bridge.bridge == f"{cn}-br"


def test_names_that_are_not_names_are_warnings() -> None:
    for name in ("", 5):
        nameless: dict[str, Any] = cluster_network("cn1")
        nameless["metadata"]["name"] = name
        result = state(nameless, vlan_config("vc1", "cn1", ["eth1"]))
        assert "a ClusterNetwork without metadata.name is ignored" in result.warnings
        assert result.bridge_for("cn1") is None


def test_a_node_selector_that_is_not_a_map_is_a_warning() -> None:
    result = state(cluster_network("cn1"), vlan_config("vc1", "cn1", ["eth1"], selector=["rack"]))  # type: ignore[arg-type]
    assert result.warnings == ("VlanConfig vc1: spec.nodeSelector is not a map of label to string; ignored",)
    assert result.bridges == () and result.errors == ()


def test_a_route_cidr_with_host_bits_is_kept_as_written() -> None:
    route = '{"mode":"manual","cidr":"10.0.0.5/24","gateway":"10.0.0.1"}'
    result = state(cluster_network("cn1"), vlan_config("vc1", "cn1", ["eth1"]), nad("v1", "cn1-br", 100, route=route))
    bridge = result.bridge_for("cn1")
    assert bridge is not None and bridge.local_areas == (LocalArea(100, "10.0.0.5/24"),) and result.warnings == ()


def test_the_highest_vid_is_a_valid_trunk_id_and_range_end() -> None:
    trunk = [{"id": MAX_VID}, {"minID": MAX_VID - 1, "maxID": MAX_VID}]
    result = state(cluster_network("cn1"), vlan_config("vc1", "cn1", ["eth1"]), nad("t", "cn1-br", trunk=trunk))
    bridge = result.bridge_for("cn1")
    assert bridge is not None and bridge.vids == {MAX_VID - 1, MAX_VID} and result.warnings == ()
