"""Plan -> the lab's topology, as plain data (pure; no I/O).

What the lab builds: a switch (`hvt-sw`) whose ports trunk what `hvnet plan`'s switch-port checklist
says, one namespace per node with its NICs, a router and an untagged host on the switch, the plan's
DHCP workloads, and the VMs. VM attachments come from the *rendered* objects (the NAD's `spec.config`
and the VirtualMachine's networks, MACs and cloud-init networkData), so the lab tests what we ship.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from typing import Any

import yaml

from harvester_network.facts import DEFAULT_PVID, MAX_MTU
from harvester_network.model import names
from harvester_network.model.plan import ManualRoute, Network, Plan, VirtualMachine
from harvester_network.render import render_plan
from harvester_network.render.dhcp import DHCP_INTERFACE, server_address
from harvester_network.render.nodeplan import ALL_NODES, node_plan

PREFIX = "hvt-"  # every namespace the lab creates starts with this; `down` removes them all
SWITCH_NS = "hvt-sw"
SWITCH_BRIDGE = "sw-br"
ROUTER_NS = "hvt-rtr"
UNTAGGED_HOST_NS = "hvt-untagged"
UPLINK_IF = "eth0"  # the router's and untagged host's one NIC
SWITCH_MTU = MAX_MTU  # passes any MTU a plan may set; node NICs, bonds and bridges set their own MTU
# The untagged (PVID 1) management LAN: node host IPs, the router, the untagged host.
MANAGEMENT_CIDR = ipaddress.IPv4Network("172.31.255.0/24")


def untagged(vlan: int) -> bool:
    """VLAN 0 (untagged) and VLAN 1 (the PVID) both travel untagged on the switch."""
    return vlan <= DEFAULT_PVID


@dataclass(frozen=True)
class SwitchPort:
    """One veth pair: `name` in the switch, `peer` in `peer_ns`, trunking `tagged_vids` with PVID 1 untagged."""

    name: str
    peer_ns: str
    peer: str
    tagged_vids: tuple[int, ...]
    label: str  # who is cabled here, for people: "node1 eth1", "router"
    node: str | None = None
    nic: str | None = None


@dataclass(frozen=True)
class LabNodeSpec:
    name: str
    netns: str
    nics: tuple[str, ...]
    host_ip: ipaddress.IPv4Interface | None  # on management_nic, like a real node's host IP
    management_nic: str | None


@dataclass(frozen=True)
class RouterLeg:
    """The router's side of one routed network: an address on `ifname`, and DHCP when it serves it."""

    network: str  # <ns>/<name>
    vlan: int
    ifname: str
    address: ipaddress.IPv4Interface
    dhcp_range: tuple[ipaddress.IPv4Address, ipaddress.IPv4Address] | None


@dataclass(frozen=True)
class DhcpWorkload:
    """A plan `dhcpServer` (dnsmasq backend): the rendered dnsmasq.conf in its own namespace."""

    net: Network
    netns: str
    node: str  # attached on this node's bridge, like the Deployment's pod through Multus
    nad_config: str
    ifname: str  # the rendered Deployment's Multus interface name
    address: str  # serverIP/prefix, as the rendered Deployment sets it


@dataclass(frozen=True)
class VmAttachment:
    """One VM NIC as rendered: attached with the NAD's CNI config, MAC from the VirtualMachine object."""

    vm: str  # <ns>/<name>
    interface: str
    network: str
    mac: str
    nad_config: str
    pod_ifname: str  # net1, net2, ... as Multus names them


@dataclass(frozen=True)
class VmSpec:
    ref: str
    netns: str
    node: str
    attachments: tuple[VmAttachment, ...]
    network_data: dict[str, Any]  # parsed from the rendered cloudInitNoCloud.networkData
    management_nics: tuple[str, ...]  # pod-network NICs: outside the lab's scope


