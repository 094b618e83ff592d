"""model/rules.py: VLAN 0 beside VLAN 1 in either order (one untagged segment), network data version 1 warnings,
and an agent link name given as a node override's uplink NIC; whole issue lists."""

from __future__ import annotations

from typing import Any

import pytest

from harvester_network.model import PlanError, load_plan

CN = {"name": "cn1", "uplink": {"nics": ["eth1"]}}


def _issues(data: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    try:
        _, warnings = load_plan(data)
    except PlanError as exc:
        return [(i.path, i.message, i.fix, i.severity) for i in exc.issues]
    return [(i.path, i.message, i.fix, i.severity) for i in warnings]


@pytest.mark.parametrize(("first", "second"), [(0, 1), (1, 0), (0, 0)])
def test_vlan_0_and_1_are_one_segment(first: int, second: int) -> None:
    networks = [{"name": f"n{k}", "clusterNetwork": "cn1", "vlan": vid} for k, vid in enumerate((first, second))]
    issues = [i for i in _issues({"clusterNetworks": [CN], "networks": networks}) if "untagged segment" in i[1]]
    expected = [
        (
            "networks[1].vlan",
            f"VLAN {second} and network 'default/n0' (VLAN {first}) on cluster network 'cn1' are one untagged "
            "segment: the bridge sends VLAN 1 untagged (PVID 1), so their VMs and DHCP servers meet",
            "keep one of them, or move the VLAN-1 network to another VLAN ID",
            "warning",
        )
    ]
    assert issues == (expected if first != second else [])


def test_agent_link_name_as_a_node_override_nic() -> None:
    data = {
        "clusterNetworks": [{**CN, "nodeOverrides": [{"node": "node1", "nics": ["eth2", "cn1-bo"]}]}],
        "nodes": ["node1"],
    }
    assert _issues(data) == [
        (
            "clusterNetworks[0].nodeOverrides[0].nics[1]",
            "'cn1-bo' is the name the agent gives the bridge or bond of cluster network 'cn1': it cannot also be an "
            "uplink NIC",
            "name the node's physical NIC (e.g. eth1)",
            "error",
        )
    ]


V1_DNS = (
    "virtualMachines[0].dns",
    "network data version 1 hands `dns` only to static NICs where the guest's cloud-init renders netplan (Ubuntu): "
    "this VM has none, so those guests use only their DHCP servers' nameservers",
    "use networkDataVersion: 2 (the default)",
    "warning",
)
V1_SECOND_DHCP = (
    "virtualMachines[0].interfaces[1].ip",
    "network data version 1 cannot keep this DHCP NIC from installing its server's default route: the guest may "
    "get a second default route",
    "use networkDataVersion: 2 (the default), or a static ip here",
    "warning",
)
MGMT = {"name": "m", "network": "mgmt"}
NONE_NIC = {"name": "q", "network": "front", "macAddress": "52:54:00:07:00:01", "ip": "none"}
STATIC_NIC = {"name": "s", "network": "front", "macAddress": "52:54:00:07:00:02", "ip": "10.100.0.7/24"}
DHCP_NIC = {"name": "d", "network": "front", "macAddress": "52:54:00:07:00:03"}


@pytest.mark.parametrize(
    ("version", "dns", "nics", "expected"),
    [
        (1, True, [MGMT, NONE_NIC], [V1_DNS]),
        (1, False, [MGMT, NONE_NIC], []),
        (1, True, [MGMT, STATIC_NIC], []),
        (1, True, [MGMT, DHCP_NIC], [V1_DNS, V1_SECOND_DHCP]),
        (2, True, [MGMT, DHCP_NIC], []),
    ],
)
def test_network_data_version_1_warnings(
    version: int, dns: bool, nics: list[dict[str, Any]], expected: list[tuple[str, str, str, str]]
) -> None:
    vm: dict[str, Any] = {"name": "v", "networkDataVersion": version, "interfaces": nics}
    if dns:
        vm["dns"] = ["10.100.0.53"]
    data = {
        "clusterNetworks": [CN],
        "networks": [
            {"name": "front", "clusterNetwork": "cn1", "vlan": 100,
             "route": {"mode": "manual", "cidr": "10.100.0.0/24", "gateway": "10.100.0.1"}},
        ],
        "virtualMachines": [vm],
    }  # fmt: skip
    assert _issues(data) == expected


def test_blank_user_data_is_no_warning() -> None:
    # Blank user data gets the guest agent's cloud-config (render/vm.py): nothing to warn about.
    assert _issues({"virtualMachines": [{"name": "u", "userData": "  \n", "interfaces": [MGMT]}]}) == []
