"""agent/kube_source.py's NadView: the compact NAD a node mirrors gives desired.py exactly what the whole object
gives it (VIDs, local areas, warnings), reads as the dict it stands for, and keeps no more than that."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from harvester_network.agent.desired import NadNetworks
from harvester_network.agent.kube_source import NadView
from harvester_network.render import harvester as h

JSON_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 5000), st.text(max_size=8))
TRUNK_ENTRY = st.one_of(
    st.fixed_dictionaries({"id": st.integers(1, 4094)}),
    st.fixed_dictionaries({"minID": st.integers(1, 20), "maxID": st.integers(1, 20)}),
    st.fixed_dictionaries({}, optional={"id": st.integers(-1, 4096), "minID": st.integers(0, 4096)}) | JSON_VALUES,
)
EXTRA_KEYS = {  # what real configs carry besides what the agent reads
    "cniVersion": st.just("0.3.1"),
    "ipam": st.dictionaries(st.text(max_size=5), JSON_VALUES, max_size=3),
    "name": st.text(max_size=8),
}
BRIDGE = {"type": st.sampled_from(["bridge", "bridge", ""]), "bridge": st.sampled_from(["vlan-br", "other-br"])}
ACCESS_CONFIG = st.fixed_dictionaries({**BRIDGE, "vlan": st.integers(0, 4094)}, optional=EXTRA_KEYS)
TRUNK_CONFIG = st.fixed_dictionaries(
    {**BRIDGE, "vlanTrunk": st.lists(TRUNK_ENTRY, min_size=1, max_size=3)},
    optional={"vlan": st.sampled_from([0, 5]), **EXTRA_KEYS},
)
ODD_CONFIG = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["bridge", "macvlan", 3]),
        "bridge": st.sampled_from(["vlan-br", "", 7]),
        "vlan": JSON_VALUES,
        **EXTRA_KEYS,
    },
)
CONFIG = st.one_of(ACCESS_CONFIG, TRUNK_CONFIG, ODD_CONFIG)
CONFIG_TEXT = st.one_of(
    CONFIG.map(json.dumps),
    CONFIG.map(json.dumps),
    CONFIG.map(json.dumps),
    st.text(max_size=10),
    st.just("[1, 2]"),
    st.just("null"),
)
ROUTE = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "cidr": st.sampled_from(["10.0.0.0/24", "10.0.0.1/24", "nonsense", "", 5]),
            "mode": st.just("auto"),
            "gateway": st.just("10.0.0.1"),
        },
    ).map(json.dumps),
    st.sampled_from(["{", '"x"', "[]"]),
)


@st.composite
def nads(draw: st.DrawFn) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": draw(st.sampled_from(["a", "b"])), "namespace": "default"}
    metadata["managedFields"] = [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}]
    if draw(st.booleans()):
        metadata["labels"] = {h.LABEL_CLUSTER_NETWORK: draw(st.sampled_from(["vlan", "other"])), "team": "x"}
    if draw(st.booleans()):
        metadata["annotations"] = {h.ANNOTATION_ROUTE: draw(ROUTE), "note": "y"}
    if draw(st.integers(0, 9)) == 0:
        metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    obj: dict[str, Any] = {"apiVersion": h.NAD_API, "kind": "NetworkAttachmentDefinition", "metadata": metadata}
    spec = draw(st.sampled_from(["config"] * 5 + ["empty", "absent", "not a map"]))
    if spec == "config":
        obj["spec"] = {"config": draw(CONFIG_TEXT)}
    elif spec != "absent":
        obj["spec"] = {} if spec == "empty" else "x"
    return obj


def what_desired_reads(obj: Any) -> tuple[Any, ...]:
    networks = NadNetworks()
    networks.update((obj,))
    return networks.of_bridge("vlan-br"), networks.of_bridge("other-br"), sorted(networks.warnings())


@settings(max_examples=400, deadline=None)
@given(nads())
def test_desired_reads_the_same_of_the_view_as_of_the_object(obj: dict[str, Any]) -> None:
    assert what_desired_reads(NadView(obj)) == what_desired_reads(obj)


HARVESTER_NAD = {
    "apiVersion": h.NAD_API,
    "kind": "NetworkAttachmentDefinition",
    "metadata": {
        "name": "vm-net",
        "namespace": "prod",
        "uid": "7d3c",
        "resourceVersion": "123",
        "labels": {h.LABEL_CLUSTER_NETWORK: "vlan", "network.harvesterhci.io/type": "L2VlanNetwork"},
        "annotations": {
            h.ANNOTATION_ROUTE: '{"mode":"auto","serverIPAddr":"10.1.0.2","cidr":"10.1.0.0/24","gateway":"10.1.0.1"}'
        },
        "managedFields": [{"manager": "harvester", "operation": "Update", "fieldsV1": {"f:spec": {}}}],
    },
    "spec": {
        "config": json.dumps(
            {
                "cniVersion": "0.3.1",
                "name": "vm-net",
                "type": "bridge",
                "bridge": "vlan-br",
                "promiscMode": True,
                "vlan": 100,
                "ipam": {"type": "whereabouts", "range": "10.1.0.0/24", "exclude": ["10.1.0.1/32"] * 20},
            }
        )
    },
}


def test_the_view_reads_as_the_dict_it_stands_for_with_only_what_is_read() -> None:
    view = NadView(copy.deepcopy(HARVESTER_NAD))

    assert dict(view) == {
        "apiVersion": h.NAD_API,
        "kind": "NetworkAttachmentDefinition",
        "metadata": {
            "name": "vm-net",
            "namespace": "prod",
            "labels": {h.LABEL_CLUSTER_NETWORK: "vlan"},
            "annotations": {h.ANNOTATION_ROUTE: '{"cidr":"10.1.0.0/24"}'},
        },
        "spec": {"config": '{"type":"bridge","bridge":"vlan-br","vlan":100}'},
    }
    assert view == dict(view) and view == NadView(HARVESTER_NAD)
    assert view != NadView({**HARVESTER_NAD, "spec": {"config": '{"type":"bridge","bridge":"vlan-br","vlan":101}'}})
    assert view.get("status") is None and "metadata" in view and len(view) == 4


def test_a_view_without_label_annotation_or_spec_has_none_of_them() -> None:
    view = NadView({"metadata": {"name": "plain", "namespace": "default", "deletionTimestamp": "2026-01-01T00:00:00Z"}})

    assert view["metadata"] == {"name": "plain", "namespace": "default", "deletionTimestamp": "2026-01-01T00:00:00Z"}
    assert view["spec"] == {}


def test_equal_cluster_network_labels_are_one_shared_map() -> None:
    first, second = NadView(copy.deepcopy(HARVESTER_NAD)), NadView(copy.deepcopy(HARVESTER_NAD))

    assert first["metadata"]["labels"] is second["metadata"]["labels"]


def test_nads_of_one_vlan_and_route_keep_one_config_and_one_route_text() -> None:
    """Harvester's configs differ by name, which the view drops: the rest is kept once, not once per NAD."""
    other = copy.deepcopy(HARVESTER_NAD)
    other["metadata"]["name"] = "vm-net-2"
    other["spec"]["config"] = other["spec"]["config"].replace('"name": "vm-net"', '"name": "vm-net-2"')
    first, second = NadView(copy.deepcopy(HARVESTER_NAD)), NadView(other)

    assert first.config is second.config and first.route is second.route
