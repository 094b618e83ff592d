"""Storage: the objects, one global resourceVersion counter, the retained event window, and watch subscriptions.

Like etcd behind the API server, every write gets the next resourceVersion. Events are kept for a bounded window
(`event_window` writes); a watch or an exact-version list older than the window is expired (410), as after an
etcd compaction. Versions from before the store was started count as compacted too, so resourceVersion "1" is
always too old, as on a real cluster that has run for a while.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tests.k8s_api.errors import expired

StorageKey = tuple[str, str]  # (group, plural)
ObjectKey = tuple[str, str]  # (namespace or "", name)


def object_key(obj: dict[str, Any]) -> ObjectKey:
    meta = obj["metadata"]
    return (meta.get("namespace") or "", meta["name"])


@dataclass(frozen=True)
class Event:
    resource_version: int
    type: str  # ADDED, MODIFIED or DELETED
    storage_key: StorageKey
    object: dict[str, Any]  # the state after the write; for DELETED the last state
    previous: dict[str, Any] | None  # the state before (None for ADDED)


class Subscription:
    """Events of one resource, in order, from the moment of subscribing."""

    def __init__(self, storage_key: StorageKey) -> None:
        self.storage_key = storage_key
        self.events: queue.Queue[Event] = queue.Queue()


class Store:
    def __init__(self, *, first_resource_version: int = 1000, event_window: int = 10_000) -> None:
        # One lock for every read-modify-write: resourceVersion checks and commits are atomic.
        self.lock = threading.RLock()
        self.resource_version = first_resource_version
        self.compacted_version = first_resource_version
        self.event_window = event_window
        self._objects: dict[StorageKey, dict[ObjectKey, dict[str, Any]]] = {}
        self._by_uid: dict[str, tuple[StorageKey, ObjectKey]] = {}
        self._events: deque[Event] = deque()
        self._subscriptions: set[Subscription] = set()

    # --- reads -----------------------------------------------------------------------------------------------

    def get(self, storage_key: StorageKey, namespace: str, name: str) -> dict[str, Any] | None:
        return self._objects.get(storage_key, {}).get((namespace, name))

    def objects(self, storage_key: StorageKey) -> list[dict[str, Any]]:
        """Sorted by namespace and name, as etcd returns keys."""
        bucket = self._objects.get(storage_key, {})
        return [bucket[k] for k in sorted(bucket)]

    def storage_keys(self) -> list[StorageKey]:
        return list(self._objects)

    def by_uid(self, uid: str) -> dict[str, Any] | None:
        where = self._by_uid.get(uid)
        return None if where is None else self._objects[where[0]].get(where[1])

    def objects_at(self, storage_key: StorageKey, resource_version: int) -> list[dict[str, Any]]:
        """The resource's objects as they were at `resource_version`, rebuilt by undoing later events."""
        self.check_not_compacted(resource_version)
        state = dict(self._objects.get(storage_key, {}))
        for event in reversed(self._events):
            if event.resource_version <= resource_version:
                break
            if event.storage_key != storage_key:
                continue
            key = object_key(event.object)
            if event.previous is None:
                state.pop(key, None)
            else:
                state[key] = event.previous
        return [state[k] for k in sorted(state)]

    def events_after(self, storage_key: StorageKey, resource_version: int) -> list[Event]:
        self.check_not_compacted(resource_version)
        later = [e for e in reversed(self._events) if e.resource_version > resource_version]
        return [e for e in reversed(later) if e.storage_key == storage_key]

    def check_not_compacted(self, resource_version: int) -> None:
        if resource_version < self.compacted_version:
            raise expired(f"too old resource version: {resource_version} ({self.compacted_version})")

    # --- writes ----------------------------------------------------------------------------------------------

    def _next_version(self, obj: dict[str, Any]) -> int:
        self.resource_version += 1
        obj["metadata"]["resourceVersion"] = str(self.resource_version)
        return self.resource_version

    def _record(self, event: Event) -> None:
        self._events.append(event)
        while len(self._events) > self.event_window:
            self.compacted_version = self._events.popleft().resource_version
        for subscription in self._subscriptions:
            if subscription.storage_key == event.storage_key:
                subscription.events.put(event)

    def put(self, storage_key: StorageKey, obj: dict[str, Any], previous: dict[str, Any] | None) -> None:
        """Create (previous None) or replace an object; it gets the next resourceVersion."""
        with self.lock:
            version = self._next_version(obj)
            key = object_key(obj)
            self._objects.setdefault(storage_key, {})[key] = obj
            self._by_uid[obj["metadata"]["uid"]] = (storage_key, key)
            self._record(Event(version, "ADDED" if previous is None else "MODIFIED", storage_key, obj, previous))

    def remove(self, storage_key: StorageKey, obj: dict[str, Any]) -> dict[str, Any]:
        """Delete an object; the DELETED event (and the return value) carry its last state at a new version."""
        with self.lock:
            key = object_key(obj)
            stored = self._objects[storage_key].pop(key)
            self._by_uid.pop(stored["metadata"]["uid"], None)
            last = {**stored, "metadata": dict(stored["metadata"])}
            version = self._next_version(last)
            self._record(Event(version, "DELETED", storage_key, last, stored))
            return last

    # --- watch -----------------------------------------------------------------------------------------------

    def subscribe(self, storage_key: StorageKey) -> Subscription:
        with self.lock:
            subscription = Subscription(storage_key)
            self._subscriptions.add(subscription)
            return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self.lock:
            self._subscriptions.discard(subscription)

    def all_objects(self) -> Iterator[tuple[StorageKey, dict[str, Any]]]:
        for storage_key, bucket in list(self._objects.items()):
            for obj in list(bucket.values()):
                yield storage_key, obj
