"""The expected connectivity matrix, derived from the plan alone (no lab needed)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from harvester_network.lab import matrix
from harvester_network.lab.matrix import UNTAGGED_HOST, Endpoint, Observed, Probe, expected_probes, plan_endpoints
from harvester_network.model import Plan, load_plan_file

ROOT = Path(__file__).resolve().parents[2]


def expectations(path: Path) -> dict[tuple[str, str], bool]:
    plan, _ = load_plan_file(path)
    return {(p.src, p.dst): p.expected for p in expected_probes(plan)}


def test_same_cluster_network_and_vlan_reach_everything_else_is_isolated() -> None:
    want = expectations(ROOT / "tests/lab/plans/cluster.yaml")
    assert want[("web-1/nic-1", "db-1/nic-1")] is True  # VLAN 100, node1 -> node2
    assert want[("db-1/nic-2", "cache-1/nic-1")] is True  # VLAN 200, node2 -> node3
    assert want[("app-1/nic-1", "cache-1/nic-1")] is True
    assert want[("web-1/nic-1", "app-1/nic-1")] is False  # same node, VLAN 100 vs 200
    assert want[("cache-1/nic-2", "db-1/nic-2")] is False  # untagged vs VLAN 200
    assert want[("cache-1/nic-2", UNTAGGED_HOST)] is True
    assert want[("web-1/nic-1", UNTAGGED_HOST)] is False
    assert want[("web-1/nic-1", "gateway 10.100.0.1")] is True
    # Every pair of NICs in different VMs, both directions; none within one VM.
    assert ("db-1/nic-1", "db-1/nic-2") not in want
    # 6 NICs: 30 ordered pairs, less 2 within db-1 and 2 within cache-1.
    assert sum(1 for _, dst in want if dst.endswith(("/nic-1", "/nic-2"))) == 6 * 5 - 4


def test_vlan_1_and_untagged_are_one_segment() -> None:
    plan, _ = load_plan_file(ROOT / "tests/lab/plans/cluster.yaml")
    data = plan.model_dump(by_alias=True, mode="json")
    data["networks"][1]["vlan"] = 1  # vlan200 becomes VLAN 1
    probes = {(p.src, p.dst): p.expected for p in expected_probes(Plan.model_validate(data))}
    assert probes[("app-1/nic-1", "cache-1/nic-2")] is True
    assert probes[("app-1/nic-1", UNTAGGED_HOST)] is True


def test_without_router_there_is_no_gateway_and_dhcp_needs_a_dhcp_server() -> None:
    plan, _ = load_plan_file(ROOT / "examples/dhcp-server/plan.yaml")
    endpoints = {e.name: e for e in plan_endpoints(plan)}
    assert endpoints["worker-1/nic-1"].gets_address  # the plan's dhcpServer serves it
    assert endpoints["worker-1/nic-1"].gateway is None
    want = {(p.src, p.dst): p.expected for p in expected_probes(plan)}
    assert want == {
        ("worker-1/nic-1", "worker-2/nic-1"): True,
        ("worker-2/nic-1", "worker-1/nic-1"): True,
        ("worker-1/nic-1", UNTAGGED_HOST): False,
        ("worker-2/nic-1", UNTAGGED_HOST): False,
    }


def test_a_nic_without_an_address_is_not_a_mismatch_where_it_should_be_isolated() -> None:
    assert Probe("a", "b", "arp", expected=False, observed=None).ok
    assert not Probe("a", "b", "arp", expected=True, observed=None).ok
    assert not Probe("a", "b", "arp", expected=False, observed=True).ok


def test_an_address_outside_the_networks_subnet_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lease from another segment's DHCP server (VLAN 0 and VLAN 1 are one) is a mismatch, not a pass."""
    plan, _ = load_plan_file(Path(__file__).resolve().parents[2] / "examples/quickstart/plan.yaml")
    leases = {"cache-1/nic-2": "10.1.0.50/24", "db-1/nic-1": "10.100.0.20/24"}  # nic-2 is on 192.168.50.0/24

    def observe(endpoint: Endpoint) -> Observed:
        address = leases.get(endpoint.name)
        return Observed("eth0", ipaddress.IPv4Interface(address) if address else None)

    monkeypatch.setattr(matrix, "observe_endpoint", observe)
    assert matrix.stray_addresses(plan) == [
        "cache-1/nic-2 has 10.1.0.50/24, outside 192.168.50.0/24 of default/untagged"
    ]
