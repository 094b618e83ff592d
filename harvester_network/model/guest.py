"""What a VM's guest is told about its network, decided once for render and the rules.

The default route goes to the first NIC that has a gateway: the management (pod) network or a DHCP NIC (its
server's router), or a static NIC on a network with a manual route. Every other NIC gets no default route
(Harvester #5276, #9944). DNS comes from the VM's `dns` and from one DHCP NIC: the default-route NIC when it
uses DHCP, else the first DHCP NIC.
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
    for index, nic in enumerate(vm.interfaces):
        if nic.ip == "dhcp" or static_gateway(plan, vm, nic) is not None:
            return index
    return None


def dhcp_dns_index(plan: Plan, vm: VirtualMachine) -> int | None:
    """Index of the DHCP NIC whose server's nameservers the guest uses, or None without a DHCP NIC."""
    default = default_route_index(plan, vm)
    if default is not None and vm.interfaces[default].ip == "dhcp":
        return default
    return next((index for index, nic in enumerate(vm.interfaces) if nic.ip == "dhcp"), None)
