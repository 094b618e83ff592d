"""HarvesterNetworking(install_agent=True) under Pulumi mocks: for clusters without Harvester it also makes what
`hvnet render --install-agent` makes (CRDs, namespace, RBAC, the agent's DaemonSet), before the cluster networks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from harvester_network.components import HarvesterNetworking
from harvester_network.components.stack import build_stack
from harvester_network.model import load_plan_file
from harvester_network.render import object_key
from harvester_network.render.agent_install import agent_install_objects
from tests.pulumi.harness import DYNAMIC_PREFIX, Recording, rendered, run_program

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart" / "plan.yaml"
IMAGE = "registry.example/hvnet-agent:test"


def quickstart(**options: object) -> Recording:
    plan = load_plan_file(QUICKSTART)[0]
    return run_program(lambda: HarvesterNetworking("qs", plan=plan, **options))  # type: ignore[arg-type]


@pytest.mark.parametrize("nad_crd", [True, False])
def test_install_agent_makes_what_render_install_agent_makes(nad_crd: bool) -> None:
    recording = quickstart(install_agent=True, agent_image=IMAGE, nad_crd=nad_crd)
    plan = load_plan_file(QUICKSTART)[0]
    installed = {object_key(obj): obj for obj in agent_install_objects(IMAGE, include_nad_crd=nad_crd)}
    assert recording.objects() == rendered(plan) | installed
    crds = recording.of_type("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition")
    assert ("network-attachment-definitions.k8s.cni.cncf.io" in {r.name.split("/")[-1] for r in crds}) is nad_crd


def test_without_install_agent_nothing_of_the_agent_is_made() -> None:
    recording = quickstart()
    kinds = {(r.rendered_object() or {}).get("kind") for r in recording.registrations}
    assert not kinds & {"CustomResourceDefinition", "DaemonSet", "ClusterRole", "ClusterRoleBinding", "Namespace"}


def test_cluster_networks_wait_for_the_agent_install() -> None:
    recording = quickstart(install_agent=True)
    install = {
        r.urn
        for r in recording.registrations
        if (r.rendered_object() or {}).get("kind") in {"CustomResourceDefinition", "ClusterRole", "DaemonSet"}
    }
    assert len(install) >= 5  # 4 CRDs, the role, the DaemonSet
    for kind in ("ClusterNetwork", "VlanConfig"):
        for resource in recording.of_type(f"{DYNAMIC_PREFIX}{kind}"):
            assert install <= set(resource.dependencies), f"{resource.name} is not made after the agent's install"


def test_stack_config_installs_the_agent_on_the_clusters_that_ask_for_it() -> None:
    plan = yaml.safe_load(QUICKSTART.read_text())
    clusters = [{"name": "with", "installAgent": True, "plan": plan}, {"name": "without", "plan": plan}]
    recording = run_program(build_stack, config={"harvester-network:clusters": clusters})
    daemon_sets = recording.of_type("kubernetes:apps/v1:DaemonSet")
    assert [r.name for r in daemon_sets] == ["with/hvnet-agent"]


def test_each_install_object_waits_for_the_ones_before_it() -> None:
    recording = quickstart(install_agent=True)
    by_kind = {(r.rendered_object() or {}).get("kind"): r for r in recording.registrations if r.rendered_object()}
    daemon_set = by_kind["DaemonSet"]
    for kind in ("Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"):
        assert by_kind[kind].urn in daemon_set.dependencies, kind


@pytest.mark.parametrize("as_output", [False, True])
def test_what_a_component_waits_for_its_children_wait_for(as_output: bool) -> None:
    plan = load_plan_file(QUICKSTART)[0]

    def program() -> None:
        first = pulumi.CustomResource("test:index:First", "first")
        depends_on: Any = pulumi.Output.from_input([first]) if as_output else [first]
        HarvesterNetworking("qs", plan=plan, opts=pulumi.ResourceOptions(depends_on=depends_on))

    recording = run_program(program)
    first_urn = recording.by_name("test:index:First", "first").urn
    for kind in ("ClusterNetwork", "VlanConfig", "NetworkAttachmentDefinition"):
        for resource in recording.of_type(f"{DYNAMIC_PREFIX}{kind}"):
            assert first_urn in resource.dependencies, resource.name
