"""DesiredState and NadNetworks between passes: what is kept, what is parsed again, and how much is remembered.

The property test in test_desired.py shows incremental equals from scratch; these show the promises that make it
cheap (the last result again without work, the VlanConfigs not matched again for a NAD-only change, each NAD
object parsed once, NADs sharing an answer share its object, the memo bounded by the live NADs) and the counts
behind a VID or local area asked by several NADs.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from harvester_network.agent import desired as desired_module
from harvester_network.agent.desired import DesiredState, NadNetworks
from harvester_network.agent.hoststate import LocalArea
from harvester_network.agent.inputs import ClusterObjects, LinkInfo
from tests.agent.test_desired import cluster_network, nad, node, vlan_config

ROUTE_A = '{"cidr":"10.0.0.0/24"}'
ROUTE_B = '{"cidr":"10.1.0.0/24"}'


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The names of the NADs parsed (their CNI config read), in order."""
    names: list[str] = []
    parse = desired_module._nad_network

    def counting(obj: dict[str, Any]) -> Any:
        names.append(obj["metadata"]["name"])
        return parse(obj)

    monkeypatch.setattr(desired_module, "_nad_network", counting)
    yield names


def objects(*nads: dict[str, Any]) -> ClusterObjects:
    return ClusterObjects.from_objects([cluster_network("cn1"), vlan_config("vc1", "cn1", ["eth1"]), *nads])


def test_the_same_objects_and_node_give_the_last_result_without_any_work(parsed: list[str]) -> None:
    state, same = DesiredState(), objects(nad("a", "cn1-br", 100))
    first = state.compute(same, node())
    assert parsed == ["a"]

    assert state.compute(same, node()) is first
    assert state.compute(same, node(links={nic: LinkInfo() for nic in ("eth1", "eth2", "eth3", "eth4")})) is first
    assert parsed == ["a"]


def test_another_node_name_alone_is_computed_again() -> None:
    state = DesiredState()
    same, links = objects(), {"eth2": LinkInfo()}
    labels = {"kubernetes.io/hostname": "node1"}
    assert [e.message for e in state.compute(same, node("node1", labels, links)).errors] == [
        "NIC eth1 does not exist on node node1; list a NIC the node has"
    ]
    assert [e.message for e in state.compute(same, node("node2", labels, links)).errors] == [
        "NIC eth1 does not exist on node node2; list a NIC the node has"
    ]


def test_the_nads_are_looked_at_only_when_their_tuple_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    state, same = DesiredState(), objects(nad("a", "cn1-br", 100))
    state.compute(same, node())
    updates: list[object] = []
    monkeypatch.setattr(state.nads, "update", updates.append)

    state.compute(same, node(links={"eth1": LinkInfo(), "tap0": LinkInfo()}))  # a link event
    state.compute(replace(same, vlan_configs=(vlan_config("vc1", "cn1", ["eth2"]),)), node())
    assert updates == []
    state.compute(replace(same, nads=(nad("a", "cn1-br", 200),)), node())
    assert len(updates) == 1


def test_new_objects_are_computed_again() -> None:
    state = DesiredState()
    first = state.compute(objects(nad("a", "cn1-br", 100)), node())
    again = state.compute(objects(nad("a", "cn1-br", 100)), node())  # equal copies: the same answer, new result
    assert again == first and again is not first
    bridge = state.compute(objects(nad("a", "cn1-br", 200)), node()).bridge_for("cn1")
    assert bridge is not None and bridge.vids == frozenset({200})


def test_each_nad_object_is_parsed_once(parsed: list[str]) -> None:
    nads = NadNetworks()
    a, b = nad("a", "cn1-br", 100), nad("b", "cn1-br", 200)
    nads.update((a, b))
    assert sorted(parsed) == ["a", "b"]

    nads.update((a, b))  # a mirror hands over the same objects (kube/watch.py: also through a relist)
    assert sorted(parsed) == ["a", "b"]

    changed_b = nad("b", "cn1-br", 300)
    nads.update((a, changed_b))
    assert sorted(parsed) == ["a", "b", "b"]
    nads.update(tuple(copy.deepcopy([a, changed_b])))  # a directory load's new, equal copies: parsed again
    assert sorted(parsed) == ["a", "a", "b", "b", "b"]
    assert nads.of_bridge("cn1-br") == (frozenset({100, 300}), (LocalArea(100, ""), LocalArea(300, "")))


def test_nads_with_the_same_answer_share_one_object() -> None:
    nads = NadNetworks()
    nads.update((nad("a", "cn1-br", 100), nad("b", "cn1-br", 100), nad("c", "cn1-br", 200)))
    answers = {obj["metadata"]["name"]: nads._live[id(obj)] for obj in nads._held}
    assert answers["a"] is answers["b"]
    assert answers["a"] is not answers["c"]