@dataclass(frozen=True)
class Topology:
    nodes: tuple[LabNodeSpec, ...]
    switch_ports: tuple[SwitchPort, ...]
    router_legs: tuple[RouterLeg, ...]
    router_address: ipaddress.IPv4Interface | None
    untagged_host: tuple[ipaddress.IPv4Interface, ...]  # its addresses; empty: no untagged host
    dhcp_workloads: tuple[DhcpWorkload, ...]
    vms: tuple[VmSpec, ...]
    unplaced_vms: tuple[str, ...] = ()
    objects: tuple[dict[str, Any], ...] = field(default=(), repr=False)

    @property
    def has_router(self) -> bool:
        return self.router_address is not None

    def node(self, name: str) -> LabNodeSpec:
        return next(n for n in self.nodes if n.name == name)

    def namespaces(self) -> list[str]:
        out = [SWITCH_NS, *(n.netns for n in self.nodes)]
        if self.has_router:
            out.append(ROUTER_NS)
        if self.untagged_host:
            out.append(UNTAGGED_HOST_NS)
        return out + [d.netns for d in self.dhcp_workloads] + [v.netns for v in self.vms]


def node_netns(node: str) -> str:
    return f"{PREFIX}{node}"


def vm_netns(namespace: str, name: str) -> str:
    return f"{PREFIX}vm-{name}" if namespace == "default" else f"{PREFIX}vm-{namespace}-{name}"


def dhcp_netns(net: Network) -> str:
    return f"{PREFIX}dhcp-{net.name}" if net.namespace == "default" else f"{PREFIX}dhcp-{net.namespace}-{net.name}"


def _port_name(node: str, nic: str, index: int) -> str:
    name = f"{node}-{nic}"
    return name if len(name) <= names.IFNAME_MAX else f"swp{index}"


def _switch_ports(
    plan: Plan, lab_nodes: dict[str, tuple[str, ...]], router_vids: tuple[int, ...] | None
) -> list[SwitchPort]:
    """Node NIC ports from the switch-port checklist; NICs it does not list are access ports (PVID 1)."""
    checklist: dict[tuple[str, str], set[int]] = {}
    for row in node_plan(plan).switch_ports:
        for node in lab_nodes if row.node == ALL_NODES else [row.node]:
            checklist.setdefault((node, row.nic), set()).update(row.tagged_vids)
    ports: list[SwitchPort] = []
    for node, nics in lab_nodes.items():
        for nic in nics:
            vids = tuple(sorted(checklist.get((node, nic), set())))
            name = _port_name(node, nic, len(ports))
            ports.append(SwitchPort(name, node_netns(node), nic, vids, f"{node} {nic}", node, nic))
    if router_vids is not None:
        ports.append(SwitchPort("router", ROUTER_NS, UPLINK_IF, router_vids, "router"))
    return ports


def _parse_objects(objects: list[dict[str, Any]]) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """NAD configs by `<ns>/<name>`, and VirtualMachine objects by `<ns>/<name>`."""
    nads: dict[str, str] = {}
    vms: dict[str, dict[str, Any]] = {}
    for obj in objects:
        meta = obj["metadata"]
        ref = names.network_ref(meta.get("namespace", "default"), meta["name"])
        if obj["kind"] == "NetworkAttachmentDefinition":
            nads[ref] = obj["spec"]["config"]
        elif obj["kind"] == "VirtualMachine":
            vms[ref] = obj
    return nads, vms


def _rendered_network_data(vm_object: dict[str, Any]) -> dict[str, Any]:
    for volume in vm_object["spec"]["template"]["spec"]["volumes"]:
        if "cloudInitNoCloud" in volume:
            data = yaml.safe_load(volume["cloudInitNoCloud"].get("networkData") or "{}")
            return data if isinstance(data, dict) else {}
    return {}


def _vm_spec(vm_object: dict[str, Any], nads: dict[str, str], node: str) -> VmSpec:
    meta = vm_object["metadata"]
    spec = vm_object["spec"]["template"]["spec"]
    macs = {i["name"]: i.get("macAddress", "") for i in spec["domain"]["devices"]["interfaces"]}
    attachments: list[VmAttachment] = []
    management = []
    for network in spec["networks"]:
        if "multus" not in network:
            management.append(network["name"])
            continue
        ref = network["multus"]["networkName"]
        ref = ref if "/" in ref else names.network_ref(meta["namespace"], ref)
        attachments.append(
            VmAttachment(
                names.network_ref(meta["namespace"], meta["name"]),
                network["name"],
                ref,
                macs[network["name"]],
                nads[ref],
                f"net{len(attachments) + 1}",
            )
        )
    return VmSpec(
        names.network_ref(meta["namespace"], meta["name"]),
        vm_netns(meta["namespace"], meta["name"]),
        node,
        tuple(attachments),
        _rendered_network_data(vm_object),
        tuple(management),
    )


