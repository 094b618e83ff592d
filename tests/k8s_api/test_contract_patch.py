"""Contract: the patch types (Kubernetes docs: "Update API Objects in Place Using kubectl patch",
"API Concepts > Patch operations")."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from tests.k8s_api.contract import JSON_PATCH, MERGE, STRATEGIC, Widgets, status_of


def _deployment(name: str) -> dict[str, Any]:
    container = {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}]}
    return {
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}},
        },
    }


def test_merge_patch_null_deletes_a_field(widgets: Widgets) -> None:
    """JSON merge patch (RFC 7386): a null value removes the field; other fields are merged."""
    widgets.create("m", {"size": 1, "tags": ["a"]})
    patched = widgets.patch("m", {"spec": {"tags": None, "size": 3}}, MERGE)
    assert patched["spec"] == {"size": 3, "color": "red"}


def test_merge_patch_replaces_lists_whole(widgets: Widgets) -> None:
    """JSON merge patch: lists are replaced, never merged."""
    widgets.create("m2", {"size": 1, "tags": ["a", "b"]})
    assert widgets.patch("m2", {"spec": {"tags": ["c"]}}, MERGE)["spec"]["tags"] == ["c"]


def test_json_patch_operations_apply_in_order(widgets: Widgets) -> None:
    """JSON patch (RFC 6902): add, replace and remove operations apply in order."""
    widgets.create("j", {"size": 1, "tags": ["a"]})
    ops = [
        {"op": "add", "path": "/spec/tags/-", "value": "b"},
        {"op": "replace", "path": "/spec/size", "value": 4},
        {"op": "add", "path": "/metadata/labels", "value": {"x/y": "z"}},
        {"op": "remove", "path": "/spec/tags/0"},
    ]
    patched = widgets.patch("j", ops, JSON_PATCH)
    assert patched["spec"]["tags"] == ["b"] and patched["spec"]["size"] == 4
    assert patched["metadata"]["labels"] == {"x/y": "z"}


def test_json_patch_failed_test_is_unprocessable(widgets: Widgets) -> None:
    """JSON patch: a failing `test` operation rejects the whole patch (422) and changes nothing."""
    widgets.create("jt", {"size": 1})
    with pytest.raises(ApiException) as caught:
        widgets.patch("jt", [{"op": "replace", "path": "/spec/size", "value": 2},
                             {"op": "test", "path": "/spec/size", "value": 7}], JSON_PATCH)  # fmt: skip
    assert caught.value.status == 422
    assert widgets.get("jt")["spec"]["size"] == 1


def test_json_patch_remove_of_missing_path_is_unprocessable(widgets: Widgets) -> None:
    """JSON patch: removing a path that does not exist is an error (422)."""
    widgets.create("jr", {"size": 1})
    with pytest.raises(ApiException) as caught:
        widgets.patch("jr", [{"op": "remove", "path": "/spec/tags"}], JSON_PATCH)
    assert caught.value.status == 422


def test_strategic_merge_patch_on_custom_resource_is_unsupported(widgets: Widgets) -> None:
    """CRDs: custom resources do not support strategic merge patch (415 UnsupportedMediaType)."""
    widgets.create("s")
    with pytest.raises(ApiException) as caught:
        widgets.patch("s", {"spec": {"size": 2}}, STRATEGIC)
    assert caught.value.status == 415
    assert status_of(caught.value)["reason"] == "UnsupportedMediaType"


def test_strategic_merge_patch_merges_containers_by_name(api_client: Any, k8s_namespace: str) -> None:
    """Strategic merge patch: lists with a patch merge key (containers: name) merge item by item."""
    from kubernetes import client

    apps: Any = client.AppsV1Api(api_client)
    apps.create_namespaced_deployment(k8s_namespace, _deployment("smp"))
    patch = {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": "app:2"}, {"name": "sidecar", "image": "side:1"}]}}}}  # fmt: skip
    patched = apps.patch_namespaced_deployment("smp", k8s_namespace, patch, _content_type=STRATEGIC)
    containers = {c.name: c for c in patched.spec.template.spec.containers}
    assert containers["app"].image == "app:2" and containers["app"].env[0].name == "A"
    assert containers["sidecar"].image == "side:1"


def test_strategic_merge_patch_delete_directive(api_client: Any, k8s_namespace: str) -> None:
    """Strategic merge patch: `$patch: delete` removes the list item with that merge key."""
    from kubernetes import client

    apps: Any = client.AppsV1Api(api_client)
    apps.create_namespaced_deployment(k8s_namespace, _deployment("smpd"))
    patch = {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "env": [{"name": "A", "$patch": "delete"}]}]}}}}  # fmt: skip
    patched = apps.patch_namespaced_deployment("smpd", k8s_namespace, patch, _content_type=STRATEGIC)
    assert not patched.spec.template.spec.containers[0].env


def test_patch_of_missing_object_is_not_found(widgets: Widgets) -> None:
    """API Concepts: patching an object that does not exist answers 404 (only apply creates)."""
    with pytest.raises(ApiException) as caught:
        widgets.patch("absent", {"spec": {"size": 2}}, MERGE)
    assert caught.value.status == 404


def test_patch_with_stale_resource_version_is_conflict(widgets: Widgets) -> None:
    """API Concepts: a patch that sets metadata.resourceVersion makes it a precondition (409 when stale)."""
    created = widgets.create("pc")
    widgets.patch("pc", {"spec": {"size": 2}}, MERGE)
    stale = {"metadata": {"resourceVersion": created["metadata"]["resourceVersion"]}, "spec": {"size": 3}}
    with pytest.raises(ApiException) as caught:
        widgets.patch("pc", stale, MERGE)
    assert caught.value.status == 409 and status_of(caught.value)["reason"] == "Conflict"


def test_update_manager_is_recorded_in_managed_fields(widgets: Widgets) -> None:
    """Server-Side Apply, field management: non-apply writes are recorded as operation Update of their
    fieldManager."""
    widgets.create("mf")
    patched = widgets.patch("mf", {"spec": {"tags": ["t"]}}, MERGE, field_manager="tagger")
    entries = {(e["manager"], e["operation"]): e for e in patched["metadata"]["managedFields"]}
    assert entries[("tagger", "Update")]["fieldsV1"] == {"f:spec": {"f:tags": {}}}
