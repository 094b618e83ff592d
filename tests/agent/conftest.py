"""Network namespaces for the agent's netlink tests: `hvt-<label>-<pid>`, made per test and always removed."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest


@dataclass
class HvtNetns:
    """A namespace and an IPRoute bound to it (netlink sockets stay in the namespace they were made in)."""

    name: str
    ipr: Any

    @contextmanager
    def inside(self) -> Iterator[None]:
        """Run the block with this thread in the namespace (e.g. to open more sockets there)."""
        from pyroute2 import netns

        netns.pushns(self.name)
        try:
            yield
        finally:
            netns.popns()

    def ip_json(self, *args: str) -> Any:
        """`ip -j -d ARGS` in the namespace: an independent look at what the agent did."""
        out = subprocess.run(["ip", "-n", self.name, "-j", "-d", *args], capture_output=True, text=True, check=True)
        return json.loads(out.stdout) if out.stdout.strip() else []

    def link(self, name: str) -> dict[str, Any]:
        found = self.ip_json("link", "show", "dev", name)
        return dict(found[0])

    def links(self) -> set[str]:
        return {entry["ifname"] for entry in self.ip_json("link", "show")}

    def bridge_vlans(self) -> dict[str, dict[int, set[str]]]:
        """{port: {vid: flags}} from `bridge -j vlan show` (flags 'PVID', 'Egress Untagged')."""
        out = subprocess.run(
            ["bridge", "-n", self.name, "-j", "vlan", "show"], capture_output=True, text=True, check=True
        ).stdout
        ports: dict[str, dict[int, set[str]]] = {}
        for entry in json.loads(out) if out.strip() else []:
            vids = ports.setdefault(entry["ifname"], {})
            for vlan in entry.get("vlans", []):
                for vid in range(vlan["vlan"], vlan.get("vlanEnd", vlan["vlan"]) + 1):
                    vids[vid] = set(vlan.get("flags", []))
        return ports

    def run(self, *argv: str) -> None:
        subprocess.run(["ip", "netns", "exec", self.name, *argv], check=True, capture_output=True)


@contextmanager
def hvt_netns(label: str) -> Iterator[HvtNetns]:
    """A fresh namespace `hvt-<label>-<pid>` with lo up; removed (with everything in it) afterwards."""
    from pyroute2 import IPRoute, netns

    name = f"hvt-{label}-{os.getpid()}"
    if name in netns.listnetns():
        netns.remove(name)  # left over by a killed run of this same process id
    netns.create(name)
    try:
        namespace = HvtNetns(name, None)
        with namespace.inside():
            namespace.ipr = IPRoute()
        try:
            namespace.ipr.link("set", index=namespace.ipr.link_lookup(ifname="lo")[0], state="up")
            yield namespace
        finally:
            namespace.ipr.close()
    finally:
        netns.remove(name)


@pytest.fixture
def ns(request: pytest.FixtureRequest) -> Iterator[HvtNetns]:
    label = "".join(ch for ch in request.node.name.removeprefix("test_") if ch.isalnum())[:24]
    with hvt_netns(label) as namespace:
        yield namespace
