"""model/rules.py at its edges: each case lists every issue the plan gets, whole (path, message, fix, severity),
so an extra message, a changed fix or a rule one address off fails here."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from harvester_network.model import PlanError, PlanIssue, load_plan

BASE: dict[str, Any] = {
    "clusterNetworks": [{"name": "vlan", "uplink": {"nics": ["eth1"]}}],
    "networks": [
        {
            "name": "v10",
            "clusterNetwork": "vlan",
            "vlan": 10,
            "route": {"mode": "manual", "cidr": "10.0.0.0/24", "gateway": "10.0.0.1"},
            "dhcpServer": {"serverIP": "10.0.0.2", "range": {"start": "10.0.0.100", "end": "10.0.0.200"}},
        }
    ],
    "virtualMachines": [
        {"name": "vm", "interfaces": [{"name": "default", "network": "mgmt"}, {"name": "nic-1", "network": "v10"}]}
    ],
}
DHCP = "networks[0].dhcpServer"
NIC = "virtualMachines[0].interfaces[1]"


def issues(**changes: Any) -> list[PlanIssue]:
    """Every issue (errors, then warnings) of BASE with `changes` ("networks.0.dhcpServer.range.end": value)."""
    data = copy.deepcopy(BASE)
    for path, value in changes.items():
        *parents, last = path.split(".")
        node: Any = data
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        node[int(last) if last.isdigit() else last] = value
    try:
        _, warnings = load_plan(data)
    except PlanError as error:
        return [*error.issues, *error.warnings]
    return warnings


def range_end(end: str) -> dict[str, str]:
    return {"networks.0.dhcpServer.range.end": end}


def nic_ip(ip: str) -> dict[str, str]:
    return {"virtualMachines.0.interfaces.1.ip": ip}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({}, [], id="the base plan is clean"),
        pytest.param(range_end("10.0.0.100"), [], id="a range of one address"),
        pytest.param(
            range_end("10.0.0.99"),
            [PlanIssue(f"{DHCP}.range", "start 10.0.0.100 is after end 10.0.0.99", "swap start and end")],
            id="a range ending before it starts",
        ),
        pytest.param(
            {"networks.0.dhcpServer.range.start": "10.0.0.1"},
            [
                PlanIssue(f"{DHCP}.range.start", "10.0.0.1 is the route's gateway", "use another address"),
                PlanIssue(
                    f"{DHCP}.serverIP",
                    "10.0.0.2 lies inside the range it hands out (10.0.0.1-10.0.0.200)",
                    "move the server IP out of the range",
                ),
            ],
            id="a range starting on the gateway",
        ),
        pytest.param(
            {
                "networks.0.dhcpServer.range": {"start": "10.0.0.0", "end": "10.0.0.1"},
                "networks.0.dhcpServer.serverIP": "10.0.0.3",
            },
            [
                PlanIssue(
                    f"{DHCP}.range.start",
                    "10.0.0.0 is the network or broadcast address of 10.0.0.0/24",
                    "use a host address inside 10.0.0.0/24",
                ),
                PlanIssue(f"{DHCP}.range.end", "10.0.0.1 is the route's gateway", "use another address"),
                PlanIssue(f"{DHCP}.range", "the range contains the gateway 10.0.0.1", "exclude the gateway"),
            ],
            id="a range ending on the gateway",
        ),
        pytest.param(
            {"networks.0.dhcpServer.serverIP": "10.0.0.200"},
            [
                PlanIssue(
                    f"{DHCP}.serverIP",
                    "10.0.0.200 lies inside the range it hands out (10.0.0.100-10.0.0.200)",
                    "move the server IP out of the range",
                )
            ],
            id="the server IP on the range's end",
        ),
        pytest.param(
            range_end("10.0.0.255"),
            [
                PlanIssue(
                    f"{DHCP}.range.end",
                    "10.0.0.255 is the network or broadcast address of 10.0.0.0/24",
                    "use a host address inside 10.0.0.0/24",
                )
            ],
            id="a range ending on the broadcast address",
        ),
        pytest.param(
            {"networks.0.dhcpServer.serverIP": "10.0.1.2"},
            [
                PlanIssue(
                    f"{DHCP}.serverIP",
                    "10.0.1.2 is outside the route cidr 10.0.0.0/24",
                    "use a host address inside 10.0.0.0/24",
                )
            ],
            id="a server IP outside the cidr",
        ),
        pytest.param(
            {"networks.0.dhcpServer.leaseTime": "119s"},
            [
                PlanIssue(
                    f"{DHCP}.leaseTime",
                    "dnsmasq gives leases of at least 120 seconds, so 119s becomes 120s",
                    "set leaseTime to 120 or more",
                    "warning",
                )
            ],
            id="a lease one second too short for dnsmasq",
        ),
        pytest.param({"networks.0.dhcpServer.leaseTime": "120s"}, [], id="the shortest lease dnsmasq keeps"),
        pytest.param(
            {"networks.0.dhcpServer.leaseTime": "60", "networks.0.dhcpServer.backend": "ippool"},
            [],
            id="short leases are fine for an IPPool",
        ),
        pytest.param(nic_ip("10.0.0.99/24"), [], id="a static IP just below the range"),
        pytest.param(nic_ip("10.0.0.201/24"), [], id="a static IP just above the range"),
        pytest.param(
            nic_ip("10.0.0.200/24"),
            [
                PlanIssue(
                    f"{NIC}.ip",
                    "10.0.0.200/24 lies inside the DHCP range of 'default/v10'",
                    "use an address outside the range",
                )
            ],
            id="a static IP on the range's end",
        ),
        pytest.param(
            nic_ip("10.0.0.100/24"),
            [
                PlanIssue(
                    f"{NIC}.ip",
                    "10.0.0.100/24 lies inside the DHCP range of 'default/v10'",
                    "use an address outside the range",
                )
            ],
            id="a static IP on the range's start",
        ),
        pytest.param(
            nic_ip("10.0.0.2/24"),
            [
                PlanIssue(
                    f"{NIC}.ip", "10.0.0.2/24 is the address of the DHCP server of 'default/v10'", "use another address"
                )
            ],
            id="a static IP on the DHCP server",
        ),
        pytest.param(
            nic_ip("10.0.0.1/24"),
            [PlanIssue(f"{NIC}.ip", "10.0.0.1/24 is the network's gateway", "use another address")],
            id="a static IP on the gateway",
        ),
        pytest.param(
            nic_ip("10.0.0.5/25"),
            [
                PlanIssue(
                    f"{NIC}.ip",
                    "10.0.0.5/25 does not match the route cidr 10.0.0.0/24",
                    "use a host address in 10.0.0.0/24 with /24",
                )
            ],
            id="a static IP with another prefix",
        ),
        pytest.param(
            nic_ip("10.0.0.255/24"),
            [
                PlanIssue(
                    f"{NIC}.ip",
                    "10.0.0.255/24 is the network or broadcast address of 10.0.0.0/24",
                    "use a host address in 10.0.0.0/24 with /24",
                )
            ],
            id="a static IP on the broadcast address",
        ),
        pytest.param(nic_ip("none"), [], id="ip: none"),
        pytest.param(
            {"virtualMachines.0.interfaces.0.ip": "10.0.0.5/24"},
            [
                PlanIssue(
                    "virtualMachines[0].interfaces[0].ip",
                    "the management network is masqueraded: the guest gets its address by DHCP from KubeVirt",
                    "use ip: dhcp",
                )
            ],
            id="a static IP on mgmt",
        ),
        pytest.param(
            {
                "networks.0.vlan": 0,
                "networks.0.route": {"mode": "manual", "cidr": "10.0.0.0/31", "gateway": "10.0.0.0"},
                "networks.0.dhcpServer": None,
            },
            [],
            id="a /31 has no network or broadcast address",
        ),
        pytest.param(
            {
                "networks.0.route": {"mode": "manual", "cidr": "10.53.0.0/24", "gateway": "10.53.0.1"},
                "networks.0.dhcpServer": None,
            },
            [
                PlanIssue(
                    "networks[0].route.cidr",
                    "10.53.0.0/24 overlaps the cluster's service CIDR 10.53.0.0/16: workloads on this network would "
                    "send traffic for those Service addresses onto the VLAN",
                    "use a cidr outside the service CIDR (or set serviceCIDR to the cluster's real one)",
                )
            ],
            id="a route inside the service CIDR",
        ),
    ],
)
def test_plan_issues(changes: dict[str, Any], expected: list[PlanIssue]) -> None:
    assert issues(**changes) == expected


def test_two_static_nics_on_one_address_and_one_mac() -> None:
    data = copy.deepcopy(BASE)
    data["networks"][0]["dhcpServer"] = None
    nic = {"name": "nic-1", "network": "v10", "ip": "10.0.0.9/24", "macAddress": "52:54:00:00:00:09"}
    data["virtualMachines"].append({"name": "vm2", "interfaces": [nic]})
    data["virtualMachines"][0]["interfaces"][1] = dict(nic)
    with pytest.raises(PlanError) as caught:
        load_plan(data)
    assert caught.value.issues == [
        PlanIssue(
            "virtualMachines[1].interfaces[0].ip",
            "10.0.0.9/24 is already the address of default/vm/nic-1 on 'default/v10'",
            "give every NIC its own address",
        ),
        PlanIssue(
            "virtualMachines[1].interfaces[0].macAddress",
            "MAC 52:54:00:00:00:09 is already used by default/vm/nic-1 on cluster network 'vlan'",
            "give every NIC a unique MAC",
        ),
    ]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param(
            {"networks.0.dhcpServer.serverIP": "10.0.0.100"},
            [
                PlanIssue(
                    f"{DHCP}.serverIP",
                    "10.0.0.100 lies inside the range it hands out (10.0.0.100-10.0.0.200)",
                    "move the server IP out of the range",
                )
            ],
            id="the server IP on the range's start",
        ),
        pytest.param(
            {"networks.0.dhcpServer.range.start": "10.0.0.1", "networks.0.dhcpServer.serverIP": "10.0.0.250"},
            [
                PlanIssue(f"{DHCP}.range.start", "10.0.0.1 is the route's gateway", "use another address"),
                PlanIssue(f"{DHCP}.range", "the range contains the gateway 10.0.0.1", "exclude the gateway"),
            ],
            id="a range starting on the gateway, server outside",
        ),
        pytest.param(
            {
                "networks.0.route": {"mode": "manual", "cidr": "10.0.0.0/31", "gateway": "10.0.0.0"},
                "networks.0.dhcpServer": None,
                **nic_ip("10.0.0.1/31"),
            },
            [],
            id="a /31's second address is a host",
        ),
        pytest.param(
            {
                "networks.0.route": {"mode": "manual", "cidr": "10.0.0.0/30", "gateway": "10.0.0.1"},
                "networks.0.dhcpServer": None,
                **nic_ip("10.0.0.3/30"),
            },
            [
                PlanIssue(
                    f"{NIC}.ip",
                    "10.0.0.3/30 is the network or broadcast address of 10.0.0.0/30",
                    "use a host address in 10.0.0.0/30 with /30",
                )
            ],
            id="a /30's broadcast address is not",
        ),
        pytest.param(
            {"virtualMachines.0.interfaces": [{"name": "nic-1", "network": "nowhere"}]},
            [
                PlanIssue(
                    "virtualMachines[0].interfaces[0].network",
                    "network 'default/nowhere' is not in the plan",
                    "use 'mgmt' or '<namespace>/<name>' of a declared network",
                )
            ],
            id="a VM whose only NIC names an unknown network",
        ),
        pytest.param(
            {
                "virtualMachines.0.managementService": {"ports": [{"port": 22}, {"port": 22}]},
            },
            [
                PlanIssue(
                    "virtualMachines[0].managementService.ports[1]",
                    "port 22/TCP is already listed at ports[0]",
                    "list each port once",
                )
            ],
            id="a repeated port is one error, not also a repeated name",
        ),
    ],
)
def test_more_plan_issues(changes: dict[str, Any], expected: list[PlanIssue]) -> None:
    assert issues(**changes) == expected


def test_two_nics_on_different_static_ips_of_one_network() -> None:
    data = copy.deepcopy(BASE)
    data["virtualMachines"][0]["interfaces"][1]["ip"] = "10.0.0.9/24"
    data["virtualMachines"].append(
        # dns: a guest with static NICs only and no resolver would be warned about
        {"name": "vm2", "interfaces": [{"name": "nic-1", "network": "v10", "ip": "10.0.0.8/24"}], "dns": ["10.0.0.1"]}
    )
    assert load_plan(data)[1] == []


def _routed(name: str, vlan: int, cidr: str, gateway: str) -> dict[str, Any]:
    return {
        "name": name,
        "clusterNetwork": "vlan",
        "vlan": vlan,
        "route": {"mode": "manual", "cidr": cidr, "gateway": gateway},
    }


def test_overlapping_subnets_on_one_vm_are_warned_once_per_nic() -> None:
    # A second NIC on the same network and NICs on disjoint subnets are no overlap; the NIC whose /16 covers two
    # earlier /24s is warned once, naming the first.
    networks = [
        _routed("v10", 10, "10.0.0.0/24", "10.0.0.1"),
        _routed("v11", 11, "10.0.1.0/24", "10.0.1.1"),
        _routed("v20", 20, "10.1.0.0/24", "10.1.0.1"),
        _routed("v30", 30, "10.0.0.0/16", "10.0.128.1"),
    ]
    interfaces = [
        {"name": "default", "network": "mgmt"},
        {"name": "a", "network": "v10", "ip": "10.0.0.5/24"},
        {"name": "b", "network": "v10", "ip": "10.0.0.6/24"},
        {"name": "c", "network": "v20", "ip": "10.1.0.5/24"},
        {"name": "d", "network": "v11", "ip": "10.0.1.5/24"},
        {"name": "e", "network": "v30", "ip": "10.0.200.5/16"},
    ]
    assert issues(**{"networks": networks, "virtualMachines.0.interfaces": interfaces}) == [
        PlanIssue(
            "virtualMachines[0].interfaces[5].network",
            "its subnet 10.0.0.0/16 overlaps 10.0.0.0/24 of interfaces[1]: the guest gets two routes for the same "
            "addresses and uses only one NIC for them",
            "attach the VM to networks with disjoint subnets",
            "warning",
        )
    ]
