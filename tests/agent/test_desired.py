"""desired_host_state: Harvester's meaning of ClusterNetworks, VlanConfigs and NADs on one node.

Objects are built here by small helpers (not by the product's renderer), the way a cluster would hold them.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harvester_network.agent.desired import DesiredState, desired_host_state
from harvester_network.agent.hoststate import HostState, LocalArea, UplinkState
from harvester_network.agent.inputs import ClusterObjects, LinkInfo, NodeInfo

NETWORK_API = "network.harvesterhci.io/v1beta1"
HOSTNAME = "kubernetes.io/hostname"
ROUTE = "network.harvesterhci.io/route"
FREE_NICS = ("eth1", "eth2", "eth3", "eth4")


# --- object helpers (also used by test_sources.py) -------------------------------------------------------------


def cluster_network(name: str) -> dict[str, Any]:
    return {"apiVersion": NETWORK_API, "kind": "ClusterNetwork", "metadata": {"name": name}}


def vlan_config(
    name: str,
    cn: str,
    nics: list[str],
    selector: dict[str, str] | None = None,
    link_attributes: dict[str, Any] | None = None,
    bond_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    uplink: dict[str, Any] = {"nics": nics}
    if link_attributes is not None:
        uplink["linkAttributes"] = link_attributes
    if bond_options is not None:
        uplink["bondOptions"] = bond_options
    spec: dict[str, Any] = {"clusterNetwork": cn, "uplink": uplink}
    if selector is not None:
        spec["nodeSelector"] = selector
    return {"apiVersion": NETWORK_API, "kind": "VlanConfig", "metadata": {"name": name}, "spec": spec}


def nad(
    name: str,
    bridge: str,
    vlan: int = 0,
    trunk: list[dict[str, int]] | None = None,
    route: str | None = None,
    config: dict[str, Any] | str | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A Harvester NAD; `config` replaces the whole CNI config (a string is used verbatim)."""
    if config is None:
        config = {"cniVersion": "0.3.1", "name": name, "type": "bridge", "bridge": bridge, "vlan": vlan, "ipam": {}}
        if trunk is not None:
            config["vlanTrunk"] = trunk
    metadata: dict[str, Any] = {"name": name, "namespace": "default", "labels": labels or {}}
    if route is not None:
        metadata["annotations"] = {ROUTE: route}
    return {
        "apiVersion": "k8s.cni.cncf.io/v1",
        "kind": "NetworkAttachmentDefinition",
        "metadata": metadata,
        "spec": {"config": config if isinstance(config, str) else json.dumps(config)},
    }


def node(
    name: str = "node1", labels: dict[str, str] | None = None, links: dict[str, LinkInfo] | None = None
) -> NodeInfo:
    return NodeInfo(
        name=name,
        labels={HOSTNAME: name} if labels is None else labels,
        links={nic: LinkInfo() for nic in FREE_NICS} if links is None else links,
    )


def state(*objects: dict[str, Any], on: NodeInfo | None = None, host_ip_migration: bool = True) -> HostState:
    return desired_host_state(ClusterObjects.from_objects(objects), on or node(), host_ip_migration)


def only_error(result: HostState, cn: str) -> str:
    assert result.bridge_for(cn) is None
    messages = [e.message for e in result.errors if e.cluster_network == cn]
    assert len(messages) == 1, result.errors
    return messages[0]


# --- bridges, bonds and VIDs -----------------------------------------------------------------------------------


def test_one_cluster_network_gets_bridge_bond_and_nad_vids() -> None:
    result = state(
        cluster_network("cn1"),
        vlan_config("cn1", "cn1", ["eth1", "eth2"]),
        nad("vlan100", "cn1-br", 100, route='{"mode":"manual","cidr":"10.100.0.0/24","gateway":"10.100.0.1"}'),
        nad("vlan200", "cn1-br", 200),
    )
    assert result.errors == () and result.warnings == ()
    (bridge,) = result.bridges
    assert (bridge.cluster_network, bridge.bridge, bridge.vlan_config) == ("cn1", "cn1-br", "cn1")
    assert bridge.uplink == UplinkState(
        bond="cn1-bo", nics=("eth1", "eth2"), bond_mode="active-backup", miimon=100, mtu=1500, txqlen=-1
    )
    assert bridge.vids == {100, 200}
    assert bridge.local_areas == (LocalArea(100, "10.100.0.0/24"), LocalArea(200, ""))


