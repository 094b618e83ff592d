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
