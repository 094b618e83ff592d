"""Contract: watches (Kubernetes docs: "API Concepts > Efficient detection of changes", "Watch bookmarks",
"Streaming lists", "410 Gone responses")."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import watch
from kubernetes.client.exceptions import ApiException

from tests.k8s_api.contract import MERGE, WIDGET_GROUP, Widgets


def _events(func: Any, *args: Any, count: int, **kwargs: Any) -> list[dict[str, Any]]:
    """The first `count` events of a watch (bounded by timeout_seconds)."""
    events = []
    stream = watch.Watch()
    for event in stream.stream(func, *args, timeout_seconds=kwargs.pop("timeout_seconds", 20), **kwargs):
        events.append(event)
        if len(events) >= count:
            stream.stop()
    return events


def _raw_events(response: Any) -> list[dict[str, Any]]:
    """Every event line of a raw (not preloaded) watch response, read to its end."""
    return [json.loads(line) for line in response.data.decode().splitlines() if line.strip()]


def test_watch_from_resource_version_reports_changes(core: Any, k8s_namespace: str) -> None:
    """Efficient detection of changes: a watch from a list's resourceVersion reports ADDED, MODIFIED and
    DELETED in order."""
    start = core.list_namespaced_config_map(k8s_namespace).metadata.resource_version
    core.create_namespaced_config_map(k8s_namespace, {"metadata": {"name": "w"}, "data": {"a": "1"}})
    core.patch_namespaced_config_map("w", k8s_namespace, {"data": {"a": "2"}})
    core.delete_namespaced_config_map("w", k8s_namespace)
    events = _events(core.list_namespaced_config_map, k8s_namespace, resource_version=start, count=3)
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert events[1]["object"].data == {"a": "2"}
    versions = [int(e["object"].metadata.resource_version) for e in events]
    assert versions == sorted(versions) and len(set(versions)) == 3


def test_watch_without_resource_version_starts_with_current_state(core: Any, k8s_namespace: str) -> None:
    """Efficient detection of changes: without a resourceVersion, the watch first sends synthetic ADDED events
    for what exists."""
    for name in ("x", "y"):
        core.create_namespaced_config_map(k8s_namespace, {"metadata": {"name": name}, "data": {}})
    events = _events(core.list_namespaced_config_map, k8s_namespace, count=2)
    assert sorted((e["type"], e["object"].metadata.name) for e in events) == [("ADDED", "x"), ("ADDED", "y")]


def test_watch_too_old_resource_version_gets_410_in_stream(core: Any, k8s_namespace: str) -> None:
    """410 Gone responses: a watch from a resourceVersion the server no longer keeps is accepted (HTTP 200) and
    then ends with an ERROR event whose Status has code 410."""
    response = core.list_namespaced_config_map(
        k8s_namespace, watch=True, resource_version="1", timeout_seconds=10, _preload_content=False
    )
    assert response.status == 200
    event = _raw_events(response)[0]
    assert event["type"] == "ERROR"
    assert event["object"]["code"] == 410 and event["object"]["reason"] in ("Expired", "Gone")


def test_watch_client_raises_410_for_expired_version(core: Any, k8s_namespace: str) -> None:
    """410 Gone responses: the Python client turns the in-stream 410 into an ApiException(410)."""
    with pytest.raises(ApiException) as caught:
        _events(core.list_namespaced_config_map, k8s_namespace, resource_version="1", count=1, timeout_seconds=10)
    assert caught.value.status == 410


def test_label_selector_watch_reports_objects_leaving_the_selection(core: Any, k8s_namespace: str) -> None:
    """Efficient detection of changes with a label selector: an object whose labels stop matching is reported
    DELETED; one that starts matching is reported ADDED."""
    start = core.list_namespaced_config_map(k8s_namespace).metadata.resource_version
    core.create_namespaced_config_map(k8s_namespace, {"metadata": {"name": "l", "labels": {"sel": "yes"}}})
    core.patch_namespaced_config_map("l", k8s_namespace, {"metadata": {"labels": {"sel": "no"}}})
    core.patch_namespaced_config_map("l", k8s_namespace, {"metadata": {"labels": {"sel": "yes"}}})
    events = _events(
        core.list_namespaced_config_map, k8s_namespace, resource_version=start, label_selector="sel=yes", count=3
    )
    assert [e["type"] for e in events] == ["ADDED", "DELETED", "ADDED"]


def test_deleted_event_carries_the_last_state(widgets: Widgets, custom: Any) -> None:
    """Efficient detection of changes: the DELETED event carries the object's last state."""
    start = custom.list_namespaced_custom_object(WIDGET_GROUP, "v1", widgets.namespace, "widgets")
    widgets.create("d", {"size": 3})
    widgets.delete("d")
    events = _events(
        custom.list_namespaced_custom_object, WIDGET_GROUP, "v1", widgets.namespace, "widgets",
        resource_version=start["metadata"]["resourceVersion"], count=2,
    )  # fmt: skip
    assert events[1]["type"] == "DELETED" and events[1]["object"]["spec"]["size"] == 3


