"""model/plan.py's field rules at their limits, and its helpers (node overrides, lease seconds, network lookup)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from harvester_network.model.plan import ClusterNetwork, DhcpServer, ManualRoute, Network, Plan, Uplink


def error_of(model: Any, data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in caught.value.errors())


@pytest.mark.parametrize("mtu", [0, 576, 1500, 9000])
def test_mtus_harvester_takes(mtu: int) -> None:
    assert Uplink.model_validate({"nics": ["eth1"], "mtu": mtu}).mtu == mtu


@pytest.mark.parametrize("mtu", [1, 575, 9001, -1])
def test_mtus_harvester_refuses(mtu: int) -> None:
    assert error_of(Uplink, {"nics": ["eth1"], "mtu": mtu}) == (
        "mtu: Value error, must be 0 (the default, 1500) or between 576 and 9000"
    )


@pytest.mark.parametrize(
    ("nics", "message"),
    [
        (["."], "nics.0: Value error, '.' and '..' are not valid interface names"),
        ([".."], "nics.0: Value error, '.' and '..' are not valid interface names"),
        (["eth1", "eth2", "eth1"], "nics: Value error, lists eth1 more than once; list each NIC once"),
        (["eth1", "eth2", "eth2", "eth1"], "nics: Value error, lists eth1, eth2 more than once; list each NIC once"),
    ],
)
def test_uplink_nic_lists(nics: list[str], message: str) -> None:
    assert error_of(Uplink, {"nics": nics}) == message


def test_the_longest_cluster_network_name_and_one_more() -> None:
    uplink = {"nics": ["eth1"]}
    assert ClusterNetwork.model_validate({"name": "a" * 12, "uplink": uplink}).name == "a" * 12
    assert error_of(ClusterNetwork, {"name": "a" * 13, "uplink": uplink}) == (
        "name: String should have at most 12 characters"
    )
    assert error_of(ClusterNetwork, {"name": "mgmt", "uplink": uplink}) == (
        "name: Value error, 'mgmt' is Harvester's built-in management network; pick another name"
    )


def test_a_node_override_replaces_nics_and_what_it_sets() -> None:
    cn = ClusterNetwork.model_validate(
        {
            "name": "vlan",
            "uplink": {"nics": ["eth1"], "bondMode": "802.3ad", "bondMiimon": 250, "mtu": 9000, "txQLen": 5},
            "nodeOverrides": [
                {"node": "n1", "nics": ["eno1"]},
                {"node": "n2", "nics": ["eno2"], "bondMode": "balance-rr", "bondMiimon": 0},
            ],
        }
    )
    assert cn.uplink_for("n0") is cn.uplink
    assert cn.uplink_for("n1") == Uplink.model_validate(
        {"nics": ["eno1"], "bondMode": "802.3ad", "bondMiimon": 250, "mtu": 9000, "txQLen": 5}
    )
    assert cn.uplink_for("n2") == Uplink.model_validate(
        {"nics": ["eno2"], "bondMode": "balance-rr", "bondMiimon": 0, "mtu": 9000, "txQLen": 5}
    )


@pytest.mark.parametrize(
    ("lease_time", "seconds"),
    [("1", 1), (1, 1), ("45s", 45), ("30m", 1800), ("2h", 7200), ("1d", 86400), (3600, 3600), ("infinite", None)],
)
def test_lease_seconds(lease_time: Any, seconds: int | None) -> None:
    dhcp = DhcpServer.model_validate(
        {"serverIP": "10.0.0.2", "range": {"start": "10.0.0.3", "end": "10.0.0.4"}, "leaseTime": lease_time}
    )
    assert dhcp.lease_seconds == seconds


@pytest.mark.parametrize(
    ("lease_time", "message"),
    [
        (0, "0 seconds is not a lease time; give a positive number of seconds such as 3600, or a duration"),
        (-5, "-5 seconds is not a lease time"),
        (1.5, "1.5 is not a whole number of seconds"),
        ("0", "must be a duration such as 3600, 30m, 1h, 1d, or 'infinite'"),
        ("01h", "must be a duration"),
        ("1w", "must be a duration"),
        (True, "Input should be a valid string"),
    ],
)
def test_lease_times_refused(lease_time: Any, message: str) -> None:
    data = {"serverIP": "10.0.0.2", "range": {"start": "10.0.0.3", "end": "10.0.0.4"}, "leaseTime": lease_time}
    assert message in error_of(DhcpServer, data)


@pytest.mark.parametrize(
    ("route", "message"),
    [
        ({"cidr": "0.0.0.0/0", "gateway": "10.0.0.1"}, "cidr 0.0.0.0/0 has a zero mask"),
        ({"cidr": "10.0.0.0/24", "gateway": "10.0.1.1"}, "gateway 10.0.1.1 is outside cidr 10.0.0.0/24"),
        ({"cidr": "10.0.0.0/24", "gateway": "10.0.0.0"}, "gateway 10.0.0.0 is the network or broadcast address"),
        ({"cidr": "10.0.0.0/30", "gateway": "10.0.0.3"}, "gateway 10.0.0.3 is the network or broadcast address"),
    ],
)
def test_manual_routes_refused(route: dict[str, str], message: str) -> None:
    assert message in error_of(ManualRoute, {"mode": "manual", **route})


@pytest.mark.parametrize("gateway", ["10.0.0.0", "10.0.0.1"])
def test_a_31_route_may_use_either_address(gateway: str) -> None:
    assert (
        str(ManualRoute.model_validate({"mode": "manual", "cidr": "10.0.0.0/31", "gateway": gateway}).gateway)
        == gateway
    )


def test_network_for_finds_the_first_network_of_a_reference_in_the_vms_namespace() -> None:
    plan = Plan.model_validate(
        {
            "clusterNetworks": [{"name": "vlan", "uplink": {"nics": ["eth1"]}}],
            "networks": [
                {"name": "a", "namespace": "prod", "clusterNetwork": "vlan", "vlan": 5},
                {"name": "a", "clusterNetwork": "vlan", "vlan": 6},
                {"name": "a", "clusterNetwork": "vlan", "vlan": 7},
            ],
            "virtualMachines": [
                {
                    "name": "vm",
                    "namespace": "prod",
                    "interfaces": [{"name": "n1", "network": "a"}, {"name": "n2", "network": "default/a"}],
                }
            ],
        }
    )
    vm = plan.virtual_machines[0]
    found = [plan.network_for(vm, nic) for nic in vm.interfaces]
    assert [(n.namespace, n.vlan) for n in found if isinstance(n, Network)] == [("prod", 5), ("default", 6)]
    # A copy with other networks indexes those.
    other = plan.model_copy(update={"networks": [plan.networks[2]]})
    assert other.network_for(vm, vm.interfaces[1]) == plan.networks[2]
    # The index is built once per networks list (a search per NIC made rules and rendering quadratic).
    assert plan._networks_by_ref() is plan._networks_by_ref()
    assert other._networks_by_ref() is not plan._networks_by_ref()
    assert plan.cluster_network("vlan") is plan.cluster_networks[0] and plan.cluster_network("x") is None
