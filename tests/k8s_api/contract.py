"""Helpers of the contract tests: patch content types, the test-only Widget CRD, Widgets, Status decoding."""

from __future__ import annotations

import json
import uuid
from typing import Any

from kubernetes.client.exceptions import ApiException

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
WIDGET_GROUP = "contract.hvnet.example"
WIDGET_VERSION = "v1"
WIDGET_API = f"{WIDGET_GROUP}/{WIDGET_VERSION}"
WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"widgets.{WIDGET_GROUP}"},
    "spec": {
        "group": WIDGET_GROUP,
        "scope": "Namespaced",
        "names": {
            "kind": "Widget",
            "listKind": "WidgetList",
            "plural": "widgets",
            "singular": "widget",
            "shortNames": ["wdg"],
        },
        "versions": [
            {
                "name": WIDGET_VERSION,
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["size"],
                                "properties": {
                                    "size": {"type": "integer", "minimum": 1, "maximum": 10},
                                    "color": {"type": "string", "enum": ["red", "green", "blue"], "default": "red"},
                                    "tags": {"type": "array", "items": {"type": "string"}},
                                    "ports": {
                                        "type": "array",
                                        "x-kubernetes-list-type": "map",
                                        "x-kubernetes-list-map-keys": ["name"],
                                        "items": {
                                            "type": "object",
                                            "required": ["name"],
                                            "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
                                        },
                                    },
                                    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                                },
                            },
                            "status": {
                                "type": "object",
                                "properties": {"phase": {"type": "string"}, "observedGeneration": {"type": "integer"}},
                            },
                        },
                    }
                },
            }
        ],
    },
}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def status_of(error: ApiException) -> dict[str, Any]:
    """The Status object an API error carries."""
    status: dict[str, Any] = json.loads(error.body or "{}")
    return status


class Widgets:
    """Widgets in one test namespace, through CustomObjectsApi."""

    def __init__(self, custom: Any, namespace: str) -> None:
        self.custom = custom
        self.namespace = namespace

    def body(self, name: str, spec: dict[str, Any] | None = None, **metadata: Any) -> dict[str, Any]:
        return {"apiVersion": WIDGET_API, "kind": "Widget", "metadata": {"name": name, **metadata},
                "spec": spec if spec is not None else {"size": 1}}  # fmt: skip

    def create(self, name: str, spec: dict[str, Any] | None = None, **metadata: Any) -> dict[str, Any]:
        created: dict[str, Any] = self.custom.create_namespaced_custom_object(
            WIDGET_GROUP, WIDGET_VERSION, self.namespace, "widgets", self.body(name, spec, **metadata)
        )
        return created

    def get(self, name: str) -> dict[str, Any]:
        return self.custom.get_namespaced_custom_object(WIDGET_GROUP, WIDGET_VERSION, self.namespace, "widgets", name)

    def replace(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.custom.replace_namespaced_custom_object(
            WIDGET_GROUP, WIDGET_VERSION, self.namespace, "widgets", name, body
        )

    def patch(self, name: str, body: Any, content_type: str, **kwargs: Any) -> dict[str, Any]:
        patched: dict[str, Any] | None = self.custom.patch_namespaced_custom_object(
            WIDGET_GROUP, WIDGET_VERSION, self.namespace, "widgets", name, body, _content_type=content_type, **kwargs
        )
        # An apply that creates answers 201 Created, for which the generated client returns None.
        return patched if patched is not None else self.get(name)

    def apply(self, name: str, spec: dict[str, Any], manager: str, **kwargs: Any) -> dict[str, Any]:
        return self.patch(name, self.body(name, spec), APPLY, field_manager=manager, **kwargs)

    def delete(self, name: str, **kwargs: Any) -> dict[str, Any]:
        return self.custom.delete_namespaced_custom_object(
            WIDGET_GROUP, WIDGET_VERSION, self.namespace, "widgets", name, **kwargs
        )
