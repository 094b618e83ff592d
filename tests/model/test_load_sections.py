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


_CN = [{"name": "cn", "uplink": {"nics": ["eth1"]}}]


def _net(**fields: object) -> dict[str, object]:
    return {"clusterNetworks": _CN, "networks": [{"name": "n", "clusterNetwork": "cn", "vlan": 5, **fields}]}


def _route(**route: str) -> dict[str, object]:
    return _net(route=route)


@pytest.mark.parametrize(
    ("data", "issue"),
    [
        ({"clusterNetworks": [{"name": "cn"}]}, ("clusterNetworks[0].uplink", "is required", "add it")),
        (_net(vlan="ten"),
         ("networks[0].vlan", "Input should be a valid integer", "write a whole number without quotes")),
        (_net(vlan="0x64"),
         ("networks[0].vlan", "'0x64' is not a decimal number", "write the number in decimal, like 100")),
        ({"clusterNetworks": [{"name": 5, "uplink": {"nics": ["eth1"]}}]},
         ("clusterNetworks[0].name", "Input should be a valid string",
          "write a string (quote it if YAML reads it as a number or boolean)")),
        ({"clusterNetworks": {"a": 1}}, ("clusterNetworks", "Input should be a valid list", "write a YAML list")),
        ({"clusterNetworks": ["x"]}, ("clusterNetworks[0]",
                                      "Input should be a valid dictionary or instance of ClusterNetwork",
                                      "write a mapping of keys")),
        (_route(mode="x"), ("networks[0].route", "Input tag 'x' found using 'mode' does not match any of the "
                            "expected tags: 'manual', 'auto'", "use mode: manual or mode: auto")),
        (_route(cidr="10.0.0.0/24"), ("networks[0].route", "Unable to extract tag using discriminator 'mode'",
                                      "use mode: manual or mode: auto")),
        (_route(mode="manual", cidr="10.0.0.0/24", gateway="x"),
         ("networks[0].route.gateway", "Input is not a valid IPv4 address", "write an IPv4 address, like 10.100.0.1")),
        (_route(mode="manual", cidr="10.0.0.5/24", gateway="10.0.0.1"),
         ("networks[0].route.cidr", "Input is not a valid IPv4 network",
          "use the network address 10.0.0.0/24 (host bits must be zero)")),
        ({"clusterNetworks": [{"name": "A_B", "uplink": {"nics": ["eth1"]}}]},
         ("clusterNetworks[0].name", "String should match pattern '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'",
          "use lowercase letters, digits and '-' (a DNS label)")),
        ({"clusterNetworks": [{"name": "cn", "uplink": {"nics": ["eth 1"]}}]},
         ("clusterNetworks[0].uplink.nics[0]",
          "is not a Linux interface name: no '/', ':', whitespace or control characters",
          "use the NIC's name as `ip link` shows it, like eth1")),
        (None, ("", "is empty", "start from examples/quickstart/plan.yaml")),
        ([1], ("", "must be a mapping of sections, not a list", "start from examples/quickstart/plan.yaml")),
    ],
)  # fmt: skip
def test_each_kind_of_field_error_gets_its_fix(data: object, issue: tuple[str, str, str]) -> None:
    with pytest.raises(PlanError) as caught:
        load_plan(data)
    assert [(i.path, i.message, i.fix) for i in caught.value.issues] == [issue]