def test_vid_0_and_1_never_reach_the_uplink_but_vlan_1_is_a_local_area() -> None:
    result = state(
        cluster_network("cn1"),
        vlan_config("cn1", "cn1", ["eth1"]),
        nad("untagged", "cn1-br", 0),
        nad("vlan1", "cn1-br", 1),
        nad("vlan2", "cn1-br", 2),
        nad("vlan4094", "cn1-br", 4094),
    )
    bridge = result.bridge_for("cn1")
    assert bridge is not None
    assert bridge.vids == {2, 4094}
    assert [area.vid for area in bridge.local_areas] == [1, 2, 4094]


def test_trunk_nads_add_every_id_and_range_but_no_local_area() -> None:
    trunk = [{"minID": 300, "maxID": 302}, {"id": 25}, {"id": 1}, {"minID": 1, "maxID": 3}]
    result = state(cluster_network("cn1"), vlan_config("cn1", "cn1", ["eth1"]), nad("trunk", "cn1-br", trunk=trunk))
    bridge = result.bridge_for("cn1")
    assert bridge is not None
    assert bridge.vids == {2, 3, 25, 300, 301, 302}
    assert bridge.local_areas == ()


def test_vids_come_from_the_config_not_the_labels() -> None:
    labels = {"network.harvesterhci.io/clusternetwork": "cn2", "network.harvesterhci.io/vlan-id": "100"}
    result = state(
        cluster_network("cn1"),
        cluster_network("cn2"),
        vlan_config("cn1", "cn1", ["eth1"]),
        vlan_config("cn2", "cn2", ["eth2"]),
        nad("vlan200", "cn1-br", 200, labels=labels),
    )
    cn1, cn2 = result.bridge_for("cn1"), result.bridge_for("cn2")
    assert cn1 is not None and cn2 is not None
    assert (cn1.vids, cn2.vids) == ({200}, frozenset())
    assert result.warnings == (
        "NAD default/vlan200: label network.harvesterhci.io/clusternetwork=cn2 but its config uses bridge cn1-br",
    )


def test_nads_of_other_bridges_and_other_cni_plugins_add_nothing() -> None:
    macvlan = {"cniVersion": "0.3.1", "type": "macvlan", "bridge": "cn1-br", "vlan": 300, "master": "eth0"}
    untyped = {"cniVersion": "0.3.1", "bridge": "cn1-br", "vlan": 400}  # Harvester: empty type is the bridge plugin
    result = state(
        cluster_network("cn1"),
        vlan_config("cn1", "cn1", ["eth1"]),
        nad("other-bridge", "cn2-br", 100),
        nad("no-bridge", "", config={"type": "bridge", "vlan": 200}),
        nad("macvlan", "", config=macvlan),
        nad("untyped", "", config=untyped),
    )
    bridge = result.bridge_for("cn1")
    assert bridge is not None
    assert bridge.vids == {400}
    assert result.warnings == ()


@pytest.mark.parametrize(
    ("config", "why"),
    [
        ("{not json", "spec.config is not JSON"),
        ("[1, 2]", "spec.config is not a JSON object"),
        ({"type": "bridge", "bridge": "cn1-br", "vlan": 4095}, "vlan 4095 is not 0..4094"),
        ({"type": "bridge", "bridge": "cn1-br", "vlan": -1}, "vlan -1 is not 0..4094"),
        ({"type": "bridge", "bridge": "cn1-br", "vlan": "300"}, "vlan '300' is not 0..4094"),
        ({"type": "bridge", "bridge": "cn1-br", "vlan": True}, "vlan True is not 0..4094"),
        ({"type": "bridge", "bridge": "cn1-br", "vlan": 300, "vlanTrunk": [{"id": 5}]}, "must be 0 when vlanTrunk"),
        ({"type": "bridge", "bridge": "cn1-br", "vlanTrunk": {"id": 5}}, "vlanTrunk is not a list"),
        ({"type": "bridge", "bridge": "cn1-br", "vlanTrunk": [{"minID": 300}]}, "needs minID and maxID together"),
        ({"type": "bridge", "bridge": "cn1-br", "vlanTrunk": [{"minID": 9, "maxID": 5}]}, "minID 9 is greater"),
        ({"type": "bridge", "bridge": "cn1-br", "vlanTrunk": [{"id": 0}]}, "vlanTrunk id 0 is not 1..4094"),
        ({"type": "bridge", "bridge": "cn1-br", "vlanTrunk": [{"id": 5000}]}, "vlanTrunk id 5000 is not 1..4094"),
        ({"type": "bridge", "bridge": "cn1-br", "vlanTrunk": [{}]}, "has none of id, minID/maxID"),
        ({"type": "bridge", "bridge": "cn1-br", "vlanTrunk": [7]}, "has none of id, minID/maxID"),
    ],
)
def test_a_malformed_nad_adds_no_vids_and_is_reported(config: dict[str, Any] | str, why: str) -> None:
    result = state(
        cluster_network("cn1"),
        vlan_config("cn1", "cn1", ["eth1"]),
        nad("bad", "cn1-br", config=config),
        nad("good", "cn1-br", 100),
    )
    bridge = result.bridge_for("cn1")
    assert bridge is not None
    assert bridge.vids == {100}
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith("NAD default/bad: ") and why in result.warnings[0]


