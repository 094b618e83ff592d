"""What a cluster without Harvester needs to run the node agent: CRDs, namespace, RBAC, DaemonSet.

Least privilege: the agent reads ClusterNetworks, VlanConfigs and NADs; writes VlanStatuses and the
ClusterNetwork status; and patches Node objects (RBAC cannot narrow that to labels; the agent only
ever patches `network.harvesterhci.io/<cn>` labels, with its own field manager).
"""

from __future__ import annotations

from typing import Any

from harvester_network import __version__
from harvester_network.facts import AGENT_STATE_DIR
from harvester_network.render import harvester as h
from harvester_network.render.crds import custom_resource_definitions

AGENT_NAME = "hvnet-agent"
AGENT_NAMESPACE = "hvnet-system"
AGENT_IMAGE = f"ghcr.io/harvester-network/hvnet-agent:{__version__}"

_READ = ["get", "list", "watch"]


def _labels() -> dict[str, str]:
    return {"app.kubernetes.io/name": AGENT_NAME, h.LABEL_MANAGED_BY: h.MANAGED_BY}


def cluster_role() -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": AGENT_NAME, "labels": _labels()},
        "rules": [
            {"apiGroups": ["network.harvesterhci.io"], "resources": ["clusternetworks", "vlanconfigs"], "verbs": _READ},
            {"apiGroups": ["k8s.cni.cncf.io"], "resources": ["network-attachment-definitions"], "verbs": _READ},
            {
                "apiGroups": ["network.harvesterhci.io"],
                "resources": ["vlanstatuses"],
                "verbs": [*_READ, "create", "patch", "update", "delete"],
            },
            {
                "apiGroups": ["network.harvesterhci.io"],
                "resources": ["vlanstatuses/status", "clusternetworks/status"],
                "verbs": ["get", "patch", "update"],
            },
            {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch", "patch"]},
        ],
    }


def daemon_set(image: str = AGENT_IMAGE, metrics_port: int = 9464) -> dict[str, Any]:
    selector = {"app.kubernetes.io/name": AGENT_NAME}
    container = {
        "name": "agent",
        "image": image,
        "args": [
            "agent",
            "--node",
            "$(NODE_NAME)",
            "--state-dir",
            AGENT_STATE_DIR,
            "--metrics-addr",
            f"0.0.0.0:{metrics_port}",
        ],
        "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
        # NET_ADMIN for links, bridges and VLANs; NET_RAW for the gateway reachability probe.
        "securityContext": {"capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN", "NET_RAW"]}},
        "ports": [{"name": "metrics", "containerPort": metrics_port}],
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "metrics"}, "periodSeconds": 20},
        "resources": {"requests": {"cpu": "20m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        "volumeMounts": [{"name": "state", "mountPath": AGENT_STATE_DIR}],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": AGENT_NAME, "namespace": AGENT_NAMESPACE, "labels": _labels()},
        "spec": {
            "selector": {"matchLabels": selector},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            "template": {
                "metadata": {"labels": _labels()},
                "spec": {
                    "serviceAccountName": AGENT_NAME,
                    "hostNetwork": True,  # it configures the node's own links
                    "dnsPolicy": "ClusterFirstWithHostNet",
                    "priorityClassName": "system-node-critical",
                    "tolerations": [{"operator": "Exists"}],
                    "containers": [container],
                    "volumes": [{"name": "state", "hostPath": {"path": AGENT_STATE_DIR, "type": "DirectoryOrCreate"}}],
                },
            },
        },
    }


def agent_install_objects(image: str = AGENT_IMAGE, include_nad_crd: bool = True) -> list[dict[str, Any]]:
    """Everything the agent needs, in apply order. Leave out the NAD CRD where Multus installed it."""
    crds = [c for c in custom_resource_definitions() if include_nad_crd or c["spec"]["group"] != "k8s.cni.cncf.io"]
    meta = {"labels": _labels()}
    return [
        *crds,
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": AGENT_NAMESPACE, **meta}},
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": AGENT_NAME, "namespace": AGENT_NAMESPACE, **meta},
        },
        cluster_role(),
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": AGENT_NAME, **meta},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": AGENT_NAME},
            "subjects": [{"kind": "ServiceAccount", "name": AGENT_NAME, "namespace": AGENT_NAMESPACE}],
        },
        daemon_set(image),
    ]
