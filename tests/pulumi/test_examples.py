"""The example programs under Pulumi mocks: the objects they make are exactly `hvnet render`'s, the resource tree
has the documented shape, and credentials stay secret."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from harvester_network.model import load_plan_file
from tests.pulumi.harness import DYNAMIC_PREFIX, Recording, rendered, run_program

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p.parent for p in (ROOT / "examples").glob("*/plan.yaml") if (p.parent / "__main__.py").exists())
COMPONENT = "harvester-network:index:"
KUBECONFIG = "apiVersion: v1\nkind: Config\nclusters: []\n"


def run_example(example: Path, config: dict[str, str] | None = None) -> Recording:
    return run_program(lambda: runpy.run_path(str(example / "__main__.py")), config=config)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_program_makes_exactly_what_hvnet_render_makes(example: Path) -> None:
    recording = run_example(example)
    plan, _ = load_plan_file(example / "plan.yaml")
    assert recording.objects() == rendered(plan)


def test_quickstart_is_among_the_examples() -> None:
    assert "quickstart" in [e.name for e in EXAMPLES]


def test_quickstart_resource_tree() -> None:
    recording = run_example(ROOT / "examples/quickstart")
    name_of = {r.urn: r.name for r in recording.registrations}
    tree = {(r.type, r.name): name_of.get(r.parent, "<stack>") for r in recording.registrations}
    hn, cn, vm = (f"{COMPONENT}{t}" for t in ("HarvesterNetworking", "ClusterNetwork", "VirtualMachine"))
    nad = f"{DYNAMIC_PREFIX}NetworkAttachmentDefinition"
    assert tree == {
        (hn, "quickstart"): "<stack>",
        ("pulumi:providers:kubernetes", "quickstart-kubernetes"): "quickstart",
        (cn, "quickstart/vlan"): "quickstart",
        (f"{DYNAMIC_PREFIX}ClusterNetwork", "quickstart/vlan"): "quickstart/vlan",
        **{(f"{DYNAMIC_PREFIX}VlanConfig", f"quickstart/vlan-node{n}"): "quickstart/vlan" for n in (1, 2, 3)},
        **{(nad, f"quickstart/default/{net}"): "quickstart" for net in ("vlan100", "vlan200", "untagged")},
        **{(vm, f"quickstart/default/{name}"): "quickstart" for name in ("web-1", "db-1", "cache-1")},
        **{
            (kind, f"quickstart/default/{name}"): f"quickstart/default/{name}"
            for name in ("web-1", "db-1", "cache-1")
            for kind in ("kubernetes:kubevirt.io/v1:VirtualMachine", "kubernetes:core/v1:Secret")
        },
        ("kubernetes:core/v1:Service", "quickstart/default/web-1"): "quickstart/default/web-1",
    }
    assert recording.by_name(hn, "quickstart").parent.endswith("::pulumi:pulumi:Stack::project-stack")


def test_every_child_has_a_parent_in_the_tree_and_workloads_use_the_clusters_provider() -> None:
    recording = run_example(ROOT / "examples/quickstart")
    urns = {r.urn for r in recording.registrations}
    top = recording.by_name(f"{COMPONENT}HarvesterNetworking", "quickstart")
    assert all(r.parent in urns for r in recording.registrations if r is not top)
    provider = recording.by_name("pulumi:providers:kubernetes", "quickstart-kubernetes")
    workloads = [r for r in recording.registrations if r.type.startswith("kubernetes:")]
    assert len(workloads) == 7  # 3 VMs, their 3 cloud-init Secrets, web-1's Service
    assert all(r.provider.startswith(provider.urn) for r in workloads)


def test_dynamic_resource_inputs_are_the_plan_fields() -> None:
    recording = run_example(ROOT / "examples/quickstart")
    nad = recording.by_name(f"{DYNAMIC_PREFIX}NetworkAttachmentDefinition", "quickstart/default/vlan100")
    assert {k: v for k, v in nad.inputs.items() if k != "__provider"} == {
        "name": "vlan100",
        "namespace": "default",
        "clusterNetwork": "vlan",
        "vlan": 100,
        "route": {"mode": "manual", "cidr": "10.100.0.0/24", "gateway": "10.100.0.1"},
        "mtu": 1500,
    }
    overridden = recording.by_name(f"{DYNAMIC_PREFIX}VlanConfig", "quickstart/vlan-node2")
    assert overridden.inputs["node"] == "node2"
    assert overridden.inputs["uplink"]["nics"] == ["eno2"]
    assert overridden.inputs["uplink"]["mtu"] == 1500  # MTU stays cluster-wide


def test_ordering_follows_what_harvester_needs_first() -> None:
    recording = run_example(ROOT / "examples/quickstart")
    cn = recording.by_name(f"{DYNAMIC_PREFIX}ClusterNetwork", "quickstart/vlan")
    vlanconfigs = recording.of_type(f"{DYNAMIC_PREFIX}VlanConfig")
    nad = recording.by_name(f"{DYNAMIC_PREFIX}NetworkAttachmentDefinition", "quickstart/default/vlan100")
    vm = recording.by_name("kubernetes:kubevirt.io/v1:VirtualMachine", "quickstart/default/db-1")
    # A VlanConfig needs its ClusterNetwork; a NAD waits for the VlanConfigs; a VM for its NADs.
    assert all(cn.urn in vc.dependencies for vc in vlanconfigs)
    assert {cn.urn, *(vc.urn for vc in vlanconfigs)} <= set(nad.dependencies)
    nads = {r.name: r.urn for r in recording.of_type(f"{DYNAMIC_PREFIX}NetworkAttachmentDefinition")}
    assert {nads["quickstart/default/vlan100"], nads["quickstart/default/vlan200"]} <= set(vm.dependencies)
    assert nads["quickstart/default/untagged"] not in vm.dependencies


def test_kubeconfig_is_a_secret_input_and_output() -> None:
    recording = run_example(
        ROOT / "examples/quickstart",
        {"harvester-network:kubeconfig": KUBECONFIG, "harvester-network:context": "lab"},
    )
    dynamic = [r for r in recording.registrations if r.kind is not None]
    assert len(dynamic) == 7
    for resource in dynamic:
        assert resource.is_secret("kubeconfig"), resource.name
        assert resource.plain("kubeconfig") == KUBECONFIG
        assert resource.additional_secret_outputs == ["kubeconfig"]
        assert resource.inputs["context"] == "lab"
    provider = recording.by_name("pulumi:providers:kubernetes", "quickstart-kubernetes")
    assert provider.is_secret("kubeconfig")
    assert provider.inputs["context"] == "lab"


def test_defaults_are_left_out_of_dynamic_inputs() -> None:
    recording = run_example(ROOT / "examples/quickstart")
    for resource in (r for r in recording.registrations if r.kind is not None):
        assert not {"kubeconfig", "context", "adopt", "waitForReady", "timeout"} & set(resource.inputs), resource.name
