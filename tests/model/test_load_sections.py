"""load_plan and load_plan_file: a section lost to a field error does not hide the rest, unreadable files, hints."""

from __future__ import annotations

from pathlib import Path

import pytest

from harvester_network.model import PlanError, PlanIssue, load_plan, load_plan_file


def test_a_bad_service_cidr_does_not_hide_the_other_sections_problems() -> None:
    data = {
        "serviceCIDR": "bad",
        "clusterNetworks": [{"name": "vlan", "uplink": {"nics": ["eth1"]}}],
        "networks": [{"name": "a", "clusterNetwork": "nope", "vlan": 5}],
    }
    with pytest.raises(PlanError) as caught:
        load_plan(data)
    assert caught.value.issues == [
        PlanIssue(
            "serviceCIDR",
            "Input is not a valid IPv4 network",
            "write a subnet with its prefix length, like 10.100.0.0/24",
        ),
        PlanIssue(
            "networks[0].clusterNetwork",
            "cluster network 'nope' is not in the plan (known: vlan)",
            "name one of clusterNetworks[].name",
        ),
    ]


def test_a_plan_file_that_cannot_be_read_is_an_issue(tmp_path: Path) -> None:
    with pytest.raises(PlanError) as caught:
        load_plan_file(str(tmp_path / "missing.yaml"))
    assert caught.value.issues == [PlanIssue("", "cannot be read: No such file or directory", "check the path")]
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text("clusterNetworks: [{name: vlan, uplink: {nics: [eth1]}}]\n")
    plan, warnings = load_plan_file(str(plan_file))
    assert [cn.name for cn in plan.cluster_networks] == ["vlan"] and warnings == []


def test_unknown_keys_get_the_closest_key_or_the_list() -> None:
    data = {
        "clusterNetworks": [{"name": "vlan", "uplink": {"nics": ["eth1"], "mtuu": 1, "zzz": 2}}],
        "networks": [{"name": "a", "clusterNetwork": "vlan", "vlan": 5, "route": {"mode": "auto", "serverIP": "x"}}],
    }
    with pytest.raises(PlanError) as caught:
        load_plan(data)
    assert caught.value.issues == [
        PlanIssue("clusterNetworks[0].uplink.mtuu", "is not a known key", "did you mean 'mtu'?"),
        PlanIssue(
            "clusterNetworks[0].uplink.zzz",
            "is not a known key",
            "allowed keys: bondMiimon, bondMode, mtu, nics, txQLen",
        ),
        PlanIssue(
            "networks[0].route.serverIP",
            "Input is not a valid IPv4 address",
            "write an IPv4 address, like 10.100.0.1",
        ),
    ]


def test_unknown_key_paths_through_a_tagged_union_and_a_dict_of_nodes() -> None:
    # Pydantic's location holds the route's tag ('manual'); the path leaves it out and the hint looks at the
    # manual route's keys. "names" is close to both "name" and "namespace": the closest one is named.
    route = {"mode": "manual", "cidr": "10.0.0.0/24", "gateway": "10.0.0.1", "gatewy": 2}
    data = {
        "networks": [{"name": "a", "clusterNetwork": "vlan", "vlan": 5, "names": 1, "route": route}],
        "lab": {"nodes": {"n1": {"nics": ["eth1"], "nic": 1}}},
    }
    with pytest.raises(PlanError) as caught:
        load_plan(data)
    assert caught.value.issues == [
        PlanIssue("networks[0].route.gatewy", "is not a known key", "did you mean 'gateway'?"),
        PlanIssue("networks[0].names", "is not a known key", "did you mean 'name'?"),
        PlanIssue("lab.nodes.n1.nic", "is not a known key", "did you mean 'nics'?"),
    ]


def test_a_section_that_is_not_a_list_keeps_its_bad_items_and_the_rules_do_not_run() -> None:
    # From Python a section may be a tuple: pydantic takes it, but only a list's bad items are set aside, so the
    # rest does not validate either and only the field errors are reported (no cross-object rule on a guess).
    data = {
        "clusterNetworks": [{"name": "cn", "uplink": {"nics": ["eth1"]}}],
        "networks": ({"name": "a", "clusterNetwork": "nope", "vlan": 5000}, {"name": "b", "clusterNetwork": "x"}),
    }
    with pytest.raises(PlanError) as caught:
        load_plan(data)
    assert [(i.path, i.message) for i in caught.value.issues] == [
        ("networks[0].vlan", "Input should be less than or equal to 4094"),
        ("networks[1].vlan", "is required"),
    ]
