"""render/vm.py compared whole: the VirtualMachine, its v1 and v2 network data, the cloud-init Secret, the
management Service and the user data's guest-agent additions, for VMs that mix every NIC kind (management,
DHCP, static, `ip: none`), so a dropped key, a default route on the wrong NIC or a lost override fails."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml

from harvester_network.model import Plan, load_plan
from harvester_network.render.vm import (
    cloud_init_secret_object,
    management_service_object,
    network_data,
    user_data,
    virtual_machine_object,
)

FRONT = {"mode": "manual", "cidr": "10.100.0.0/24", "gateway": "10.100.0.1"}
BACK = {"mode": "manual", "cidr": "10.200.0.0/24", "gateway": "10.200.0.1"}
SERVICE = {"ports": [{"port": 22}, {"port": 443, "name": "https", "targetPort": 8443}], "type": "NodePort"}
MIXED = [
    {"name": "default", "network": "mgmt", "bootOrder": 1},
    {"name": "fr", "network": "default/front", "macAddress": "52:54:00:01:00:01"},
    {"name": "bk", "network": "default/back", "macAddress": "52:54:00:01:00:02", "ip": "10.200.0.11/24",
     "model": "e1000"},
    {"name": "quiet", "network": "default/back", "macAddress": "52:54:00:01:00:03", "ip": "none"},
]  # fmt: skip
STATICS = [
    {"name": "fr", "network": "front", "macAddress": "52:54:00:02:00:01", "ip": "10.100.0.12/24"},
    {"name": "bk", "network": "back", "macAddress": "52:54:00:02:00:02", "ip": "10.200.0.12/24"},
    {"name": "dh", "network": "back", "macAddress": "52:54:00:02:00:03"},
    {"name": "quiet", "network": "back", "macAddress": "52:54:00:02:00:04", "ip": "none"},
]
V1 = [
    {"name": "fr", "network": "front", "macAddress": "52:54:00:03:00:01", "ip": "10.100.0.13/24"},
    {"name": "bk", "network": "back", "macAddress": "52:54:00:03:00:02", "ip": "10.200.0.13/24"},
    {"name": "dh", "network": "back", "macAddress": "52:54:00:03:00:03"},
    {"name": "quiet", "network": "back", "macAddress": "52:54:00:03:00:04", "ip": "none"},
]
DHCP_FIRST = [
    {"name": "dh", "network": "front", "macAddress": "52:54:00:04:00:01"},
    {"name": "bk", "network": "back", "macAddress": "52:54:00:04:00:02"},
]
MANAGEMENT_MAC = "52:54:00:61:04:26"  # derived from the VM and NIC names (model/plan.py)


@pytest.fixture(scope="module")
def plan() -> Plan:
    loaded, _ = load_plan(
        {
            "clusterNetworks": [{"name": "vlan", "uplink": {"nics": ["eth1"]}}],
            "networks": [
                {"name": "front", "clusterNetwork": "vlan", "vlan": 100, "route": FRONT},
                {"name": "back", "clusterNetwork": "vlan", "vlan": 200, "route": BACK},
            ],
            "virtualMachines": [
                {
                    "name": "mixed",
                    "namespace": "apps",
                    "cpu": 2,
                    "memory": "2Gi",
                    "image": "img:1",
                    "interfaces": MIXED,
                    "managementService": SERVICE,
                },
                {"name": "statics", "dns": ["10.100.0.1"], "interfaces": STATICS},
                {"name": "v1", "networkDataVersion": 1, "dns": ["10.100.0.1"], "interfaces": V1},
                {"name": "dhcp-first", "interfaces": DHCP_FIRST},
            ],
        }
    )
    return loaded


def _vm(plan: Plan, name: str) -> Any:
    return next(vm for vm in plan.virtual_machines if vm.name == name)


def _bridge(name: str, mac: str, model: str = "virtio") -> dict[str, Any]:
    return {"name": name, "model": model, "bridge": {}, "macAddress": mac}


def _multus(name: str, network: str) -> dict[str, Any]:
    return {"name": name, "multus": {"networkName": f"default/{network}"}}


def test_mixed_vm_whole(plan: Plan) -> None:
    assert virtual_machine_object(plan, _vm(plan, "mixed")) == {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {"name": "mixed", "namespace": "apps", "labels": {"app.kubernetes.io/managed-by": "hvnet"}},
        "spec": {
            "runStrategy": "Always",
            "template": {
                "metadata": {
                    "labels": {"harvesterhci.io/vmName": "mixed"},
                    "annotations": {"harvesterhci.io/waitForLeaseInterfaceNames": '["fr"]'},  # DHCP VLAN NICs only
                },
                "spec": {
                    "domain": {
                        "cpu": {"cores": 2},
                        "resources": {"requests": {"memory": "2Gi"}, "limits": {"memory": "2Gi"}},
                        "devices": {
                            "disks": [
                                {"name": "rootdisk", "disk": {"bus": "virtio"}},
                                {"name": "cloudinitdisk", "disk": {"bus": "virtio"}},
                            ],
                            "interfaces": [
                                {
                                    "name": "default",
                                    "model": "virtio",
                                    "masquerade": {},
                                    "macAddress": MANAGEMENT_MAC,
                                    "bootOrder": 1,
                                },
                                _bridge("fr", "52:54:00:01:00:01"),
                                _bridge("bk", "52:54:00:01:00:02", "e1000"),
                                _bridge("quiet", "52:54:00:01:00:03"),
                            ],
                        },
                    },
                    "networks": [
                        {"name": "default", "pod": {}},
                        _multus("fr", "front"),
                        _multus("bk", "back"),
                        _multus("quiet", "back"),
                    ],
                    "volumes": [
                        {"name": "rootdisk", "containerDisk": {"image": "img:1"}},
                        {
                            "name": "cloudinitdisk",
                            "cloudInitNoCloud": {
                                "secretRef": {"name": "mixed-cloudinit"},
                                "networkDataSecretRef": {"name": "mixed-cloudinit"},
                            },
                        },
                    ],
                },
            },
        },
    }


def test_vm_without_dhcp_nic_has_no_annotations(plan: Plan) -> None:
    loaded, _ = load_plan({"virtualMachines": [{"name": "solo", "interfaces": [{"name": "m", "network": "mgmt"}]}]})
    template = virtual_machine_object(loaded, loaded.virtual_machines[0])["spec"]["template"]
    assert template["metadata"] == {"labels": {"harvesterhci.io/vmName": "solo"}}
    assert template["spec"]["domain"]["devices"]["interfaces"][0].keys() == {
        "name",
        "model",
        "masquerade",
        "macAddress",
    }


def test_v2_network_data_management_first(plan: Plan) -> None:
    # The management NIC takes the default route and DNS; the VLAN DHCP NIC neither; no static NIC a route.
    assert network_data(plan, _vm(plan, "mixed")) == {
        "version": 2,
        "ethernets": {
            "eth0": {"match": {"macaddress": MANAGEMENT_MAC}, "set-name": "eth0", "dhcp4": True},
            "eth1": {
                "match": {"macaddress": "52:54:00:01:00:01"},
                "set-name": "eth1",
                "dhcp4": True,
                "dhcp4-overrides": {"use-routes": False, "use-dns": False},
            },
            "eth2": {
                "match": {"macaddress": "52:54:00:01:00:02"},
                "set-name": "eth2",
                "dhcp4": False,
                "addresses": ["10.200.0.11/24"],
            },
            "eth3": {"match": {"macaddress": "52:54:00:01:00:03"}, "set-name": "eth3", "dhcp4": False},
        },
    }


def test_v2_network_data_static_first(plan: Plan) -> None:
    # The first static NIC: the default route via its network's gateway, and the plan's DNS; a secondary
    # static NIC gets no route, a secondary DHCP NIC neither routes nor (no DHCP DNS chosen) needs a DNS override.
    assert network_data(plan, _vm(plan, "statics")) == {
        "version": 2,
        "ethernets": {
            "eth0": {
                "match": {"macaddress": "52:54:00:02:00:01"},
                "set-name": "eth0",
                "dhcp4": False,
                "addresses": ["10.100.0.12/24"],
                "routes": [{"to": "0.0.0.0/0", "via": "10.100.0.1"}],
                "nameservers": {"addresses": ["10.100.0.1"]},
            },
            "eth1": {
                "match": {"macaddress": "52:54:00:02:00:02"},
                "set-name": "eth1",
                "dhcp4": False,
                "addresses": ["10.200.0.12/24"],
            },
            "eth2": {
                "match": {"macaddress": "52:54:00:02:00:03"},
                "set-name": "eth2",
                "dhcp4": True,
                "dhcp4-overrides": {"use-routes": False},
            },
            "eth3": {"match": {"macaddress": "52:54:00:02:00:04"}, "set-name": "eth3", "dhcp4": False},
        },
    }


def test_v2_network_data_dhcp_first(plan: Plan) -> None:
    # The first DHCP NIC keeps its server's route and DNS; the second takes neither.
    assert network_data(plan, _vm(plan, "dhcp-first")) == {
        "version": 2,
        "ethernets": {
            "eth0": {"match": {"macaddress": "52:54:00:04:00:01"}, "set-name": "eth0", "dhcp4": True},
            "eth1": {
                "match": {"macaddress": "52:54:00:04:00:02"},
                "set-name": "eth1",
                "dhcp4": True,
                "dhcp4-overrides": {"use-routes": False, "use-dns": False},
            },
        },
    }


def test_v1_network_data(plan: Plan) -> None:
    assert network_data(plan, _vm(plan, "v1")) == {
        "version": 1,
        "config": [
            {
                "type": "physical",
                "name": "eth0",
                "mac_address": "52:54:00:03:00:01",
                "subnets": [{"type": "static", "address": "10.100.0.13/24", "gateway": "10.100.0.1"}],
            },
            {
                "type": "physical",
                "name": "eth1",
                "mac_address": "52:54:00:03:00:02",
                "subnets": [{"type": "static", "address": "10.200.0.13/24"}],
            },
            {"type": "physical", "name": "eth2", "mac_address": "52:54:00:03:00:03", "subnets": [{"type": "dhcp"}]},
            {"type": "physical", "name": "eth3", "mac_address": "52:54:00:03:00:04", "subnets": []},
            {"type": "nameserver", "address": ["10.100.0.1"]},
        ],
    }


def test_v1_network_data_without_dns() -> None:
    loaded, _ = load_plan(
        {"virtualMachines": [{"name": "m", "networkDataVersion": 1, "interfaces": [{"name": "a", "network": "mgmt"}]}]}
    )
    vm = loaded.virtual_machines[0]
    assert network_data(loaded, vm) == {
        "version": 1,
        "config": [{"type": "physical", "name": "eth0", "mac_address": vm.mac_of(vm.interfaces[0]),
                    "subnets": [{"type": "dhcp"}]}],
    }  # fmt: skip


def test_cloud_init_secret_whole(plan: Plan) -> None:
    vm = _vm(plan, "mixed")
    secret = cloud_init_secret_object(plan, vm)
    assert {key: base64.b64decode(value).decode() for key, value in secret.pop("data").items()} == {
        "userdata": user_data(vm),
        "networkdata": yaml.safe_dump(network_data(plan, vm), sort_keys=False),
    }
    assert secret == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "mixed-cloudinit",
            "namespace": "apps",
            "labels": {"app.kubernetes.io/managed-by": "hvnet"},
        },
        "type": "Opaque",
    }


def test_management_service_whole(plan: Plan) -> None:
    assert management_service_object(_vm(plan, "mixed")) == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "mixed", "namespace": "apps", "labels": {"app.kubernetes.io/managed-by": "hvnet"}},
        "spec": {
            "type": "NodePort",
            "selector": {"harvesterhci.io/vmName": "mixed"},
            "ports": [
                {"name": "tcp-22", "port": 22, "targetPort": 22, "protocol": "TCP"},
                {"name": "https", "port": 443, "targetPort": 8443, "protocol": "TCP"},
            ],
        },
    }
    assert management_service_object(_vm(plan, "statics")) is None


ENABLE = "- - systemctl\n  - enable\n  - --now\n  - qemu-guest-agent.service\n"
ADDED = f"packages:\n- qemu-guest-agent\nruncmd:\n{ENABLE}"


@pytest.mark.parametrize(
    ("given", "rendered"),
    [
        (None, f"#cloud-config\npackages:\n- qemu-guest-agent\nruncmd:\n{ENABLE}"),
        ("  \n", f"#cloud-config\npackages:\n- qemu-guest-agent\nruncmd:\n{ENABLE}"),
        # Comments kept: the additions are appended.
        ("#cloud-config\n# mine\nhostname: a\n", f"#cloud-config\n# mine\nhostname: a\n{ADDED}"),
        # A start without enable, another package: the missing parts merged into the user's lists, rewritten.
        ("#cloud-config\npackages: [htop]\nruncmd: ['systemctl start qemu-guest-agent']\n",
         "#cloud-config\npackages:\n- htop\n- qemu-guest-agent\nruncmd:\n- systemctl start qemu-guest-agent\n"
         + ENABLE),
        ("#cloud-config\npackages: [[htop, '2'], qemu-guest-agent]\n",
         f"#cloud-config\npackages: [[htop, '2'], qemu-guest-agent]\nruncmd:\n{ENABLE}"),
        ("#cloud-config\nruncmd: ['enable qemu']\n",
         f"#cloud-config\nruncmd:\n- enable qemu\n{ENABLE}packages:\n- qemu-guest-agent\n"),
    ],
)  # fmt: skip
def test_user_data(given: str | None, rendered: str) -> None:
    loaded, _ = load_plan(
        {"virtualMachines": [{"name": "u", "userData": given, "interfaces": [{"name": "a", "network": "mgmt"}]}]}
    )
    assert user_data(loaded.virtual_machines[0]) == rendered


@pytest.mark.parametrize(
    "given",
    [
        # Already there (a package name, a [name, version] pair; a string or list command): nothing added.
        "#cloud-config\npackages: [qemu-guest-agent]\nruncmd: ['systemctl enable --now qemu-guest-agent']\n",
        "#cloud-config\npackages: [[qemu-guest-agent, '1']]\nruncmd: [[systemctl, enable, qemu-guest-agent.service]]\n",
        "#!/bin/sh\necho hi\n",  # not a cloud-config: passed as it is
    ],
)
def test_user_data_kept(given: str) -> None:
    loaded, _ = load_plan(
        {"virtualMachines": [{"name": "u", "userData": given, "interfaces": [{"name": "a", "network": "mgmt"}]}]}
    )
    assert user_data(loaded.virtual_machines[0]) == given


def test_user_data_flow_style_rewritten() -> None:
    # Appending block keys to a flow-style mapping does not read back as the merge: the document is rewritten.
    text = "#cloud-config\n{hostname: a}\n"
    loaded, _ = load_plan(
        {"virtualMachines": [{"name": "u", "userData": text, "interfaces": [{"name": "a", "network": "mgmt"}]}]}
    )
    assert user_data(loaded.virtual_machines[0]) == (
        f"#cloud-config\nhostname: a\npackages:\n- qemu-guest-agent\nruncmd:\n{ENABLE}"
    )


def test_v2_nameservers_follow_a_later_default_route() -> None:
    # The first NIC has no address: the second takes the default route, and the nameservers go with it.
    loaded, _ = load_plan(
        {
            "clusterNetworks": [{"name": "vlan", "uplink": {"nics": ["eth1"]}}],
            "networks": [{"name": "front", "clusterNetwork": "vlan", "vlan": 100, "route": FRONT}],
            "virtualMachines": [
                {
                    "name": "late",
                    "dns": ["10.100.0.53"],
                    "interfaces": [
                        {"name": "q", "network": "front", "macAddress": "52:54:00:05:00:01", "ip": "none"},
                        {"name": "s", "network": "front", "macAddress": "52:54:00:05:00:02", "ip": "10.100.0.15/24"},
                    ],
                }
            ],
        }
    )
    assert network_data(loaded, loaded.virtual_machines[0]) == {
        "version": 2,
        "ethernets": {
            "eth0": {"match": {"macaddress": "52:54:00:05:00:01"}, "set-name": "eth0", "dhcp4": False},
            "eth1": {
                "match": {"macaddress": "52:54:00:05:00:02"},
                "set-name": "eth1",
                "dhcp4": False,
                "addresses": ["10.100.0.15/24"],
                "routes": [{"to": "0.0.0.0/0", "via": "10.100.0.1"}],
                "nameservers": {"addresses": ["10.100.0.53"]},
            },
        },
    }
