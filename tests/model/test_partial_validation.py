"""Cross-object errors found after items were dropped for field errors still name the user's own indexes.

`load_plan` leaves the items that failed field validation out and runs the cross-object rules on the rest, so
one pass reports every error. The rest is a shorter list: its items' paths, and the `at section[i]` references
in messages, must count the dropped items too.
"""

from __future__ import annotations

from typing import Any

import pytest

from harvester_network.model import PlanError, load_plan
from tests.model.plan_edits import PlanEdit, add, drop, edits, put, valid_plan

DNS_LABEL = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DNS_FIX = "use lowercase letters, digits and '-' (a DNS label)"


def insert(path: str, item: Any) -> PlanEdit:
    """Put `item` first in the top-level list `path`, so every item after it moves one place down."""

    def edit(data: dict[str, Any]) -> None:
        data[path].insert(0, item)

    return edit


def errors_of(change: PlanEdit) -> list[tuple[str, str, str]]:
    data = valid_plan()
    change(data)
    with pytest.raises(PlanError) as raised:
        load_plan(data)
    return [(i.path, i.message, i.fix) for i in raised.value.issues]


def test_a_bad_first_network_leaves_the_next_networks_at_their_own_indexes() -> None:
    change = edits(
        insert("networks", {"name": "vlan300", "clusterNetwork": "vlan", "vlan": 5000}),
        put("networks[1].dhcpServer.serverIP", "10.100.0.1"),  # vlan100's gateway
        add("networks", {"name": "vlan200", "clusterNetwork": "storage", "vlan": 201}),
    )
    assert errors_of(change) == [
        ("networks[0].vlan", "Input should be less than or equal to 4094", ""),
        ("networks[1].dhcpServer.serverIP", "10.100.0.1 is the route's gateway", "use another address"),
        (
            "networks[4].name",
            "network 'default/vlan200' is already declared at networks[2]",
            "give each network a unique name within its namespace",
        ),
    ]


def test_a_bad_vm_leaves_the_next_vms_at_their_own_indexes() -> None:
    change = edits(
        put("virtualMachines[0].cpu", 0),
        put("virtualMachines[1].interfaces[0].network", "vlan300"),
        add("virtualMachines", {"name": "db-1", "interfaces": [{"name": "default", "network": "mgmt"}]}),
    )
    assert errors_of(change) == [
        ("virtualMachines[0].cpu", "Input should be greater than or equal to 1", ""),
        (
            "virtualMachines[1].interfaces[0].network",
            "network 'default/vlan300' is not in the plan",
            "use 'mgmt' or '<namespace>/<name>' of a declared network",
        ),
        (
            "virtualMachines[2].name",
            "VM 'default/db-1' is already declared at virtualMachines[1]",
            "give each VM a unique name within its namespace",
        ),
    ]


def test_a_bad_interface_drops_its_whole_vm_and_the_next_vm_keeps_its_index() -> None:
    """Interfaces are not dropped one by one: a VM without one of its NICs would be judged on NICs it does not
    have (a management Service without its mgmt NIC). So its other interfaces wait for the fix."""
    change = edits(
        put("virtualMachines[0].interfaces[0].name", "Default"),
        put("virtualMachines[0].interfaces[1].network", "vlan300"),
        put("virtualMachines[1].interfaces[0].network", "vlan300"),
    )
    assert errors_of(change) == [
        ("virtualMachines[0].interfaces[0].name", f"String should match pattern '{DNS_LABEL}'", DNS_FIX),
        (
            "virtualMachines[1].interfaces[0].network",
            "network 'default/vlan300' is not in the plan",
            "use 'mgmt' or '<namespace>/<name>' of a declared network",
        ),
    ]