@pytest.mark.parametrize("route", ["{oops", '"a string"', '{"cidr": 5}', '{"mode":"manual","cidr":"10.0.0.0/33"}'])
def test_a_malformed_route_annotation_leaves_the_local_area_without_cidr(route: str) -> None:
    result = state(cluster_network("cn1"), vlan_config("cn1", "cn1", ["eth1"]), nad("v100", "cn1-br", 100, route=route))
    bridge = result.bridge_for("cn1")
    assert bridge is not None
    assert (bridge.vids, bridge.local_areas) == ({100}, (LocalArea(100, ""),))
    assert len(result.warnings) == 1 and "annotation network.harvesterhci.io/route is malformed" in result.warnings[0]


def test_auto_route_without_cidr_and_duplicate_local_areas() -> None:
    result = state(
        cluster_network("cn1"),
        vlan_config("cn1", "cn1", ["eth1"]),
        nad("a", "cn1-br", 100, route='{"mode":"auto"}'),
        nad("b", "cn1-br", 100),
        nad("c", "cn1-br", 100, route='{"mode":"manual","cidr":"10.1.0.0/24","gateway":"10.1.0.1"}'),
    )
    bridge = result.bridge_for("cn1")
    assert bridge is not None
    assert bridge.local_areas == (LocalArea(100, ""), LocalArea(100, "10.1.0.0/24"))


# --- uplink fields ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("link_attributes", "bond_options", "expected"),
    [
        (None, None, ("active-backup", 100, 1500, -1)),
        ({"mtu": 0, "txQLen": -1}, {"mode": "active-backup", "miimon": -1}, ("active-backup", 100, 1500, -1)),
        ({"mtu": 9000, "txQLen": 1000}, {"mode": "802.3ad", "miimon": 0}, ("802.3ad", 0, 9000, 1000)),
        ({"mtu": 576}, {"mode": "balance-alb", "miimon": 250}, ("balance-alb", 250, 576, -1)),
        ({}, {"mode": ""}, ("active-backup", 100, 1500, -1)),
    ],
)
def test_uplink_defaults_follow_harvester(
    link_attributes: dict[str, Any] | None, bond_options: dict[str, Any] | None, expected: tuple[Any, ...]
) -> None:
    result = state(cluster_network("cn1"), vlan_config("cn1", "cn1", ["eth1"], None, link_attributes, bond_options))
    bridge = result.bridge_for("cn1")
    assert bridge is not None
    uplink = bridge.uplink
    assert (uplink.bond_mode, uplink.miimon, uplink.mtu, uplink.txqlen) == expected


@pytest.mark.parametrize(
    ("link_attributes", "bond_options", "why"),
    [
        ({"mtu": 575}, None, "spec.uplink.linkAttributes.mtu is 575, expected 0 (default 1500) or 576..9000"),
        ({"mtu": 9001}, None, "spec.uplink.linkAttributes.mtu is 9001"),
        ({"mtu": "1500"}, None, "spec.uplink.linkAttributes.mtu is '1500'"),
        ({"txQLen": -2}, None, "spec.uplink.linkAttributes.txQLen is -2"),
        (None, {"miimon": -5}, "spec.uplink.bondOptions.miimon is -5"),
        (None, {"mode": "round-robin"}, "spec.uplink.bondOptions.mode is 'round-robin', expected one of balance-rr"),
    ],
)
def test_malformed_uplink_fields_are_errors(
    link_attributes: dict[str, Any] | None, bond_options: dict[str, Any] | None, why: str
) -> None:
    result = state(cluster_network("cn1"), vlan_config("vc1", "cn1", ["eth1"], None, link_attributes, bond_options))
    assert only_error(result, "cn1").startswith(f"VlanConfig vc1: {why}")


@pytest.mark.parametrize(
    ("nics", "why"),
    [
        ([], "spec.uplink.nics must be a non-empty list of NIC names"),
        ("eth1", "spec.uplink.nics must be a non-empty list of NIC names"),
        (["eth1", ""], "spec.uplink.nics must be a non-empty list of NIC names"),
        (["eth1", "eth2", "eth1"], "spec.uplink.nics lists eth1 more than once"),
    ],
)
def test_malformed_nic_lists_are_errors(nics: Any, why: str) -> None:
    result = state(cluster_network("cn1"), vlan_config("vc1", "cn1", nics))
    assert only_error(result, "cn1") == f"VlanConfig vc1: {why}"


