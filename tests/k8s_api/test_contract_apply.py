"""Contract: Server-Side Apply (Kubernetes docs: "Server-Side Apply" — field management, conflicts,
merge strategy, and using it with the status subresource)."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from tests.k8s_api.contract import APPLY, WIDGET_API, WIDGET_GROUP, Widgets, status_of


def _owned(obj: dict[str, Any], manager: str, operation: str = "Apply") -> dict[str, Any]:
    for entry in obj["metadata"].get("managedFields") or []:
        if entry["manager"] == manager and entry["operation"] == operation:
            fields: dict[str, Any] = entry["fieldsV1"]
            return fields
    return {}


def test_apply_creates_the_object(custom: Any, widgets: Widgets) -> None:
    """Server-Side Apply: applying an object that does not exist creates it (201 Created), owned by the
    field manager."""
    response = custom.patch_namespaced_custom_object_with_http_info(
        WIDGET_GROUP, "v1", widgets.namespace, "widgets", "a", widgets.body("a", {"size": 2}),
        field_manager="alpha", _content_type=APPLY,
    )  # fmt: skip
    assert response[1] == 201  # (data, status, headers)
    created = widgets.get("a")
    assert created["spec"]["size"] == 2
    assert _owned(created, "alpha") == {"f:spec": {"f:size": {}}}


def test_apply_requires_field_manager(widgets: Widgets) -> None:
    """Server-Side Apply: fieldManager is required for apply requests (422 Invalid)."""
    with pytest.raises(ApiException) as caught:
        widgets.patch("nofm", widgets.body("nofm", {"size": 1}), APPLY)
    assert caught.value.status == 422
    assert [c["field"] for c in status_of(caught.value)["details"]["causes"]] == ["fieldManager"]


def test_conflicting_apply_is_rejected_with_the_fields_and_manager(widgets: Widgets) -> None:
    """Server-Side Apply, conflicts: changing a field another manager owns answers 409 Conflict naming the
    manager and the field."""
    widgets.apply("c", {"size": 2}, "alpha")
    with pytest.raises(ApiException) as caught:
        widgets.apply("c", {"size": 3}, "beta")
    status = status_of(caught.value)
    assert caught.value.status == 409 and status["reason"] == "Conflict"
    assert status["details"]["causes"] == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "alpha"', "field": ".spec.size"}
    ]
    assert widgets.get("c")["spec"]["size"] == 2


def test_forced_apply_takes_ownership(widgets: Widgets) -> None:
    """Server-Side Apply, conflicts: force=true overwrites the value and moves ownership to the applier."""
    widgets.apply("f", {"size": 2, "tags": ["x"]}, "alpha")
    forced = widgets.apply("f", {"size": 3}, "beta", force=True)
    assert forced["spec"]["size"] == 3
    assert _owned(forced, "beta") == {"f:spec": {"f:size": {}}}
    assert _owned(forced, "alpha") == {"f:spec": {"f:tags": {}}}


def test_applying_the_same_value_shares_ownership(widgets: Widgets) -> None:
    """Server-Side Apply: managers applying the same value do not conflict; both own the field."""
    widgets.apply("s", {"size": 2}, "alpha")
    shared = widgets.apply("s", {"size": 2}, "beta")
    assert _owned(shared, "alpha") == _owned(shared, "beta") == {"f:spec": {"f:size": {}}}


def test_field_dropped_from_apply_is_removed(widgets: Widgets) -> None:
    """Server-Side Apply: a field the manager applied before and omits now is removed, when no other manager
    owns it."""
    widgets.apply("r", {"size": 2, "tags": ["x"]}, "alpha")
    applied = widgets.apply("r", {"size": 2}, "alpha")
    assert "tags" not in applied["spec"]


def test_field_dropped_but_co_owned_is_kept(widgets: Widgets) -> None:
    """Server-Side Apply: a field omitted by one manager stays while another manager still owns it."""
    widgets.apply("k", {"size": 2, "tags": ["x"]}, "alpha")
    widgets.apply("k", {"size": 2, "tags": ["x"]}, "beta")
    applied = widgets.apply("k", {"size": 2}, "alpha")
    assert applied["spec"]["tags"] == ["x"]
    assert _owned(applied, "alpha") == {"f:spec": {"f:size": {}}}


def test_map_list_items_are_merged_by_key_across_managers(widgets: Widgets) -> None:
    """Server-Side Apply, merge strategy: x-kubernetes-list-type=map lists merge per item key, each item
    owned by who applied it."""
    widgets.apply("l", {"size": 1, "ports": [{"name": "http", "port": 80}]}, "alpha")
    merged = widgets.apply("l", {"size": 1, "ports": [{"name": "https", "port": 443}]}, "beta")
    assert sorted(p["name"] for p in merged["spec"]["ports"]) == ["http", "https"]
    assert _owned(merged, "beta")["f:spec"]["f:ports"] == {'k:{"name":"https"}': {".": {}, "f:name": {}, "f:port": {}}}


def test_map_list_item_dropped_by_its_owner_is_removed(widgets: Widgets) -> None:
    """Server-Side Apply: an associative list item its only owner stops applying is removed; others stay."""
    widgets.apply("l2", {"size": 1, "ports": [{"name": "http", "port": 80}]}, "alpha")
    widgets.apply("l2", {"size": 1, "ports": [{"name": "https", "port": 443}]}, "beta")
    applied = widgets.apply("l2", {"size": 1, "ports": [{"name": "https", "port": 443}]}, "alpha")
    assert [p["name"] for p in applied["spec"]["ports"]] == ["https"]


def test_atomic_lists_are_replaced_and_owned_whole(widgets: Widgets) -> None:
    """Server-Side Apply, merge strategy: atomic lists (the default) are replaced and owned as one field,
    so another manager's different list conflicts."""
    widgets.apply("t", {"size": 1, "tags": ["a", "b"]}, "alpha")
    with pytest.raises(ApiException) as caught:
        widgets.apply("t", {"size": 1, "tags": ["c"]}, "beta")
    assert status_of(caught.value)["details"]["causes"][0]["field"] == ".spec.tags"