def _hosts(cidr: ipaddress.IPv4Network) -> list[ipaddress.IPv4Address]:
    return list(cidr.hosts())


def router_dhcp_range(
    cidr: ipaddress.IPv4Network, taken: set[ipaddress.IPv4Address]
) -> tuple[ipaddress.IPv4Address, ipaddress.IPv4Address] | None:
    """The longest run of free addresses in the upper half of the subnet, short of its last host
    (kept for the untagged host). `taken`: the gateway and the plan's static addresses."""
    hosts = _hosts(cidr)[:-1]
    best: list[ipaddress.IPv4Address] = []
    run: list[ipaddress.IPv4Address] = []
    for host in hosts[len(hosts) // 2 :]:
        run = [] if host in taken else [*run, host]
        best = run if len(run) > len(best) else best
    return (best[0], best[-1]) if best else None


def _static_interfaces(plan: Plan, net: Network) -> list[ipaddress.IPv4Interface]:
    return [
        ipaddress.IPv4Interface(nic.ip)
        for vm in plan.virtual_machines
        for nic in vm.interfaces
        if nic.ip not in ("dhcp", "none") and plan.network_for(vm, nic) == net
    ]


def _routed(net: Network) -> ManualRoute | None:
    return net.route if isinstance(net.route, ManualRoute) else None


def _router_legs(plan: Plan) -> list[RouterLeg]:
    legs = []
    for net in plan.networks:
        route = _routed(net)
        if route is None:
            continue
        ifname = UPLINK_IF if untagged(net.vlan) else f"{UPLINK_IF}.{net.vlan}"
        address = ipaddress.IPv4Interface(f"{route.gateway}/{route.cidr.prefixlen}")
        # A plan dhcpServer serves its own network; the router only routes there.
        taken = {route.gateway, *(i.ip for i in _static_interfaces(plan, net))}
        dhcp = None if net.dhcp_server is not None else router_dhcp_range(route.cidr, taken)
        legs.append(RouterLeg(net.ref, net.vlan, ifname, address, dhcp))
    return legs


def _untagged_subnets(plan: Plan) -> list[ipaddress.IPv4Network]:
    """Subnets of untagged networks: from the route, else from the VMs' static addresses."""
    subnets: list[ipaddress.IPv4Network] = []
    for net in plan.networks:
        if not untagged(net.vlan):
            continue
        route = _routed(net)
        found = [route.cidr] if route else []
        found += [i.network for i in _static_interfaces(plan, net)]
        for subnet in found:  # a static address in the routed subnet names it again: one host address per subnet
            if subnet not in subnets:
                subnets.append(subnet)
    return subnets


def _management_address(index: int) -> ipaddress.IPv4Interface:
    return ipaddress.IPv4Interface(f"{_hosts(MANAGEMENT_CIDR)[index]}/{MANAGEMENT_CIDR.prefixlen}")


def _vm_objects_by_name(plan: Plan, vm_objects: dict[str, dict[str, Any]]) -> dict[str, tuple[VirtualMachine, Any]]:
    return {vm.name: (vm, vm_objects[names.network_ref(vm.namespace, vm.name)]) for vm in plan.virtual_machines}


class LabPlanError(ValueError):
    """The plan is valid, but the lab cannot model it faithfully."""


def _check_fits_lab(plan: Plan) -> None:
    """Refuse, with every reason, a valid plan the lab cannot run faithfully: before anything boots."""
    if plan.lab is None or not plan.lab.nodes:
        raise LabPlanError("the plan has no `lab:` section with nodes; add lab.nodes (and lab.placement)")
    reasons = []
    # Every node NIC is cabled to one switch, so two cluster networks with the same VLAN would be joined there.
    carried: dict[int, str] = {}
    routed_vlans: dict[int, str] = {}
    for net in plan.networks:
        segment = DEFAULT_PVID if untagged(net.vlan) else net.vlan
        other = carried.setdefault(segment, net.cluster_network)
        if other != net.cluster_network:
            what = "untagged traffic" if segment == DEFAULT_PVID else f"VLAN {segment}"
            reasons.append(
                f"cluster networks '{other}' and '{net.cluster_network}' both carry {what} (network {net.ref}); "
                "the lab cables every node NIC to one switch, which would join them: use distinct VLAN IDs"
            )
        route = _routed(net)
        if route is not None and route.cidr.overlaps(MANAGEMENT_CIDR):
            reasons.append(
                f"network {net.ref} ({route.cidr}) overlaps the lab's management LAN {MANAGEMENT_CIDR}; "
                "use another CIDR"
            )
        if route is not None and plan.lab.router and not untagged(net.vlan):
            first = routed_vlans.setdefault(net.vlan, net.ref)
            if first != net.ref:
                reasons.append(
                    f"networks {first} and {net.ref} both route VLAN {net.vlan}: the lab's router has one leg per "
                    "VLAN; give one of them another VLAN ID, or set lab.router: false"
                )
        if net.dhcp_server is not None and net.dhcp_server.backend == "ippool":
            reasons.append(
                f"network {net.ref} has dhcpServer.backend: ippool, served by Harvester's vm-dhcp-controller, which "
                "the lab does not run; use backend: dnsmasq to try the network in the lab"
            )
    namespaces: dict[str, str] = {}
    for vm in plan.virtual_machines:
        first_namespace = namespaces.setdefault(vm.name, vm.namespace)
        if first_namespace != vm.namespace and vm.name in plan.lab.placement:
            reasons.append(
                f"VM name '{vm.name}' is in namespaces {first_namespace} and {vm.namespace}; lab.placement places "
                "VMs by name: rename one of them"
            )
    if reasons:
        raise LabPlanError("the lab cannot run this plan: " + "; ".join(reasons))


def build_topology(plan: Plan) -> Topology:
    """The whole lab for a validated plan with a `lab:` section; LabPlanError when the lab cannot model it."""
    _check_fits_lab(plan)
    assert plan.lab is not None
    lab = plan.lab
    objects = render_plan(plan)
    nads, vm_objects = _parse_objects(objects)
    lab_nodes = {name: tuple(spec.nics) for name, spec in lab.nodes.items()}
    nodes = []
    for index, (name, spec) in enumerate(lab.nodes.items()):
        host_ip = _management_address(10 + index) if spec.management_nic else None
        nodes.append(LabNodeSpec(name, node_netns(name), tuple(spec.nics), host_ip, spec.management_nic))
    legs = _router_legs(plan) if lab.router else []
    router_vids = tuple(sorted({leg.vlan for leg in legs if not untagged(leg.vlan)})) if lab.router else None
    ports = _switch_ports(plan, lab_nodes, router_vids)
    untagged_addresses: list[ipaddress.IPv4Interface] = []
    if lab.untagged_host:
        ports.append(SwitchPort("untagged", UNTAGGED_HOST_NS, UPLINK_IF, (), "untagged host"))
        untagged_addresses = [_management_address(-1)] + [
            ipaddress.IPv4Interface(f"{_hosts(s)[-1]}/{s.prefixlen}") for s in _untagged_subnets(plan)
        ]
    first_node = next(iter(lab.nodes))
    workloads = [
        DhcpWorkload(net, dhcp_netns(net), first_node, nads[net.ref], DHCP_INTERFACE, server_address(net))
        for net in plan.networks
        if net.dhcp_server is not None and net.dhcp_server.backend == "dnsmasq"
    ]
    vms = []
    unplaced = []
    for name, (vm, vm_object) in _vm_objects_by_name(plan, vm_objects).items():
        node = lab.placement.get(name)
        if node is None:
            unplaced.append(vm.name)
            continue
        vms.append(_vm_spec(vm_object, nads, node))
    return Topology(
        nodes=tuple(nodes),
        switch_ports=tuple(ports),
        router_legs=tuple(legs),
        router_address=_management_address(0) if lab.router else None,
        untagged_host=tuple(untagged_addresses),
        dhcp_workloads=tuple(workloads),
        vms=tuple(vms),
        unplaced_vms=tuple(unplaced),
        objects=tuple(objects),
    )


def nad_vlan(nad_config: str) -> int:
    """The VLAN a NAD config puts its VM ports in (0: untagged)."""
    return int(json.loads(nad_config).get("vlan", 0))