def test_all_problems_of_a_cluster_network_are_in_one_message() -> None:
    vc = vlan_config("vc1", "cn1", ["eth1", "eth9"], None, {"mtu": 1}, {"mode": "x"})
    message = only_error(state(cluster_network("cn1"), vc), "cn1")
    assert "mode is 'x'" in message and "mtu is 1" in message and "NIC eth9 does not exist" in message


# --- matching ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        (None, True),
        ({}, True),
        ({HOSTNAME: "node1"}, True),
        ({HOSTNAME: "node1", "rack": "a"}, True),
        ({HOSTNAME: "node2"}, False),
        ({"rack": "b"}, False),
        ({"zone": "a"}, False),
    ],
)
def test_node_selector_is_a_plain_label_map(selector: dict[str, str] | None, matches: bool) -> None:
    on = node(labels={HOSTNAME: "node1", "rack": "a"})
    result = state(cluster_network("cn1"), vlan_config("vc1", "cn1", ["eth1"], selector), on=on)
    assert (result.bridge_for("cn1") is not None) == matches
    assert result.errors == ()


def test_per_node_vlanconfigs_pick_each_nodes_own_nics() -> None:
    objects = (
        cluster_network("cn1"),
        vlan_config("cn1-node1", "cn1", ["eth1"], {HOSTNAME: "node1"}),
        vlan_config("cn1-node2", "cn1", ["eth2", "eth3"], {HOSTNAME: "node2"}),
    )
    node1, node2 = (
        state(*objects, on=node("node1")).bridge_for("cn1"),
        state(*objects, on=node("node2")).bridge_for("cn1"),
    )
    assert node1 is not None and node2 is not None
    assert (node1.vlan_config, node1.uplink.nics) == ("cn1-node1", ("eth1",))
    assert (node2.vlan_config, node2.uplink.nics) == ("cn1-node2", ("eth2", "eth3"))


def test_two_vlanconfigs_of_one_cluster_network_on_a_node_are_an_error_naming_both() -> None:
    result = state(
        cluster_network("cn1"),
        cluster_network("cn2"),
        vlan_config("zz-all", "cn1", ["eth1"]),
        vlan_config("aa-node1", "cn1", ["eth2"], {HOSTNAME: "node1"}),
        vlan_config("cn2", "cn2", ["eth3"]),
    )
    assert only_error(result, "cn1") == (
        "VlanConfigs aa-node1, zz-all all match this node for cluster network cn1; "
        "only one VlanConfig per cluster network may match a node"
    )
    assert result.errors[0].vlan_config == "aa-node1"
    assert result.bridge_for("cn2") is not None


def test_mgmt_takes_no_vlanconfigs() -> None:
    result = state(cluster_network("mgmt"), vlan_config("vc-mgmt", "mgmt", ["eth1"]))
    assert only_error(result, "mgmt") == "VlanConfig vc-mgmt: the built-in cluster network mgmt takes no VlanConfigs"


def test_a_vlanconfig_of_a_missing_cluster_network_is_an_error() -> None:
    result = state(vlan_config("vc1", "ghost", ["eth1"]))
    assert (
        only_error(result, "ghost")
        == "VlanConfig vc1: cluster network ghost does not exist; create its ClusterNetwork or fix spec.clusterNetwork"
    )


@pytest.mark.parametrize("cn", ["thirteen-char", "Upper", "under_score"])
def test_a_cluster_network_name_that_cannot_name_a_bridge_is_an_error(cn: str) -> None:
    message = only_error(state(cluster_network(cn), vlan_config("vc1", cn, ["eth1"])), cn)
    assert f"cluster network name {cn!r} must be a DNS label of at most 12 characters" in message


def test_objects_being_deleted_are_gone() -> None:
    deleting = {"deletionTimestamp": "2024-01-01T00:00:00Z"}
    vc = vlan_config("vc1", "cn1", ["eth1"])
    gone_nad = nad("v200", "cn1-br", 200)
    gone_nad["metadata"].update(deleting)
    gone_vc = vlan_config("vc2", "cn1", ["eth2"])
    gone_vc["metadata"].update(deleting)
    result = state(cluster_network("cn1"), vc, gone_vc, nad("v100", "cn1-br", 100), gone_nad)
    bridge = result.bridge_for("cn1")
    assert bridge is not None and bridge.vids == {100} and bridge.vlan_config == "vc1"

    gone_cn = cluster_network("cn1")
    gone_cn["metadata"].update(deleting)
    assert "does not exist" in only_error(state(gone_cn, vc), "cn1")


