"""End-to-end on examples/dhcp-server/plan.yaml: no router; the plan's dhcpServer (rendered dnsmasq.conf)."""

from __future__ import annotations

import ipaddress

import pytest

from harvester_network.lab.lab import Lab
from tests.lab.conftest import LabFactory
from tests.lab.labtools import l2_reaches, vm_nic

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def isolated(make_lab: LabFactory) -> Lab:
    return make_lab("examples/dhcp-server/plan.yaml")


def test_dhcp_server_without_router_hands_out_leases_from_the_rendered_config(isolated: Lab) -> None:
    assert not isolated.topology.has_router
    pool = range(int(ipaddress.IPv4Address("10.30.0.100")), int(ipaddress.IPv4Address("10.30.0.200")) + 1)
    leases = isolated.workdir.dnsmasq("dhcp-isolated-300", "leases").read_text()
    for vm, mac in (("worker-1/nic-1", "52:54:00:30:00:01"), ("worker-2/nic-1", "52:54:00:30:00:02")):
        _, found = vm_nic(isolated, vm)
        assert found.address is not None, f"{vm} got no lease"
        assert int(found.address.ip) in pool and found.address.network == ipaddress.IPv4Network("10.30.0.0/24")
        assert f"{mac} {found.address.ip}" in leases
    assert [lease.detail for lease in isolated.leases if "10.30.0.2" not in lease.detail] == []
    assert l2_reaches(isolated, "worker-1/nic-1", "worker-2/nic-1")
