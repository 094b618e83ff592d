"""Watch streams, as the API server's watch cache serves them.

- No resourceVersion (or "0"): synthetic ADDED events for what exists, then changes.
- A resourceVersion: every change after it; one older than the retained window answers HTTP 200 and then an
  in-stream ERROR event carrying a 410 Expired Status, as the real server does.
- `sendInitialEvents=true` (with `resourceVersionMatch=NotOlderThan` and bookmarks): the initial ADDED events end
  with a BOOKMARK annotated `k8s.io/initial-events-end: "true"`.
- `allowWatchBookmarks`: a BOOKMARK (kind, apiVersion and metadata.resourceVersion only) every bookmark interval.
- Label and field selectors apply to each event: an object that stops matching is reported DELETED, one that
  starts matching ADDED.
- `timeoutSeconds` ends the stream cleanly.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tests.k8s_api.errors import ApiError, expired, forbidden, invalid
from tests.k8s_api.selectors import selector_predicate
from tests.k8s_api.store import Event

if TYPE_CHECKING:
    from tests.k8s_api.cluster import Cluster
    from tests.k8s_api.resources import ResourceType

# How often an idle stream wakes up to check for bookmarks, faults and shutdown.
_TICK = 0.05
INITIAL_EVENTS_END = "k8s.io/initial-events-end"


def _true(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


@dataclass(frozen=True)
class WatchSettings:
    bookmark_interval: float
    default_timeout: float


class WatchStream:
    """One watch request; iterate it for event dicts (None means "nothing yet", a chance to check faults)."""

    def __init__(
        self,
        cluster: Cluster,
        resource_type: ResourceType,
        namespace: str | None,
        query: dict[str, str],
        settings: WatchSettings,
    ) -> None:
        self.cluster = cluster
        self.resource_type = resource_type
        self.namespace = namespace
        self.matches = selector_predicate(query.get("labelSelector", ""), query.get("fieldSelector", ""))
        self.resource_version = query.get("resourceVersion", "")
        self.allow_bookmarks = _true(query.get("allowWatchBookmarks"))
        self.send_initial_events = _true(query.get("sendInitialEvents"))
        timeout = query.get("timeoutSeconds")
        self.timeout = float(timeout) if timeout else settings.default_timeout
        self.bookmark_interval = settings.bookmark_interval
        if self.send_initial_events and (
            query.get("resourceVersionMatch") != "NotOlderThan" or not self.allow_bookmarks
        ):
            errors = [forbidden("sendInitialEvents", "sendInitialEvents requires setting resourceVersionMatch to "
                                "NotOlderThan and allowWatchBookmarks to true")]  # fmt: skip
            raise invalid("meta.k8s.io", "ListOptions", "", errors)

    def _bookmark(self, resource_version: int, *, initial_end: bool = False) -> dict[str, Any]:
        meta: dict[str, Any] = {"resourceVersion": str(resource_version), "creationTimestamp": None}
        if initial_end:
            meta["annotations"] = {INITIAL_EVENTS_END: "true"}
        obj = {"kind": self.resource_type.kind, "apiVersion": self.resource_type.api_version, "metadata": meta}
        return {"type": "BOOKMARK", "object": obj}

    def _in_scope(self, obj: dict[str, Any]) -> bool:
        return (not self.namespace or obj["metadata"].get("namespace") == self.namespace) and self.matches(obj)

    def _translate(self, event: Event) -> dict[str, Any] | None:
        now_in = event.type != "DELETED" and self._in_scope(event.object)
        was_in = event.previous is not None and self._in_scope(event.previous)
        if event.type == "DELETED":
            kind = "DELETED" if was_in else None
        elif now_in:
            kind = "MODIFIED" if was_in else "ADDED"
        else:
            kind = "DELETED" if was_in else None
        if kind is None:
            return None
        return {"type": kind, "object": self.cluster.present(self.resource_type, event.object)}

    def events(self, stop: threading.Event) -> Generator[dict[str, Any] | None, None, None]:
        store = self.cluster.store
        key = self.resource_type.storage_key
        with store.lock:
            subscription = store.subscribe(key)
            initial: list[dict[str, Any]] = []
            backlog: list[Event] = []
            start_version = store.resource_version
            try:
                if self.send_initial_events or self.resource_version in ("", "0"):
                    initial = [o for o in store.objects(key) if self._in_scope(o)]
                else:
                    backlog = store.events_after(key, int(self.resource_version))
            except ApiError as error:
                store.unsubscribe(subscription)
                yield {"type": "ERROR", "object": error.status()}
                return
        try:
            for obj in initial:
                yield {"type": "ADDED", "object": self.cluster.present(self.resource_type, obj)}
            if self.send_initial_events:
                yield self._bookmark(start_version, initial_end=True)
            for event in backlog:
                translated = self._translate(event)
                if translated:
                    yield translated
            yield from self._follow(subscription.events, stop)
        finally:
            store.unsubscribe(subscription)

    def _follow(self, events: queue.Queue[Event], stop: threading.Event) -> Iterator[dict[str, Any] | None]:
        store = self.cluster.store
        deadline = time.monotonic() + self.timeout
        next_bookmark = time.monotonic() + self.bookmark_interval
        while not stop.is_set():
            now = time.monotonic()
            if now >= deadline:
                return
            if self.allow_bookmarks and now >= next_bookmark:
                next_bookmark = now + self.bookmark_interval
                with store.lock:  # an empty queue under the lock means every event up to now was delivered
                    current = store.resource_version if events.empty() else None
                if current is not None:
                    yield self._bookmark(current)
            try:
                event = events.get(timeout=max(0.0, min(_TICK, deadline - now)))
            except queue.Empty:
                yield None
                continue
            translated = self._translate(event)
            yield translated


def expired_event(resource_version: str) -> dict[str, Any]:
    """The in-stream error of a watch whose resourceVersion is no longer retained."""
    return {"type": "ERROR", "object": expired(f"too old resource version: {resource_version}").status()}
