"""The API resources hvnet reads or writes: where each kind lives on the API server.

Our own kinds come from the CRDs we ship (render/crds.py), so the two cannot disagree; the built-in and
KubeVirt kinds are listed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harvester_network.render import harvester as h
from harvester_network.render.crds import custom_resource_definitions


@dataclass(frozen=True)
class Kind:
    api_version: str
    kind: str
    plural: str
    namespaced: bool

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        """The REST path of the collection (in `namespace`, or across all) or of one object."""
        prefix = f"/api/{self.api_version}" if "/" not in self.api_version else f"/apis/{self.api_version}"
        scope = f"/namespaces/{namespace}" if self.namespaced and namespace else ""
        item = f"/{name}" if name else ""
        return f"{prefix}{scope}/{self.plural}{item}"

    def subject(self, name: str, namespace: str | None = None) -> str:
        """`Kind name` or `Kind namespace/name`, as error messages name an object."""
        return f"{self.kind} {namespace}/{name}" if self.namespaced and namespace else f"{self.kind} {name}"


def _crd_kinds() -> list[Kind]:
    kinds = []
    for crd in custom_resource_definitions():
        spec = crd["spec"]
        version = next(v["name"] for v in spec["versions"] if v.get("storage"))
        kinds.append(
            Kind(
                f"{spec['group']}/{version}", spec["names"]["kind"], spec["names"]["plural"], spec["scope"] != "Cluster"
            )
        )
    return kinds


_BUILT_IN = [
    Kind("v1", "Namespace", "namespaces", False),
    Kind("v1", "Node", "nodes", False),
    Kind("v1", "Service", "services", True),
    Kind("v1", "ConfigMap", "configmaps", True),
    Kind("v1", "ServiceAccount", "serviceaccounts", True),
    Kind("apps/v1", "Deployment", "deployments", True),
    Kind("apps/v1", "DaemonSet", "daemonsets", True),
    Kind("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", False),
    Kind("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", False),
    Kind("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy", "validatingadmissionpolicies", False),
    Kind(
        "admissionregistration.k8s.io/v1",
        "ValidatingAdmissionPolicyBinding",
        "validatingadmissionpolicybindings",
        False,
    ),
    Kind("apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions", False),
    Kind(h.KUBEVIRT_API, "VirtualMachine", "virtualmachines", True),
    Kind(h.KUBEVIRT_API, "VirtualMachineInstance", "virtualmachineinstances", True),
]

KINDS: dict[str, Kind] = {k.kind: k for k in [*_crd_kinds(), *_BUILT_IN]}


def kind_named(kind: str) -> Kind:
    try:
        return KINDS[kind]
    except KeyError:
        raise ValueError(f"hvnet does not know the API resource of kind '{kind}' (known: {', '.join(KINDS)})") from None


def kind_of(obj: dict[str, Any]) -> Kind:
    """The Kind of an object, checked against its apiVersion."""
    kind = kind_named(obj["kind"])
    if obj.get("apiVersion") != kind.api_version:
        raise ValueError(f"{obj['kind']} must have apiVersion {kind.api_version}, not {obj.get('apiVersion')}")
    return kind
