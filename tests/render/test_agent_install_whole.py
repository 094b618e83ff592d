"""The agent's install objects compared whole, so a changed key, value or dropped entry anywhere fails (the
hardening tests check the security-relevant parts by meaning; these pin every key)."""

from __future__ import annotations

from typing import Any

import pytest

from harvester_network.render.agent_install import (
    agent_install_objects,
    cluster_role,
    daemon_set,
    listen_address,
    namespace,
)

LABELS = {"app.kubernetes.io/name": "hvnet-agent", "app.kubernetes.io/managed-by": "hvnet"}
READ = ["get", "list", "watch"]


def _expected_daemon_set(image: str, args_address: str, probe_port: int, ports: bool) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "agent",
        "image": image,
        "args": ["agent", "--node", "$(NODE_NAME)", "--state-dir", "/var/lib/hvnet", "--metrics-addr", args_address],
        "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
        "securityContext": {
            "capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN", "NET_RAW"]},
            "runAsUser": 0,
            "runAsNonRoot": False,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
        },
        "livenessProbe": {
            "httpGet": {"host": "127.0.0.1", "path": "/healthz", "port": probe_port},
            "periodSeconds": 20,
        },
        "resources": {"requests": {"cpu": "20m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
        "volumeMounts": [{"name": "state", "mountPath": "/var/lib/hvnet"}, {"name": "tmp", "mountPath": "/tmp"}],
    }
    if ports:
        container["ports"] = [{"name": "metrics", "containerPort": probe_port}]
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "hvnet-agent", "namespace": "hvnet-system", "labels": LABELS},
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": "hvnet-agent"}},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            "template": {
                "metadata": {"labels": LABELS},
                "spec": {
                    "serviceAccountName": "hvnet-agent",
                    "automountServiceAccountToken": True,
                    "hostNetwork": True,
                    "dnsPolicy": "ClusterFirstWithHostNet",
                    "priorityClassName": "system-node-critical",
                    "tolerations": [{"operator": "Exists"}],
                    "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [container],
                    "volumes": [
                        {"name": "state", "hostPath": {"path": "/var/lib/hvnet", "type": "DirectoryOrCreate"}},
                        {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
                    ],
                },
            },
        },
    }


def test_default_daemon_set_whole() -> None:
    assert daemon_set() == _expected_daemon_set(
        "ghcr.io/harvester-network/hvnet-agent:0.1.0", "127.0.0.1:9464", 9464, ports=False
    )


@pytest.mark.parametrize(
    ("address", "port", "ports"),
    [
        ("0.0.0.0:9100", 9100, True),  # a scrape address: the port is named for Prometheus
        ("10.0.0.5:9464", 9464, True),
        ("127.0.0.2:9000", 9000, False),  # any loopback address stays unnamed
        (":9465", 9465, False),  # no host: loopback
    ],
)
def test_daemon_set_metrics_address_whole(address: str, port: int, ports: bool) -> None:
    assert daemon_set("registry.example/agent:1", address) == _expected_daemon_set(
        "registry.example/agent:1", address, port, ports
    )


def test_cluster_role_whole() -> None:
    assert cluster_role() == {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "hvnet-agent", "labels": LABELS},
        "rules": [
            {"apiGroups": ["network.harvesterhci.io"], "resources": ["clusternetworks", "vlanconfigs"], "verbs": READ},
            {"apiGroups": ["k8s.cni.cncf.io"], "resources": ["network-attachment-definitions"], "verbs": READ},
            {
                "apiGroups": ["network.harvesterhci.io"],
                "resources": ["vlanstatuses"],
                "verbs": [*READ, "create", "patch", "delete"],
            },
            {
                "apiGroups": ["network.harvesterhci.io"],
                "resources": ["vlanstatuses/status", "clusternetworks/status"],
                "verbs": ["patch"],
            },
            {"apiGroups": [""], "resources": ["nodes"], "verbs": [*READ, "patch"]},
        ],
    }


def test_namespace_whole() -> None:
    assert namespace() == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": "hvnet-system",
            "labels": {
                **LABELS,
                "pod-security.kubernetes.io/enforce": "privileged",
                "pod-security.kubernetes.io/warn": "baseline",
                "pod-security.kubernetes.io/audit": "baseline",
            },
        },
    }


