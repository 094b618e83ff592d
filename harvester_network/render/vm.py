"""KubeVirt VirtualMachines: interfaces, networks, cloud-init network data, and the management Service.

Facts: shared/reference/harvester-objects.md, "KubeVirt VirtualMachine network parts" and
"cloud-init network data". The first NIC in the plan is the guest's first NIC and the only one
that may take a default route (Harvester #5276, #9944).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

import yaml

from harvester_network.model import names
from harvester_network.model.plan import Interface, ManualRoute, Network, Plan, VirtualMachine
from harvester_network.render import harvester as h
from harvester_network.render.nad import compact_json

GUEST_AGENT_PACKAGE = "qemu-guest-agent"


@dataclass(frozen=True)
class GuestNic:
    """One VM NIC as the guest sees it: its name there, MAC, address mode and network."""

    interface: Interface
    guest_name: str  # eth0, eth1, ... in plan order (set by network data)
    mac: str
    network: Network | None  # None for the management network

    @property
    def is_primary(self) -> bool:
        return self.guest_name == "eth0"


def guest_nics(plan: Plan, vm: VirtualMachine) -> list[GuestNic]:
    return [
        GuestNic(nic, f"eth{i}", vm.mac_of(nic), None if nic.is_management else plan.network_for(vm, nic))
        for i, nic in enumerate(vm.interfaces)
    ]


def _kubevirt_interface(nic: GuestNic) -> dict[str, Any]:
    out: dict[str, Any] = {"name": nic.interface.name, "model": nic.interface.model}
    out["masquerade" if nic.network is None else "bridge"] = {}
    out["macAddress"] = nic.mac
    if nic.interface.boot_order is not None:
        out["bootOrder"] = nic.interface.boot_order
    return out


def _kubevirt_network(nic: GuestNic) -> dict[str, Any]:
    if nic.network is None:
        return {"name": nic.interface.name, "pod": {}}
    return {"name": nic.interface.name, "multus": {"networkName": nic.network.ref}}


def network_fragments(plan: Plan, vm: VirtualMachine) -> dict[str, Any]:
    """The parts of a VirtualMachine that networking owns: interfaces, networks, template annotations."""
    nics = guest_nics(plan, vm)
    wait_for_lease = [n.interface.name for n in nics if n.network is not None and n.interface.ip == "dhcp"]
    annotations = {h.ANNOTATION_WAIT_FOR_LEASE: compact_json(wait_for_lease)} if wait_for_lease else {}
    return {
        "interfaces": [_kubevirt_interface(n) for n in nics],
        "networks": [_kubevirt_network(n) for n in nics],
        "annotations": annotations,
    }


def _default_gateway(nic: GuestNic) -> ipaddress.IPv4Address | None:
    if nic.network is not None and isinstance(nic.network.route, ManualRoute):
        return nic.network.route.gateway
    return None


def _v2_ethernet(nic: GuestNic) -> dict[str, Any]:
    eth: dict[str, Any] = {"match": {"macaddress": nic.mac}, "set-name": nic.guest_name}
    ip = nic.interface.ip
    if ip == "dhcp":
        eth["dhcp4"] = True
        if not nic.is_primary:
            eth["dhcp4-overrides"] = {"use-routes": False, "use-dns": False}
    elif ip == "none":
        eth["dhcp4"] = False
    else:
        eth["dhcp4"] = False
        eth["addresses"] = [ip]
        gateway = _default_gateway(nic)
        if nic.is_primary and gateway is not None:
            eth["routes"] = [{"to": "default", "via": str(gateway)}]
    return eth


def _v1_physical(nic: GuestNic) -> dict[str, Any]:
    ip = nic.interface.ip
    if ip == "dhcp":
        subnets: list[dict[str, Any]] = [{"type": "dhcp"}]
    elif ip == "none":
        subnets = []
    else:
        subnet: dict[str, Any] = {"type": "static", "address": ip}
        gateway = _default_gateway(nic)
        if nic.is_primary and gateway is not None:
            subnet["gateway"] = str(gateway)
        subnets = [subnet]
    return {"type": "physical", "name": nic.guest_name, "mac_address": nic.mac, "subnets": subnets}


def network_data(plan: Plan, vm: VirtualMachine) -> dict[str, Any]:
    """cloud-init NoCloud networkData (no top-level `network:` key), NICs matched by MAC.

    Version 1 cannot keep a secondary DHCP NIC from installing routes; version 2 (the default) can.
    """
    nics = guest_nics(plan, vm)
    if vm.network_data_version == 1:
        return {"version": 1, "config": [_v1_physical(n) for n in nics]}
    return {"version": 2, "ethernets": {n.guest_name: _v2_ethernet(n) for n in nics}}


def user_data(plan: Plan, vm: VirtualMachine) -> str:
    """The VM's user data; with a VLAN NIC it installs qemu-guest-agent, which reports VLAN IPs (#1553)."""
    has_vlan_nic = any(n.network is not None for n in guest_nics(plan, vm))
    text = vm.user_data or "#cloud-config\n"
    if not has_vlan_nic or not text.startswith("#cloud-config"):
        return text
    config = yaml.safe_load(text) or {}
    packages = config.setdefault("packages", [])
    if GUEST_AGENT_PACKAGE in packages:
        return text
    packages.append(GUEST_AGENT_PACKAGE)
    config.setdefault("runcmd", []).append(["systemctl", "enable", "--now", f"{GUEST_AGENT_PACKAGE}.service"])
    return "#cloud-config\n" + yaml.safe_dump(config, sort_keys=False)


