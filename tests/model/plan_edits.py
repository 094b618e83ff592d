"""A small valid plan, and edits addressed by the same field paths that `PlanIssue.path` uses."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

PlanEdit = Callable[[dict[str, Any]], None]

_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def valid_plan() -> dict[str, Any]:
    """Two cluster networks (one with a node override), a DHCP-served VLAN, a tagged and an untagged
    network, two VMs (one with a static IP and a management Service), and a lab section."""
    return {
        "clusterNetworks": [
            {
                "name": "vlan",
                "uplink": {"nics": ["eth1"], "mtu": 1500},
                "nodeOverrides": [{"node": "node2", "nics": ["eno2"]}],
            },
            {"name": "storage", "uplink": {"nics": ["eth2"]}},
        ],
        "nodes": ["node1", "node2"],
        "networks": [
            {
                "name": "vlan100",
                "clusterNetwork": "vlan",
                "vlan": 100,
                "route": {"mode": "manual", "cidr": "10.100.0.0/24", "gateway": "10.100.0.1"},
                "dhcpServer": {"serverIP": "10.100.0.2", "range": {"start": "10.100.0.100", "end": "10.100.0.199"}},
            },
            {"name": "vlan200", "clusterNetwork": "vlan", "vlan": 200},
            {"name": "san", "namespace": "storage", "clusterNetwork": "storage", "vlan": 0},
        ],
        "virtualMachines": [
            {
                "name": "web-1",
                "interfaces": [
                    {"name": "default", "network": "mgmt"},
                    {"name": "nic-1", "network": "vlan100", "macAddress": "52:54:00:aa:bb:01", "ip": "10.100.0.20/24"},
                ],
                "managementService": {"ports": [{"port": 22}]},
            },
            {
                "name": "db-1",
                "interfaces": [{"name": "nic-1", "network": "default/vlan200", "macAddress": "52:54:00:aa:bb:02"}],
            },
        ],
        "lab": {
            "nodes": {"node1": {"nics": ["eth1", "eth2"]}, "node2": {"nics": ["eno2", "eth2"]}},
            "placement": {"web-1": "node1", "db-1": "node2"},
        },
    }


def _parent(data: dict[str, Any], path: str) -> tuple[Any, str | int]:
    """The container holding the last part of `path` ('networks[0].route.cidr'), and that part."""
    parts: list[str | int] = [name if name else int(index) for name, index in _PATH_PART.findall(path)]
    node: Any = data
    for part in parts[:-1]:
        node = node[part]
    return node, parts[-1]


def put(path: str, value: Any) -> PlanEdit:
    def edit(data: dict[str, Any]) -> None:
        parent, key = _parent(data, path)
        parent[key] = value

    return edit


def drop(path: str) -> PlanEdit:
    def edit(data: dict[str, Any]) -> None:
        parent, key = _parent(data, path)
        del parent[key]

    return edit


def add(path: str, item: Any) -> PlanEdit:
    """Append `item` to the list at `path`."""

    def edit(data: dict[str, Any]) -> None:
        parent, key = _parent(data, path)
        parent[key].append(item)

    return edit


def rename(path: str, new_key: str) -> PlanEdit:
    """Move the value at `path` to a sibling key (a typo in a key name)."""

    def edit(data: dict[str, Any]) -> None:
        parent, key = _parent(data, path)
        parent[new_key] = parent.pop(key)

    return edit


def edits(*steps: PlanEdit) -> PlanEdit:
    def edit(data: dict[str, Any]) -> None:
        for step in steps:
            step(data)

    return edit
