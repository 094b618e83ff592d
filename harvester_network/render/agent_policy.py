"""The node agent's ValidatingAdmissionPolicy: what RBAC cannot say about its writes.

RBAC grants by verb and resource only: the agent's `patch nodes` covers every Node and every field of it, its
VlanStatus verbs cover every node's statuses. This policy (admissionregistration.k8s.io/v1, Kubernetes 1.30+)
narrows the agent's service account, as NodeRestriction narrows kubelets, to
- its own Node (the node its pod runs on, from the token's `authentication.kubernetes.io/node-name` claim,
  Kubernetes 1.32+, beta since 1.30), and there to the `network.harvesterhci.io/` labels only: no taints,
  cordon or other spec change, no other label, annotation, finalizer or owner;
- VlanStatuses (and their status) of its own node: label `network.harvesterhci.io/node` and `status.node`,
  before and after the change.
A token without the node claim is denied (fail closed); docs/security.md says what older clusters can do.

The expressions keep to portable CEL (no `optional`, no Kubernetes library functions, `x == null` and never
`x != null` on an object: cel-python has no such overload) so cel-python evaluates
them as the API server does (tests/security/test_admission_policy.py, tests/k8s_api/admission_policy.py).
"""

from __future__ import annotations

from typing import Any

from harvester_network.render import harvester as h

NODE_NAME_CLAIM = "authentication.kubernetes.io/node-name"
# The agent's node labels, `network.harvesterhci.io/<cluster network>`: the only labels it may change.
NETWORK_LABEL_PREFIX = h.node_cluster_network_label("")
_IS_NETWORK_LABEL = f"k.startsWith('{NETWORK_LABEL_PREFIX}')"


def _field_of(obj: str, field: str, empty: str) -> str:
    """`obj.<field>` (`spec`, `metadata.labels`...), or `empty` when the object (null on CREATE for oldObject, on
    DELETE for object) or the field is missing."""
    return f"{obj} == null ? {empty} : (has({obj}.{field}) ? {obj}.{field} : {empty})"


def _vlanstatus_node(labels: str) -> str:
    return f"'{h.LABEL_NODE}' in {labels} ? {labels}['{h.LABEL_NODE}'] : ''"


def _variables() -> dict[str, str]:
    """name -> expression, in order (a variable may use those before it)."""
    return {
        "nodeName": (
            f"'{NODE_NAME_CLAIM}' in request.userInfo.extra ? request.userInfo.extra['{NODE_NAME_CLAIM}'][0] : ''"
        ),
        "isNode": "request.resource.group == '' && request.resource.resource == 'nodes'",
        "newLabels": _field_of("object", "metadata.labels", "{}"),
        "oldLabels": _field_of("oldObject", "metadata.labels", "{}"),
        "newVlanStatusNode": _vlanstatus_node("variables.newLabels"),
        "oldVlanStatusNode": _vlanstatus_node("variables.oldLabels"),
        "statusNode": "object == null ? '' : (has(object.status) && has(object.status.node) ? object.status.node : '')",
    }


def _validations() -> list[tuple[str, str]]:
    """(expression, message): each must be true for the request to pass."""
    return [
        (
            "variables.nodeName != ''",
            f"the agent's service account token names no node (claim {NODE_NAME_CLAIM}: Kubernetes 1.32+, "
            "or 1.30+ with the ServiceAccountTokenPodNodeInfo feature); see docs/security.md",
        ),
        (
            "!variables.isNode || (request.operation == 'UPDATE' && request.name == variables.nodeName)",
            "the agent may change only the Node it runs on",
        ),
        (
            f"!variables.isNode || (variables.newLabels.all(k, {_IS_NETWORK_LABEL} || (k in variables.oldLabels && "
            f"variables.oldLabels[k] == variables.newLabels[k])) && variables.oldLabels.all(k, {_IS_NETWORK_LABEL} || "
            "k in variables.newLabels))",
            f"the agent may change only {NETWORK_LABEL_PREFIX}* labels of its Node",
        ),
        (
            "!variables.isNode || ("
            + " && ".join(
                f"({_field_of('object', f, e)}) == ({_field_of('oldObject', f, e)})"
                for f, e in (
                    ("spec", "{}"),
                    ("metadata.annotations", "{}"),
                    ("metadata.finalizers", "[]"),
                    ("metadata.ownerReferences", "[]"),
                )
            )
            + ")",
            "the agent may not change a Node's spec (taints, cordon), annotations, finalizers or owners",
        ),
        (
            "variables.isNode || ((request.operation == 'DELETE' || (variables.newVlanStatusNode == variables.nodeName"
            " && (variables.statusNode == '' || variables.statusNode == variables.nodeName))) && "
            "(request.operation == 'CREATE' || variables.oldVlanStatusNode == variables.nodeName))",
            f"the agent may write only VlanStatuses of its own node (label {h.LABEL_NODE} and status.node)",
        ),
    ]


def admission_policy(name: str, service_account: str, labels: dict[str, str]) -> list[dict[str, Any]]:
    """The policy and its binding for requests of `service_account` (`system:serviceaccount:<ns>:<name>`)."""
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "failurePolicy": "Fail",  # an expression that cannot be evaluated denies
            "matchConstraints": {
                "resourceRules": [
                    {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["UPDATE"], "resources": ["nodes"]},
                    {
                        "apiGroups": [h.NETWORK_API.split("/")[0]],
                        "apiVersions": ["*"],
                        "operations": ["CREATE", "UPDATE", "DELETE"],
                        "resources": ["vlanstatuses", "vlanstatuses/status"],
                    },
                ]
            },
            # Only the agent: other writers (Harvester, admins) are not this policy's business.
            "matchConditions": [{"name": "agent", "expression": f"request.userInfo.username == '{service_account}'"}],
            "variables": [{"name": k, "expression": v} for k, v in _variables().items()],
            "validations": [{"expression": e, "message": m, "reason": "Forbidden"} for e, m in _validations()],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name, "labels": labels},
        "spec": {"policyName": name, "validationActions": ["Deny"]},
    }
    return [policy, binding]
