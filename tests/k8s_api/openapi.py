"""Just enough OpenAPI v3 for kubectl: each group/version lists its PATCH operations with the
`x-kubernetes-group-version-kind` extension and a `fieldValidation` query parameter, which tells kubectl that
the server validates fields itself (so it sends `fieldValidation=Strict` instead of validating client-side).
Schemas are not published: `kubectl explain` does not work, and client-side apply falls back to kubectl's
built-in types (strategic merge) or JSON merge patch (custom resources), as it does against real servers
whose OpenAPI lacks a kind.
"""

from __future__ import annotations

import hashlib
from typing import Any

from tests.k8s_api.resources import Registry, ResourceType

_PARAMETERS = [
    {"name": name, "in": "query", "schema": {"type": "string"}}
    for name in ("dryRun", "fieldManager", "fieldValidation")
]


def _group_version_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _item_path(resource_type: ResourceType) -> str:
    prefix = "/" + _group_version_path(resource_type.group, resource_type.version)
    scope = "/namespaces/{namespace}" if resource_type.namespaced else ""
    return f"{prefix}{scope}/{resource_type.plural}/{{name}}"


def _patch_operation(resource_type: ResourceType, patch_types: list[str]) -> dict[str, Any]:
    return {
        "patch": {
            "operationId": f"patch{resource_type.kind}",
            "parameters": _PARAMETERS,
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": {
                "group": resource_type.group,
                "version": resource_type.version,
                "kind": resource_type.kind,
            },
            "requestBody": {"content": {t: {"schema": {"type": "object"}} for t in patch_types}},
            "responses": {"200": {"description": "OK"}},
        },
    }


def group_version_document(
    registry: Registry, group: str, version: str, patch_types: dict[bool, list[str]]
) -> dict[str, Any]:
    """`patch_types` maps "is a custom resource" to the patch content types accepted."""
    served = registry.in_group_version(group, version)
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0+hvnet-test"},
        "paths": {_item_path(t): _patch_operation(t, patch_types[t.custom]) for t in served},
        "components": {"schemas": {}},
    }


def root_document(registry: Registry) -> dict[str, Any]:
    group_versions = [("", "v1")] + [(g, v) for g, versions in registry.groups().items() for v in versions]
    paths = {}
    for group, version in group_versions:
        path = _group_version_path(group, version)
        kinds = ",".join(sorted(t.kind for t in registry.in_group_version(group, version)))
        digest = hashlib.sha256(kinds.encode()).hexdigest()[:16].upper()
        paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": paths}
