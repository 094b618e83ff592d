"""The stack-config program (root __main__.py, examples/multi-cluster): one HarvesterNetworking per cluster, each
with its own merged plan, and the deep merge of shared defaults."""

from __future__ import annotations

import copy
import runpy
from pathlib import Path
from typing import Any

import pytest
import yaml

from harvester_network.components.stack import StackConfigError, cluster_plans, deep_merge
from harvester_network.model import load_plan
from tests.pulumi.harness import DYNAMIC_PREFIX, rendered, run_program

ROOT = Path(__file__).resolve().parents[2]
MULTI_CLUSTER = ROOT / "examples/multi-cluster"


def stack_config(path: Path) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(path.read_text())["config"]
    return config


def run_stack_program(program: Path, config: dict[str, Any]) -> Any:
    return run_program(lambda: runpy.run_path(str(program)), config=config)


def test_multi_cluster_example_builds_three_clusters_each_from_its_merged_plan() -> None:
    config = stack_config(MULTI_CLUSTER / "Pulumi.sites.yaml")
    recording = run_stack_program(MULTI_CLUSTER / "__main__.py", config)
    tops = recording.of_type("harvester-network:index:HarvesterNetworking")
    assert sorted(t.name for t in tops) == ["site-a", "site-b", "site-c"]
    defaults = config["harvester-network:defaults"]
    for cluster in config["harvester-network:clusters"]:
        plan, _ = load_plan(deep_merge(defaults, cluster["plan"]))
        assert recording.objects(f"{cluster['name']}/") == rendered(plan), cluster["name"]
        for resource in recording.registrations:
            if resource.kind is not None and resource.name.startswith(f"{cluster['name']}/"):
                assert resource.inputs["context"] == cluster["context"]


def test_multi_cluster_overrides_reach_each_clusters_objects() -> None:
    recording = run_stack_program(MULTI_CLUSTER / "__main__.py", stack_config(MULTI_CLUSTER / "Pulumi.sites.yaml"))
    site_a, site_b, site_c = (recording.objects(f"site-{x}/") for x in "abc")
    assert site_a["VlanConfig/vlan-a-node2"]["spec"]["uplink"]["nics"] == ["eno2"]
    assert site_a["VlanConfig/vlan-a-node1"]["spec"]["uplink"]["nics"] == ["eth1"]
    uplink_b = site_b["VlanConfig/vlan"]["spec"]["uplink"]
    assert (uplink_b["nics"], uplink_b["bondOptions"]["mode"], uplink_b["linkAttributes"]["mtu"]) == (
        ["eth1", "eth2"],
        "802.3ad",
        9000,
    )
    assert "NetworkAttachmentDefinition/default/storage" in site_b
    assert "NetworkAttachmentDefinition/default/storage" not in site_a
    assert '"vlan":210' in site_c["NetworkAttachmentDefinition/default/vlan200"]["spec"]["config"]
    assert '"vlan":200' in site_a["NetworkAttachmentDefinition/default/vlan200"]["spec"]["config"]
    assert {"ConfigMap/default/vlan200-dhcp", "Deployment/default/vlan200-dhcp", "VirtualMachine/default/app-1"} <= set(
        site_c
    )


def test_root_program_with_the_dev_stack_builds_its_one_plan() -> None:
    config = stack_config(ROOT / "Pulumi.dev.yaml")
    recording = run_stack_program(ROOT / "__main__.py", config)
    plan, _ = load_plan(config["harvester-network:plan"])
    assert recording.objects() == rendered(plan)
    assert [t.name for t in recording.of_type("harvester-network:index:HarvesterNetworking")] == ["stack"]


def test_single_plan_takes_kubeconfig_and_context_from_the_config() -> None:
    config = {
        "harvester-network:plan": {"clusterNetworks": [{"name": "vlan", "uplink": {"nics": ["eth1"]}}]},
        "harvester-network:context": "lab",
    }
    recording = run_stack_program(ROOT / "__main__.py", config)
    cn = recording.by_name(f"{DYNAMIC_PREFIX}ClusterNetwork", "stack/vlan")
    assert cn.inputs["context"] == "lab"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "set exactly one of"),
        ({"plan": {}, "clusters": []}, "set exactly one of"),
        ({"clusters": []}, "non-empty list"),
        ({"clusters": [{"plan": {}}]}, "clusters[0]` needs a `name`"),
        ({"clusters": [{"name": "a", "kubecfg": "x"}]}, "unknown keys ['kubecfg']"),
        ({"clusters": [{"name": "a"}, {"name": "a"}]}, "'a' is used twice"),
        ({"clusters": [{"name": "a"}], "defaults": []}, "defaults` must be a mapping"),
        ({"clusters": [{"name": "a", "installAgent": "yes"}]}, "clusters[0]`.installAgent must be true or false"),
        ({"clusters": [{"name": "a"}], "installAgent": True}, "with `clusters`, set `installAgent` in each cluster"),
    ],
)
def test_stack_config_errors_name_the_key(config: dict[str, Any], message: str) -> None:
    with pytest.raises(StackConfigError) as caught:
        cluster_plans(config)
    assert message in str(caught.value)