def test_a_vid_or_local_area_stays_while_any_nad_asks_for_it() -> None:
    nads = NadNetworks()
    a, b = nad("a", "cn1-br", 100, route=ROUTE_A), nad("b", "cn1-br", 100, route=ROUTE_A)
    c = nad("c", "cn1-br", 5, route=ROUTE_B)
    both = (frozenset({5, 100}), (LocalArea(5, "10.1.0.0/24"), LocalArea(100, "10.0.0.0/24")))
    nads.update((a, b, c))
    assert nads.of_bridge("cn1-br") == both

    nads.update((b, c))
    assert nads.of_bridge("cn1-br") == both
    nads.update((c,))
    assert nads.of_bridge("cn1-br") == (frozenset({5}), (LocalArea(5, "10.1.0.0/24"),))
    nads.update((a, b, c))
    assert nads.of_bridge("cn1-br") == both
    nads.update(())
    assert nads.of_bridge("cn1-br") == (frozenset(), ())


def test_a_warning_stays_while_any_nad_has_it() -> None:
    nads = NadNetworks()
    broken = nad("a", "cn1-br", config="{")
    nads.update((broken, copy.deepcopy(broken)))
    warning = ["NAD default/a: spec.config is not JSON; it adds no VIDs"]
    assert nads.warnings() == warning
    nads.update((broken,))
    assert nads.warnings() == warning
    nads.update(())
    assert nads.warnings() == []


def distinct_nads(count: int) -> tuple[dict[str, Any], ...]:
    """`count` NADs of their own names, each with an answer of its own."""
    return tuple(
        nad(f"n{i}", "cn1-br", 2 + i, route=f'{{"cidr":"10.{i // 250}.{i % 250}.0/24"}}') for i in range(count)
    )


@pytest.mark.parametrize(
    ("seen", "live", "answers_kept"),
    [
        pytest.param(1000, 0, 1000, id="1000 gone NADs' answers are remembered"),
        pytest.param(1001, 0, 0, id="1001 gone: the memo starts afresh"),
        pytest.param(1002, 1, 1002, id="1002 beside 1 live NAD are remembered"),
        pytest.param(1003, 1, 0, id="1003 beside 1 live NAD: the memo starts afresh"),
    ],
)
def test_the_memo_of_answers_stays_within_twice_the_live_nads_and_1000(seen: int, live: int, answers_kept: int) -> None:
    nads = NadNetworks()
    every = distinct_nads(seen)
    nads.update(every)
    nads.update(every[:live])
    assert len(nads._live) == live
    assert len(nads._shared) == answers_kept
    assert nads.of_bridge("cn1-br")[0] == frozenset(range(2, 2 + live))


def test_a_nad_only_change_matches_no_vlan_config_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """The VlanConfigs are matched to the node again when they, the ClusterNetworks or the node changed, never
    for a NAD alone (at 5,000 NADs that was half of a pass adding one)."""
    matched: list[int] = []
    match = desired_module._matched_vlan_configs

    def counting(vlan_configs: Any, on: Any) -> Any:
        matched.append(len(vlan_configs))
        return match(vlan_configs, on)

    monkeypatch.setattr(desired_module, "_matched_vlan_configs", counting)
    state, first = DesiredState(), objects(nad("a", "cn1-br", 100))
    state.compute(first, node())
    assert matched == [1]

    added = replace(first, nads=(*first.nads, nad("b", "cn1-br", 200)))
    bridge = state.compute(added, node()).bridge_for("cn1")
    assert bridge is not None and bridge.vids == frozenset({100, 200})
    assert matched == [1]

    more = replace(added, vlan_configs=(*added.vlan_configs, vlan_config("vc2", "cn2", ["eth2"])))
    state.compute(more, node())
    assert matched == [1, 2]
    state.compute(replace(more, cluster_networks=(cluster_network("cn1"),)), node())  # a new tuple, equal or not
    assert matched == [1, 2, 2]
    state.compute(more, node(links={"eth1": LinkInfo()}))
    state.compute(more, node(labels={"rack": "a"}, links={"eth1": LinkInfo()}))
    assert matched == [1, 2, 2, 2, 2]


def test_a_nad_object_no_one_holds_any_more_is_not_taken_for_a_new_one() -> None:
    """NADs are known by identity: the last tuple is held, so a new object cannot reuse a counted one's id."""
    nads = NadNetworks()
    nads.update(tuple(nad(f"a{i}", "cn1-br", 100) for i in range(50)))  # the caller keeps none of them
    nads.update(tuple(nad(f"b{i}", "cn1-br", 200) for i in range(50)))
    assert nads.of_bridge("cn1-br") == (frozenset({200}), (LocalArea(200, ""),))
