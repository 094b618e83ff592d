"""KubeVirt VirtualMachines: interfaces, networks, cloud-init network data, and the management Service.

Facts: shared/reference/harvester-objects.md, "KubeVirt VirtualMachine network parts" and
"cloud-init network data". The NICs keep the plan's order in the guest (eth0, eth1, ...); which one takes
the default route and DNS is model/guest.py's decision. cloud-init data lives in a Secret per VM.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
from dataclasses import dataclass
from typing import Any

import yaml

from harvester_network.model import guest, names
from harvester_network.model.plan import Interface, Network, Plan, VirtualMachine
from harvester_network.model.userdata import CLOUD_CONFIG_HEADER, UserDataError, parse_cloud_config, user_data_kind
from harvester_network.render import harvester as h
from harvester_network.render.nad import compact_json

GUEST_AGENT_PACKAGE = "qemu-guest-agent"
ANY_IPV4 = "0.0.0.0/0"
CLOUD_INIT_SECRET_SUFFIX = "-cloudinit"


@dataclass(frozen=True)
class GuestNic:
    """One VM NIC as the guest sees it: its name there, MAC, address mode and network."""

    interface: Interface
    index: int  # in the VM's interfaces
    guest_name: str  # eth0, eth1, ... in plan order (set by network data)
    mac: str
    network: Network | None  # None for the management network


def guest_nics(plan: Plan, vm: VirtualMachine) -> list[GuestNic]:
    return [
        GuestNic(nic, i, f"eth{i}", vm.mac_of(nic), None if nic.is_management else plan.network_for(vm, nic))
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


@dataclass(frozen=True)
class _GuestChoice:
    """model/guest.py's decisions for one VM: the default-route NIC, its static gateway, DNS."""

    default_route: int | None
    gateway: ipaddress.IPv4Address | None
    dhcp_dns: int | None
    dns_holder: int  # the NIC that carries the nameservers in v2 data
    nameservers: list[str]


def _guest_choice(plan: Plan, vm: VirtualMachine) -> _GuestChoice:
    default = guest.default_route_index(plan, vm)
    gateway = None if default is None else guest.static_gateway(plan, vm, vm.interfaces[default])
    return _GuestChoice(
        default,
        gateway,
        guest.dhcp_dns_index(vm),
        default or 0,
        [str(server) for server in guest.guest_nameservers(plan, vm)],
    )


def _v2_ethernet(nic: GuestNic, choice: _GuestChoice) -> dict[str, Any]:
    eth: dict[str, Any] = {"match": {"macaddress": nic.mac}, "set-name": nic.guest_name}
    ip = nic.interface.ip
    if ip == "dhcp":
        eth["dhcp4"] = True
        overrides = {"use-routes": False} if nic.index != choice.default_route else {}
        if nic.index != choice.dhcp_dns:
            overrides["use-dns"] = False
        if overrides:
            eth["dhcp4-overrides"] = overrides
    else:
        eth["dhcp4"] = False
        if ip != "none":
            eth["addresses"] = [ip]
            if nic.index == choice.default_route and choice.gateway is not None:
                # Not `to: default`: cloud-init before 25.3 fails on it for networkd and eni.
                eth["routes"] = [{"to": ANY_IPV4, "via": str(choice.gateway)}]
    if nic.index == choice.dns_holder and choice.nameservers:
        eth["nameservers"] = {"addresses": choice.nameservers}
    return eth


def _v1_physical(nic: GuestNic, choice: _GuestChoice) -> dict[str, Any]:
    ip = nic.interface.ip
    if ip == "dhcp":
        subnets: list[dict[str, Any]] = [{"type": "dhcp"}]
    elif ip == "none":
        subnets = []
    else:
        subnet: dict[str, Any] = {"type": "static", "address": ip}
        if nic.index == choice.default_route and choice.gateway is not None:
            subnet["gateway"] = str(choice.gateway)
        subnets = [subnet]
    return {"type": "physical", "name": nic.guest_name, "mac_address": nic.mac, "subnets": subnets}


