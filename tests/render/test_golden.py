"""Golden tests of rendered objects, reviewed field by field against shared/reference/harvester-objects.md.

Each expectation names the reference section it comes from ("ref: <section>"). Where we add to
what Harvester itself writes, the comment says why ("ours: ...").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from harvester_network.model import Plan, load_plan, load_plan_file
from harvester_network.render import object_key, render_plan
from harvester_network.render.dhcp import dnsmasq_conf
from harvester_network.render.vm import network_data, network_fragments, user_data

QUICKSTART = Path(__file__).parents[2] / "examples" / "quickstart" / "plan.yaml"


@pytest.fixture(scope="module")
def quickstart() -> Plan:
    return load_plan_file(QUICKSTART)[0]


@pytest.fixture(scope="module")
def objects(quickstart: Plan) -> dict[str, dict[str, Any]]:
    return {object_key(o): o for o in render_plan(quickstart)}


def test_cluster_network(objects: dict[str, dict[str, Any]]) -> None:
    # ref: ClusterNetwork - network.harvesterhci.io/v1beta1, cluster-scoped, no spec.
    # ours: the description goes into Rancher's description annotation, which Harvester's UI shows.
    assert objects["ClusterNetwork/vlan"] == {
        "apiVersion": "network.harvesterhci.io/v1beta1",
        "kind": "ClusterNetwork",
        "metadata": {
            "name": "vlan",
            "labels": {"app.kubernetes.io/managed-by": "hvnet"},
            "annotations": {"field.cattle.io/description": "VM traffic"},
        },
    }


def test_vlanconfig_per_node_with_override(objects: dict[str, dict[str, Any]]) -> None:
    # ref: VlanConfig spec{clusterNetwork, nodeSelector, description, uplink{nics, linkAttributes, bondOptions}};
    # ref: Version map - a per-node override is a VlanConfig selecting one node (kubernetes.io/hostname).
    # ref: the mutator's label network.harvesterhci.io/clusternetwork; we set the same value up front.
    expected_nics = {"node1": ["eth1"], "node2": ["eno2"], "node3": ["eth1"]}
    for node, nics in expected_nics.items():
        assert objects[f"VlanConfig/vlan-{node}"] == {
            "apiVersion": "network.harvesterhci.io/v1beta1",
            "kind": "VlanConfig",
            "metadata": {
                "name": f"vlan-{node}",
                "labels": {"network.harvesterhci.io/clusternetwork": "vlan", "app.kubernetes.io/managed-by": "hvnet"},
            },
            "spec": {
                "clusterNetwork": "vlan",
                "description": "VM traffic",
                "nodeSelector": {"kubernetes.io/hostname": node},
                "uplink": {
                    "nics": nics,
                    "linkAttributes": {"mtu": 1500, "txQLen": -1},  # ref: txQLen default -1
                    "bondOptions": {"mode": "active-backup", "miimon": 100},  # ref: bond modes; miimon -1 means 100
                },
            },
        }
    # ref: one VlanConfig per cluster network per node - no other VlanConfig may match these nodes.
    assert sorted(k for k in objects if k.startswith("VlanConfig/")) == [f"VlanConfig/vlan-{n}" for n in expected_nics]


def test_vlanconfig_for_all_nodes_when_nodes_unknown() -> None:
    # ref: nodeSelector - empty = all nodes.
    plan, _ = load_plan(
        {"clusterNetworks": [{"name": "cn1", "uplink": {"nics": ["eth1", "eth2"], "bondMode": "802.3ad", "mtu": 9000}}]}
    )
    vlanconfigs = [o for o in render_plan(plan) if o["kind"] == "VlanConfig"]
    assert [(v["metadata"]["name"], v["spec"]["nodeSelector"], v["spec"]["uplink"]) for v in vlanconfigs] == [
        (
            "cn1",
            {},
            {
                "nics": ["eth1", "eth2"],
                "linkAttributes": {"mtu": 9000, "txQLen": -1},
                "bondOptions": {"mode": "802.3ad", "miimon": 100},
            },
        )
    ]


def test_tagged_nad(objects: dict[str, dict[str, Any]]) -> None:
    nad = objects["NetworkAttachmentDefinition/default/vlan100"]
    # ref: NetworkAttachmentDefinition - labels clusternetwork, type L2VlanNetwork, vlan-id as a string.
    assert nad["metadata"] == {
        "name": "vlan100",
        "namespace": "default",
        "labels": {
            "network.harvesterhci.io/clusternetwork": "vlan",
            "network.harvesterhci.io/type": "L2VlanNetwork",
            "network.harvesterhci.io/vlan-id": "100",
            "app.kubernetes.io/managed-by": "hvnet",
        },
        # ref: route annotation, manual mode with cidr and gateway.
        "annotations": {
            "network.harvesterhci.io/route": '{"mode":"manual","cidr":"10.100.0.0/24","gateway":"10.100.0.1"}'
        },
    }
    # ref: spec.config, key order as in the reference; bridge "<cn>-br".
    # ours: preserveDefaultVlan false on tagged networks (harvester/harvester#8816); mtu = the cluster
    # network's MTU (ref: `mtu` must equal it; Harvester #4353/#4752 lose it).
    assert nad["spec"]["config"] == (
        '{"cniVersion":"0.3.1","name":"vlan100","type":"bridge","bridge":"vlan-br","promiscMode":true,'
        '"vlan":100,"preserveDefaultVlan":false,"mtu":1500,"ipam":{}}'
    )
    assert nad["apiVersion"] == "k8s.cni.cncf.io/v1"


def test_untagged_nad(objects: dict[str, dict[str, Any]]) -> None:
    nad = objects["NetworkAttachmentDefinition/default/untagged"]
    # ref: type UntaggedNetwork when vlan 0, and vlan-id only on L2VlanNetwork.
    assert nad["metadata"]["labels"] == {
        "network.harvesterhci.io/clusternetwork": "vlan",
        "network.harvesterhci.io/type": "UntaggedNetwork",
        "app.kubernetes.io/managed-by": "hvnet",
    }
    config = json.loads(nad["spec"]["config"])
    # ours: untagged ports keep VLAN 1 (PVID 1), so no preserveDefaultVlan.
    assert config == {
        "cniVersion": "0.3.1",
        "name": "untagged",
        "type": "bridge",
        "bridge": "vlan-br",
        "promiscMode": True,
        "vlan": 0,
        "mtu": 1500,
        "ipam": {},
    }


def test_auto_route_and_no_mtu() -> None:
    plan, _ = load_plan(
        {
            "clusterNetworks": [{"name": "cn1", "uplink": {"nics": ["eth1"]}}],
            "networks": [
                {"name": "a", "clusterNetwork": "cn1", "vlan": 7, "route": {"mode": "auto", "serverIP": "10.7.0.2"}},
                {"name": "b", "namespace": "prod", "clusterNetwork": "cn1", "vlan": 8, "route": {"mode": "auto"}},
            ],
        }
    )
    nads = {o["metadata"]["name"]: o for o in render_plan(plan) if o["kind"] == "NetworkAttachmentDefinition"}
    # ref: route annotation mode auto, optionally at serverIPAddr.
    assert nads["a"]["metadata"]["annotations"] == {
        "network.harvesterhci.io/route": '{"mode":"auto","serverIPAddr":"10.7.0.2"}'
    }
    assert nads["b"]["metadata"]["annotations"] == {"network.harvesterhci.io/route": '{"mode":"auto"}'}
    assert nads["b"]["metadata"]["namespace"] == "prod"
    # mtu 0 (the default, 1500) puts no mtu into the config: the bridge plugin's veths get the kernel's 1500.
    assert "mtu" not in json.loads(nads["a"]["spec"]["config"])


def test_vm_network_fragments(quickstart: Plan) -> None:
    vm = next(v for v in quickstart.virtual_machines if v.name == "web-1")
    fragments = network_fragments(quickstart, vm)
    # ref: KubeVirt interfaces - masquerade for the pod network, bridge for VLAN networks, pinned MAC.
    assert fragments["interfaces"] == [
        {"name": "default", "model": "virtio", "masquerade": {}, "macAddress": vm.mac_of(vm.interfaces[0])},
        {"name": "nic-1", "model": "virtio", "bridge": {}, "macAddress": "52:54:00:aa:bb:01"},
    ]
    # ref: networks {name, pod: {}} or {name, multus: {networkName: "<ns>/<nad>"}}.
    assert fragments["networks"] == [
        {"name": "default", "pod": {}},
        {"name": "nic-1", "multus": {"networkName": "default/vlan100"}},
    ]
    # ref: harvesterhci.io/waitForLeaseInterfaceNames, a JSON list of the VLAN NICs that take a lease.
    assert fragments["annotations"] == {"harvesterhci.io/waitForLeaseInterfaceNames": '["nic-1"]'}


def test_pinned_mac_is_stable_and_unicast(quickstart: Plan) -> None:
    vm = next(v for v in quickstart.virtual_machines if v.name == "web-1")
    mac = vm.mac_of(vm.interfaces[0])
    assert mac.startswith("52:54:00:") and mac == vm.mac_of(vm.interfaces[0])
    assert int(mac.split(":")[0], 16) & 1 == 0


def test_network_data_v2(quickstart: Plan) -> None:
    vm = next(v for v in quickstart.virtual_machines if v.name == "db-1")
    # ref: cloud-init v2 - match by MAC, no top-level `network:` key, secondary DHCP NICs take no routes.
    assert network_data(quickstart, vm) == {
        "version": 2,
        "ethernets": {
            "eth0": {
                "match": {"macaddress": "52:54:00:aa:bb:02"},
                "set-name": "eth0",
                "dhcp4": False,
                "addresses": ["10.100.0.20/24"],
                "routes": [{"to": "default", "via": "10.100.0.1"}],
            },
            "eth1": {
                "match": {"macaddress": "52:54:00:aa:bb:03"},
                "set-name": "eth1",
                "dhcp4": True,
                "dhcp4-overrides": {"use-routes": False, "use-dns": False},
            },
        },
    }


def test_network_data_v1() -> None:
    plan, _ = load_plan(
        {
            "clusterNetworks": [{"name": "cn1", "uplink": {"nics": ["eth1"]}}],
            "networks": [
                {
                    "name": "n1",
                    "clusterNetwork": "cn1",
                    "vlan": 10,
                    "route": {"mode": "manual", "cidr": "10.0.0.0/24", "gateway": "10.0.0.1"},
                }
            ],
            "virtualMachines": [
                {
                    "name": "vm",
                    "networkDataVersion": 1,
                    "interfaces": [
                        {"name": "a", "network": "mgmt", "macAddress": "52:54:00:aa:bb:01"},
                        {"name": "b", "network": "n1", "macAddress": "52:54:00:aa:bb:02", "ip": "10.0.0.100/24"},
                    ],
                }
            ],
        }
    )
    # ref: cloud-init v1 - `type: physical` entries with subnets (not the seed's misplaced `- type: DHCP`);
    # the static secondary NIC gets no gateway (default route only on the first NIC).
    assert network_data(plan, plan.virtual_machines[0]) == {
        "version": 1,
        "config": [
            {"type": "physical", "name": "eth0", "mac_address": "52:54:00:aa:bb:01", "subnets": [{"type": "dhcp"}]},
            {
                "type": "physical",
                "name": "eth1",
                "mac_address": "52:54:00:aa:bb:02",
                "subnets": [{"type": "static", "address": "10.0.0.100/24"}],
            },
        ],
    }


def test_virtual_machine_object(objects: dict[str, dict[str, Any]], quickstart: Plan) -> None:
    vm = objects["VirtualMachine/default/db-1"]
    assert vm["apiVersion"] == "kubevirt.io/v1"
    template = vm["spec"]["template"]
    # ref: Harvester labels the launcher pod harvesterhci.io/vmName; ours: the template sets it too.
    assert template["metadata"]["labels"] == {"harvesterhci.io/vmName": "db-1"}
    cloud_init = next(v for v in template["spec"]["volumes"] if v["name"] == "cloudinitdisk")["cloudInitNoCloud"]
    assert yaml.safe_load(cloud_init["networkData"]) == network_data(quickstart, quickstart.virtual_machines[1])
    assert "network" not in yaml.safe_load(cloud_init["networkData"])
    # ref: VLAN NICs need qemu-guest-agent in the guest to report their IP (#1553).
    assert yaml.safe_load(cloud_init["userData"])["packages"] == ["qemu-guest-agent"]
    assert [i["name"] for i in template["spec"]["domain"]["devices"]["interfaces"]] == ["nic-1", "nic-2"]


def test_user_data_keeps_users_packages(quickstart: Plan) -> None:
    vm = quickstart.virtual_machines[1].model_copy(update={"user_data": "#cloud-config\npackages: [htop]\n"})
    assert yaml.safe_load(user_data(quickstart, vm))["packages"] == ["htop", "qemu-guest-agent"]
    # Not cloud-config (a shell script): left exactly as the user wrote it.
    script = quickstart.virtual_machines[1].model_copy(update={"user_data": "#!/bin/sh\necho hi\n"})
    assert user_data(quickstart, script) == "#!/bin/sh\necho hi\n"


def test_management_service(objects: dict[str, dict[str, Any]]) -> None:
    # ref: a Service selecting harvesterhci.io/vmName gives a management-network VM a stable address.
    assert objects["Service/default/web-1"] == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web-1", "namespace": "default", "labels": {"app.kubernetes.io/managed-by": "hvnet"}},
        "spec": {
            "type": "ClusterIP",
            "selector": {"harvesterhci.io/vmName": "web-1"},
            "ports": [{"name": "tcp-22", "port": 22, "targetPort": 22, "protocol": "TCP"}],
        },
    }


DHCP_PLAN = {
    "clusterNetworks": [{"name": "cn1", "uplink": {"nics": ["eth1"]}}],
    "networks": [
        {
            "name": "vlan300",
            "clusterNetwork": "cn1",
            "vlan": 300,
            "route": {"mode": "manual", "cidr": "10.30.0.0/24", "gateway": "10.30.0.1"},
            "dhcpServer": {
                "serverIP": "10.30.0.2",
                "range": {"start": "10.30.0.100", "end": "10.30.0.200"},
                "leaseTime": "2h",
                "dns": ["10.30.0.1", "1.1.1.1"],
            },
        }
    ],
}


def test_dnsmasq_workload() -> None:
    plan, _ = load_plan(DHCP_PLAN)
    objs = {object_key(o): o for o in render_plan(plan)}
    net = plan.networks[0]
    assert dnsmasq_conf(net).splitlines()[1:] == [
        "port=0",
        "interface=net1",
        "bind-interfaces",
        "dhcp-authoritative",
        "dhcp-range=10.30.0.100,10.30.0.200,255.255.255.0,7200s",
        "dhcp-option=option:router,10.30.0.1",
        "dhcp-option=option:dns-server,10.30.0.1,1.1.1.1",
        "dhcp-leasefile=/var/lib/dnsmasq/dnsmasq.leases",
        "log-dhcp",
    ]
    assert objs["ConfigMap/default/vlan300-dhcp"]["data"] == {"dnsmasq.conf": dnsmasq_conf(net)}
    pod = objs["Deployment/default/vlan300-dhcp"]["spec"]["template"]
    # Multus attaches the pod to the VLAN's NAD as net1.
    assert json.loads(pod["metadata"]["annotations"]["k8s.v1.cni.cncf.io/networks"]) == [
        {"name": "vlan300", "namespace": "default", "interface": "net1"}
    ]
    assert "ip addr add 10.30.0.2/24 dev net1" in pod["spec"]["containers"][0]["command"][-1]


def test_ippool_backend() -> None:
    data = json.loads(json.dumps(DHCP_PLAN))
    data["networks"][0]["dhcpServer"]["backend"] = "ippool"
    plan, _ = load_plan(data)
    objs = {object_key(o): o for o in render_plan(plan)}
    # ref: IPPool network.harvesterhci.io/v1alpha1 spec{networkName, ipv4Config{cidr, serverIP, router, dns,
    # leaseTime, pool{start, end, exclude}}}; leaseTime in seconds.
    assert objs["IPPool/default/vlan300"] == {
        "apiVersion": "network.harvesterhci.io/v1alpha1",
        "kind": "IPPool",
        "metadata": {"name": "vlan300", "namespace": "default", "labels": {"app.kubernetes.io/managed-by": "hvnet"}},
        "spec": {
            "networkName": "default/vlan300",
            "ipv4Config": {
                "cidr": "10.30.0.0/24",
                "serverIP": "10.30.0.2",
                "router": "10.30.0.1",
                "dns": ["10.30.0.1", "1.1.1.1"],
                "pool": {"start": "10.30.0.100", "end": "10.30.0.200", "exclude": []},
                "leaseTime": 7200,
            },
        },
    }
    assert "ConfigMap/default/vlan300-dhcp" not in objs


def test_apply_order(quickstart: Plan) -> None:
    kinds = [o["kind"] for o in render_plan(quickstart)]
    # What an object refers to is applied first: ClusterNetwork < VlanConfig < NAD < VM < Service.
    assert kinds == sorted(
        kinds, key=["ClusterNetwork", "VlanConfig", "NetworkAttachmentDefinition", "VirtualMachine", "Service"].index
    )
