"""kube/watch.py's ObjectCache against the test API server (or HVNET_TEST_KUBECONFIG's cluster): the first list,
events, relevance, bookmarks, 410 relists and an API outage. ConfigMaps of a namespace made for the test stand
in for any kind; on a real cluster other ConfigMaps come and go too, so assertions look at that namespace only."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from harvester_network.kube import KubeClient, KubeError, KubeTarget, kind_named
from harvester_network.kube import client as client_module
from harvester_network.kube.client import WatchStream
from harvester_network.kube.watch import Backoff, ObjectCache
from tests.k8s_api.faults import Faults
from tests.k8s_api.fixtures import KubeApi, eventually

# The cache's own requests: list and watch of ConfigMaps in all namespaces (a test's writes go to a namespace).
CACHE_PATH = "/api/v1/configmaps?"


def configmap(name: str, namespace: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}, "data": data}


class Changes:
    """Counts on_change calls, as the watch thread makes them."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            self.count += 1


@pytest.fixture
def kube(k8s_api: KubeApi) -> Iterator[KubeClient]:
    with KubeClient(KubeTarget.from_kubeconfig(k8s_api.kubeconfig_path)) as connected:
        yield connected


@pytest.fixture
def start(k8s_api: KubeApi) -> Iterator[Any]:
    caches: list[ObjectCache] = []

    def started(changes: Changes, **options: Any) -> ObjectCache:
        cache = ObjectCache(
            KubeTarget.from_kubeconfig(k8s_api.kubeconfig_path),
            kind_named("ConfigMap"),
            on_change=changes,
            backoff=Backoff(initial_s=0.05, max_s=0.2),
            **options,
        ).start()
        caches.append(cache)
        assert cache.wait_synced(10), cache.last_error
        return cache

    yield started
    for cache in caches:
        cache.close()


def data_in(cache: ObjectCache, namespace: str) -> dict[str, dict[str, str]]:
    return {
        o["metadata"]["name"]: o.get("data") or {} for o in cache.objects() if o["metadata"]["namespace"] == namespace
    }


def watch_versions(faults: Faults) -> list[int]:
    """The resourceVersion of every watch the cache opened, in order."""
    versions = []
    for method, path in list(faults.requests):
        query = parse_qs(urlsplit(path).query)
        if method == "GET" and path.startswith(CACHE_PATH) and query.get("watch") == ["true"]:
            versions.append(int(query["resourceVersion"][0]))
    return versions


def test_first_list_then_added_modified_deleted_events(kube: KubeClient, start: Any, k8s_namespace: str) -> None:
    kube.apply(configmap("a", k8s_namespace, v="1"))
    kube.apply(configmap("b", k8s_namespace, v="1"))
    changes = Changes()
    cache = start(changes)
    assert data_in(cache, k8s_namespace) == {"a": {"v": "1"}, "b": {"v": "1"}}
    assert changes.count >= 1  # the first list is a change
    assert [o["kind"] for o in cache.objects()][:1] == ["ConfigMap"]  # list items get their kind back

    kube.apply(configmap("c", k8s_namespace, v="1"))
    kube.apply(configmap("a", k8s_namespace, v="2"))
    kube.delete("ConfigMap", "b", k8s_namespace)
    eventually(
        lambda: data_in(cache, k8s_namespace) == {"a": {"v": "2"}, "c": {"v": "1"}}, timeout=10, what="the events"
    )
    assert cache.lists == 1  # events, not relists, carried the changes


def watching_data(kube: KubeClient, start: Any, namespace: str) -> tuple[ObjectCache, Changes, dict[str, Any]]:
    """ConfigMap "a", a cache to which only data is relevant, and "a" with a label added (nothing relevant)."""
    kube.apply(configmap("a", namespace, v="1"))
    changes = Changes()
    cache = start(changes, relevant=lambda obj: obj.get("data"))
    labelled = configmap("a", namespace, v="1")
    labelled["metadata"]["labels"] = {"x": "y"}
    return cache, changes, labelled


def test_on_change_only_when_the_relevant_view_changes(kube: KubeClient, start: Any, k8s_namespace: str) -> None:
    cache, changes, labelled = watching_data(kube, start, k8s_namespace)
    before = changes.count
    kube.apply(labelled)

    def labels_arrived() -> bool:
        return any((o["metadata"].get("labels") or {}) == {"x": "y"} for o in cache.objects())

    eventually(labels_arrived, timeout=10, what="the label change in the mirror")
    assert changes.count == before  # mirrored, but nothing relevant changed
    kube.apply(configmap("a", k8s_namespace, v="2"))
    eventually(lambda: changes.count > before, timeout=10, what="on_change for a data change")


