"""Cross-object rules: everything a single field's type cannot say.

Each rule returns `PlanIssue`s with the camelCase field path, what is wrong and the fix. The
rules run on a plan whose fields are valid; `load.py` runs them even when some items failed
field validation (those items are left out), so a user sees every error in one pass. Items are
named through `_Items`, which counts the left-out ones, so paths are those of the user's file.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from harvester_network.facts import DEFAULT_PVID
from harvester_network.model import guest, names
from harvester_network.model.issues import PlanIssue
from harvester_network.model.plan import ManagementService, ManualRoute, Network, Plan, VirtualMachine
from harvester_network.model.userdata import (
    CLOUD_CONFIG_HEADER,
    SECRET_DATA_MAX_BYTES,
    UserDataError,
    parse_cloud_config,
    user_data_kind,
)

# Stands for "every node not listed" when the plan gives no `nodes`.
_ANY_OTHER_NODE = "*"


@dataclass(frozen=True)
class _Items:
    """Names a top-level list item (`networks[4]`) by its index in the user's file.

    `origins`: for a section that lost items to field errors, the file index of each item the plan kept
    ("networks" -> [1, 2, 4]); a section dropped whole for its field errors (a bad `serviceCIDR`) has none.
    Only whole top-level items are dropped, so nested indexes need no mapping.
    """

    origins: Mapping[str, Sequence[int]]

    def as_written(self, section: str) -> bool:
        """False when the section lost anything to field errors: the plan then holds less, or a default."""
        return section not in self.origins

    def __call__(self, section: str, index: int) -> str:
        kept = self.origins.get(section)
        return f"{section}[{index if kept is None else kept[index]}]"


def plan_issues(
    plan: Plan, unresolved_ok: frozenset[str] = frozenset(), origins: Mapping[str, Sequence[int]] | None = None
) -> list[PlanIssue]:
    """Every cross-object problem of `plan`. `unresolved_ok`: names of items dropped for field errors,
    whose references must not be reported a second time. `origins`: where the items of lists that lost
    items stand in the user's file (see `_Items`), so paths and messages name the user's indexes."""
    at = _Items(origins or {})
    return [
        *_cluster_network_issues(plan, at),
        *_uplink_nic_conflicts(plan, at),
        *_network_issues(plan, unresolved_ok, at),
        *_virtual_machine_issues(plan, unresolved_ok, at),
        *_lab_issues(plan, unresolved_ok, at),
    ]


def _duplicates(keys: list[str]) -> Iterator[tuple[int, str, int]]:
    """(index, key, index of first occurrence) for every repeated key."""
    first: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key in first:
            yield i, key, first[key]
        else:
            first[key] = i


def _cluster_network_issues(plan: Plan, at: _Items) -> Iterator[PlanIssue]:
    for i, name, j in _duplicates([cn.name for cn in plan.cluster_networks]):
        yield PlanIssue(
            f"{at('clusterNetworks', i)}.name",
            f"'{name}' is already declared at {at('clusterNetworks', j)}",
            "give each cluster network a unique name",
        )
    if plan.nodes == []:
        yield PlanIssue(
            "nodes",
            "is an empty list: VlanConfigs are rendered per listed node, so no node would get any uplink",
            "omit `nodes` (one VlanConfig then covers every node) or list at least one node",
        )
    for i, node, j in _duplicates(plan.nodes or []):
        yield PlanIssue(
            at("nodes", i), f"node '{node}' is listed twice (first at {at('nodes', j)})", "list each node once"
        )
    vlanconfigs: dict[str, str] = {}
    for i, cn in enumerate(plan.cluster_networks):
        cn_path = at("clusterNetworks", i)
        for k, node, first in _duplicates([o.node for o in cn.node_overrides]):
            yield PlanIssue(
                f"{cn_path}.nodeOverrides[{k}].node",
                f"node '{node}' already has an override at nodeOverrides[{first}]",
                "keep one override per node",
            )
        if cn.node_overrides and plan.nodes is None:
            yield PlanIssue(
                f"{cn_path}.nodeOverrides",
                "per-node overrides need the plan's `nodes` list: Harvester's nodeSelector cannot say "
                "'every node except these', so the default uplink is rendered per listed node",
                "add `nodes: [...]` with every node of the cluster",
            )
        for k, override in enumerate(cn.node_overrides):
            if plan.nodes and override.node not in plan.nodes:  # an empty `nodes` is reported above
                yield PlanIssue(
                    f"{cn_path}.nodeOverrides[{k}].node",
                    f"node '{override.node}' is not in `nodes` ({', '.join(plan.nodes)})",
                    "fix the node name or add it to `nodes`",
                )
        # Different (cluster network, node) pairs can derive the same VlanConfig name ("a"+"b-c" vs "a-b"+"c").
        # Without `nodes`, a VlanConfig is named after its cluster network alone: duplicate names are reported above.
        for vc_node in plan.nodes or []:
            vc = names.vlanconfig_name(cn.name, vc_node)
            owner = f"cluster network '{cn.name}', node '{vc_node}'"
            # The same owner twice is a duplicate cluster network or node, reported above.
            if vc in vlanconfigs and vlanconfigs[vc] != owner:
                yield PlanIssue(
                    f"{cn_path}.name",
                    f"VlanConfig name '{vc}' of {owner} collides with the one of {vlanconfigs[vc]}",
                    "rename the cluster network so that '<clusterNetwork>-<node>' names stay unique",
                )
            vlanconfigs.setdefault(vc, owner)


def _nodes_to_check(plan: Plan) -> list[str]:
    if plan.nodes is not None:
        return list(plan.nodes)
    overridden = {o.node for cn in plan.cluster_networks for o in cn.node_overrides}
    return [*sorted(overridden), _ANY_OTHER_NODE]


def _uplink_nic_conflicts(plan: Plan, at: _Items) -> Iterator[PlanIssue]:
    """A NIC can be enslaved to one bond only, so two cluster networks cannot share it on a node."""
    for node in _nodes_to_check(plan):
        owner: dict[str, int] = {}
        for i, cn in enumerate(plan.cluster_networks):
            for nic in cn.uplink_for(node).nics:
                if nic in owner and owner[nic] != i:
                    other = plan.cluster_networks[owner[nic]].name
                    on = "every node" if node == _ANY_OTHER_NODE else f"node '{node}'"
                    yield PlanIssue(
                        f"{at('clusterNetworks', i)}.uplink.nics",
                        f"NIC '{nic}' is already the uplink of cluster network '{other}' on {on}",
                        "give each cluster network its own NICs, or a node override",
                    )
                owner.setdefault(nic, i)
    agent_links = {
        link: cn.name for cn in plan.cluster_networks for link in (names.bridge_name(cn.name), names.bond_name(cn.name))
    }
    for i, cn in enumerate(plan.cluster_networks):
        uplinks = [("uplink.nics", cn.uplink.nics)]
        uplinks += [(f"nodeOverrides[{k}].nics", o.nics) for k, o in enumerate(cn.node_overrides)]
        for where, nics in uplinks:
            for k, nic in enumerate(nics):
                if nic in agent_links:
                    yield PlanIssue(
                        f"{at('clusterNetworks', i)}.{where}[{k}]",
                        f"'{nic}' is the name the agent gives the bridge or bond of cluster network "
                        f"'{agent_links[nic]}': it cannot also be an uplink NIC",
                        "name the node's physical NIC (e.g. eth1)",
                    )


def _network_issues(plan: Plan, unresolved_ok: frozenset[str], at: _Items) -> Iterator[PlanIssue]:
    for i, ref, j in _duplicates([n.ref for n in plan.networks]):
        yield PlanIssue(
            f"{at('networks', i)}.name",
            f"network '{ref}' is already declared at {at('networks', j)}",
            "give each network a unique name within its namespace",
        )
    vids: dict[tuple[str, int], int] = {}
    for i, net in enumerate(plan.networks):
        base = at("networks", i)
        if plan.cluster_network(net.cluster_network) is None and net.cluster_network not in unresolved_ok:
            known = ", ".join(cn.name for cn in plan.cluster_networks) or "none declared"
            yield PlanIssue(
                f"{base}.clusterNetwork",
                f"cluster network '{net.cluster_network}' is not in the plan (known: {known})",
                "name one of clusterNetworks[].name",
            )
        key = (net.cluster_network, net.vlan)
        if net.vlan and key in vids:
            first = plan.networks[vids[key]]
            yield PlanIssue(
                f"{base}.vlan",
                f"VLAN {net.vlan} is also used by network '{first.ref}' on cluster network "
                f"'{net.cluster_network}'; both join one L2 segment",
                "allowed (as in Harvester), but make sure that is intended",
                severity="warning",
            )
        vids.setdefault(key, i)
        # The agent puts VLAN 1 untagged on the bridge (PVID 1), as Harvester does: VLAN 0 and VLAN 1 are one segment.
        other_untagged = (net.cluster_network, DEFAULT_PVID if net.vlan == 0 else 0)
        if net.vlan in (0, DEFAULT_PVID) and other_untagged in vids:
            first = plan.networks[vids[other_untagged]]
            yield PlanIssue(
                f"{base}.vlan",
                f"VLAN {net.vlan} and network '{first.ref}' (VLAN {first.vlan}) on cluster network "
                f"'{net.cluster_network}' are one untagged segment: the bridge sends VLAN 1 untagged (PVID 1), so "
                "their VMs and DHCP servers meet",
                "keep one of them, or move the VLAN-1 network to another VLAN ID",
                severity="warning",
            )
        # A VM on the network gets an on-link route for the cidr, which then takes the Service addresses it
        # overlaps away from the management network; a DHCP server pod's own Service traffic breaks the same way.
        service_cidr_known = at.as_written("serviceCIDR")  # a bad one was replaced by the default
        if service_cidr_known and isinstance(net.route, ManualRoute) and net.route.cidr.overlaps(plan.service_cidr):
            yield PlanIssue(
                f"{base}.route.cidr",
                f"{net.route.cidr} overlaps the cluster's service CIDR {plan.service_cidr}: "
                "workloads on this network would send traffic for those Service addresses onto the VLAN",
                "use a cidr outside the service CIDR (or set serviceCIDR to the cluster's real one)",
            )
        yield from _dhcp_server_issues(base, net)


def _address_role_issue(addr: ipaddress.IPv4Address, cidr: ipaddress.IPv4Network) -> str | None:
    if addr not in cidr:
        return f"is outside the route cidr {cidr}"
    on_edge = cidr.prefixlen < 31 and addr in (cidr.network_address, cidr.broadcast_address)
    return f"is the network or broadcast address of {cidr}" if on_edge else None


# dnsmasq raises any shorter lease to this, without a word (dnsmasq(8), --dhcp-range).
DNSMASQ_MIN_LEASE_S = 120


def _dhcp_server_issues(base: str, net: Network) -> Iterator[PlanIssue]:
    dhcp = net.dhcp_server
    if dhcp is None:
        return
    path = f"{base}.dhcpServer"
    if not isinstance(net.route, ManualRoute):
        yield PlanIssue(
            f"{base}.route",
            "a network with a dhcpServer needs a manual route: the server "
            "must know the subnet and gateway it hands out",
            "add route: {mode: manual, cidr: <subnet>, gateway: <router IP>}",
        )
        return
    cidr, gateway = net.route.cidr, net.route.gateway
    for field, addr in (("serverIP", dhcp.server_ip), ("range.start", dhcp.range.start), ("range.end", dhcp.range.end)):
        problem = _address_role_issue(addr, cidr)
        if problem:
            yield PlanIssue(f"{path}.{field}", f"{addr} {problem}", f"use a host address inside {cidr}")
        elif addr == gateway:
            yield PlanIssue(f"{path}.{field}", f"{addr} is the route's gateway", "use another address")
    if dhcp.range.start > dhcp.range.end:
        yield PlanIssue(
            f"{path}.range", f"start {dhcp.range.start} is after end {dhcp.range.end}", "swap start and end"
        )
    elif dhcp.range.start <= dhcp.server_ip <= dhcp.range.end:
        yield PlanIssue(
            f"{path}.serverIP",
            f"{dhcp.server_ip} lies inside the range it hands out ({dhcp.range.start}-{dhcp.range.end})",
            "move the server IP out of the range",
        )
    elif dhcp.range.start <= gateway <= dhcp.range.end:
        yield PlanIssue(f"{path}.range", f"the range contains the gateway {gateway}", "exclude the gateway")
    seconds = dhcp.lease_seconds
    if dhcp.backend == "dnsmasq" and seconds is not None and seconds < DNSMASQ_MIN_LEASE_S:
        yield PlanIssue(
            f"{path}.leaseTime",
            f"dnsmasq gives leases of at least {DNSMASQ_MIN_LEASE_S} seconds, so {dhcp.lease_time} becomes "
            f"{DNSMASQ_MIN_LEASE_S}s",
            f"set leaseTime to {DNSMASQ_MIN_LEASE_S} or more",
            severity="warning",
        )


def _virtual_machine_issues(plan: Plan, unresolved_ok: frozenset[str], at: _Items) -> Iterator[PlanIssue]:
    for i, key, j in _duplicates([f"{vm.namespace}/{vm.name}" for vm in plan.virtual_machines]):
        yield PlanIssue(
            f"{at('virtualMachines', i)}.name",
            f"VM '{key}' is already declared at {at('virtualMachines', j)}",
            "give each VM a unique name within its namespace",
        )
    macs: dict[tuple[str, str], str] = {}
    static_ips: dict[tuple[str, str], str] = {}
    for i, vm in enumerate(plan.virtual_machines):
        base = at("virtualMachines", i)
        for k, name, j in _duplicates([nic.name for nic in vm.interfaces]):
            yield PlanIssue(
                f"{base}.interfaces[{k}].name",
                f"interface '{name}' already exists at interfaces[{j}]",
                "give each interface a unique name",
            )
        management = [k for k, nic in enumerate(vm.interfaces) if nic.is_management]
        for k in management[1:]:
            yield PlanIssue(
                f"{base}.interfaces[{k}].network",
                f"a VM has at most one management (mgmt) interface; interfaces[{management[0]}] is already one",
                "attach this NIC to a VLAN network",
            )
        if vm.management_service and not management:
            yield PlanIssue(
                f"{base}.managementService",
                "a management Service needs an interface on 'mgmt'",
                "add {name: default, network: mgmt} or drop managementService",
            )
        if vm.management_service:
            yield from _service_port_issues(f"{base}.managementService", vm.management_service)
        # The Service is named after the VM, and Kubernetes wants Service names to be DNS-1035 labels.
        if vm.management_service and not vm.name[0].isalpha():
            yield PlanIssue(
                f"{base}.name",
                f"'{vm.name}' names the VM's management Service too, and a Service name must start with a letter",
                "rename the VM so it starts with a letter, or drop managementService",
            )
        subnets: list[tuple[int, str, ipaddress.IPv4Network]] = []  # (interface, network, its subnet)
        for k, nic in enumerate(vm.interfaces):
            path = f"{base}.interfaces[{k}]"
            net = plan.network_for(vm, nic)
            if nic.is_management:
                segment = names.MANAGEMENT_NETWORK
                if nic.ip != "dhcp":
                    yield PlanIssue(
                        f"{path}.ip",
                        "the management network is masqueraded: the guest gets its address by DHCP from KubeVirt",
                        "use ip: dhcp",
                    )
            elif net is None:
                ref = nic.network if "/" in nic.network else names.network_ref(vm.namespace, nic.network)
                if ref not in unresolved_ok:
                    yield PlanIssue(
                        f"{path}.network",
                        f"network '{ref}' is not in the plan",
                        "use 'mgmt' or '<namespace>/<name>' of a declared network",
                    )
                continue
            else:
                segment = net.cluster_network
                yield from _static_ip_issues(path, nic.ip, net)
                if nic.ip not in ("dhcp", "none"):
                    nic_key = f"{vm.namespace}/{vm.name}/{nic.name}"
                    owner = static_ips.setdefault((net.ref, nic.ip.split("/")[0]), nic_key)
                    if owner != nic_key:
                        yield PlanIssue(
                            f"{path}.ip",
                            f"{nic.ip} is already the address of {owner} on '{net.ref}'",
                            "give every NIC its own address",
                        )
            if net is not None and isinstance(net.route, ManualRoute):
                for other_k, other_ref, other_cidr in subnets:
                    if other_ref != net.ref and net.route.cidr.overlaps(other_cidr):
                        yield PlanIssue(
                            f"{path}.network",
                            f"its subnet {net.route.cidr} overlaps {other_cidr} of interfaces[{other_k}]: the guest "
                            "gets two routes for the same addresses and uses only one NIC for them",
                            "attach the VM to networks with disjoint subnets",
                            severity="warning",
                        )
                        break
                subnets.append((k, net.ref, net.route.cidr))
            mac = vm.mac_of(nic)
            if (segment, mac) in macs:
                yield PlanIssue(
                    f"{path}.macAddress",
                    f"MAC {mac} is already used by {macs[segment, mac]} on cluster network '{segment}'",
                    "give every NIC a unique MAC",
                )
            macs.setdefault((segment, mac), f"{vm.namespace}/{vm.name}/{nic.name}")
        yield from _guest_issues(plan, base, vm)


def _guest_issues(plan: Plan, base: str, vm: VirtualMachine) -> Iterator[PlanIssue]:
    """KubeVirt's boot order rule, the user data, and what the guest's network data can say (model/guest.py)."""
    boot_orders: dict[int, int] = {}
    for k, nic in enumerate(vm.interfaces):
        if nic.boot_order is None:
            continue
        first = boot_orders.setdefault(nic.boot_order, k)
        if first != k:  # KubeVirt: validateInterfaceBootOrder in pkg/virt-api/.../vmi-create-admitter.go
            yield PlanIssue(
                f"{base}.interfaces[{k}].bootOrder",
                f"boot order {nic.boot_order} is already that of interfaces[{first}]; KubeVirt refuses the VM",
                "give each bootable NIC its own bootOrder",
            )
    if vm.user_data is not None:
        yield from _user_data_issues(f"{base}.userData", vm.user_data)
    if (
        not guest.guest_nameservers(plan, vm)
        and guest.dhcp_dns_index(vm) is None
        and any(n.ip != "none" for n in vm.interfaces)
    ):
        yield PlanIssue(
            f"{base}.dns",
            "the guest gets no nameserver (no NIC uses DHCP, no network's dhcpServer lists dns), so it cannot "
            "resolve names, not even to install qemu-guest-agent",
            "list the resolvers the guest should use, like dns: [10.0.0.53]",
            severity="warning",
        )
    default = guest.default_route_index(plan, vm)
    if vm.network_data_version == 1 and vm.dns and all(n.ip in ("dhcp", "none") for n in vm.interfaces):
        yield PlanIssue(
            f"{base}.dns",
            "network data version 1 hands `dns` only to static NICs where the guest's cloud-init renders netplan "
            "(Ubuntu): this VM has none, so those guests use only their DHCP servers' nameservers",
            "use networkDataVersion: 2 (the default)",
            severity="warning",
        )
    if vm.network_data_version == 1:
        for k, nic in enumerate(vm.interfaces):
            if nic.ip == "dhcp" and k != default:
                yield PlanIssue(
                    f"{base}.interfaces[{k}].ip",
                    "network data version 1 cannot keep this DHCP NIC from installing its server's default route: "
                    "the guest may get a second default route",
                    "use networkDataVersion: 2 (the default)" + ("" if nic.is_management else ", or a static ip here"),
                    severity="warning",
                )


def _user_data_issues(path: str, text: str) -> Iterator[PlanIssue]:
    size = len(text.encode())
    if size > SECRET_DATA_MAX_BYTES:
        yield PlanIssue(
            path,
            f"is {size} bytes; the VM's cloud-init Secret holds at most {SECRET_DATA_MAX_BYTES} (Kubernetes' limit)",
            "make it smaller, e.g. fetch large files from the guest with runcmd or write_files sources",
        )
        return
    kind = user_data_kind(text)
    if kind == "cloud-config":
        try:
            parse_cloud_config(text)
        except UserDataError as exc:
            yield PlanIssue(path, f"the #cloud-config {exc}", "fix the cloud-config so cloud-init can read it")
        return
    if not text.strip():
        return
    what = {"script": "a script (#!)", "jinja": "a jinja template"}.get(kind, "not a #cloud-config")
    yield PlanIssue(
        path,
        f"is {what}: qemu-guest-agent is not added, so Harvester will not show the VM's VLAN addresses",
        f"install and enable qemu-guest-agent yourself, or start the user data with {CLOUD_CONFIG_HEADER}",
        severity="warning",
    )


def _service_port_issues(path: str, service: ManagementService) -> Iterator[PlanIssue]:
    """Kubernetes rejects a Service listing a port/protocol or a port name twice."""
    ports = service.ports
    repeated = set()
    for k, key, j in _duplicates([f"{p.port}/{p.protocol}" for p in ports]):
        repeated.add(k)
        yield PlanIssue(f"{path}.ports[{k}]", f"port {key} is already listed at ports[{j}]", "list each port once")
    for k, name, j in _duplicates([names.service_port_name(p.protocol, p.port, p.name) for p in ports]):
        if k not in repeated:  # a repeated port repeats its default name too; one error is enough
            yield PlanIssue(
                f"{path}.ports[{k}].name",
                f"port name '{name}' is already used by ports[{j}]",
                "give each port its own name",
            )


def _static_ip_issues(path: str, ip: str, net: Network) -> Iterator[PlanIssue]:
    if ip in ("dhcp", "none") or not isinstance(net.route, ManualRoute):
        return
    iface = ipaddress.IPv4Interface(ip)
    problem = _address_role_issue(iface.ip, net.route.cidr)
    if problem or iface.network != net.route.cidr:
        yield PlanIssue(
            f"{path}.ip",
            f"{ip} {problem or f'does not match the route cidr {net.route.cidr}'}",
            f"use a host address in {net.route.cidr} with /{net.route.cidr.prefixlen}",
        )
    elif iface.ip == net.route.gateway:
        yield PlanIssue(f"{path}.ip", f"{ip} is the network's gateway", "use another address")
    elif net.dhcp_server and iface.ip == net.dhcp_server.server_ip:
        yield PlanIssue(f"{path}.ip", f"{ip} is the address of the DHCP server of '{net.ref}'", "use another address")
    elif net.dhcp_server and net.dhcp_server.range.start <= iface.ip <= net.dhcp_server.range.end:
        yield PlanIssue(
            f"{path}.ip", f"{ip} lies inside the DHCP range of '{net.ref}'", "use an address outside the range"
        )


def _lab_issues(plan: Plan, unresolved_ok: frozenset[str], at: _Items) -> Iterator[PlanIssue]:
    lab = plan.lab
    if lab is None:
        return
    vm_names = {vm.name for vm in plan.virtual_machines}
    for vm, node in lab.placement.items():
        if vm not in vm_names and vm not in unresolved_ok:
            yield PlanIssue(f"lab.placement.{vm}", f"VM '{vm}' is not in virtualMachines", "fix the VM name")
        if node not in lab.nodes:
            yield PlanIssue(f"lab.placement.{vm}", f"node '{node}' is not in lab.nodes", "place it on a lab node")
    for node, spec in lab.nodes.items():
        if plan.nodes is not None and node not in plan.nodes:
            yield PlanIssue(f"lab.nodes.{node}", f"node '{node}' is not in `nodes`", "add it to `nodes`")
        for i, cn in enumerate(plan.cluster_networks):
            missing = [nic for nic in cn.uplink_for(node).nics if nic not in spec.nics]
            if missing:
                yield PlanIssue(
                    f"lab.nodes.{node}.nics",
                    f"lab node '{node}' lacks {', '.join(missing)}, the "
                    f"uplink of {at('clusterNetworks', i)} '{cn.name}' there",
                    "add the NICs to the lab node",
                )