def test_vlanconfigs_that_cannot_be_matched_are_warnings() -> None:
    no_name = vlan_config("x", "cn1", ["eth1"])
    del no_name["metadata"]["name"]
    no_cn = vlan_config("no-cn", "", ["eth1"])
    bad_selector = vlan_config("bad-selector", "cn1", ["eth1"], {HOSTNAME: 1})  # type: ignore[dict-item]
    result = state(cluster_network("cn1"), no_name, no_cn, bad_selector)
    assert result.bridges == () and result.errors == ()
    assert result.warnings == (
        "VlanConfig bad-selector: spec.nodeSelector is not a map of label to string; ignored",
        "VlanConfig no-cn has no spec.clusterNetwork and is ignored",
        "a VlanConfig without metadata.name is ignored",
    )


# --- NICs against the node's links -------------------------------------------------------------------------------


def test_a_missing_nic_keeps_the_cluster_network_down() -> None:
    result = state(cluster_network("cn1"), vlan_config("vc1", "cn1", ["eth1", "eth9"]))
    assert only_error(result, "cn1") == "NIC eth9 does not exist on node node1; list a NIC the node has"
    assert result.errors[0].vlan_config == "vc1"


@pytest.mark.parametrize(
    ("link", "error"),
    [
        (LinkInfo(master=None), None),
        (LinkInfo(master="cn1-bo"), None),
        (LinkInfo(master="cn1-bo", has_ipv4=True), None),  # already ours: nothing new is cut off
        (LinkInfo(master="br0"), "NIC eth1 is already enslaved to br0; release it or list another NIC"),
        (LinkInfo(master="bond0"), "NIC eth1 is already enslaved to bond0; release it or list another NIC"),
        (LinkInfo(master="old-bo"), None),  # the agent's own link (see the links below): released by the reconciler
        (LinkInfo(has_ipv4=True), "NIC eth1 carries IPv4 addresses; enslaving it to cn1-bo would cut"),
    ],
)
def test_nic_master_and_addresses_without_host_ip_migration(link: LinkInfo, error: str | None) -> None:
    links = {"eth1": link, "br0": LinkInfo(), "bond0": LinkInfo(), "old-bo": LinkInfo(owner="old")}
    objects = (cluster_network("cn1"), vlan_config("vc1", "cn1", ["eth1"]))
    result = state(*objects, on=node(links=links), host_ip_migration=False)
    if error is None:
        assert result.errors == () and result.bridge_for("cn1") is not None
    else:
        assert only_error(result, "cn1").startswith(error)


@pytest.mark.parametrize(
    ("link", "error"),
    [
        (LinkInfo(has_ipv4=True), None),  # the agent moves the host addresses to cn1-br
        (LinkInfo(master="cn1-bo", has_ipv4=True), None),
        (LinkInfo(master="br0", has_ipv4=True), "NIC eth1 is already enslaved to br0"),
        (LinkInfo(owner="cn2", has_ipv4=True), "NIC eth1 is a link the agent manages itself"),
    ],
)
def test_with_host_ip_migration_a_nic_with_ipv4_is_an_uplink_and_other_problems_remain(
    link: LinkInfo, error: str | None
) -> None:
    links = {"eth1": link, "eth2": LinkInfo(), "br0": LinkInfo()}
    result = state(cluster_network("cn1"), vlan_config("vc1", "cn1", ["eth1", "eth2"]), on=node(links=links))
    if error is None:
        bridge = result.bridge_for("cn1")
        assert result.errors == () and bridge is not None and bridge.uplink.nics == ("eth1", "eth2")
    else:
        assert only_error(result, "cn1").startswith(error)


def test_a_nic_shared_by_two_cluster_networks_is_an_error_for_both() -> None:
    result = state(
        cluster_network("cn1"),
        cluster_network("cn2"),
        cluster_network("cn3"),
        vlan_config("vc1", "cn1", ["eth1", "eth2"]),
        vlan_config("vc2", "cn2", ["eth2"]),
        vlan_config("vc3", "cn3", ["eth3"]),
    )
    assert only_error(result, "cn1") == (
        "NIC eth2 is also the uplink of cluster network cn2 (VlanConfig vc2); a NIC can serve one cluster network"
    )
    assert only_error(result, "cn2") == (
        "NIC eth2 is also the uplink of cluster network cn1 (VlanConfig vc1); a NIC can serve one cluster network"
    )
    assert [b.cluster_network for b in result.bridges] == ["cn3"]


