"""What a VM's guest is told about its network, decided once for render and the rules.

The default route goes to the first NIC that has a gateway: the management (pod) network or a DHCP NIC (its
server's router), or a static NIC on a network with a manual route. Every other NIC gets no default route
(Harvester #5276, #9944). DNS comes from one DHCP NIC (the first: the default-route NIC when that uses
DHCP) and from the VM's `dns`; without either, from the `dns` of the DHCP servers of its static NICs' networks.
"""

from __future__ import annotations

import ipaddress

from harvester_network.model.plan import Interface, ManualRoute, Plan, VirtualMachine


def static_gateway(plan: Plan, vm: VirtualMachine, nic: Interface) -> ipaddress.IPv4Address | None:
    """The manual route's gateway of a static NIC's network; None for DHCP, 'none' and unrouted networks."""
    if nic.is_management or nic.ip in ("dhcp", "none"):
        return None
    network = plan.network_for(vm, nic)
    return network.route.gateway if network is not None and isinstance(network.route, ManualRoute) else None


def default_route_index(plan: Plan, vm: VirtualMachine) -> int | None:
    """Index of the one NIC that takes the default route, or None when no NIC has a gateway."""
    routed = (i for i, nic in enumerate(vm.interfaces) if nic.ip == "dhcp" or static_gateway(plan, vm, nic) is not None)
    return next(routed, None)


def dhcp_dns_index(vm: VirtualMachine) -> int | None:
    """Index of the DHCP NIC whose server's nameservers the guest uses, or None without a DHCP NIC: the first one
    (when a DHCP NIC takes the default route, it is that one: no NIC before it has a gateway or DHCP)."""
    return next((index for index, nic in enumerate(vm.interfaces) if nic.ip == "dhcp"), None)


def guest_nameservers(plan: Plan, vm: VirtualMachine) -> list[ipaddress.IPv4Address]:
    """The nameservers network data gives the guest (on top of its DHCP NIC's): the VM's `dns`, or, when no NIC
    uses DHCP, what the DHCP servers of its static NICs' networks would hand out."""
    if vm.dns or dhcp_dns_index(vm) is not None:
        return list(vm.dns)
    servers: list[ipaddress.IPv4Address] = []
    for nic in vm.interfaces:
        network = None if nic.is_management or nic.ip == "none" else plan.network_for(vm, nic)
        if network is not None and network.dhcp_server is not None:
            servers += [server for server in network.dhcp_server.dns if server not in servers]
    return servers