def test_bookmarks_move_the_watch_version_on(
    k8s_api: KubeApi, kube: KubeClient, start: Any, k8s_faults: Faults, k8s_namespace: str
) -> None:
    assert k8s_api.server is not None
    k8s_api.server.set_bookmark_interval(0.1)
    start(Changes())
    [first] = eventually(lambda: watch_versions(k8s_faults), timeout=10, what="the first watch")
    # A change of another kind moves the server's version on; only a bookmark tells this watch about it.
    node = kube.apply({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "bookmark-probe"}})
    moved_to = int(node["metadata"]["resourceVersion"])
    assert moved_to > first
    threading.Event().wait(0.5)  # a few bookmark intervals
    k8s_faults.drop_watches()
    eventually(lambda: len(watch_versions(k8s_faults)) >= 2, timeout=10, what="the watch to reopen")
    assert watch_versions(k8s_faults)[1] >= moved_to


def test_an_expired_version_is_listed_again_and_drops_what_was_deleted_meanwhile(
    kube: KubeClient, start: Any, k8s_faults: Faults, k8s_api: KubeApi, k8s_namespace: str
) -> None:
    kube.apply(configmap("a", k8s_namespace))
    kube.apply(configmap("gone", k8s_namespace))
    cache = start(Changes())
    # The watch is blocked; meanwhile "gone" is deleted and "during" made, and the server keeps too few events
    # to replay them: only a relist can tell the cache.
    k8s_faults.fail_next(1_000_000, code=503, path=CACHE_PATH)
    k8s_faults.drop_watches()
    eventually(lambda: "HTTP 503" in (cache.last_error or ""), timeout=10, what="the blocked watch")
    assert k8s_api.server is not None
    k8s_api.server.cluster.store.event_window = 1
    kube.delete("ConfigMap", "gone", k8s_namespace)
    kube.apply(configmap("during", k8s_namespace))
    kube.apply(configmap("filler", k8s_namespace))
    k8s_faults.clear()
    eventually(lambda: cache.lists == 2, timeout=10, what="a relist after 410")
    eventually(
        lambda: set(data_in(cache, k8s_namespace)) == {"a", "during", "filler"}, timeout=10, what="the relisted objects"
    )
    kube.apply(configmap("after", k8s_namespace))
    eventually(lambda: "after" in data_in(cache, k8s_namespace), timeout=10, what="events after the relist")


def test_an_in_stream_410_relists(kube: KubeClient, start: Any, k8s_faults: Faults, k8s_namespace: str) -> None:
    cache = start(Changes())
    k8s_faults.expire_next_watch(path=CACHE_PATH)
    k8s_faults.drop_watches()
    eventually(lambda: cache.lists == 2, timeout=10, what="a relist after the in-stream 410")


def test_an_api_outage_keeps_the_last_objects_and_recovers_without_a_relist(
    kube: KubeClient, start: Any, k8s_faults: Faults, k8s_namespace: str
) -> None:
    kube.apply(configmap("a", k8s_namespace))
    changes = Changes()
    cache = start(changes)
    k8s_faults.fail_next(1_000_000, code=503, path=CACHE_PATH)
    k8s_faults.drop_watches()
    # First the cut stream (Unreachable), then the 503s of every retry.
    eventually(lambda: "HTTP 503" in (cache.last_error or ""), timeout=10, what="the outage to be seen")
    assert set(data_in(cache, k8s_namespace)) == {"a"}  # the last good objects stay
    kube.apply(configmap("during", k8s_namespace))  # the cache cannot see this yet
    retries = len(watch_versions(k8s_faults))
    threading.Event().wait(0.5)
    assert "during" not in data_in(cache, k8s_namespace)
    k8s_faults.clear()
    eventually(lambda: "during" in data_in(cache, k8s_namespace), timeout=10, what="recovery")
    assert cache.last_error is None
    assert cache.lists == 1  # the watch resumed from its version: the missed event came from the backlog
    assert len(watch_versions(k8s_faults)) > retries  # it kept trying, with a backoff bounded by max_s