def test_a_nic_that_is_an_agent_link_is_an_error() -> None:
    links = {"eth1": LinkInfo(), "cn1-br": LinkInfo(owner="cn1"), "left-bo": LinkInfo(owner="left")}
    result = state(
        cluster_network("cn1"),
        cluster_network("cn2"),
        vlan_config("vc1", "cn1", ["eth1"]),
        vlan_config("vc2", "cn2", ["cn1-br", "left-bo"]),
        on=node(links=links),
    )
    assert only_error(result, "cn2") == (
        "NIC cn1-br is a link the agent manages itself, not a NIC; list a NIC of the node instead; "
        "NIC left-bo is a link the agent manages itself, not a NIC; list a NIC of the node instead"
    )
    assert result.bridge_for("cn1") is not None


def test_bridges_and_errors_are_sorted_by_cluster_network() -> None:
    cns = ["zeta", "alpha", "mid", "beta"]
    objects = [cluster_network(cn) for cn in cns] + [
        vlan_config(f"vc-{cn}", cn, [nic]) for cn, nic in zip(cns, ["eth1", "eth9", "eth2", "eth8"], strict=True)
    ]
    result = state(*objects)
    assert [b.cluster_network for b in result.bridges] == ["mid", "zeta"]
    assert [e.cluster_network for e in result.errors] == ["alpha", "beta"]


# --- properties --------------------------------------------------------------------------------------------------

# Pools weighted towards well-formed objects, so that many examples set bridges up; the rest hit the errors.
CN_POOL = ("cn1", "cn2", "data", "mgmt", "ghost")  # "ghost" never gets a ClusterNetwork
VC_CNS = ("cn1", "cn1", "cn2", "cn2", "data", "data", "mgmt", "ghost")
NIC_POOL = ("eth1", "eth2", "eth3", "eth4", "eth9")  # eth9 is not on the node
VC_NICS = ("eth1", "eth2", "eth3", "eth4") * 3 + ("eth9",)
NODE_LABELS = {HOSTNAME: "node1", "rack": "a"}
SELECTORS: tuple[dict[str, str], ...] = (
    {},
    {HOSTNAME: "node1"},
    {"rack": "a"},
    {HOSTNAME: "node2"},
    {"rack": "b", HOSTNAME: "node1"},
)
BRIDGES = ("cn1-br", "cn1-br", "cn2-br", "cn2-br", "data-br", "data-br", "ghost-br", "br0")

vids = st.one_of(st.sampled_from([0, 1, 1, 2, 4094]), st.integers(0, 4094))  # the edges often
trunk_vids = st.one_of(st.sampled_from([1, 2, 4094]), st.integers(1, 4094))
trunk_entries = st.one_of(
    st.builds(lambda vid: {"id": vid}, trunk_vids),
    st.builds(lambda low, width: {"minID": low, "maxID": min(4094, low + width)}, trunk_vids, st.integers(0, 40)),
)


@st.composite
def nad_specs(draw: st.DrawFn) -> tuple[str, dict[str, Any] | str, set[int]]:
    """(bridge, config, the VIDs a well-formed config carries); malformed configs carry none."""
    bridge = draw(st.sampled_from(BRIDGES))
    shape = draw(st.sampled_from(["access", "access", "trunk", "malformed"]))
    if shape == "access":
        vid = draw(vids)
        return bridge, {"type": "bridge", "bridge": bridge, "vlan": vid}, {vid} - {0}
    if shape == "trunk":
        entries = draw(st.lists(trunk_entries, min_size=1, max_size=3))
        expected = set()
        for entry in entries:
            expected |= {entry["id"]} if "id" in entry else set(range(entry["minID"], entry["maxID"] + 1))
        return bridge, {"type": "bridge", "bridge": bridge, "vlan": 0, "vlanTrunk": entries}, expected
    malformed: list[dict[str, Any] | str] = ["{", {"type": "bridge", "bridge": bridge, "vlan": 5000}]
    bad = draw(st.sampled_from(malformed))
    return bridge, bad, set()


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    existing = set(CN_POOL[:4]) - draw(st.sets(st.sampled_from(CN_POOL[:3]), max_size=1))
    vc_specs = st.tuples(
        st.sampled_from(VC_CNS),
        st.sampled_from(SELECTORS),
        st.lists(st.sampled_from(VC_NICS), min_size=1, max_size=2, unique=True),
    )
    # One VlanConfig per cluster network, sometimes a second one for an overlap.
    vcs = draw(st.lists(vc_specs, min_size=1, max_size=3, unique_by=lambda vc: vc[0]))
    vcs += draw(st.lists(vc_specs, max_size=1))
    nads = draw(st.lists(nad_specs(), min_size=1, max_size=8))
    masters = st.sampled_from([None] * 12 + ["br0", "cn1-bo", "cn2-bo", "data-bo"])
    has_ipv4 = st.sampled_from([False] * 12 + [True])
    links = {nic: draw(st.builds(LinkInfo, master=masters, has_ipv4=has_ipv4)) for nic in NIC_POOL[:4]}
    objects = [cluster_network(cn) for cn in sorted(existing)]
    objects += [vlan_config(f"vc{i}", cn, nics, selector) for i, (cn, selector, nics) in enumerate(vcs)]
    objects += [nad(f"nad{i}", bridge, config=config) for i, (bridge, config, _) in enumerate(nads)]
    return {"objects": objects, "vcs": vcs, "nads": nads, "links": links, "shuffled": draw(st.permutations(objects))}


