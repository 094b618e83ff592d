"""`hvnet plan`'s node plan, whole: which VIDs an uplink trunks (never 0 or 1), when it carries untagged traffic,
the switch ports and the VM NICs, compared as whole objects."""

from __future__ import annotations

from typing import Any

import pytest

from harvester_network.model import load_plan
from harvester_network.render.nodeplan import ALL_NODES, BridgePlan, NodePlan, SwitchPort, VmNic, node_plan


def plan_of(vlans: dict[str, list[int]], **more: Any) -> NodePlan:
    """A plan with one cluster network per key (uplink eth1, eth2, ...) and one network per VLAN listed."""
    data: dict[str, Any] = {
        "clusterNetworks": [{"name": cn, "uplink": {"nics": [f"eth{i}"]}} for i, cn in enumerate(vlans, start=1)],
        "networks": [
            {"name": f"{cn}-{vlan}", "clusterNetwork": cn, "vlan": vlan} for cn in vlans for vlan in vlans[cn]
        ],
        **more,
    }
    plan, _ = load_plan(data)
    return node_plan(plan)


@pytest.mark.parametrize(
    ("vlans", "vids", "untagged"),
    [
        ([0], [], True),
        ([1], [], True),
        ([2], [2], False),
        ([0, 2, 3, 4094], [2, 3, 4094], True),
        ([1, 100], [100], True),
        ([200, 100], [100, 200], False),
    ],
)
def test_an_uplink_trunks_every_vlan_but_0_and_1(vlans: list[int], vids: list[int], untagged: bool) -> None:
    result = plan_of({"vlan": vlans, "other": [0, 1, 7]})
    assert result.nodes == {
        ALL_NODES: [
            BridgePlan("vlan", "vlan-br", "vlan-bo", ["eth1"], "active-backup", 1500, vids, untagged),
            BridgePlan("other", "other-br", "other-bo", ["eth2"], "active-backup", 1500, [7], True),
        ]
    }
    assert result.switch_ports == [
        SwitchPort(ALL_NODES, "eth1", "vlan", vids),
        SwitchPort(ALL_NODES, "eth2", "other", [7]),
    ]


def test_each_listed_node_gets_its_override() -> None:
    data: dict[str, Any] = {
        "clusterNetworks": [
            {
                "name": "vlan",
                "uplink": {"nics": ["eth1"], "mtu": 9000, "bondMode": "802.3ad"},
                "nodeOverrides": [{"node": "n2", "nics": ["eno1", "eno2"], "bondMode": "balance-alb"}],
            }
        ],
        "nodes": ["n1", "n2"],
        "networks": [{"name": "v5", "clusterNetwork": "vlan", "vlan": 5}],
        "virtualMachines": [
            {
                "name": "vm",
                "interfaces": [
                    {"name": "default", "network": "mgmt"},
                    {"name": "nic-1", "network": "v5", "macAddress": "52:54:00:00:00:01", "ip": "10.0.0.5/24"},
                ],
            }
        ],
    }
    plan, _ = load_plan(data)
    result = node_plan(plan)
    assert result.nodes == {
        "n1": [BridgePlan("vlan", "vlan-br", "vlan-bo", ["eth1"], "802.3ad", 9000, [5], False)],
        "n2": [BridgePlan("vlan", "vlan-br", "vlan-bo", ["eno1", "eno2"], "balance-alb", 9000, [5], False)],
    }
    assert result.switch_ports == [
        SwitchPort("n1", "eth1", "vlan", [5]),
        SwitchPort("n2", "eno1", "vlan", [5]),
        SwitchPort("n2", "eno2", "vlan", [5]),
    ]
    vm = plan.virtual_machines[0]
    assert result.vm_nics == [
        VmNic("default/vm", "default", "mgmt", "mgmt", None, vm.mac_of(vm.interfaces[0]), "dhcp"),
        VmNic("default/vm", "nic-1", "default/v5", "vlan", 5, "52:54:00:00:00:01", "10.0.0.5/24"),
    ]
