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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harvester_network.components.stack import HarvesterNetworking
from harvester_network.kube import KubeClient, KubeTarget
from harvester_network.model import load_plan_file
from tests.k8s_api.fixtures import HarvesterApi
from tests.pulumi.harness import DYNAMIC_PREFIX, PROVIDERS, Recording, run_program
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


@dataclass
class Deployed:
    """One dynamic resource in the stack's state."""

    kind: str
    id: str
    inputs: dict[str, Any]
    outs: dict[str, Any]


def up(
    recording: Recording,
    connection: dict[str, Any],
    state: dict[str, Deployed] | None = None,
    steps: list[str] | None = None,
) -> dict[str, Deployed]:
    """`pulumi up` of the program's dynamic resources over `state` (URN -> Deployed), in the engine's order:
    each resource after its dependencies (the program registers them in such an order) is created, updated or
    replaced as its provider's diff says, then resources the program no longer has are deleted, dependents first.
    `steps` collects what was done ("create <URN>", "update <URN>", ...)."""
    done = steps if steps is not None else []
    old = dict(state or {})
    new: dict[str, Deployed] = {}
    for registration in recording.registrations:
        kind = registration.kind
        if kind is None:
            continue
        provider = PROVIDERS[kind]
        inputs = {k: registration.plain(k) for k in registration.inputs if not k.startswith("__")}
        inputs = {k: v for k, v in inputs.items() if v is not None} | connection
        found = old.pop(registration.urn, None)
        if found is None:
            done.append(f"create {registration.urn}")
            created = provider.create(inputs)
            new[registration.urn] = Deployed(kind, created.id, inputs, created.outs or {})
        else:
            diff = provider.diff(found.id, found.outs, inputs)
            if diff.replaces:
                done.append(f"replace {registration.urn}")
                if diff.delete_before_replace:
                    provider.delete(found.id, found.outs)
                created = provider.create(inputs)
                if not diff.delete_before_replace:
                    provider.delete(found.id, found.outs)
                found = Deployed(kind, created.id, inputs, created.outs or {})
            elif diff.changes:
                done.append(f"update {registration.urn}")
                found = Deployed(kind, found.id, inputs, provider.update(found.id, found.outs, inputs).outs or {})
            new[registration.urn] = found
    for name, gone in reversed(old.items()):
        done.append(f"delete {name}")
        PROVIDERS[gone.kind].delete(gone.id, gone.outs)
    return new


def refresh_shows_no_change(state: dict[str, Deployed], kube: KubeClient) -> None:
    """`pulumi refresh` then `pulumi preview`: every resource still there, no diff; and none of Harvester's fields in
    hvnet's field set."""
    for name, deployed in state.items():
        provider = PROVIDERS[deployed.kind]
        refreshed = provider.read(deployed.id, deployed.outs)
        assert refreshed.id == deployed.id, name
        assert provider.diff(deployed.id, refreshed.outs or {}, deployed.inputs).changes is False, name
        obj = provider.desired(deployed.inputs)
        live = kube.get(deployed.kind, obj["metadata"]["name"], obj["metadata"].get("namespace"))
        assert live is not None, name
        ours = [e for e in live["metadata"].get("managedFields") or [] if e["manager"] == "hvnet"]
        written = json.dumps([e.get("fieldsV1") for e in ours])
        assert not [field for field in HARVESTER_FIELDS if field in written], name


@pytest.fixture
def kube(harvester_api: HarvesterApi) -> Any:
    with KubeClient(KubeTarget.from_kubeconfig(harvester_api.kubeconfig_path)) as connected:
        yield connected


def connection(harvester_api: HarvesterApi) -> dict[str, Any]:
    return {"kubeconfig": harvester_api.kubeconfig_path, "timeout": 10}


@pytest.mark.parametrize("name", sorted(programs()))
def test_up_then_harvester_then_refresh_shows_no_change(
    harvester_api: HarvesterApi, kube: KubeClient, name: str
) -> None:
    program, nodes = programs()[name]
    assert harvester_api.harvester is not None
    for node in set(nodes) - {"node1", "node2"}:
        harvester_api.harvester.add_node(node)
    state = up(run_program(program), connection(harvester_api))
    assert state
    harvester_api.settle()
    refresh_shows_no_change(state, kube)
    # The next hourly `up` finds nothing to do.
    steps: list[str] = []
    assert up(run_program(program), connection(harvester_api), state, steps) == state
    assert steps == []