def test_a_bad_node_override_leaves_the_next_cluster_networks_at_their_own_indexes() -> None:
    change = edits(
        put("clusterNetworks[0].nodeOverrides[0].nics", []),
        put("clusterNetworks[1].nodeOverrides", [{"node": "node3", "nics": ["eth3"]}]),
        put("lab.nodes.node1.nics", ["eth1"]),
        add("clusterNetworks", {"name": "storage", "uplink": {"nics": ["eth4"]}}),
    )
    assert errors_of(change) == [
        ("clusterNetworks[0].nodeOverrides[0].nics", "List should have at least 1 item after validation, not 0", ""),
        (
            "clusterNetworks[1].nodeOverrides[0].node",
            "node 'node3' is not in `nodes` (node1, node2)",
            "fix the node name or add it to `nodes`",
        ),
        (
            "clusterNetworks[2].name",
            "'storage' is already declared at clusterNetworks[1]",
            "give each cluster network a unique name",
        ),
        (
            "lab.nodes.node1.nics",
            "lab node 'node1' lacks eth2, the uplink of clusterNetworks[1] 'storage' there",
            "add the NICs to the lab node",
        ),
        (
            "lab.nodes.node1.nics",
            "lab node 'node1' lacks eth4, the uplink of clusterNetworks[2] 'storage' there",
            "add the NICs to the lab node",
        ),
        (
            "lab.nodes.node2.nics",
            "lab node 'node2' lacks eth4, the uplink of clusterNetworks[2] 'storage' there",
            "add the NICs to the lab node",
        ),
    ]


def test_a_bad_node_name_leaves_the_next_nodes_at_their_own_indexes() -> None:
    change = edits(
        insert("nodes", "Node_0"),
        add("nodes", "node2"),
        put("clusterNetworks[0].nodeOverrides[0].node", "node3"),
        drop("lab"),
    )
    assert errors_of(change) == [
        ("nodes[0]", f"String should match pattern '{DNS_SUBDOMAIN}'", DNS_FIX),
        (
            "clusterNetworks[0].nodeOverrides[0].node",
            "node 'node3' is not in `nodes` (node1, node2, node2)",
            "fix the node name or add it to `nodes`",
        ),
        ("nodes[3]", "node 'node2' is listed twice (first at nodes[2])", "list each node once"),
    ]


def test_every_section_can_lose_items_at_once() -> None:
    """Each section's indexes are counted on its own."""
    change = edits(
        insert("nodes", "Node_0"),
        insert("clusterNetworks", {"name": "Bad", "uplink": {"nics": ["eth9"]}}),
        insert("networks", {"name": "vlan300", "clusterNetwork": "vlan", "vlan": 5000}),
        insert("virtualMachines", {"name": "vm", "interfaces": []}),
        add("nodes", "node1"),
        put("clusterNetworks[2].uplink.nics", ["eth1"]),  # storage takes vlan's NIC on node1
        put("networks[2].clusterNetwork", "nowhere"),
        put("virtualMachines[2].interfaces[0].network", "vlan400"),
    )
    assert errors_of(change) == [
        ("clusterNetworks[0].name", f"String should match pattern '{DNS_LABEL}'", DNS_FIX),
        ("nodes[0]", f"String should match pattern '{DNS_SUBDOMAIN}'", DNS_FIX),
        ("networks[0].vlan", "Input should be less than or equal to 4094", ""),
        ("virtualMachines[0].interfaces", "List should have at least 1 item after validation, not 0", ""),
        (
            "clusterNetworks[2].uplink.nics",
            "NIC 'eth1' is already the uplink of cluster network 'vlan' on node 'node1'",
            "give each cluster network its own NICs, or a node override",
        ),
        (
            "lab.nodes.node2.nics",
            "lab node 'node2' lacks eth1, the uplink of clusterNetworks[2] 'storage' there",
            "add the NICs to the lab node",
        ),
        (
            "networks[2].clusterNetwork",
            "cluster network 'nowhere' is not in the plan (known: vlan, storage)",
            "name one of clusterNetworks[].name",
        ),
        ("nodes[3]", "node 'node1' is listed twice (first at nodes[1])", "list each node once"),
        (
            "virtualMachines[2].interfaces[0].network",
            "network 'default/vlan400' is not in the plan",
            "use 'mgmt' or '<namespace>/<name>' of a declared network",
        ),
    ]


def test_a_bad_service_cidr_is_not_replaced_by_the_default_in_the_route_checks() -> None:
    # 10.53.1.0/24 overlaps the default service CIDR (10.53.0.0/16), which the user did not choose here.
    change = edits(
        put("serviceCIDR", "10.53.0.0/33"),
        put("networks[1].route", {"mode": "manual", "cidr": "10.53.1.0/24", "gateway": "10.53.1.1"}),
    )
    assert [path for path, _, _ in errors_of(change)] == ["serviceCIDR"]
