"""The kinds the server serves: built-in ones (schemaless apart from list semantics) and those CRDs add.

Built-in kinds carry a skeleton schema: `x-kubernetes-preserve-unknown-fields` everywhere (nothing is validated or
pruned) plus the list semantics of the real types (`x-kubernetes-list-type: map` for containers, ports, env...)
so that strategic merge patch and server-side apply merge those lists by key as the real server does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.k8s_api.errors import Subject
from tests.k8s_api.schema import PRESERVE, STRUCT

# Storage keys the server gives meaning to.
NAMESPACES = ("", "namespaces")
CRDS = ("apiextensions.k8s.io", "customresourcedefinitions")
# Finalizers the server itself sets and removes.
FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
CRD_CLEANUP = "customresourcecleanup.apiextensions.k8s.io"

_STRING = {"type": "string"}
_STRING_MAP = {"type": "object", "additionalProperties": _STRING}


def keyed_list(keys: list[str], item_properties: dict[str, Any] | None = None) -> dict[str, Any]:
    """A list merged by key, both by strategic merge patch (first key) and by server-side apply."""
    item: dict[str, Any] = {"type": "object", PRESERVE: True, STRUCT: True}
    if item_properties:
        item["properties"] = item_properties
    return {
        "type": "array",
        "items": item,
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": keys,
        "x-kubernetes-patch-merge-key": keys[0],
        "x-kubernetes-patch-strategy": "merge",
    }


def loose(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", PRESERVE: True, STRUCT: True, "properties": properties}


OBJECT_META: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": _STRING,
        "generateName": _STRING,
        "namespace": _STRING,
        "selfLink": _STRING,
        "uid": _STRING,
        "resourceVersion": _STRING,
        "generation": {"type": "integer"},
        "creationTimestamp": {"type": "string", "nullable": True},
        "deletionTimestamp": _STRING,
        "deletionGracePeriodSeconds": {"type": "integer"},
        "labels": _STRING_MAP,
        "annotations": _STRING_MAP,
        "ownerReferences": keyed_list(["uid"]),
        "finalizers": {
            "type": "array",
            "items": _STRING,
            "x-kubernetes-list-type": "set",
            "x-kubernetes-patch-strategy": "merge",
        },
        "managedFields": {"type": "array", "items": {"type": "object", PRESERVE: True}},
    },
}

_CONTAINER = {
    "env": keyed_list(["name"]),
    "ports": keyed_list(["containerPort", "protocol"]),
    "volumeMounts": keyed_list(["mountPath"]),
}
_POD_SPEC = loose(
    {
        "containers": keyed_list(["name"], _CONTAINER),
        "initContainers": keyed_list(["name"], _CONTAINER),
        "volumes": keyed_list(["name"]),
        "imagePullSecrets": keyed_list(["name"]),
    }
)
_CONDITIONS = keyed_list(["type"])
_WORKLOAD = {
    "spec": loose({"template": loose({"metadata": OBJECT_META, "spec": _POD_SPEC})}),
    "status": loose({"conditions": _CONDITIONS}),
}


def root_schema(
    properties: dict[str, Any] | None = None, *, top_level: tuple[str, ...] = ("spec", "status")
) -> dict[str, Any]:
    """A built-in kind: its top-level fields are known (others are pruned, or rejected under Strict
    validation), what lies below them is not."""
    fields: dict[str, Any] = {"apiVersion": _STRING, "kind": _STRING}
    fields.update({name: {PRESERVE: True, STRUCT: True} for name in top_level})
    fields.update(properties or {})
    fields["metadata"] = OBJECT_META
    return {"type": "object", "properties": fields}


@dataclass(frozen=True)
class ResourceType:
    """One served group/version/resource."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    schema: dict[str, Any] = field(compare=False, repr=False)
    singular: str = ""
    short_names: tuple[str, ...] = ()
    status_subresource: bool = False
    # Served from a CustomResourceDefinition: JSON-only patches, DELETE returns the object, PUT needs a resourceVersion.
    custom: bool = False
    # Whether metadata.generation is kept (objects with a spec); the others never show one.
    tracks_generation: bool = False
    printer_columns: tuple[dict[str, Any], ...] = field(default=(), compare=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def storage_key(self) -> tuple[str, str]:
        """Versions of one resource share storage."""
        return (self.group, self.plural)

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    def subject(self, name: str) -> Subject:
        return Subject(self.group, self.plural, name)

    def discovery_entry(self) -> list[dict[str, Any]]:
        verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
        entry: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular or self.kind.lower(),
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": verbs,
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        if self.custom:
            entry["categories"] = ["all"] if self.namespaced else []
        if not self.status_subresource:
            return [entry]
        status = {"name": f"{self.plural}/status", "singularName": "", "namespaced": self.namespaced, "kind": self.kind,
                  "verbs": ["get", "patch", "update"]}  # fmt: skip
        return [entry, status]


def _builtin(
    group: str,
    kind: str,
    plural: str,
    *,
    namespaced: bool,
    version: str = "v1",
    properties: dict[str, Any] | None = None,
    top_level: tuple[str, ...] = ("spec", "status"),
    short_names: tuple[str, ...] = (),
    status: bool = False,
    generation: bool = False,
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        kind=kind,
        plural=plural,
        namespaced=namespaced,
        schema=root_schema(properties, top_level=top_level),
        short_names=short_names,
        status_subresource=status,
        tracks_generation=generation,
    )


def builtin_types() -> list[ResourceType]:
    """Core kinds hvnet touches, plus KubeVirt's (served like custom resources, without a schema)."""
    return [
        _builtin("", "Namespace", "namespaces", namespaced=False, short_names=("ns",), status=True),
        _builtin("", "Node", "nodes", namespaced=False, short_names=("no",), status=True,
                 properties={"status": loose({"conditions": _CONDITIONS, "addresses": keyed_list(["type"])})}),
        _builtin("", "Service", "services", namespaced=True, short_names=("svc",), status=True,
                 properties={"spec": loose({"ports": keyed_list(["port", "protocol"])})}),
        _builtin("", "ConfigMap", "configmaps", namespaced=True, short_names=("cm",),
                 top_level=("data", "binaryData", "immutable")),
        _builtin("", "Secret", "secrets", namespaced=True, top_level=("data", "stringData", "type", "immutable")),
        _builtin("", "ServiceAccount", "serviceaccounts", namespaced=True, short_names=("sa",),
                 top_level=("secrets", "imagePullSecrets", "automountServiceAccountToken")),
        _builtin("rbac.authorization.k8s.io", "ClusterRole", "clusterroles", namespaced=False,
                 top_level=("rules", "aggregationRule")),
        _builtin("rbac.authorization.k8s.io", "ClusterRoleBinding", "clusterrolebindings", namespaced=False,
                 top_level=("subjects", "roleRef")),
        _builtin("apps", "DaemonSet", "daemonsets", namespaced=True, short_names=("ds",), status=True,
                 generation=True, properties=_WORKLOAD),
        _builtin("apps", "Deployment", "deployments", namespaced=True, short_names=("deploy",), status=True,
                 generation=True, properties=_WORKLOAD),
        _builtin("apiextensions.k8s.io", "CustomResourceDefinition", "customresourcedefinitions", namespaced=False,
                 short_names=("crd", "crds"), status=True, generation=True,
                 properties={"status": loose({"conditions": _CONDITIONS})}),
        # Enforced by tests/k8s_api/admission_policy.py.
        _builtin("admissionregistration.k8s.io", "ValidatingAdmissionPolicy", "validatingadmissionpolicies",
                 namespaced=False, status=True, generation=True),
        _builtin("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding",
                 "validatingadmissionpolicybindings", namespaced=False, generation=True),
        _kubevirt("VirtualMachine", "virtualmachines", ("vm", "vms")),
        _kubevirt("VirtualMachineInstance", "virtualmachineinstances", ("vmi", "vmis")),
    ]  # fmt: skip


def _kubevirt(kind: str, plural: str, short_names: tuple[str, ...]) -> ResourceType:
    return ResourceType(
        group="kubevirt.io",
        version="v1",
        kind=kind,
        plural=plural,
        namespaced=True,
        schema=root_schema(),
        short_names=short_names,
        status_subresource=True,
        custom=True,
        tracks_generation=True,
    )


def types_from_crd(crd: dict[str, Any]) -> list[ResourceType]:
    """The served versions of a CustomResourceDefinition (apiextensions.k8s.io/v1)."""
    spec = crd["spec"]
    names = spec["names"]
    served: list[ResourceType] = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        openapi = dict((version.get("schema") or {}).get("openAPIV3Schema") or {"type": "object"})
        properties = {k: v for k, v in (openapi.get("properties") or {}).items() if k != "metadata"}
        # apiVersion, kind and metadata are always kept, whatever the schema lists.
        implicit = {"apiVersion": _STRING, "kind": _STRING}
        schema = {**openapi, "properties": {**implicit, **properties, "metadata": OBJECT_META}}
        served.append(
            ResourceType(
                group=spec["group"],
                version=version["name"],
                kind=names["kind"],
                plural=names["plural"],
                singular=names.get("singular", ""),
                short_names=tuple(names.get("shortNames") or ()),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                schema=schema,
                status_subresource="status" in (version.get("subresources") or {}),
                custom=True,
                tracks_generation=True,
                printer_columns=tuple(version.get("additionalPrinterColumns") or ()),
            )
        )
    return served


class Registry:
    """What is served now: built-in kinds plus the versions of every established CRD."""

    def __init__(self) -> None:
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        self._by_crd: dict[str, list[ResourceType]] = {}
        for resource_type in builtin_types():
            self.add(resource_type)

    def add(self, resource_type: ResourceType) -> None:
        """Serve `resource_type` (replacing the same group/version/resource)."""
        self._types[(resource_type.group, resource_type.version, resource_type.plural)] = resource_type

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._types.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        return next((t for t in self._types.values() if (t.group, t.version, t.kind) == (group, version, kind)), None)

    def versions_of(self, storage_key: tuple[str, str]) -> list[ResourceType]:
        return [t for t in self._types.values() if t.storage_key == storage_key]

    def serve_crd(self, crd: dict[str, Any]) -> None:
        self.forget_crd(crd["metadata"]["name"])
        served = types_from_crd(crd)
        for resource_type in served:
            self.add(resource_type)
        self._by_crd[crd["metadata"]["name"]] = served

    def forget_crd(self, name: str) -> None:
        for resource_type in self._by_crd.pop(name, []):
            self._types.pop((resource_type.group, resource_type.version, resource_type.plural), None)

    def groups(self) -> dict[str, list[str]]:
        """Group name -> versions, core group excluded; the first version is the preferred one."""
        groups: dict[str, list[str]] = {}
        for group, version, _ in self._types:
            if group and version not in groups.setdefault(group, []):
                groups[group].append(version)
        return groups

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [t for t in self._types.values() if (t.group, t.version) == (group, version)]
