"""Every example program, and a plan with every route mode and DHCP backend, on the Harvester-mode test server:
the dynamic resources the program registers (under Pulumi mocks) are created through their providers, Harvester's
emulated controllers write what they write, then a refresh (read) and a diff show no change, and none of the
fields Harvester writes is in hvnet's server-side-apply field set.

Workload objects (VMs, the dnsmasq Deployment) belong to pulumi-kubernetes and are not created here.
"""

from __future__ import annotations

import json
import runpy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harvester_network.components.stack import HarvesterNetworking
from harvester_network.kube import KubeClient, KubeTarget
from harvester_network.model import load_plan_file
from tests.k8s_api.fixtures import HarvesterApi
from tests.pulumi.harness import PROVIDERS, Recording, run_program
from tests.pulumi.test_examples import EXAMPLES

EVERY_ROUTE_AND_BACKEND: dict[str, Any] = {
    "clusterNetworks": [{"name": "data", "uplink": {"nics": ["eth1"], "mtu": 9000}}],
    "networks": [
        {"name": "manual", "clusterNetwork": "data", "vlan": 10, "route": {"mode": "manual", "cidr": "10.10.0.0/24",
                                                                           "gateway": "10.10.0.1"}},
        {"name": "auto", "clusterNetwork": "data", "vlan": 20, "route": {"mode": "auto"}},
        {"name": "auto-server", "clusterNetwork": "data", "vlan": 30,
         "route": {"mode": "auto", "serverIP": "10.30.0.2"}},
        {"name": "plain", "clusterNetwork": "data", "vlan": 40},
        {"name": "untagged", "clusterNetwork": "data", "vlan": 0, "route": {"mode": "manual", "cidr": "10.0.0.0/24",
                                                                             "gateway": "10.0.0.1"}},
        {"name": "pool", "namespace": "default", "clusterNetwork": "data", "vlan": 50,
         "route": {"mode": "manual", "cidr": "10.50.0.0/24", "gateway": "10.50.0.1"},
         "dhcpServer": {"serverIP": "10.50.0.2", "range": {"start": "10.50.0.100", "end": "10.50.0.200"},
                        "backend": "ippool"}},
    ],
}  # fmt: skip
# What Harvester writes into our objects (tests/k8s_api/harvester): none of it may be in hvnet's field set.
HARVESTER_FIELDS = (
    "f:network.harvesterhci.io/ready",
    "f:network.harvesterhci.io/matched-nodes",
    "f:network.harvesterhci.io/uplink-mtu",
    "f:network.harvesterhci.io/mtu-source-vc",
    "f:network.harvesterhci.io/vlan-id-set-str",
    "f:status",
)


def run_example(example: Path) -> Callable[[], Any]:
    return lambda: runpy.run_path(str(example / "__main__.py"))


def programs() -> dict[str, tuple[Callable[[], Any], list[str]]]:
    """name -> (the Pulumi program, the plan's nodes)."""
    found = {
        example.name: (run_example(example), load_plan_file(example / "plan.yaml")[0].nodes or [])
        for example in EXAMPLES
    }
    found["every-route-and-backend"] = (lambda: HarvesterNetworking("all", plan=EVERY_ROUTE_AND_BACKEND), [])
    return found


def up(recording: Recording, connection: dict[str, str | float]) -> list[tuple[str, str, dict[str, Any], Any]]:
    """`pulumi up` of the dynamic resources, in the order the program registered them (dependencies first):
    (kind, inputs, id, outputs) of each."""
    made = []
    for registration in recording.registrations:
        if registration.kind is None:
            continue
        inputs = {k: registration.plain(k) for k in registration.inputs if not k.startswith("__")}
        inputs = {k: v for k, v in inputs.items() if v is not None} | connection
        created = PROVIDERS[registration.kind].create(inputs)
        made.append((registration.kind, created.id, inputs, created.outs or {}))
    return made


@pytest.mark.parametrize("name", sorted(programs()))
def test_up_then_harvester_then_refresh_shows_no_change(harvester_api: HarvesterApi, name: str) -> None:
    program, nodes = programs()[name]
    assert harvester_api.harvester is not None
    for node in set(nodes) - {"node1", "node2"}:
        harvester_api.harvester.add_node(node)
    recording = run_program(program)
    made = up(recording, {"kubeconfig": harvester_api.kubeconfig_path, "timeout": 10})
    assert made
    harvester_api.settle()

    with KubeClient(KubeTarget.from_kubeconfig(harvester_api.kubeconfig_path)) as kube:
        for kind, id_, inputs, outs in made:
            provider = PROVIDERS[kind]
            refreshed = provider.read(id_, outs)
            assert refreshed.id == id_
            assert provider.diff(id_, refreshed.outs or {}, inputs).changes is False, id_
            obj = provider.desired(inputs)
            live = kube.get(kind, obj["metadata"]["name"], obj["metadata"].get("namespace"))
            assert live is not None
            ours = [e for e in live["metadata"].get("managedFields") or [] if e["manager"] == "hvnet"]
            written = json.dumps([e.get("fieldsV1") for e in ours])
            assert not [field for field in HARVESTER_FIELDS if field in written], id_
