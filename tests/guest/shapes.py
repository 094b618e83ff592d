"""A deterministic sample of VM shapes: 1-16 NICs, management NIC first, later or absent, static / DHCP / no
address, untagged or tagged networks, network data v1 or v2, with or without (and which kind of) user data."""

from __future__ import annotations

import random
from typing import Any

SEED = 11
SHAPES = 12
MAX_NICS = 16
USER_DATA = {
    "none": None,
    "cloud-config": "#cloud-config\n# ops: keep this comment\nhostname: shaped\npackages: [htop]\n",
    "agent-listed": "#cloud-config\npackages:\n  - [qemu-guest-agent, '1:7.2*']\nruncmd:\n  - echo hi\n",
    "script": "#!/bin/sh\necho hello\n",
}


def _networks() -> list[dict[str, Any]]:
    routed = [
        {
            "name": f"net{i}",
            "clusterNetwork": "cn",
            "vlan": 0 if i == 0 else 100 + i,  # net0 is untagged
            "route": {"mode": "manual", "cidr": f"10.{i}.0.0/24", "gateway": f"10.{i}.0.1"},
        }
        for i in range(MAX_NICS)
    ]
    return [*routed, {"name": "unrouted", "clusterNetwork": "cn", "vlan": 300}]


def _vm(shape: int, rng: random.Random) -> dict[str, Any]:
    nic_count = MAX_NICS if shape == 0 else 1 if shape == 1 else rng.randint(1, 6)
    mgmt = "none" if shape in (0, 1) else rng.choice(["first", "later", "none"])
    interfaces: list[dict[str, Any]] = []
    for k in range(nic_count):
        mode = "static" if shape == 1 else rng.choice(["static", "static", "dhcp", "dhcp", "none"])
        unrouted = mode != "static" and rng.random() < 0.2
        net = "unrouted" if unrouted else f"net{rng.randrange(MAX_NICS) if shape else k}"
        if any(nic["network"] == net for nic in interfaces):
            net = f"net{k}"
        nic: dict[str, Any] = {"name": f"nic-{k}", "network": net}
        nic["ip"] = {"static": f"10.{net.removeprefix('net')}.0.{10 + shape}/24", "dhcp": "dhcp", "none": "none"}[mode]
        if mode == "static" and net == "unrouted":
            nic["ip"] = "dhcp"
        interfaces.append(nic)
    if mgmt != "none":
        interfaces.insert(0 if mgmt == "first" else rng.randint(1, len(interfaces)), {"name": "m", "network": "mgmt"})
    vm: dict[str, Any] = {
        "name": f"shape-{shape}",
        "interfaces": interfaces,
        "networkDataVersion": 2 if shape < 2 else rng.choice([1, 2]),
    }
    user_data = USER_DATA[rng.choice(sorted(USER_DATA))]
    if user_data is not None:
        vm["userData"] = user_data
    if rng.random() < 0.4:
        vm["dns"] = ["10.0.0.53", "1.1.1.1"]
    return vm


def shapes_plan() -> dict[str, Any]:
    rng = random.Random(SEED)
    return {
        "clusterNetworks": [{"name": "cn", "uplink": {"nics": ["eth1"]}}],
        "networks": _networks(),
        "virtualMachines": [_vm(shape, rng) for shape in range(SHAPES)],
    }
