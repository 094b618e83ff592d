"""End-to-end on tests/lab/plans/cluster.yaml: three nodes (node2 overrides its uplink to eno2), VLANs 100
and 200, an untagged network, a router with DHCP, four VMs. One lab for the module; the tests that break
something put it back, and the one that deletes a network runs last."""

from __future__ import annotations

import ipaddress
import json
import subprocess

import pytest
from typer.testing import CliRunner

from harvester_network.cli import app
from harvester_network.lab import netns as ns
from harvester_network.lab.lab import Lab
from harvester_network.lab.report import mismatch_lines
from harvester_network.lab.topology import ROUTER_NS, SWITCH_NS, UNTAGGED_HOST_NS
from tests.lab.conftest import LabFactory
from tests.lab.labtools import (
    Capture,
    address,
    frames_about,
    l2_reaches,
    master_of,
    pings,
    rx_packets,
    vm_nic,
    vm_pings,
)

pytestmark = pytest.mark.lab
PLAN = "tests/lab/plans/cluster.yaml"


@pytest.fixture(scope="module")
def cluster(make_lab: LabFactory) -> Lab:
    return make_lab(PLAN)


def test_the_connectivity_matrix_matches_the_plan(cluster: Lab) -> None:
    report = cluster.check()
    assert report.ok, mismatch_lines(report)
    assert len(report.probes) > 30
    result = CliRunner().invoke(app, ["lab", "check", PLAN, "--json", "--workdir", str(cluster.workdir.root)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["ok"] and not data["switchGaps"] and not data["missingAddresses"] and not data["vlan1Leaks"]
    assert {(p["src"], p["dst"], p["observed"]) for p in data["probes"]} >= {
        ("web-1/nic-1", "db-1/nic-1", True),
        ("web-1/nic-1", "app-1/nic-1", False),
    }


def test_same_vlan_reaches_across_nodes_and_another_vlan_on_the_same_node_does_not(cluster: Lab) -> None:
    assert l2_reaches(cluster, "web-1/nic-1", "db-1/nic-1")  # VLAN 100, node1 -> node2
    assert vm_pings(cluster, "web-1/nic-1", address(cluster, "db-1/nic-1"))
    assert l2_reaches(cluster, "app-1/nic-1", "cache-1/nic-1")  # VLAN 200, node1 -> node3
    # web-1 (VLAN 100) and app-1 (VLAN 200) share node1's bridge, yet ARP does not cross.
    assert not l2_reaches(cluster, "web-1/nic-1", "app-1/nic-1")
    assert not l2_reaches(cluster, "app-1/nic-1", "web-1/nic-1")


def test_untagged_network_and_untagged_host_reach_each_other_through_pvid_1(cluster: Lab) -> None:
    end, found = vm_nic(cluster, "cache-1/nic-2")
    host = next(str(a.ip) for a in cluster.topology.untagged_host if found.address and found.address in a.network)
    assert pings(end.netns, found.ifname, host)
    assert pings(UNTAGGED_HOST_NS, "eth0", address(cluster, "cache-1/nic-2"))
    port = next(p for p in cluster.vm_ports if p.vm == "default/cache-1" and p.interface == "nic-2")
    assert ns.bridge_vlans(port.node_ns)[port.host_veth] == {1: {"PVID", "Egress Untagged"}}
    assert ns.bridge_vlans(SWITCH_NS)["untagged"] == {1: {"PVID", "Egress Untagged"}}


def test_node_override_carries_traffic_through_eno2_and_leaves_eth1_alone(cluster: Lab) -> None:
    assert master_of("hvt-node2", "eno2") == "vlan-bo"
    assert master_of("hvt-node2", "eth1") is None
    assert master_of("hvt-node1", "eth1") == "vlan-bo"
    eno2, eth1 = rx_packets("hvt-node2", "eno2"), rx_packets("hvt-node2", "eth1")
    end, found = vm_nic(cluster, "web-1/nic-1")
    assert subprocess.run(
        ns.in_netns(end.netns, ["ping", "-q", "-c", "5", "-i", "0.1", "-W", "1", "-I", found.ifname,
                                address(cluster, "db-1/nic-1")]),
        capture_output=True, check=False,
    ).returncode == 0  # fmt: skip
    assert rx_packets("hvt-node2", "eno2") - eno2 >= 5
    assert rx_packets("hvt-node2", "eth1") == eth1
    assert not [link for link in ns.ip_json("hvt-node2", "link", "show") if link.get("link") == "eth1"]


def test_router_dhcp_gives_a_lease_in_the_route_cidr_on_a_tagged_vlan(cluster: Lab) -> None:
    _, found = vm_nic(cluster, "web-1/nic-1")
    assert found.address is not None
    assert found.address.ip in ipaddress.IPv4Network("10.100.0.0/24")
    leases = cluster.workdir.dnsmasq("router", "leases").read_text()
    assert f"52:54:00:aa:bb:01 {found.address.ip}" in leases
    assert vm_pings(cluster, "web-1/nic-1", "10.100.0.1")


def test_multi_nic_vm_configured_from_network_data_with_the_default_route_on_the_first_nic(cluster: Lab) -> None:
    _, first = vm_nic(cluster, "db-1/nic-1")
    _, second = vm_nic(cluster, "db-1/nic-2")
    assert (first.ifname, str(first.address)) == ("eth0", "10.100.0.20/24")  # static, named by set-name
    assert second.ifname == "eth1"
    assert second.address is not None and second.address.ip in ipaddress.IPv4Network("10.200.0.0/24")  # DHCP
    defaults = ns.ip_json("hvt-vm-db-1", "route", "show", "default")
    assert [(r["gateway"], r["dev"]) for r in defaults] == [("10.100.0.1", "eth0")]


def test_vm_on_a_tagged_vlan_receives_nothing_from_floods_on_other_vlans(cluster: Lab) -> None:
    """harvester/harvester#8816: VM ports must not stay in VLAN 1 (the agent prunes it)."""
    victim_end, victim = vm_nic(cluster, "web-1/nic-1")  # VLAN 100 on node1
    untagged_end, untagged_vm = vm_nic(cluster, "cache-1/nic-2")  # control: untagged, node3
    vlan200_end, vlan200_vm = vm_nic(cluster, "cache-1/nic-1")  # control: VLAN 200, node3
    flooder_end, flooder = vm_nic(cluster, "app-1/nic-1")  # VLAN 200 on node1, next to the victim
    watched = {
        "untagged": (untagged_end, untagged_vm),
        "vlan200": (vlan200_end, vlan200_vm),
    }
    before = {name: rx_packets(e.netns, o.ifname) for name, (e, o) in watched.items()}
    # The victim's own VLAN may carry traffic meanwhile (the router's ARP for it): capture, and look for the floods.
    capture = Capture(victim_end.netns, victim.ifname)
    control = Capture(untagged_end.netns, untagged_vm.ifname)  # proves the capture and the matching see floods
    floods = [
        ns.in_netns(UNTAGGED_HOST_NS, ["ping", "-b", "-q", "-c", "20", "-i", "0.01", "-W", "1", "192.168.50.255"]),
        ns.in_netns(UNTAGGED_HOST_NS, ["busybox", "arping", "-q", "-c", "3", "-w", "1", "-I", "eth0", "192.168.50.77"]),
        ns.in_netns(flooder_end.netns, ["ping", "-b", "-q", "-c", "20", "-i", "0.01", "-W", "1", "-I", flooder.ifname,
                                        "10.200.0.255"]),
        ns.in_netns(flooder_end.netns, ["busybox", "arping", "-q", "-c", "3", "-w", "1", "-I", flooder.ifname,
                                        "10.200.0.77"]),
    ]  # fmt: skip
    for proc in [subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for argv in floods]:
        proc.wait(timeout=30)
    received, control_received = capture.frames(), control.frames()
    assert rx_packets(untagged_end.netns, untagged_vm.ifname) - before["untagged"] >= 20  # the floods happened
    assert rx_packets(vlan200_end.netns, vlan200_vm.ifname) - before["vlan200"] >= 20
    flood_targets = {"192.168.50.255", "192.168.50.77", "10.200.0.255", "10.200.0.77"}
    assert len(frames_about(control_received, flood_targets)) >= 20
    assert frames_about(received, flood_targets) == []
    assert cluster.vlan1_leaks() == []


def test_a_switch_port_missing_a_vlan_breaks_that_vlan_and_check_names_the_port(cluster: Lab) -> None:
    ns.bridge(SWITCH_NS, "vlan", "del", "dev", "node3-eth1", "vid", "200")
    try:
        assert not l2_reaches(cluster, "db-1/nic-2", "cache-1/nic-1")  # node2 -> node3 on VLAN 200
        assert not l2_reaches(cluster, "app-1/nic-1", "cache-1/nic-1")  # node1 -> node3
        assert l2_reaches(cluster, "app-1/nic-1", "db-1/nic-2")  # node1 -> node2 still fine
        assert l2_reaches(cluster, "web-1/nic-1", "db-1/nic-1")  # VLAN 100 untouched
        result = CliRunner().invoke(app, ["lab", "check", PLAN, "--workdir", str(cluster.workdir.root)])
        assert result.exit_code == 1, result.output
        assert "switch port node3-eth1 (node3 eth1) lacks VLAN 200" in result.output
        assert "db-1/nic-2 should reach cache-1/nic-1" in result.output
    finally:
        ns.bridge(SWITCH_NS, "vlan", "add", "dev", "node3-eth1", "vid", "200")
    assert l2_reaches(cluster, "db-1/nic-2", "cache-1/nic-1")


def test_deleting_a_network_removes_its_vid_from_the_uplinks(cluster: Lab) -> None:
    """Runs last: the NAD of vlan200 is deleted (its VMs keep running), the agents reconcile."""
    (cluster.workdir.objects / "30-networkattachmentdefinition-default-vlan200.yaml").unlink()

    def vid_200_gone() -> bool:
        return all(200 not in ns.bridge_vlans(node.netns).get("vlan-bo", {}) for node in cluster.topology.nodes)

    assert cluster.wait_reconciled(vid_200_gone), "the agents kept VLAN 200 on the uplinks"
    assert all(100 in ns.bridge_vlans(node.netns)["vlan-bo"] for node in cluster.topology.nodes)
    assert not l2_reaches(cluster, "db-1/nic-2", "cache-1/nic-1")  # VLAN 200 across nodes: gone
    assert not l2_reaches(cluster, "app-1/nic-1", "cache-1/nic-1")
    assert l2_reaches(cluster, "web-1/nic-1", "db-1/nic-1")  # VLAN 100 keeps working
    assert pings(ROUTER_NS, "eth0.100", address(cluster, "db-1/nic-1"))