def _matched(scenario: dict[str, Any]) -> dict[str, list[list[str]]]:
    """{cn: NIC lists of the VlanConfigs matching NODE_LABELS}, computed without the product."""
    matched: dict[str, list[list[str]]] = {}
    for cn, selector, nics in scenario["vcs"]:
        if all(NODE_LABELS.get(k) == v for k, v in selector.items()):
            matched.setdefault(cn, []).append(nics)
    return matched


def _run(objects: list[dict[str, Any]], links: dict[str, LinkInfo], host_ip_migration: bool = True) -> HostState:
    return desired_host_state(
        ClusterObjects.from_objects(objects), node("node1", dict(NODE_LABELS), links), host_ip_migration
    )


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_property_same_objects_in_any_order_give_the_same_state(scenario: dict[str, Any]) -> None:
    first = _run(scenario["objects"], scenario["links"])
    assert _run(scenario["objects"], scenario["links"]) == first
    assert _run(scenario["shuffled"], scenario["links"]) == first


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_property_uplink_vids_are_exactly_the_nad_vids_from_2_to_4094(scenario: dict[str, Any]) -> None:
    result = _run(scenario["objects"], scenario["links"])
    for bridge in result.bridges:
        assert all(2 <= vid <= 4094 for vid in bridge.vids)
        expected: set[int] = set()
        for nad_bridge, _, nad_vids in scenario["nads"]:
            if nad_bridge == bridge.bridge:
                expected |= nad_vids
        assert bridge.vids == expected - {0, 1}


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_property_only_the_agents_own_links_and_vlanconfig_nics(scenario: dict[str, Any]) -> None:
    result = _run(scenario["objects"], scenario["links"])
    matched = _matched(scenario)
    vc_nics = {nic for _, _, nics in scenario["vcs"] for nic in nics}
    bridge_cns = [b.cluster_network for b in result.bridges]
    assert len(bridge_cns) == len(set(bridge_cns))  # at most one bridge per cluster network
    for bridge in result.bridges:
        assert bridge.cluster_network in matched
        assert (bridge.bridge, bridge.uplink.bond) == (f"{bridge.cluster_network}-br", f"{bridge.cluster_network}-bo")
        assert set(bridge.uplink.nics) <= vc_nics
    # every matched cluster network is either set up or reported, never both
    error_cns = {e.cluster_network for e in result.errors}
    assert set(bridge_cns) | error_cns == set(matched)
    assert not set(bridge_cns) & error_cns


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_property_overlaps_are_errors(scenario: dict[str, Any]) -> None:
    result = _run(scenario["objects"], scenario["links"])
    matched = _matched(scenario)
    error_cns = {e.cluster_network for e in result.errors}
    for cn, nic_lists in matched.items():
        if len(nic_lists) > 1:
            assert cn in error_cns
    set_up_nics = [nic for bridge in result.bridges for nic in bridge.uplink.nics]
    assert len(set_up_nics) == len(set(set_up_nics))  # no NIC in two bonds
    for bridge in result.bridges:
        for nic in bridge.uplink.nics:
            link = scenario["links"].get(nic)
            assert link is not None and link.master in (None, bridge.uplink.bond)


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_property_without_host_ip_migration_no_nic_with_ipv4_is_newly_enslaved(scenario: dict[str, Any]) -> None:
    result = _run(scenario["objects"], scenario["links"], host_ip_migration=False)
    for bridge in result.bridges:
        for nic in bridge.uplink.nics:
            link = scenario["links"][nic]
            assert link.master == bridge.uplink.bond or not link.has_ipv4
    # ... and it differs from the default only there: cluster networks with such a NIC become errors
    with_migration = _run(scenario["objects"], scenario["links"])
    assert set(result.bridges) <= set(with_migration.bridges)
    for bridge in set(with_migration.bridges) - set(result.bridges):
        assert any(
            scenario["links"][nic].has_ipv4 and scenario["links"][nic].master != bridge.uplink.bond
            for nic in bridge.uplink.nics
        )
        assert "carries IPv4 addresses" in only_error(result, bridge.cluster_network)


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_property_with_host_ip_migration_ipv4_addresses_change_nothing(scenario: dict[str, Any]) -> None:
    without_addresses = {nic: replace(link, has_ipv4=False) for nic, link in scenario["links"].items()}
    assert _run(scenario["objects"], scenario["links"]) == _run(scenario["objects"], without_addresses)