def network_data(plan: Plan, vm: VirtualMachine) -> dict[str, Any]:
    """cloud-init NoCloud networkData (no top-level `network:` key), NICs matched by MAC.

    One default route (model/guest.py). Version 1 cannot keep a secondary DHCP NIC from installing routes
    (the rules warn); version 2 (the default) can, except where the guest's cloud-init renders eni or sysconfig.
    """
    nics = guest_nics(plan, vm)
    choice = _guest_choice(plan, vm)
    if vm.network_data_version == 1:
        config = [_v1_physical(n, choice) for n in nics]
        if choice.nameservers:
            config.append({"type": "nameserver", "address": choice.nameservers})
        return {"version": 1, "config": config}
    return {"version": 2, "ethernets": {n.guest_name: _v2_ethernet(n, choice) for n in nics}}


def _enables_guest_agent(command: object) -> bool:
    words = command.split() if isinstance(command, str) else command if isinstance(command, list) else []
    return "enable" in words and any(str(word).startswith(GUEST_AGENT_PACKAGE) for word in words)


def user_data(vm: VirtualMachine) -> str:
    """The VM's user data. A #cloud-config (or none) gets qemu-guest-agent installed and enabled: it reports
    the VLAN IPs to Harvester (#1553). Scripts, jinja templates and other formats are passed as they are (the
    rules warn). The user's text is kept, comments included, unless it already has `packages` or `runcmd`:
    then the merged document is written anew, without its comments."""
    text = vm.user_data or ""
    if not text.strip():
        text = CLOUD_CONFIG_HEADER + "\n"
    if user_data_kind(text) != "cloud-config":
        return text
    config = parse_cloud_config(text)  # validated by the rules
    additions: dict[str, Any] = {}
    package_names = [p if isinstance(p, str) else p[0] for p in config.get("packages", [])]  # a name or [name, version]
    if GUEST_AGENT_PACKAGE not in package_names:
        additions["packages"] = [GUEST_AGENT_PACKAGE]
    if not any(_enables_guest_agent(command) for command in config.get("runcmd", [])):
        additions["runcmd"] = [["systemctl", "enable", "--now", f"{GUEST_AGENT_PACKAGE}.service"]]
    if not additions:
        return text
    merged = {**config, **{key: [*config.get(key, []), *values] for key, values in additions.items()}}
    appended = text.rstrip("\n") + "\n" + yaml.safe_dump(additions)  # packages, then runcmd: already sorted
    with contextlib.suppress(UserDataError):  # appending to a flow-style document, say, breaks it
        if parse_cloud_config(appended) == merged:
            return appended
    return CLOUD_CONFIG_HEADER + "\n" + yaml.safe_dump(merged, sort_keys=False)


def cloud_init_secret_name(vm: VirtualMachine) -> str:
    return f"{vm.name}{CLOUD_INIT_SECRET_SUFFIX}"


def cloud_init_secret_object(plan: Plan, vm: VirtualMachine) -> dict[str, Any]:
    """The VM's cloud-init data, as Harvester's UI keeps it: a Secret with `userdata` and `networkdata`.

    Always a Secret, never inline in the VM: user data may hold passwords and keys (the VM spec is readable by
    anyone who may list VMs), and KubeVirt refuses inline data past 2,048 bytes."""
    data = {"userdata": user_data(vm), "networkdata": yaml.safe_dump(network_data(plan, vm), sort_keys=False)}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": cloud_init_secret_name(vm),
            "namespace": vm.namespace,
            "labels": {h.LABEL_MANAGED_BY: h.MANAGED_BY},
        },
        "type": "Opaque",
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()},
    }


def virtual_machine_object(plan: Plan, vm: VirtualMachine) -> dict[str, Any]:
    fragments = network_fragments(plan, vm)
    template_metadata: dict[str, Any] = {"labels": {h.LABEL_VM_NAME: vm.name}}
    if fragments["annotations"]:
        template_metadata["annotations"] = fragments["annotations"]
    secret_ref = {"name": cloud_init_secret_name(vm)}
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
                        # Harvester's VM validator wants limits.memory or memory.guest (checkEmptyMemory,
                        # harvester/harvester pkg/webhook/resources/virtualmachine/validator.go).
                        "resources": {"requests": {"memory": vm.memory}, "limits": {"memory": vm.memory}},
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
                            "cloudInitNoCloud": {"secretRef": secret_ref, "networkDataSecretRef": secret_ref},
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
