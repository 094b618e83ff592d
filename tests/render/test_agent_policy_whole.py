"""The agent's ValidatingAdmissionPolicy and its binding compared whole: every key and value but the CEL text,
which tests/security/test_admission_policy.py evaluates with cel-python against admission requests."""

from __future__ import annotations

from unittest.mock import ANY

from harvester_network.render.agent_policy import admission_policy

CEL = ANY  # an expression: judged by what it allows and denies (tests/security), not by its spelling
SA = "system:serviceaccount:ns1:agent1"


def test_the_policy_and_binding_whole() -> None:
    policy, binding = admission_policy("p1", SA, {"team": "net"})
    assert policy == {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": "p1", "labels": {"team": "net"}},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["UPDATE"], "resources": ["nodes"]},
                    {
                        "apiGroups": ["network.harvesterhci.io"],
                        "apiVersions": ["*"],
                        "operations": ["CREATE", "UPDATE", "DELETE"],
                        "resources": ["vlanstatuses", "vlanstatuses/status"],
                    },
                ]
            },
            "matchConditions": [{"name": "agent", "expression": f"request.userInfo.username == '{SA}'"}],
            "variables": [
                {"name": name, "expression": CEL}
                for name in (
                    "nodeName",
                    "isNode",
                    "newLabels",
                    "oldLabels",
                    "newVlanStatusNode",
                    "oldVlanStatusNode",
                    "statusNode",
                )
            ],
            "validations": [
                {"expression": CEL, "message": message, "reason": "Forbidden"}
                for message in (
                    "the agent's service account token names no node (claim authentication.kubernetes.io/node-name:"
                    " Kubernetes 1.32+, or 1.30+ with the ServiceAccountTokenPodNodeInfo feature); see"
                    " docs/security.md",
                    "the agent may change only the Node it runs on",
                    "the agent may change only network.harvesterhci.io/* labels of its Node",
                    "the agent may not change a Node's spec (taints, cordon), annotations, finalizers or owners",
                    "the agent may write only VlanStatuses of its own node (label network.harvesterhci.io/node"
                    " and status.node)",
                )
            ],
        },
    }
    assert binding == {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": "p1", "labels": {"team": "net"}},
        "spec": {"policyName": "p1", "validationActions": ["Deny"]},
    }
