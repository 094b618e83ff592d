"""End-to-end on examples/bond-uplink/plan.yaml: eth1+eth2 bonded active-backup, MTU 9000, two nodes."""

from __future__ import annotations

import pytest

from harvester_network.lab import agents
from harvester_network.lab import netns as ns
from harvester_network.lab.lab import Lab
from harvester_network.lab.topology import SWITCH_NS
from tests.lab.conftest import LabFactory
from tests.lab.labtools import address, master_of, vm_nic, vm_pings

pytestmark = pytest.mark.lab
BOND = "storage-bo"


@pytest.fixture(scope="module")
def storage(make_lab: LabFactory) -> Lab:
    return make_lab("examples/bond-uplink/plan.yaml")


def active_member(netns: str) -> str:
    [link] = ns.ip_json(netns, "-d", "link", "show", "dev", BOND)
    active: str = link["linkinfo"]["info_data"].get("active_slave", "")
    return active


def test_bond_uplink_survives_one_member_going_down(storage: Lab) -> None:
    assert {master_of("hvt-node1", nic) for nic in ("eth1", "eth2")} == {BOND}
    peer = address(storage, "nfs-2/nic-1")
    assert vm_pings(storage, "nfs-1/nic-1", peer)
    member = active_member("hvt-node1")
    assert member in ("eth1", "eth2")
    cable = f"node1-{member}"
    ns.ip(SWITCH_NS, "link", "set", cable, "down")  # pull the active member's cable at the switch
    try:
        assert agents.wait_until(lambda: active_member("hvt-node1") not in ("", member), timeout=10)
        assert vm_pings(storage, "nfs-1/nic-1", peer)
        assert vm_pings(storage, "nfs-2/nic-1", address(storage, "nfs-1/nic-1"))
    finally:
        ns.ip(SWITCH_NS, "link", "set", cable, "up")


def test_mtu_9000_end_to_end(storage: Lab) -> None:
    for node in ("hvt-node1", "hvt-node2"):
        for link in (BOND, "storage-br", "eth1", "eth2"):
            assert ns.ip_json(node, "link", "show", "dev", link)[0]["mtu"] == 9000, f"{node} {link}"
    end, found = vm_nic(storage, "nfs-1/nic-1")
    assert ns.ip_json(end.netns, "link", "show", "dev", found.ifname)[0]["mtu"] == 9000
    peer = address(storage, "nfs-2/nic-1")
    # 8972 bytes of ICMP payload + 8 ICMP + 20 IP = 9000, with don't-fragment.
    assert vm_pings(storage, "nfs-1/nic-1", peer, "-M", "do", "-s", "8972")
    assert not vm_pings(storage, "nfs-1/nic-1", peer, "-M", "do", "-s", "8973")
