"""The objects that install the node agent on a cluster without Harvester (`hvnet render --install-agent`)."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from harvester_network.cli import app
from harvester_network.render.agent_install import AGENT_NAME, agent_install_objects, cluster_role, daemon_set

QUICKSTART = str(Path(__file__).parents[2] / "examples" / "quickstart" / "plan.yaml")


def test_install_objects_in_apply_order() -> None:
    kinds = [o["kind"] for o in agent_install_objects()]
    assert kinds == ["CustomResourceDefinition"] * 5 + [
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "DaemonSet",
    ]
    groups = {
        o["spec"]["group"] for o in agent_install_objects(include_nad_crd=False) if o["kind"].endswith("Definition")
    }
    assert groups == {"network.harvesterhci.io"}


def test_cluster_role_is_least_privilege() -> None:
    rules = {
        (g, r): set(rule["verbs"])
        for rule in cluster_role()["rules"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
    }
    read = {"get", "list", "watch"}
    assert rules[("network.harvesterhci.io", "vlanconfigs")] == read
    assert rules[("network.harvesterhci.io", "clusternetworks")] == read
    assert rules[("k8s.cni.cncf.io", "network-attachment-definitions")] == read
    assert "patch" in rules[("", "nodes")] and "delete" not in rules[("", "nodes")]
    assert not any("*" in verbs for verbs in rules.values())
    assert ("", "secrets") not in rules


def test_daemonset_runs_on_the_host_network_with_net_admin_only() -> None:
    pod = daemon_set()["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True and pod["serviceAccountName"] == AGENT_NAME
    [container] = pod["containers"]
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["NET_ADMIN", "NET_RAW"]}
    assert "privileged" not in container["securityContext"]
    assert container["env"][0]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    assert container["args"][:3] == ["agent", "--node", "$(NODE_NAME)"]


def test_render_install_agent_puts_crds_first() -> None:
    result = CliRunner().invoke(app, ["render", QUICKSTART, "--install-agent", "--agent-image", "x/agent:1"])
    assert result.exit_code == 0, result.output
    docs = list(yaml.safe_load_all(result.stdout))
    assert docs[0]["kind"] == "CustomResourceDefinition"
    assert [d["kind"] for d in docs].index("DaemonSet") < [d["kind"] for d in docs].index("ClusterNetwork")
    ds = next(d for d in docs if d["kind"] == "DaemonSet")
    assert ds["spec"]["template"]["spec"]["containers"][0]["image"] == "x/agent:1"
