"""Plan -> lab topology (pure): switch ports from the checklist, rendered attachments, addresses."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harvester_network.lab import fabric
from harvester_network.lab.topology import LabPlanError, build_topology, router_dhcp_range
from harvester_network.model import Plan, load_plan_file
from harvester_network.render import render_plan

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "tests/lab/plans/cluster.yaml"


def load(path: Path) -> Plan:
    plan, _ = load_plan_file(path)
    return plan


def edited(plan: Plan, **changes: object) -> Plan:
    return Plan.model_validate(plan.model_dump(by_alias=True) | changes)


def test_switch_ports_follow_the_switch_port_checklist() -> None:
    ports = {p.name: p for p in build_topology(load(CLUSTER)).switch_ports}
    assert ports["node1-eth1"].tagged_vids == (100, 200)
    assert ports["node2-eno2"].tagged_vids == (100, 200)  # node2's override
    assert ports["node2-eth1"].tagged_vids == ()  # not node2's uplink: an access port on PVID 1
    assert ports["node1-eth0"].tagged_vids == ()
    assert ports["router"].tagged_vids == (100, 200)
    assert ports["untagged"].tagged_vids == ()
    assert (ports["node2-eno2"].peer_ns, ports["node2-eno2"].peer) == ("hvt-node2", "eno2")


def test_a_network_added_to_the_plan_is_trunked_on_every_uplink_port() -> None:
    plan = load(CLUSTER)
    data = plan.model_dump(by_alias=True, mode="json")
    data["networks"].append({"name": "vlan300", "clusterNetwork": "vlan", "vlan": 300})
    ports = {p.name: p for p in build_topology(Plan.model_validate(data)).switch_ports}
    assert ports["node3-eth1"].tagged_vids == (100, 200, 300)
    assert ports["node2-eth1"].tagged_vids == ()


def test_vm_attachments_use_the_rendered_nad_config_and_mac() -> None:
    plan = load(CLUSTER)
    nads = {
        o["metadata"]["name"]: o["spec"]["config"]
        for o in render_plan(plan)
        if o["kind"] == "NetworkAttachmentDefinition"
    }
    vms = {vm.ref: vm for vm in build_topology(plan).vms}
    db = vms["default/db-1"]
    assert db.node == "node2" and db.netns == "hvt-vm-db-1"
    assert [(a.interface, a.network, a.mac, a.pod_ifname) for a in db.attachments] == [
        ("nic-1", "default/vlan100", "52:54:00:aa:bb:02", "net1"),
        ("nic-2", "default/vlan200", "52:54:00:aa:bb:03", "net2"),
    ]
    assert db.attachments[1].nad_config == nads["vlan200"]
    assert json.loads(db.attachments[1].nad_config)["vlan"] == 200
    web = vms["default/web-1"]
    assert web.management_nics == ("default",)  # the pod network: out of the lab's scope
    assert web.network_data["version"] == 2 and "eth1" in web.network_data["ethernets"]


def test_router_legs_and_dhcp_ranges_avoid_gateway_and_static_addresses() -> None:
    topology = build_topology(load(CLUSTER))
    legs = {leg.network: leg for leg in topology.router_legs}
    assert (legs["default/vlan100"].ifname, str(legs["default/vlan100"].address)) == ("eth0.100", "10.100.0.1/24")
    assert legs["default/untagged"].ifname == "eth0"  # untagged rides the router's untagged NIC
    cidr = ipaddress.IPv4Network("10.200.0.0/24")
    taken = {ipaddress.IPv4Address("10.200.0.1"), ipaddress.IPv4Address("10.200.0.150")}
    start, end = router_dhcp_range(cidr, taken) or (None, None)
    assert (str(start), str(end)) == ("10.200.0.151", "10.200.0.253")


def test_the_untagged_host_has_an_address_in_each_untagged_subnet() -> None:
    topology = build_topology(load(CLUSTER))
    assert "192.168.50.254/24" in [str(a) for a in topology.untagged_host]


def test_a_plan_dhcp_server_is_a_workload_and_the_router_does_not_serve_that_network() -> None:
    plan = load(ROOT / "examples/dhcp-server/plan.yaml")
    topology = build_topology(plan)
    assert not topology.has_router
    [workload] = topology.dhcp_workloads
    assert (workload.netns, workload.node, workload.address, workload.ifname) == (
        "hvt-dhcp-isolated-300",
        "node1",
        "10.30.0.2/24",
        "net1",
    )
    with_router = build_topology(edited(plan, lab={**plan.lab.model_dump(by_alias=True), "router": True}))  # type: ignore[union-attr]
    assert [leg.dhcp_range for leg in with_router.router_legs] == [None]


def test_cluster_networks_sharing_a_vlan_cannot_share_the_lab_switch() -> None:
    data = load(CLUSTER).model_dump(by_alias=True, mode="json")
    data["clusterNetworks"].append({"name": "storage", "uplink": {"nics": ["eth0"]}})
    data["networks"].append({"name": "san", "clusterNetwork": "storage", "vlan": 100})
    with pytest.raises(LabPlanError, match="'vlan' and 'storage' both carry VLAN 100"):
        build_topology(Plan.model_validate(data))


def test_a_plan_without_lab_nodes_is_refused() -> None:
    with pytest.raises(LabPlanError, match="no `lab:` section"):
        build_topology(edited(load(CLUSTER), lab=None))


def test_fabric_commands_trunk_the_checklist_vids_and_tag_router_legs() -> None:
    topology = build_topology(load(CLUSTER))
    ports = {p.name: p for p in topology.switch_ports}
    assert fabric.switch_port_trunk(ports["node2-eno2"]) == [
        ("vlan", "add", "dev", "node2-eno2", "vid", "100"),
        ("vlan", "add", "dev", "node2-eno2", "vid", "200"),
    ]
    assert fabric.switch_port_trunk(ports["node2-eth1"]) == []
    assert ("link", "set", "node2-eno2", "master", "sw-br") in fabric.switch_port(ports["node2-eno2"])
    legs = {leg.network: leg for leg in topology.router_legs}
    assert fabric.router_leg(legs["default/vlan100"])[0] == (
        "link", "add", "link", "eth0", "name", "eth0.100", "type", "vlan", "id", "100"
    )  # fmt: skip
    assert fabric.router_leg(legs["default/untagged"]) == [("addr", "add", "192.168.50.1/24", "dev", "eth0")]


def _quickstart() -> dict[str, Any]:
    return load(ROOT / "examples/quickstart/plan.yaml").model_dump(by_alias=True, mode="json", exclude_none=True)


def test_an_untagged_routed_network_with_a_static_vm_gives_the_untagged_host_one_address_there() -> None:
    data = _quickstart()
    data["virtualMachines"][2]["interfaces"][1]["ip"] = "192.168.50.20/24"  # cache-1 on `untagged`
    addresses = build_topology(Plan.model_validate(data)).untagged_host
    assert [str(a) for a in addresses].count("192.168.50.254/24") == 1  # twice was `RTNETLINK: File exists`


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda d: d["networks"][1].update(vlan=100), "default/vlan100 and default/vlan200 both route VLAN 100"),
        (
            lambda d: d["virtualMachines"].append(
                {"name": "cache-1", "namespace": "other", "interfaces": [{"name": "n", "network": "default/vlan200"}]}
            ),
            "VM name 'cache-1' is in namespaces default and other",
        ),
        (
            lambda d: d["networks"][0].update(
                dhcpServer={
                    "serverIP": "10.100.0.2",
                    "range": {"start": "10.100.0.100", "end": "10.100.0.150"},
                    "backend": "ippool",
                }
            ),
            "default/vlan100 has dhcpServer.backend: ippool",
        ),
    ],
    ids=["routed-vlan-twice", "vm-name-in-two-namespaces", "ippool"],
)
def test_valid_plans_the_lab_cannot_run_are_refused_with_the_reason(
    edit: Callable[[dict[str, Any]], None], reason: str
) -> None:
    data = _quickstart()
    edit(data)
    with pytest.raises(LabPlanError, match=re.escape(reason)):
        build_topology(Plan.model_validate(data))


def test_every_reason_is_given_at_once() -> None:
    data = _quickstart()
    data["networks"][1]["vlan"] = 100
    data["networks"][0]["dhcpServer"] = {
        "serverIP": "10.100.0.2",
        "range": {"start": "10.100.0.100", "end": "10.100.0.150"},
        "backend": "ippool",
    }
    with pytest.raises(
        LabPlanError, match=r"default/vlan100 has dhcpServer.*; networks default/vlan100 and default/vlan200 both route"
    ):
        build_topology(Plan.model_validate(data))