def test_account_and_binding_whole() -> None:
    by_kind = {o["kind"]: o for o in agent_install_objects()}
    assert by_kind["ServiceAccount"] == {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "hvnet-agent", "namespace": "hvnet-system", "labels": LABELS},
    }
    assert by_kind["ClusterRoleBinding"] == {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "hvnet-agent", "labels": LABELS},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "hvnet-agent"},
        "subjects": [{"kind": "ServiceAccount", "name": "hvnet-agent", "namespace": "hvnet-system"}],
    }


def test_install_options() -> None:
    def names(objects: list[dict[str, Any]]) -> list[str]:
        return [f"{o['kind']}/{o['metadata']['name']}" for o in objects]

    crds = [
        "CustomResourceDefinition/clusternetworks.network.harvesterhci.io",
        "CustomResourceDefinition/vlanconfigs.network.harvesterhci.io",
        "CustomResourceDefinition/vlanstatuses.network.harvesterhci.io",
        "CustomResourceDefinition/ippools.network.harvesterhci.io",
    ]
    rest = ["Namespace/hvnet-system", "ServiceAccount/hvnet-agent", "ClusterRole/hvnet-agent"]
    binding = ["ClusterRoleBinding/hvnet-agent"]
    policy = ["ValidatingAdmissionPolicy/hvnet-agent", "ValidatingAdmissionPolicyBinding/hvnet-agent"]
    nad = ["CustomResourceDefinition/network-attachment-definitions.k8s.cni.cncf.io"]
    assert names(agent_install_objects()) == [*crds, *nad, *rest, *binding, *policy, "DaemonSet/hvnet-agent"]
    assert names(agent_install_objects(include_nad_crd=False, admission_policy=False)) == [
        *crds, *rest, *binding, "DaemonSet/hvnet-agent"
    ]  # fmt: skip
    objects = agent_install_objects(image="r/a:2", metrics_address="0.0.0.0:9100")
    assert objects[-1] == daemon_set("r/a:2", "0.0.0.0:9100")
    assert agent_install_objects()[-1] == daemon_set()  # the same defaults (daemon_set's are pinned above)


def test_the_policy_binds_the_service_account_the_install_creates() -> None:
    """Kubernetes names a service account's requests `system:serviceaccount:<namespace>:<name>`."""
    objects = {o["kind"]: o for o in agent_install_objects()}
    account, policy = objects["ServiceAccount"]["metadata"], objects["ValidatingAdmissionPolicy"]
    user = f"system:serviceaccount:{account['namespace']}:{account['name']}"
    assert policy["spec"]["matchConditions"] == [
        {"name": "agent", "expression": f"request.userInfo.username == '{user}'"}
    ]
    assert objects["DaemonSet"]["spec"]["template"]["spec"]["serviceAccountName"] == account["name"]


@pytest.mark.parametrize(
    ("value", "parsed"),
    [("127.0.0.1:9464", ("127.0.0.1", 9464)), (":0", ("127.0.0.1", 0)), ("0.0.0.0:65535", ("0.0.0.0", 65535))],
)
def test_listen_address(value: str, parsed: tuple[str, int]) -> None:
    assert listen_address(value) == parsed


FIX = "give HOST:PORT, e.g. 127.0.0.1:9464 (this node only) or 0.0.0.0:9464 (for a Prometheus off the node)"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("9464", f"'9464' is not HOST:PORT with a port of 0-65535 ({FIX})"),
        ("1.2.3.4:", f"'1.2.3.4:' is not HOST:PORT with a port of 0-65535 ({FIX})"),
        ("1.2.3.4:65536", f"'1.2.3.4:65536' is not HOST:PORT with a port of 0-65535 ({FIX})"),
        ("1.2.3.4:-1", f"'1.2.3.4:-1' is not HOST:PORT with a port of 0-65535 ({FIX})"),
        ("node1:9464", f"'node1' is not an IPv4 address ({FIX})"),
    ],
)
def test_listen_address_refusals(value: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        listen_address(value)
    assert str(caught.value) == message
    assert caught.value.__cause__ is None