def virtual_machine_object(plan: Plan, vm: VirtualMachine) -> dict[str, Any]:
    fragments = network_fragments(plan, vm)
    template_metadata: dict[str, Any] = {"labels": {h.LABEL_VM_NAME: vm.name}}
    if fragments["annotations"]:
        template_metadata["annotations"] = fragments["annotations"]
    return {
        "apiVersion": h.KUBEVIRT_API,
        "kind": "VirtualMachine",
        "metadata": {"name": vm.name, "namespace": vm.namespace, "labels": {h.LABEL_MANAGED_BY: h.MANAGED_BY}},
        "spec": {
            "runStrategy": "Always",
            "template": {
                "metadata": template_metadata,
                "spec": {
                    "domain": {
                        "cpu": {"cores": vm.cpu},
                        "resources": {"requests": {"memory": vm.memory}},
                        "devices": {
                            "disks": [
                                {"name": "rootdisk", "disk": {"bus": "virtio"}},
                                {"name": "cloudinitdisk", "disk": {"bus": "virtio"}},
                            ],
                            "interfaces": fragments["interfaces"],
                        },
                    },
                    "networks": fragments["networks"],
                    "volumes": [
                        {"name": "rootdisk", "containerDisk": {"image": vm.image}},
                        {
                            "name": "cloudinitdisk",
                            "cloudInitNoCloud": {
                                "userData": user_data(plan, vm),
                                "networkData": yaml.safe_dump(network_data(plan, vm), sort_keys=False),
                            },
                        },
                    ],
                },
            },
        },
    }


def management_service_object(vm: VirtualMachine) -> dict[str, Any] | None:
    """A stable address on the management network, whose VM IP changes on reboot.

    Selects `harvesterhci.io/vmName`, which Harvester puts on the launcher pod; the VM template sets it
    too, so the Service also works on clusters without Harvester.
    """
    service = vm.management_service
    if service is None:
        return None
    ports = []
    for port in service.ports:
        entry: dict[str, Any] = {
            "name": names.service_port_name(port.protocol, port.port, port.name),
            "port": port.port,
            "targetPort": port.target_port or port.port,
            "protocol": port.protocol,
        }
        ports.append(entry)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": vm.name, "namespace": vm.namespace, "labels": {h.LABEL_MANAGED_BY: h.MANAGED_BY}},
        "spec": {"type": service.type, "selector": {h.LABEL_VM_NAME: vm.name}, "ports": ports},
    }