# --- incremental = from scratch ----------------------------------------------------------------------------------

NAD_NAMES = ("n1", "n2", "n3", "n4", "n5")
RACK_SELECTORS = ({}, {"rack": "a"}, {"rack": "b"}, {HOSTNAME: "node2"})
ROUTES = (None, '{"cidr":"10.0.0.0/24"}', '{"cidr":"10.1.0.0/24"}', "{oops")
# eth1 (every VlanConfig's NIC) free, enslaved elsewhere, or gone: the node's links decide setups too
NIC_STATES = (
    {nic: LinkInfo() for nic in FREE_NICS},
    {**{nic: LinkInfo() for nic in FREE_NICS}, "eth1": LinkInfo(master="other-br")},
    {nic: LinkInfo() for nic in FREE_NICS if nic != "eth1"},
)


@st.composite
def cluster_events(draw: st.DrawFn) -> tuple[str, Any]:
    """One change to the cluster or the node, as a watch would report it (or the same objects again)."""
    kinds = ["nad", "nad", "nad", "delete nad", "deleting nad", "vc", "vc", "delete vc", "cn", "node", "node", "links"]
    what = draw(st.sampled_from(kinds))
    if what == "nad":
        bridge, config, _ = draw(nad_specs())
        return what, nad(draw(st.sampled_from(NAD_NAMES)), bridge, config=config, route=draw(st.sampled_from(ROUTES)))
    if what in ("delete nad", "deleting nad"):
        return what, draw(st.sampled_from(NAD_NAMES))
    if what == "vc":
        cn, selector, nics = draw(st.sampled_from(VC_CNS)), draw(st.sampled_from(RACK_SELECTORS)), ["eth1"]
        return what, vlan_config(draw(st.sampled_from(["vc1", "vc2", "vc3"])), cn, nics, selector)
    if what == "delete vc":
        return what, draw(st.sampled_from(["vc1", "vc2", "vc3"]))
    if what == "cn":
        return what, draw(st.sampled_from(CN_POOL))
    if what == "links":
        return what, draw(st.sampled_from(NIC_STATES))
    return what, draw(st.sampled_from([{"rack": "a"}, {"rack": "b"}]))


@settings(max_examples=200, deadline=None)
@given(st.lists(cluster_events(), min_size=1, max_size=30), st.booleans(), st.booleans())
def test_property_incremental_desired_state_equals_from_scratch_after_every_event(
    events: list[tuple[str, Any]], as_mirror: bool, repeat_objects: bool
) -> None:
    """`as_mirror`: unchanged objects are handed over as the same instances and each write is a new one (the
    Kubernetes source); else every load gives new, equal copies (the directory source)."""
    store: dict[tuple[str, str], dict[str, Any]] = {("ClusterNetwork", cn): cluster_network(cn) for cn in CN_POOL[:3]}
    labels, links = dict(NODE_LABELS), NIC_STATES[0]
    incremental = DesiredState()
    objects = ClusterObjects()
    for what, value in events:
        written: dict[str, Any] | None = None
        if what in ("nad", "vc"):
            written = value
        elif what in ("delete nad", "delete vc"):
            store.pop(("VlanConfig" if what == "delete vc" else "NetworkAttachmentDefinition", value), None)
        elif what == "deleting nad" and (old := store.get(("NetworkAttachmentDefinition", value))):
            written = {**old, "metadata": {**old["metadata"], "deletionTimestamp": "2026-01-01T00:00:00Z"}}
        elif what == "cn" and store.pop(("ClusterNetwork", value), None) is None:  # comes or goes
            written = cluster_network(value)
        elif what == "node":
            labels = {**NODE_LABELS, **value}
        elif what == "links":
            links = value
        if written is not None:
            store[(written["kind"], written["metadata"]["name"])] = copy.deepcopy(written)
        if not (repeat_objects and what in ("node", "links")):  # a node change alone keeps the same object tuples
            current = list(store.values())
            objects = ClusterObjects.from_objects(current if as_mirror else copy.deepcopy(current))
        on = node("node1", labels, links)

        assert incremental.compute(objects, on) == desired_host_state(objects, on)