PLAN_WITHOUT_NODES: dict[str, Any] = {
    "clusterNetworks": [{"name": "data", "uplink": {"nics": ["eth1"], "mtu": 1500}}],
    "networks": [{"name": "vlan100", "clusterNetwork": "data", "vlan": 100, "route": {"mode": "auto"}}],
}
PLAN_WITH_NODES = {**PLAN_WITHOUT_NODES, "nodes": ["node1", "node2"]}
PLAN_WITH_NODES_AND_JUMBO_FRAMES = {
    **PLAN_WITH_NODES,
    "clusterNetworks": [{"name": "data", "uplink": {"nics": ["eth1"], "mtu": 9000}}],
}
POOL_MOVED = {  # the pool's server address and range change: immutable IPPool fields
    **EVERY_ROUTE_AND_BACKEND,
    "networks": [
        {**net, "dhcpServer": {**net["dhcpServer"], "serverIP": "10.50.0.3", "range": {"start": "10.50.0.150",
                                                                                         "end": "10.50.0.250"}}}
        if "dhcpServer" in net else net
        for net in EVERY_ROUTE_AND_BACKEND["networks"]
    ],
}  # fmt: skip
PLAN_RENAMED = {  # the cluster network gets a new name: its NIC and network move to it
    "clusterNetworks": [{"name": "fabric", "uplink": {"nics": ["eth1"], "mtu": 1500}}],
    "networks": [{**PLAN_WITHOUT_NODES["networks"][0], "clusterNetwork": "fabric"}],
}


@pytest.mark.parametrize(
    "plans",
    [
        (PLAN_WITHOUT_NODES, PLAN_WITH_NODES),
        (PLAN_WITH_NODES, PLAN_WITHOUT_NODES),
        (PLAN_WITH_NODES, PLAN_WITH_NODES_AND_JUMBO_FRAMES),
        (PLAN_WITHOUT_NODES, PLAN_WITH_NODES_AND_JUMBO_FRAMES),
        (PLAN_WITH_NODES, PLAN_RENAMED),
        (EVERY_ROUTE_AND_BACKEND, POOL_MOVED),
    ],
    ids=["gain-nodes", "lose-nodes", "mtu-with-nodes", "gain-nodes-and-mtu", "rename-cluster-network", "move-pool"],
)
def test_a_plan_change_harvester_needs_in_order_takes_one_up(
    harvester_api: HarvesterApi, kube: KubeClient, plans: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    before, after = plans
    state = up(run_program(lambda: HarvesterNetworking("site", plan=before)), connection(harvester_api))
    harvester_api.settle()
    state = up(run_program(lambda: HarvesterNetworking("site", plan=after)), connection(harvester_api), state)
    harvester_api.settle()
    refresh_shows_no_change(state, kube)
    steps: list[str] = []
    up(run_program(lambda: HarvesterNetworking("site", plan=after)), connection(harvester_api), state, steps)
    assert steps == []
    vlanconfigs = sorted(vc["metadata"]["name"] for vc in kube.list_objects("VlanConfig"))
    cluster_network = after["clusterNetworks"][0]["name"]
    expected = [f"{cluster_network}-{node}" for node in after.get("nodes", [])] or [cluster_network]
    assert vlanconfigs == expected


def test_the_first_vlanconfig_of_a_cluster_network_goes_before_the_others() -> None:
    """It deletes what the plan no longer has (provider/vlanconfig.py make_way) once, before the others are applied."""
    recording = run_program(lambda: HarvesterNetworking("site", plan={**PLAN_WITH_NODES, "nodes": ["n1", "n2", "n3"]}))
    first, *others = recording.of_type(f"{DYNAMIC_PREFIX}VlanConfig")
    assert first.name == "site/data-n1"
    assert all(first.urn in other.dependencies for other in others)


def test_a_vm_waits_for_its_networks_dhcp_server_so_it_goes_before_it() -> None:
    """vm-dhcp-controller refuses to delete an IPPool while its VMs' VirtualMachineNetworkConfigs are left
    (pkg/webhook/ippool/validator.go checkVmNetCfgs): Pulumi must delete the VM first."""
    plan = {
        **EVERY_ROUTE_AND_BACKEND,
        "virtualMachines": [{"name": "vm", "interfaces": [{"name": "nic-1", "network": "pool", "ip": "dhcp"}]}],
    }
    recording = run_program(lambda: HarvesterNetworking("all", plan=plan))
    vm = recording.by_name("kubernetes:kubevirt.io/v1:VirtualMachine", "all/default/vm")
    pool = recording.by_name(f"{DYNAMIC_PREFIX}IPPool", "all/default/pool")
    assert pool.urn in vm.dependencies
