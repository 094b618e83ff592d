"""Contract: create, get, list, update and delete, with the object metadata the API server maintains.

Each test cites the Kubernetes documentation concept it states ("API Concepts", "Object Names and IDs",
"Labels and Selectors", "Field Selectors", API conventions). They run against the test server, or against
a real cluster when HVNET_TEST_KUBECONFIG is set.
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from tests.k8s_api.contract import Widgets, status_of, unique


def _configmap(name: str, labels: dict[str, str] | None = None, data: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels or {}}, "data": data or {"k": "v"}}


def test_create_sets_uid_creation_timestamp_and_resource_version(core: Any, k8s_namespace: str) -> None:
    """Object Names and IDs: every object gets a UID; API Concepts: resourceVersion is an opaque string."""
    created = core.create_namespaced_config_map(k8s_namespace, _configmap("a"))
    assert created.metadata.uid and len(created.metadata.uid) == 36
    assert created.metadata.creation_timestamp is not None
    assert isinstance(created.metadata.resource_version, str) and created.metadata.resource_version


def test_generate_name_appends_a_random_suffix(core: Any, k8s_namespace: str) -> None:
    """API conventions, generateName: the server appends a unique suffix when no name is given."""
    first = core.create_namespaced_config_map(k8s_namespace, {"metadata": {"generateName": "gen-"}, "data": {}})
    second = core.create_namespaced_config_map(k8s_namespace, {"metadata": {"generateName": "gen-"}, "data": {}})
    assert first.metadata.name.startswith("gen-") and len(first.metadata.name) == len("gen-") + 5
    assert first.metadata.name != second.metadata.name


def test_get_missing_object_is_not_found_status(core: Any, k8s_namespace: str) -> None:
    """API Concepts, Status: a missing object answers 404 with a Status of reason NotFound naming the object."""
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_config_map("missing", k8s_namespace)
    status = status_of(caught.value)
    assert caught.value.status == 404
    assert status["kind"] == "Status" and status["reason"] == "NotFound"
    assert status["details"] == {"name": "missing", "kind": "configmaps"}
    assert status["message"] == 'configmaps "missing" not found'


def test_create_twice_is_already_exists(core: Any, k8s_namespace: str) -> None:
    """API Concepts, Status: creating an existing name answers 409 AlreadyExists."""
    core.create_namespaced_config_map(k8s_namespace, _configmap("dup"))
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map(k8s_namespace, _configmap("dup"))
    assert caught.value.status == 409
    assert status_of(caught.value)["reason"] == "AlreadyExists"


def test_create_in_missing_namespace_is_not_found(core: Any) -> None:
    """Namespaces: objects can only be created in an existing namespace (404 for the namespace)."""
    missing = unique("no-such-ns")
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map(missing, _configmap("a"))
    status = status_of(caught.value)
    assert caught.value.status == 404
    assert status["details"]["kind"] == "namespaces" and status["details"]["name"] == missing


def test_invalid_name_is_rejected_with_field_cause(core: Any, k8s_namespace: str) -> None:
    """Object Names and IDs: most names must be DNS subdomains; a bad one is 422 Invalid on metadata.name."""
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map(k8s_namespace, _configmap("Not_Valid"))
    status = status_of(caught.value)
    assert caught.value.status == 422 and status["reason"] == "Invalid"
    assert [c["field"] for c in status["details"]["causes"]] == ["metadata.name"]


def test_resource_versions_increase_across_kinds(core: Any, widgets: Widgets, k8s_namespace: str) -> None:
    """API Concepts, resource versions: one cluster-wide sequence; clients must not compare them, but a later
    write never reuses an earlier version."""
    first = core.create_namespaced_config_map(k8s_namespace, _configmap("rv"))
    widget = widgets.create("rv")
    later = core.patch_namespaced_config_map("rv", k8s_namespace, {"data": {"k": "w"}})
    versions = [first.metadata.resource_version, widget["metadata"]["resourceVersion"], later.metadata.resource_version]
    assert len(set(versions)) == 3


def test_list_filters_by_equality_label_selector(core: Any, k8s_namespace: str) -> None:
    """Labels and Selectors: equality-based requirements (=, ==, !=)."""
    core.create_namespaced_config_map(k8s_namespace, _configmap("a", {"tier": "web"}))
    core.create_namespaced_config_map(k8s_namespace, _configmap("b", {"tier": "db"}))
    names = lambda selector: sorted(  # noqa: E731
        i.metadata.name for i in core.list_namespaced_config_map(k8s_namespace, label_selector=selector).items
    )
    assert names("tier=web") == ["a"]
    assert names("tier==db") == ["b"]
    assert names("tier!=web") == ["b"]


def test_list_filters_by_set_based_label_selector(core: Any, k8s_namespace: str) -> None:
    """Labels and Selectors: set-based requirements (in, notin, exists, !exists)."""
    core.create_namespaced_config_map(k8s_namespace, _configmap("a", {"env": "prod", "team": "x"}))
    core.create_namespaced_config_map(k8s_namespace, _configmap("b", {"env": "dev"}))
    core.create_namespaced_config_map(k8s_namespace, _configmap("c"))

    def names(selector: str) -> list[str]:
        items = core.list_namespaced_config_map(k8s_namespace, label_selector=selector).items
        return sorted(i.metadata.name for i in items if i.metadata.name in ("a", "b", "c"))

    assert names("env in (prod,qa)") == ["a"]
    assert names("env notin (prod)") == ["b", "c"]
    assert names("team") == ["a"]
    assert names("!team") == ["b", "c"]
    assert names("env,!team") == ["b"]


def test_list_filters_by_metadata_name_field_selector(core: Any, k8s_namespace: str) -> None:
    """Field Selectors: every resource type supports metadata.name and metadata.namespace."""
    core.create_namespaced_config_map(k8s_namespace, _configmap("a"))
    core.create_namespaced_config_map(k8s_namespace, _configmap("b"))
    items = core.list_namespaced_config_map(k8s_namespace, field_selector="metadata.name=b").items
    assert [i.metadata.name for i in items] == ["b"]
    everywhere = core.list_config_map_for_all_namespaces(field_selector=f"metadata.namespace={k8s_namespace}").items
    assert sorted(i.metadata.name for i in everywhere) == ["a", "b"]


def test_unsupported_field_selector_is_bad_request(custom: Any, widgets: Widgets) -> None:
    """Field Selectors: custom resources only support metadata.name/namespace; others are 400 BadRequest."""
    with pytest.raises(ApiException) as caught:
        custom.list_namespaced_custom_object(
            "contract.hvnet.example", "v1", widgets.namespace, "widgets", field_selector="spec.size=1"
        )
    assert caught.value.status == 400 and status_of(caught.value)["reason"] == "BadRequest"


def test_list_pages_with_limit_and_continue(core: Any, k8s_namespace: str) -> None:
    """API Concepts, retrieving large results sets in chunks: limit and continue walk one consistent snapshot."""
    for index in range(5):
        core.create_namespaced_config_map(k8s_namespace, _configmap(f"page-{index}"))
    first = core.list_namespaced_config_map(k8s_namespace, limit=2)
    core.create_namespaced_config_map(k8s_namespace, _configmap("page-9"))
    names = [i.metadata.name for i in first.items]
    token = first.metadata._continue
    while token:
        page = core.list_namespaced_config_map(k8s_namespace, limit=2, _continue=token)
        names += [i.metadata.name for i in page.items]
        token = page.metadata._continue
    assert names == [f"page-{i}" for i in range(5)]


def test_list_pages_count_the_remaining_items_unless_a_selector_filters(core: Any, k8s_namespace: str) -> None:
    """API Concepts, retrieving large results sets in chunks; ListMeta.remainingItemCount
    (k8s.io/apimachinery/pkg/apis/meta/v1/types.go): the items after this page, left unset on the last page and
    when the list has a label or field selector (the count is then unknown)."""
    for index in range(5):
        core.create_namespaced_config_map(k8s_namespace, _configmap(f"count-{index}", {"paged": "yes"}))
    total = len(core.list_namespaced_config_map(k8s_namespace).items)  # a real cluster adds kube-root-ca.crt

    first = core.list_namespaced_config_map(k8s_namespace, limit=2)
    assert first.metadata._continue and first.metadata.remaining_item_count == total - 2
    second = core.list_namespaced_config_map(k8s_namespace, limit=2, _continue=first.metadata._continue)
    assert second.metadata.remaining_item_count == total - 4
    last = core.list_namespaced_config_map(k8s_namespace, limit=total)
    assert not last.metadata._continue and last.metadata.remaining_item_count is None
    selected = core.list_namespaced_config_map(k8s_namespace, limit=2, label_selector="paged=yes")
    assert selected.metadata._continue and selected.metadata.remaining_item_count is None
    assert len(selected.items) == 2


def test_list_exact_resource_version_shows_the_past(core: Any, k8s_namespace: str) -> None:
    """API Concepts, resourceVersionMatch=Exact: a list at an older resourceVersion shows that state."""
    core.create_namespaced_config_map(k8s_namespace, _configmap("old"))
    before = core.list_namespaced_config_map(k8s_namespace).metadata.resource_version
    core.create_namespaced_config_map(k8s_namespace, _configmap("new"))
    past = core.list_namespaced_config_map(k8s_namespace, resource_version=before, resource_version_match="Exact")
    assert [i.metadata.name for i in past.items] == ["old"]
    assert past.metadata.resource_version == before


def test_update_with_stale_resource_version_is_conflict(core: Any, k8s_namespace: str) -> None:
    """API Concepts, optimistic concurrency: an update carrying an old resourceVersion answers 409 Conflict."""
    stale = core.create_namespaced_config_map(k8s_namespace, _configmap("occ"))
    core.patch_namespaced_config_map("occ", k8s_namespace, {"data": {"k": "newer"}})
    stale.data = {"k": "mine"}
    with pytest.raises(ApiException) as caught:
        core.replace_namespaced_config_map("occ", k8s_namespace, stale)
    status = status_of(caught.value)
    assert caught.value.status == 409 and status["reason"] == "Conflict"
    assert "the object has been modified" in status["message"]


def test_update_with_current_resource_version_succeeds(core: Any, k8s_namespace: str) -> None:
    """API Concepts, optimistic concurrency: an update with the current resourceVersion is applied."""
    current = core.create_namespaced_config_map(k8s_namespace, _configmap("occ2"))
    current.data = {"k": "updated"}
    updated = core.replace_namespaced_config_map("occ2", k8s_namespace, current)
    assert updated.data == {"k": "updated"}
    assert updated.metadata.resource_version != current.metadata.resource_version


def test_custom_resource_update_requires_resource_version(widgets: Widgets) -> None:
    """CustomResourceDefinitions: custom resources do not allow unconditional updates (422 without
    metadata.resourceVersion)."""
    widgets.create("uncond")
    body = widgets.body("uncond", {"size": 2})
    with pytest.raises(ApiException) as caught:
        widgets.replace("uncond", body)
    status = status_of(caught.value)
    assert caught.value.status == 422
    assert [c["field"] for c in status["details"]["causes"]] == ["metadata.resourceVersion"]


def test_generation_bumps_on_spec_change_only(widgets: Widgets) -> None:
    """API conventions, metadata.generation: incremented on changes to the desired state, not to metadata."""
    created = widgets.create("gen")
    assert created["metadata"]["generation"] == 1
    labelled = widgets.patch("gen", {"metadata": {"labels": {"a": "b"}}}, "application/merge-patch+json")
    assert labelled["metadata"]["generation"] == 1
    resized = widgets.patch("gen", {"spec": {"size": 5}}, "application/merge-patch+json")
    assert resized["metadata"]["generation"] == 2


def test_identical_update_keeps_resource_version(core: Any, k8s_namespace: str) -> None:
    """API Concepts: a write that changes nothing is not persisted, so the resourceVersion stays."""
    created = core.create_namespaced_config_map(k8s_namespace, _configmap("same"))
    again = core.patch_namespaced_config_map("same", k8s_namespace, {"data": {"k": "v"}})
    assert again.metadata.resource_version == created.metadata.resource_version


def test_delete_of_builtin_returns_success_status(core: Any, k8s_namespace: str) -> None:
    """API Concepts, delete: a built-in kind deleted at once answers a Status of Success with the uid."""
    created = core.create_namespaced_config_map(k8s_namespace, _configmap("del"))
    status = core.delete_namespaced_config_map("del", k8s_namespace)
    assert status["kind"] == "Status" and status["status"] == "Success"
    assert status["details"]["uid"] == created.metadata.uid
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_config_map("del", k8s_namespace)
    assert caught.value.status == 404


def test_delete_of_custom_resource_returns_the_object(widgets: Widgets) -> None:
    """CustomResourceDefinitions: deleting a custom resource answers the deleted object."""
    created = widgets.create("gone")
    deleted = widgets.delete("gone")
    assert deleted["kind"] == "Widget" and deleted["metadata"]["uid"] == created["metadata"]["uid"]


def test_post_to_a_named_object_is_method_not_allowed(dynamic: Any, k8s_namespace: str) -> None:
    """API Concepts, verbs: create is a POST to the collection; POST to an object path answers 405."""
    with pytest.raises(ApiException) as caught:
        dynamic.request("POST", f"/api/v1/namespaces/{k8s_namespace}/configmaps/x", body={})
    assert caught.value.status == 405
    assert status_of(caught.value)["reason"] == "MethodNotAllowed"
