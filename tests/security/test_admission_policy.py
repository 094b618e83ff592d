"""The agent's ValidatingAdmissionPolicy (render/agent_policy.py): every expression it renders evaluated by a real
CEL implementation (cel-python) against admission requests, and enforced by the test API server on the agent's
own writes (tests/k8s_api/admission_policy.py), where a service-account token carries the node claim."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from harvester_network.agent.status import KubeStatusSink
from harvester_network.kube import KubeClient, KubeError, KubeTarget
from harvester_network.render import harvester as h
from harvester_network.render.agent_install import AGENT_NAME, AGENT_NAMESPACE, AGENT_USER, agent_install_objects
from harvester_network.render.vlanstatus import vlanstatus_object
from tests.k8s_api import admission_policy as ap
from tests.k8s_api.fixtures import KubeApi
from tests.k8s_api.resources import ResourceType, builtin_types, types_from_crd


def policy_and_binding() -> list[dict[str, Any]]:
    """Rendered in each test, not at import, so a changed renderer reaches every check (tools/mutation.py)."""
    return [o for o in agent_install_objects() if o["kind"].startswith("ValidatingAdmissionPolicy")]


NODE_TYPE = next(t for t in builtin_types() if t.kind == "Node")
VLANSTATUS_TYPE = next(
    t
    for crd in agent_install_objects()
    if crd["kind"] == "CustomResourceDefinition"
    for t in types_from_crd(crd)
    if t.kind == "VlanStatus"
)
AGENT_ON_N1 = ap.UserInfo(AGENT_USER, extra={ap.NODE_NAME_CLAIM: ["n1"]})
LABEL = "network.harvesterhci.io/vlan"


def node(name: str, labels: dict[str, str] | None = None, **fields: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels or {}}}
    obj["spec"] = fields.pop("spec", {"podCIDR": "10.42.0.0/24"})
    obj["metadata"].update(fields)
    return obj


N1 = node("n1", {"kubernetes.io/hostname": "n1"}, annotations={"flannel.alpha.coreos.com/public-ip": "192.0.2.1"})


def changed(obj: dict[str, Any], *, labels: dict[str, str | None] | None = None, **top: Any) -> dict[str, Any]:
    """A copy with labels set (None removes one) and top-level or metadata fields replaced."""
    new = yaml.safe_load(yaml.safe_dump(obj))
    for key, value in (labels or {}).items():
        if value is None:
            new["metadata"]["labels"].pop(key, None)
        else:
            new["metadata"]["labels"][key] = value
    for key, value in top.items():
        (new if key in ("spec", "status") else new["metadata"])[key] = value
    return new


def vlanstatus(node_name: str, status_node: str | None = None) -> dict[str, Any]:
    obj = vlanstatus_object(
        cluster_network="vlan",
        node=node_name,
        vlan_config="vlan",
        ready=True,
        message="",
        updated_at="2026-01-01T00:00:00Z",
    )
    if status_node is not None:
        obj["status"]["node"] = status_node
    return obj


def denials(
    resource_type: ResourceType,
    operation: str,
    new: dict[str, Any] | None,
    old: dict[str, Any] | None,
    user: ap.UserInfo = AGENT_ON_N1,
    subresource: str = "",
) -> list[str]:
    name = (new or old or {})["metadata"]["name"]
    return ap.evaluate(
        policy_and_binding()[0], ap.admission_request(resource_type, operation, name, user, subresource, new, old)
    )


ALLOWED = {
    "its own Node's network label added": (NODE_TYPE, "UPDATE", changed(N1, labels={LABEL: "true"}), N1),
    "its own Node's network label removed": (
        NODE_TYPE, "UPDATE", N1, changed(N1, labels={LABEL: "true"})),
    "a VlanStatus of its node created": (VLANSTATUS_TYPE, "CREATE", vlanstatus("n1"), None),
    "a VlanStatus of its node updated": (VLANSTATUS_TYPE, "UPDATE", vlanstatus("n1"), vlanstatus("n1")),
    "a VlanStatus of its node deleted": (VLANSTATUS_TYPE, "DELETE", None, vlanstatus("n1")),
}  # fmt: skip
DENIED = {
    "another Node": (
        NODE_TYPE, "UPDATE", changed(node("n2"), labels={LABEL: "true"}), node("n2"), "only the Node it runs on"),
    "another label of its Node": (
        NODE_TYPE, "UPDATE", changed(N1, labels={"node-role.kubernetes.io/worker": "true"}), N1,
        "only network.harvesterhci.io/* labels"),
    "a label of its Node changed": (
        NODE_TYPE, "UPDATE", changed(N1, labels={"kubernetes.io/hostname": "n2"}), N1,
        "only network.harvesterhci.io/* labels"),
    "a label of its Node removed": (
        NODE_TYPE, "UPDATE", changed(N1, labels={"kubernetes.io/hostname": None}), N1,
        "only network.harvesterhci.io/* labels"),
    "a taint on its Node": (
        NODE_TYPE, "UPDATE", changed(N1, spec={"taints": [{"key": "x", "effect": "NoExecute"}]}),
        N1, "may not change a Node's spec"),
    "its Node cordoned": (
        NODE_TYPE, "UPDATE", changed(N1, spec={"podCIDR": "10.42.0.0/24", "unschedulable": True}), N1,
        "may not change a Node's spec"),
    "an annotation on its Node": (
        NODE_TYPE, "UPDATE", changed(N1, annotations={"flannel.alpha.coreos.com/public-ip": "203.0.113.9"}), N1,
        "annotations"),
    "a finalizer on its Node": (
        NODE_TYPE, "UPDATE", changed(N1, finalizers=["example.com/hold"]), N1, "finalizers"),
    "a finalizer of its Node removed": (
        NODE_TYPE, "UPDATE", N1, changed(N1, finalizers=["example.com/hold"]), "finalizers"),
    "an owner of its Node": (
        NODE_TYPE, "UPDATE",
        changed(N1, ownerReferences=[{"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "u1"}]), N1,
        "owners"),
    "a VlanStatus of another node created": (
        VLANSTATUS_TYPE, "CREATE", vlanstatus("n2"), None, "only VlanStatuses of its own node"),
    "its VlanStatus claiming another node in status": (
        VLANSTATUS_TYPE, "CREATE", vlanstatus("n1", status_node="n2"), None, "only VlanStatuses of its own node"),
    "another node's VlanStatus relabelled as its own": (
        VLANSTATUS_TYPE, "UPDATE", vlanstatus("n1"), changed(vlanstatus("n1"), labels={h.LABEL_NODE: "n2"}),
        "only VlanStatuses of its own node"),
    "another node's VlanStatus deleted": (
        VLANSTATUS_TYPE, "DELETE", None, vlanstatus("n2"), "only VlanStatuses of its own node"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(ALLOWED))
def test_the_agent_may(case: str) -> None:
    resource_type, operation, new, old = ALLOWED[case]
    assert denials(resource_type, operation, new, old) == []


@pytest.mark.parametrize("case", sorted(DENIED))
def test_the_agent_may_not_change(case: str) -> None:
    resource_type, operation, new, old, message = DENIED[case]
    found = denials(resource_type, operation, new, old)
    assert any(message in d for d in found), found


def test_another_nodes_vlanstatus_status_is_denied_too() -> None:
    found = denials(VLANSTATUS_TYPE, "UPDATE", vlanstatus("n2"), vlanstatus("n2"), subresource="status")
    assert any("only VlanStatuses of its own node" in d for d in found)


def test_a_token_without_the_node_claim_is_denied() -> None:
    """Fail closed: before Kubernetes 1.32 (or with the claim's feature off) the agent cannot write at all."""
    found = denials(NODE_TYPE, "UPDATE", changed(N1, labels={LABEL: "true"}), N1, ap.UserInfo(AGENT_USER))
    assert any("names no node" in d for d in found)


def test_other_users_are_not_this_policys_business() -> None:
    admin = ap.UserInfo("kubernetes-admin", ("system:masters",))
    assert denials(NODE_TYPE, "UPDATE", changed(N1, spec={"taints": [{"key": "x"}]}), N1, admin) == []
    other_sa = ap.UserInfo(f"system:serviceaccount:{AGENT_NAMESPACE}:other", extra={ap.NODE_NAME_CLAIM: ["n1"]})
    assert denials(VLANSTATUS_TYPE, "DELETE", None, vlanstatus("n2"), other_sa) == []


def test_every_rendered_expression_is_evaluated_by_the_tests() -> None:
    """Every variable, match condition and validation compiles in cel-python (the API server would refuse a
    policy it cannot compile; a typo must fail here, not on a cluster)."""
    policy, binding = policy_and_binding()
    spec = policy["spec"]
    expressions = [
        *(c["expression"] for c in spec["matchConditions"]),
        *(v["expression"] for v in spec["variables"]),
        *(v["expression"] for v in spec["validations"]),
    ]
    for expression in expressions:
        ap._program(expression)  # raises CelError when it does not compile
    assert binding["spec"] == {"policyName": policy["metadata"]["name"], "validationActions": ["Deny"]}
    assert spec["failurePolicy"] == "Fail"


# --- enforced by the test API server ----------------------------------------------------------------------------


def _agent_target(k8s_api: KubeApi, tmp_path: Path, node_name: str) -> KubeTarget:
    """A kubeconfig with the token of the agent's service account in a pod on `node_name`."""
    kubeconfig = yaml.safe_load(Path(k8s_api.kubeconfig_path).read_text())
    kubeconfig["users"][0]["user"] = {"token": ap.service_account_token(AGENT_NAMESPACE, AGENT_NAME, node_name)}
    path = tmp_path / f"agent-{node_name}"
    path.write_text(yaml.safe_dump(kubeconfig))
    return KubeTarget(kubeconfig_path=str(path))


@pytest.fixture
def installed(k8s_api: KubeApi, k8s_server: object) -> KubeClient:
    """The agent's install applied by the admin, with two nodes; an admin client."""
    with KubeClient(KubeTarget.from_kubeconfig(k8s_api.kubeconfig_path)) as admin:
        for obj in agent_install_objects():
            if obj["kind"] != "DaemonSet":
                admin.apply(obj)
        for name in ("n1", "n2"):
            admin.apply(node(name, {"kubernetes.io/hostname": name}))
        admin.apply({"apiVersion": h.NETWORK_API, "kind": "ClusterNetwork", "metadata": {"name": "vlan"}})
        yield admin


def test_the_server_lets_the_agent_publish_its_own_node_and_refuses_the_rest(
    installed: KubeClient, k8s_api: KubeApi, tmp_path: Path
) -> None:
    agent_n1 = _agent_target(k8s_api, tmp_path, "n1")
    KubeStatusSink(agent_n1).publish("n1", [vlanstatus("n1")])  # statuses, status subresource, label: all allowed
    n1 = installed.get("Node", "n1")
    assert n1 is not None and n1["metadata"]["labels"][LABEL] == "true"
    assert installed.get("VlanStatus", vlanstatus("n1")["metadata"]["name"]) is not None

    with pytest.raises(KubeError) as refused:
        KubeStatusSink(agent_n1).publish("n2", [vlanstatus("n2")])
    assert refused.value.status == 403
    assert "ValidatingAdmissionPolicy 'hvnet-agent' with binding 'hvnet-agent' denied request" in str(refused.value)
    assert "only VlanStatuses of its own node" in str(refused.value)

    with KubeClient(agent_n1) as agent:
        for attempt, message in (
            (lambda: agent.merge_patch("Node", "n1", {"spec": {"unschedulable": True}}), "spec"),
            (lambda: agent.merge_patch("Node", "n1", {"metadata": {"labels": {"zone": "x"}}}), "labels"),
            (lambda: agent.merge_patch("Node", "n2", {"metadata": {"labels": {LABEL: "true"}}}), "only the Node"),
        ):
            with pytest.raises(KubeError) as denied:
                attempt()
            assert denied.value.status == 403 and message in str(denied.value)

    # Another node's status, written by its own agent, cannot be deleted by n1's.
    KubeStatusSink(_agent_target(k8s_api, tmp_path, "n2")).publish("n2", [vlanstatus("n2")])
    with KubeClient(agent_n1) as agent, pytest.raises(KubeError) as denied:
        agent.delete("VlanStatus", vlanstatus("n2")["metadata"]["name"])
    assert denied.value.status == 403
    # The admin is not restricted.
    installed.merge_patch("Node", "n2", {"spec": {"unschedulable": True}})


def test_the_policy_is_in_every_install_and_left_out_only_when_asked() -> None:
    from typer.testing import CliRunner

    from harvester_network.cli import app
    from harvester_network.components import HarvesterNetworking
    from harvester_network.model import load_plan_file
    from tests.pulumi.harness import run_program

    quickstart = Path(__file__).resolve().parents[2] / "examples" / "quickstart" / "plan.yaml"
    policy_kinds = {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}

    def rendered(*flags: str) -> set[str]:
        result = CliRunner().invoke(app, ["render", str(quickstart), "--install-agent", *flags])
        assert result.exit_code == 0, result.output
        return {d["kind"] for d in yaml.safe_load_all(result.stdout)} & policy_kinds

    assert rendered() == policy_kinds
    assert rendered("--no-agent-admission-policy") == set()
    plan = load_plan_file(quickstart)[0]
    for wanted, made in ((True, policy_kinds), (False, set())):
        recording = run_program(
            lambda wanted=wanted: HarvesterNetworking(  # type: ignore[misc]
                "qs", plan=plan, install_agent=True, agent_admission_policy=wanted
            )
        )
        types = {r.type.rsplit(":", 1)[-1] for r in recording.registrations}
        assert types & policy_kinds == made


def _rbac_request(method: str, url: str) -> tuple[str, str, str] | None:
    """(verb, API group, resource[/subresource]) of a resource request, as RBAC sees it; None for discovery."""
    path, _, query = url.partition("?")
    parts = path.strip("/").split("/")
    if parts[0] == "api" and len(parts) >= 3:
        group, rest = "", parts[2:]
    elif parts[0] == "apis" and len(parts) >= 4:
        group, rest = parts[1], parts[3:]
    else:
        return None
    if rest[0] == "namespaces" and len(rest) > 2:
        rest = rest[2:]
    resource = "/".join([rest[0], *rest[2:3]])
    named = len(rest) > 1
    verb = {"PATCH": "patch", "POST": "create", "DELETE": "delete", "PUT": "update"}.get(method)
    if verb is None:
        verb = "get" if named else ("watch" if "watch=true" in query else "list")
    return verb, group, resource


def test_the_agent_needs_no_more_than_its_cluster_role(
    installed: KubeClient, k8s_api: KubeApi, k8s_faults: Any, tmp_path: Path
) -> None:
    """What the agent's source and status writer send (reads, a status, its teardown) is all its ClusterRole
    grants: the narrowed role (no update, status patch only) is enough."""
    from harvester_network.agent.kube_source import KubeSource
    from harvester_network.render.agent_install import cluster_role

    granted = {
        (verb, group, resource)
        for rule in cluster_role()["rules"]
        for verb in rule["verbs"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    agent_n1 = _agent_target(k8s_api, tmp_path, "n1")
    first = len(k8s_faults.requests)
    source = KubeSource(agent_n1, "n1", first_sync_wait_s=10)
    try:
        source.load()
    finally:
        source.close()
    sink = KubeStatusSink(agent_n1)
    sink.publish("n1", [vlanstatus("n1")])
    sink.publish("n1", [])  # the teardown: its statuses and label go
    sent = {r for method, url in k8s_faults.requests[first:] if (r := _rbac_request(method, url)) is not None}
    assert ("delete", "network.harvesterhci.io", "vlanstatuses") in sent  # the teardown was seen
    assert sent - granted == set()