def test_deep_merge_merges_named_items_and_replaces_the_rest() -> None:
    base = {
        "nodes": ["n1", "n2"],
        "networks": [
            {"name": "a", "vlan": 1, "route": {"mode": "manual", "cidr": "10.0.0.0/24", "gateway": "10.0.0.1"}},
            {"name": "a", "namespace": "team", "vlan": 5},
        ],
        "serviceCIDR": "10.53.0.0/16",
    }
    override = {
        "nodes": ["n3"],
        "networks": [{"name": "a", "vlan": 2, "route": {"gateway": "10.0.0.254"}}, {"name": "b", "vlan": 3}],
    }
    before = copy.deepcopy((base, override))
    assert deep_merge(base, override) == {
        "nodes": ["n3"],
        "networks": [
            {"name": "a", "vlan": 2, "route": {"mode": "manual", "cidr": "10.0.0.0/24", "gateway": "10.0.0.254"}},
            {"name": "a", "namespace": "team", "vlan": 5},  # another namespace: another network
            {"name": "b", "vlan": 3},
        ],
        "serviceCIDR": "10.53.0.0/16",
    }
    assert (base, override) == before


def test_deep_merge_keys_node_overrides_by_node() -> None:
    base = {"nodeOverrides": [{"node": "n1", "nics": ["eth2"]}]}
    merged = deep_merge(base, {"nodeOverrides": [{"node": "n1", "bondMode": "802.3ad"}, {"node": "n2", "nics": ["x"]}]})
    assert merged == {
        "nodeOverrides": [{"node": "n1", "nics": ["eth2"], "bondMode": "802.3ad"}, {"node": "n2", "nics": ["x"]}]
    }


def test_deep_merge_takes_an_omitted_namespace_as_default() -> None:
    base = {"networks": [{"name": "a", "vlan": 1, "clusterNetwork": "vlan"}]}
    merged = deep_merge(base, {"networks": [{"name": "a", "namespace": "default", "vlan": 7}]})
    assert merged == {"networks": [{"name": "a", "vlan": 7, "clusterNetwork": "vlan", "namespace": "default"}]}


def test_a_merged_plan_error_names_the_keys_the_user_wrote() -> None:
    defaults = {
        "clusterNetworks": [{"name": "vlan", "uplink": {"nics": ["eth1"]}}],
        "networks": [{"name": "a", "clusterNetwork": "vlan", "vlan": 10}, {"name": "b", "clusterNetwork": "vl"}],
    }
    clusters = [
        {"name": "ok", "plan": {}},
        {"name": "bad", "plan": {"networks": [{"name": "c", "clusterNetwork": "vlan", "vlan": 5000},
                                              {"name": "a", "namespace": "default", "vlan": -1}]}},
    ]  # fmt: skip
    with pytest.raises(StackConfigError) as caught:
        cluster_plans({"defaults": defaults, "clusters": clusters})
    message = str(caught.value)
    assert message.startswith("the plan of clusters[0].plan is invalid:")  # `b` (from the defaults) is in both
    assert "harvester-network:defaults.networks[1].vlan: is required" in message
    with pytest.raises(StackConfigError) as caught:
        cluster_plans({"defaults": {**defaults, "networks": defaults["networks"][:1]}, "clusters": clusters})
    message = str(caught.value)
    assert "harvester-network:clusters[1].plan.networks[0].vlan: Input should be less than or equal to 4094" in (
        message
    )
    assert (
        "harvester-network:clusters[1].plan.networks[1] over defaults.networks[0].vlan: "
        "Input should be greater than or equal to 0" in message
    )


@pytest.mark.parametrize("project", sorted((ROOT / "examples").glob("*/Pulumi.yaml")), ids=lambda p: p.parent.name)
def test_each_example_project_installs_into_its_own_virtualenv(project: Path) -> None:
    """`pulumi install` in the example directory makes `venv` there from requirements.txt: this checkout."""
    runtime = yaml.safe_load(project.read_text())["runtime"]
    assert runtime["options"] == {"toolchain": "pip", "virtualenv": "venv"}
    requirements = (project.parent / "requirements.txt").read_text().splitlines()
    assert "-e ../..[pulumi]" in requirements
    assert (project.parent / "../.." / "pyproject.toml").resolve() == ROOT / "pyproject.toml"


def test_the_multi_cluster_stack_file_is_the_one_the_docs_name() -> None:
    assert (MULTI_CLUSTER / "Pulumi.sites.yaml").exists()
    assert "pulumi stack init sites" in (ROOT / "README.md").read_text()
