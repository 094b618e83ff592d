"""model/plan.py's field checks at their edges, with whole messages: the all-zero MAC, Service port names
without a letter or with '--', and a description at and one byte past the annotation limit."""

from __future__ import annotations

from typing import Any

import pytest

from harvester_network.model import PlanError, load_plan
from harvester_network.model.names import DESCRIPTION_MAX_BYTES

UNICAST = "use a unicast MAC such as 52:54:00:.."


def _issues(data: dict[str, Any]) -> list[tuple[str, str]]:
    try:
        load_plan(data)
    except PlanError as exc:
        return [(i.path, i.message) for i in exc.issues if i.severity == "error"]
    return []


def _vm(**nic: Any) -> dict[str, Any]:
    return {"virtualMachines": [{"name": "vm", "interfaces": [{"name": "a", "network": "mgmt", **nic}]}]}


@pytest.mark.parametrize(
    ("mac", "issues"),
    [
        ("00:00:00:00:00:00", [("virtualMachines[0].interfaces[0].macAddress",
                                f"00:00:00:00:00:00 is no NIC's address; {UNICAST}")]),
        ("00:00:00:00:00:01", []),
        ("01:00:00:00:00:01", [("virtualMachines[0].interfaces[0].macAddress",
                                f"is a multicast MAC (lowest bit of the first octet set); {UNICAST}")]),
    ],
)  # fmt: skip
def test_mac(mac: str, issues: list[tuple[str, str]]) -> None:
    assert _issues(_vm(macAddress=mac)) == issues


PORT_NAME = "a Service port name (IANA_SVC_NAME) needs a letter and no '--', like 'ssh' or 'http-alt'"


@pytest.mark.parametrize(("name", "refused"), [("123", True), ("a--b", True), ("a-1", False), ("1a", False)])
def test_service_port_name(name: str, refused: bool) -> None:
    data = _vm()
    data["virtualMachines"][0]["managementService"] = {"ports": [{"port": 22, "name": name}]}
    path = "virtualMachines[0].managementService.ports[0].name"
    assert _issues(data) == ([(path, PORT_NAME)] if refused else [])


@pytest.mark.parametrize("size", [DESCRIPTION_MAX_BYTES, DESCRIPTION_MAX_BYTES + 1])
def test_description_size_limit(size: int) -> None:
    data = {"clusterNetworks": [{"name": "cn1", "uplink": {"nics": ["eth1"]}, "description": "d" * size}]}
    expected = [
        (
            "clusterNetworks[0].description",
            f"is {size} bytes; it becomes an annotation, and Kubernetes takes at most {DESCRIPTION_MAX_BYTES} "
            "bytes of annotations per object",
        )
    ]
    assert _issues(data) == (expected if size > DESCRIPTION_MAX_BYTES else [])
    if size <= DESCRIPTION_MAX_BYTES:  # kept as given
        assert load_plan(data)[0].cluster_networks[0].description == "d" * size


NIC_IP = "virtualMachines[0].interfaces[0].ip"


@pytest.mark.parametrize(
    ("ip", "issues"),
    [
        ("dhcp", []),
        ("none", []),
        ("static", [(NIC_IP, "must be 'dhcp', 'none' or a static IPv4 address with prefix, like 10.0.0.100/24")]),
        ("10.0.0.5", [(NIC_IP, "a static address needs its prefix length, like 10.0.0.100/24")]),
    ],
)
def test_ip_mode(ip: str, issues: list[tuple[str, str]]) -> None:
    # The management NIC takes only dhcp (a rule of its own); here only the field check speaks.
    assert [i for i in _issues(_vm(ip=ip)) if i[0] == NIC_IP and "masqueraded" not in i[1]] == issues


ROUTE = "networks[0].route"


@pytest.mark.parametrize(
    ("changes", "issues"),
    [
        ({"leaseTime": "1w"}, [("networks[0].dhcpServer.leaseTime",
                                "must be a duration such as 3600, 30m, 1h, 1d, or 'infinite'")]),
        ({"gateway": "10.1.0.1"}, [(ROUTE, "gateway 10.1.0.1 is outside cidr 10.0.0.0/24; use an address inside it")]),
        ({"cidr": "0.0.0.0/0"},
         [(ROUTE, "cidr 0.0.0.0/0 has a zero mask; give the VLAN's subnet, like 10.100.0.0/24")]),
        ({"gateway": "10.0.0.255"}, [(ROUTE, "gateway 10.0.0.255 is the network or broadcast address of 10.0.0.0/24")]),
    ],
)  # fmt: skip
def test_route_and_lease_time_messages(changes: dict[str, str], issues: list[tuple[str, str]]) -> None:
    route = {"mode": "manual", "cidr": "10.0.0.0/24", "gateway": "10.0.0.1"}
    dhcp = {"serverIP": "10.0.0.2", "range": {"start": "10.0.0.100", "end": "10.0.0.200"}}
    for key, value in changes.items():
        (dhcp if key == "leaseTime" else route)[key] = value
    data = {
        "clusterNetworks": [{"name": "cn1", "uplink": {"nics": ["eth1"]}}],
        "networks": [{"name": "n1", "clusterNetwork": "cn1", "vlan": 10, "route": route, "dhcpServer": dhcp}],
    }
    assert _issues(data) == issues