def test_apply_conflicts_with_an_update_manager(widgets: Widgets) -> None:
    """Server-Side Apply: fields last set by an Update (e.g. a controller's PATCH) conflict with an applier,
    and the message names the updater with its API version."""
    widgets.create("u", {"size": 1})
    widgets.patch("u", {"spec": {"size": 4}}, "application/merge-patch+json", field_manager="controller")
    with pytest.raises(ApiException) as caught:
        widgets.apply("u", {"size": 5}, "alpha")
    assert f'conflict with "controller" using {WIDGET_API}' in status_of(caught.value)["message"]


def test_apply_to_status_subresource(custom: Any, widgets: Widgets) -> None:
    """Server-Side Apply with the status subresource: applying status records a manager with subresource
    status and leaves the spec alone."""
    widgets.apply("st", {"size": 1}, "alpha")
    body = {"apiVersion": WIDGET_API, "kind": "Widget", "metadata": {"name": "st"}, "status": {"phase": "Ready"}}
    applied = custom.patch_namespaced_custom_object_status(
        WIDGET_GROUP, "v1", widgets.namespace, "widgets", "st", body, field_manager="status-writer",
        _content_type=APPLY,
    )  # fmt: skip
    assert applied["status"] == {"phase": "Ready"} and applied["spec"]["size"] == 1
    entry = next(e for e in applied["metadata"]["managedFields"] if e["manager"] == "status-writer")
    assert entry["subresource"] == "status" and entry["fieldsV1"] == {"f:status": {"f:phase": {}}}


def test_apply_on_main_resource_does_not_own_status(widgets: Widgets) -> None:
    """Server-Side Apply: with a status subresource, status in a main-resource apply is ignored and not owned."""
    applied = widgets.patch("ns", {**widgets.body("ns", {"size": 1}), "status": {"phase": "X"}}, APPLY,
                            field_manager="alpha")  # fmt: skip
    assert "status" not in applied
    assert "f:status" not in _owned(applied, "alpha")