def test_watch_custom_resources_through_dynamic_client(k8s_api: Any, widgets: Widgets) -> None:
    """Efficient detection of changes: custom resources are watchable like built-ins (DynamicClient.watch)."""
    resource = k8s_api.dynamic_client().resources.get(api_version=f"{WIDGET_GROUP}/v1", kind="Widget")
    listed = resource.get(namespace=widgets.namespace)
    widgets.create("dyn")
    widgets.patch("dyn", {"spec": {"size": 2}}, MERGE)
    seen = []
    for event in resource.watch(
        namespace=widgets.namespace, resource_version=listed.metadata.resourceVersion, timeout=20
    ):
        seen.append((event["type"], event["object"].spec.size))
        if len(seen) == 2:
            break
    assert seen == [("ADDED", 1), ("MODIFIED", 2)]


def test_timeout_seconds_ends_the_watch(core: Any, k8s_namespace: str) -> None:
    """API Concepts: timeoutSeconds bounds a watch; the stream ends cleanly without events."""
    start = core.list_namespaced_config_map(k8s_namespace).metadata.resource_version
    stream = watch.Watch()
    events = list(stream.stream(core.list_namespaced_config_map, k8s_namespace, resource_version=start,
                                timeout_seconds=1))  # fmt: skip
    assert events == []


def test_bookmarks_carry_only_a_resource_version(core: Any, k8s_namespace: str) -> None:
    """Watch bookmarks: with allowWatchBookmarks the server sends BOOKMARK events whose object has only kind,
    apiVersion and metadata.resourceVersion (real servers send one about every minute)."""
    start = core.list_namespaced_config_map(k8s_namespace).metadata.resource_version
    stream = watch.Watch()
    bookmark = None
    for event in stream.stream(core.list_namespaced_config_map, k8s_namespace, resource_version=start,
                               allow_watch_bookmarks=True, timeout_seconds=90):  # fmt: skip
        if event["type"] == "BOOKMARK":
            bookmark = event["raw_object"]
            stream.stop()
    assert bookmark is not None, "no BOOKMARK within the watch timeout"
    assert bookmark["kind"] == "ConfigMap"
    assert int(bookmark["metadata"]["resourceVersion"]) >= int(start)
    assert set(bookmark) == {"kind", "apiVersion", "metadata"} and "name" not in bookmark["metadata"]


def test_streaming_list_ends_initial_events_with_annotated_bookmark(core: Any, k8s_namespace: str) -> None:
    """Streaming lists (sendInitialEvents): initial ADDED events end with a BOOKMARK annotated
    k8s.io/initial-events-end."""
    core.create_namespaced_config_map(k8s_namespace, {"metadata": {"name": "s"}})
    response = core.list_namespaced_config_map(
        k8s_namespace, watch=True, send_initial_events=True, allow_watch_bookmarks=True,
        resource_version_match="NotOlderThan", resource_version="", timeout_seconds=1, _preload_content=False,
    )  # fmt: skip
    events = _raw_events(response)
    assert events[0]["type"] == "ADDED" and events[0]["object"]["metadata"]["name"] == "s"
    end = next(e for e in events if e["type"] == "BOOKMARK")
    assert end["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
