"""What the real cloud-init makes of our rendered networkData, as the lab applies it in a VM namespace."""

from __future__ import annotations

from pathlib import Path

import pytest

from harvester_network.lab.guest import GuestNicConfig, NetworkDataError, cloud_init_network_config
from harvester_network.lab.topology import build_topology
from harvester_network.model import load_plan_file

ROOT = Path(__file__).resolve().parents[2]


def rendered_network_data(plan_path: Path, vm: str) -> list[GuestNicConfig]:
    plan, _ = load_plan_file(plan_path)
    spec = next(v for v in build_topology(plan).vms if v.ref == f"default/{vm}")
    return cloud_init_network_config(spec.network_data)


def test_v2_primary_static_with_default_route_and_secondary_dhcp_without_routes() -> None:
    nics = rendered_network_data(ROOT / "tests/lab/plans/cluster.yaml", "db-1")
    # eth1 is the only DHCP NIC: it gives the guest its nameservers, but no route.
    assert nics == [
        GuestNicConfig("eth0", "52:54:00:aa:bb:02", False, True, ("10.100.0.20/24",), "10.100.0.1"),
        GuestNicConfig("eth1", "52:54:00:aa:bb:03", True, False, use_dns=True),
    ]


def test_v1_static_nics_gateway_only_on_the_first() -> None:
    nics = rendered_network_data(ROOT / "examples/multi-nic-vms/plan.yaml", "app-2")
    assert [(n.name, n.mac, n.dhcp, n.addresses, n.gateway, n.dns) for n in nics] == [
        ("eth0", "52:54:00:02:00:01", False, ("10.100.0.12/24",), "10.100.0.1", ("10.100.0.1",)),
        ("eth1", "52:54:00:02:00:02", False, ("10.200.0.12/24",), None, ("10.100.0.1",)),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"network": {"version": 2}}, "top-level `network:` key"),
        ({"version": 3}, "neither 1 nor 2"),
        ({"version": 2, "ethernets": {"eth0": {"dhcp4": True}}}, "matched by MAC"),
        ({"version": 1, "config": [{"type": "physical", "name": "eth0"}]}, "matched by MAC"),
        ({"version": 2, "ethernets": {"eth0": {"routes": [{"to": "default", "via": "10.0.0.1"}]}}}, "cannot render"),
    ],
)
def test_network_data_cloud_init_would_not_apply_is_an_error(data: dict[str, object], message: str) -> None:
    with pytest.raises(NetworkDataError, match=message):
        cloud_init_network_config(data)
