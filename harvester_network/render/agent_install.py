"""What a cluster without Harvester needs to run the node agent: CRDs, namespace, RBAC, admission policy,
DaemonSet.

Least privilege: the agent reads ClusterNetworks, VlanConfigs and NADs; writes VlanStatuses and the
ClusterNetwork status; and patches Node objects. RBAC cannot narrow a patch to one node or to labels, nor a
VlanStatus write to the writer's node: the ValidatingAdmissionPolicy of render/agent_policy.py does.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from harvester_network import __version__
from harvester_network.facts import AGENT_STATE_DIR, MAX_PORT
from harvester_network.render import harvester as h
from harvester_network.render.agent_policy import admission_policy as agent_admission_policy
from harvester_network.render.crds import custom_resource_definitions

AGENT_NAME = "hvnet-agent"
AGENT_NAMESPACE = "hvnet-system"
AGENT_IMAGE = f"ghcr.io/harvester-network/hvnet-agent:{__version__}"
# Loopback: the host network would open any other address to the node's networks, unauthenticated.
DEFAULT_METRICS_ADDRESS = "127.0.0.1:9464"
AGENT_USER = f"system:serviceaccount:{AGENT_NAMESPACE}:{AGENT_NAME}"

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
            # The agent writes by server-side apply (patch; create for a new object) and never by update (PUT).
            {
                "apiGroups": ["network.harvesterhci.io"],
                "resources": ["vlanstatuses"],
                "verbs": [*_READ, "create", "patch", "delete"],
            },
            {
                "apiGroups": ["network.harvesterhci.io"],
                "resources": ["vlanstatuses/status", "clusternetworks/status"],
                "verbs": ["patch"],
            },
            # It lists and watches its own Node only (a field selector RBAC cannot require); the admission policy
            # limits its patches to its own Node's network labels.
            {"apiGroups": [""], "resources": ["nodes"], "verbs": [*_READ, "patch"]},
        ],
    }


def daemon_set(image: str = AGENT_IMAGE, metrics_address: str = DEFAULT_METRICS_ADDRESS) -> dict[str, Any]:
    """The agent on every node, as the Pod Security Standards' "restricted" profile asks wherever the job allows;
    each deviation says why. `metrics_address`: where /metrics and /healthz listen (loopback by default: on the
    host network any other address is open to the node's networks, without authentication)."""
    selector = {"app.kubernetes.io/name": AGENT_NAME}
    container = {
        "name": "agent",
        "image": image,
        "args": ["agent", "--node", "$(NODE_NAME)", "--state-dir", AGENT_STATE_DIR, "--metrics-addr", metrics_address],
        "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
        "securityContext": {
            # Not restricted: NET_ADMIN for links, bridges and VLANs; NET_RAW for the gateway reachability probe.
            "capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN", "NET_RAW"]},
            # Not restricted: root (uid 0, with only the two capabilities above). Kubernetes adds capabilities to
            # a non-root process's bounding set only, not its effective set (no ambient capabilities), and file
            # capabilities need privilege escalation, which is off: a non-root agent could not use netlink.
            "runAsUser": 0,
            "runAsNonRoot": False,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
        },
        # On the host network the kubelet probes the pod IP (the node's): the loopback listener needs host
        # 127.0.0.1, which the kubelet (in the host's network namespace) reaches.
        "livenessProbe": {
            "httpGet": {"host": "127.0.0.1", "path": "/healthz", "port": _port(metrics_address)},
            "periodSeconds": 20,
        },
        "resources": {"requests": {"cpu": "20m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
        "volumeMounts": [
            {"name": "state", "mountPath": AGENT_STATE_DIR},
            {"name": "tmp", "mountPath": "/tmp"},  # the root filesystem is read-only; libraries may want a temp file
        ],
    }
    if not _loopback(metrics_address):  # a scrape address: Prometheus finds the port by name
        container["ports"] = [{"name": "metrics", "containerPort": _port(metrics_address)}]
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
                    # The agent talks to the API (its token is mounted); nothing else in the pod does.
                    "automountServiceAccountToken": True,
                    "hostNetwork": True,  # Not restricted (nor baseline): it configures the node's own links
                    "dnsPolicy": "ClusterFirstWithHostNet",
                    # Node networking: evicting it under pressure would cut the node's VMs off their VLANs.
                    "priorityClassName": "system-node-critical",
                    "tolerations": [{"operator": "Exists"}],
                    "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [container],
                    "volumes": [
                        # Not restricted (nor baseline): a hostPath, since the records must outlive the pod.
                        {"name": "state", "hostPath": {"path": AGENT_STATE_DIR, "type": "DirectoryOrCreate"}},
                        {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
                    ],
                },
            },
        },
    }


def listen_address(value: str) -> tuple[str, int]:
    """`HOST:PORT` (an IPv4 address; no host: 127.0.0.1) as (host, port); ValueError says why and what to give."""
    host, colon, port = value.rpartition(":")
    fix = "give HOST:PORT, e.g. 127.0.0.1:9464 (this node only) or 0.0.0.0:9464 (for a Prometheus off the node)"
    if not colon or not port.isdigit() or int(port) > MAX_PORT:
        raise ValueError(f"'{value}' is not HOST:PORT with a port of 0-{MAX_PORT} ({fix})")
    try:
        address = ipaddress.IPv4Address(host or "127.0.0.1")
    except ValueError:
        raise ValueError(f"'{host}' is not an IPv4 address ({fix})") from None
    return str(address), int(port)


def _port(address: str) -> int:
    return listen_address(address)[1]


def _loopback(address: str) -> bool:
    return ipaddress.ip_address(listen_address(address)[0]).is_loopback


def namespace() -> dict[str, Any]:
    """The agent's namespace, with the Pod Security level its pods need stated, not left to the cluster default."""
    security = {
        # hostNetwork and the hostPath state directory are allowed by the privileged level only.
        "pod-security.kubernetes.io/enforce": "privileged",
        # Anything else in this namespace that goes beyond baseline is reported (kubectl warnings, audit log).
        "pod-security.kubernetes.io/warn": "baseline",
        "pod-security.kubernetes.io/audit": "baseline",
    }
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": AGENT_NAMESPACE, "labels": {**_labels(), **security}},
    }


def agent_install_objects(
    image: str = AGENT_IMAGE,
    include_nad_crd: bool = True,
    metrics_address: str = DEFAULT_METRICS_ADDRESS,
    admission_policy: bool = True,
) -> list[dict[str, Any]]:
    """Everything the agent needs, in apply order. Leave out the NAD CRD where Multus installed it, and the
    admission policy only on clusters older than Kubernetes 1.30, which cannot serve it (docs/security.md)."""
    crds = [c for c in custom_resource_definitions() if include_nad_crd or c["spec"]["group"] != "k8s.cni.cncf.io"]
    meta = {"labels": _labels()}
    return [
        *crds,
        namespace(),
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
        *(agent_admission_policy(AGENT_NAME, AGENT_USER, _labels()) if admission_policy else []),
        daemon_set(image, metrics_address),
    ]