def test_a_field_selector_mirrors_only_matching_objects(kube: KubeClient, k8s_api: KubeApi, k8s_namespace: str) -> None:
    kube.apply(configmap("wanted", k8s_namespace))
    kube.apply(configmap("other", k8s_namespace))
    cache = ObjectCache(
        KubeTarget.from_kubeconfig(k8s_api.kubeconfig_path),
        kind_named("ConfigMap"),
        on_change=Changes(),
        field_selector=f"metadata.name=wanted,metadata.namespace={k8s_namespace}",
    ).start()
    try:
        assert cache.wait_synced(10)
        assert [o["metadata"]["name"] for o in cache.objects()] == ["wanted"]
        kube.apply(configmap("wanted", k8s_namespace, v="2"))
        eventually(lambda: data_in(cache, k8s_namespace) == {"wanted": {"v": "2"}}, timeout=10, what="the event")
    finally:
        cache.close()


def test_an_unexpected_failure_is_reported_and_retried_not_fatal(
    kube: KubeClient, start: Any, k8s_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_watch = KubeClient.watch
    failures = iter([ValueError("a bug in the watch path")])

    def failing_once(self: KubeClient, *args: Any, **kwargs: Any) -> Any:
        for failure in failures:
            raise failure
        return real_watch(self, *args, **kwargs)

    monkeypatch.setattr(KubeClient, "watch", failing_once)
    cache = start(Changes())
    eventually(lambda: "ValueError: a bug in the watch path" in (cache.last_error or ""), timeout=10, what="error")
    kube.apply(configmap("later", k8s_namespace))
    eventually(lambda: "later" in data_in(cache, k8s_namespace), timeout=10, what="the mirror to go on")
    assert cache.running and cache.last_error is None


def test_close_ends_a_quiet_watch_at_once(k8s_api: KubeApi, start: Any) -> None:
    if k8s_api.server is not None:
        k8s_api.server.set_bookmark_interval(60)  # nothing will wake the stream by itself
    cache = start(Changes())
    eventually(lambda: cache._stream is not None, timeout=10, what="the watch to be open")
    cache.close(timeout=5)
    assert not cache.running


class _Stream:
    """What WatchStream reads: chunks, cut anywhere."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks, self.released = chunks, False

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield from self.chunks

    def release_conn(self) -> None:
        self.released = True


def _unreachable(verb: str, subject: str, exc: Exception) -> KubeError:
    return KubeError(verb, subject, "Unreachable", str(exc))


def test_watch_events_are_whole_lines_whatever_the_chunks() -> None:
    stream = _Stream(b'{"type": "ADDED", "object": {"a"', b': 1}}\n{"type": "BOOK', b'MARK", "object": {}}\n')
    events = list(WatchStream(stream, "ConfigMap objects", _unreachable).events())  # type: ignore[arg-type]
    assert events == [{"type": "ADDED", "object": {"a": 1}}, {"type": "BOOKMARK", "object": {}}]
    assert stream.released


@pytest.mark.parametrize("line", [b"<html>proxy error</html>\n", b"[1, 2]\n", b'{"type": "ADDED", "obj\n'])
def test_a_line_that_is_not_an_event_is_a_kube_error(line: bytes) -> None:
    stream = _Stream(b'{"type": "ADDED", "object": {}}\n', line)
    events = WatchStream(stream, "ConfigMap objects", _unreachable).events()  # type: ignore[arg-type]
    assert next(events)["type"] == "ADDED"
    with pytest.raises(KubeError, match="watch ConfigMap objects: the API server answered something that is not JSON"):
        next(events)


def test_the_mirror_drops_managed_fields_from_listed_and_watched_objects(
    kube: KubeClient, start: Any, k8s_namespace: str
) -> None:
    kube.apply(configmap("listed", k8s_namespace, v="1"))
    assert kube.get("ConfigMap", "listed", k8s_namespace)["metadata"].get("managedFields")  # the server sends them
    cache = start(Changes())
    kube.apply(configmap("watched", k8s_namespace, v="1"))
    eventually(lambda: "watched" in data_in(cache, k8s_namespace), timeout=10, what="the watched ConfigMap")

    mine = [o for o in cache.objects() if o["metadata"]["namespace"] == k8s_namespace]
    assert [o["metadata"]["name"] for o in mine] == ["listed", "watched"]
    assert all("managedFields" not in o["metadata"] for o in mine)


def test_the_first_list_comes_in_pages_each_transformed_as_it_arrives(
    kube: KubeClient, start: Any, k8s_faults: Faults, k8s_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As client-go's reflector: `limit` pages walked by their `continue` token, so a big list never arrives (or
    sits decoded) whole; the mirror still holds every object, each as `transform` made it."""
    monkeypatch.setattr(client_module, "_PAGE_SIZE", 2)
    for index in range(5):
        kube.apply(configmap(f"paged-{index}", k8s_namespace, v=str(index)))
    seen_in_pages: list[int] = []

    def counted(obj: dict[str, Any]) -> dict[str, Any]:
        seen_in_pages.append(len(k8s_faults.requests))  # how many requests had been made when it arrived
        return {**obj, "transformed": True}

    cache = start(Changes(), transform=counted)

    assert data_in(cache, k8s_namespace) == {f"paged-{i}": {"v": str(i)} for i in range(5)}
    assert all(o["transformed"] for o in cache.objects())
    lists = [
        parse_qs(urlsplit(path).query) for method, path in list(k8s_faults.requests) if path.startswith(CACHE_PATH)
    ]
    lists = [query for query in lists if "watch" not in query]
    assert len(lists) >= 3 and all(query["limit"] == ["2"] for query in lists)
    assert "continue" not in lists[0] and all("continue" in query for query in lists[1:])
    assert len(set(seen_in_pages)) >= 3  # transformed page by page, not after the whole list


def relist_after(kube: KubeClient, cache: ObjectCache, k8s_faults: Faults, k8s_api: KubeApi, change: Any) -> None:
    """Block the watch, make `change` while the server keeps too few events to replay it, and let the cache
    relist (410)."""
    lists = cache.lists
    k8s_faults.fail_next(1_000_000, code=503, path=CACHE_PATH)
    k8s_faults.drop_watches()
    eventually(lambda: "HTTP 503" in (cache.last_error or ""), timeout=10, what="the blocked watch")
    assert k8s_api.server is not None
    k8s_api.server.cluster.store.event_window = 1
    change()
    kube.apply({"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"filler-{lists}"}})  # the window moves on
    k8s_faults.clear()
    eventually(lambda: cache.lists == lists + 1, timeout=10, what="a relist after 410")


def test_a_relist_is_a_change_only_when_what_is_relevant_changed(
    kube: KubeClient, start: Any, k8s_faults: Faults, k8s_api: KubeApi, k8s_namespace: str
) -> None:
    cache, changes, labelled = watching_data(kube, start, k8s_namespace)
    before = changes.count

    relist_after(kube, cache, k8s_faults, k8s_api, lambda: kube.apply(labelled))
    assert changes.count == before  # the same names, the same data: the relist changed nothing the caller reads

    relist_after(kube, cache, k8s_faults, k8s_api, lambda: kube.apply(configmap("a", k8s_namespace, v="2")))
    assert changes.count == before + 1 and data_in(cache, k8s_namespace) == {"a": {"v": "2"}}


def test_an_object_that_did_not_change_stays_the_mirrored_instance(
    kube: KubeClient, start: Any, k8s_faults: Faults, k8s_api: KubeApi, k8s_namespace: str
) -> None:
    """A relist (and an event that changes nothing the view keeps) gives an equal object: the mirror keeps the one
    it has, so a reader's snapshot and caches keyed by identity share it instead of holding a copy."""
    for name in ("a", "b", "c"):
        kube.apply(configmap(name, k8s_namespace, v="1"))

    def data_only(obj: dict[str, Any]) -> dict[str, Any]:
        return {"metadata": {k: obj["metadata"][k] for k in ("name", "namespace")}, "data": obj.get("data")}

    cache = start(Changes(), transform=data_only)
    first = {o["metadata"]["name"]: o for o in cache.objects()}
    labelled = configmap("c", k8s_namespace, v="1")
    labelled["metadata"]["labels"] = {"x": "y"}
    kube.apply(labelled)  # an event, equal once transformed
    relist_after(kube, cache, k8s_faults, k8s_api, lambda: kube.apply(configmap("b", k8s_namespace, v="2")))

    now = {o["metadata"]["name"]: o for o in cache.objects()}
    assert now["a"] is first["a"] and now["c"] is first["c"]
    assert now["b"] is not first["b"] and now["b"]["data"] == {"v": "2"}
