"""A live mirror of one kind of object (client-go's informer, kept small): list, then watch from the list's
resourceVersion; relist on 410 Gone; back off and resume on any other failure.

- Threads: one daemon thread per ObjectCache (`_run`); `on_change` is called on it when what `relevant` sees of
  an object changed.
- Entry points: `ObjectCache(...).start()`, `.wait_synced`, `.snapshot` / `.objects`, `.close`;
  `without_managed_fields`, the default `transform` applied to each object on receipt.
- The behaviour, step by step (backoff, bookmarks, stream timeouts): docs/agent.md, "The Kubernetes API".
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from harvester_network.kube.client import KubeClient, WatchStream
from harvester_network.kube.errors import KubeError
from harvester_network.kube.kinds import Kind
from harvester_network.kube.target import KubeTarget

log = logging.getLogger("hvnet.kube.watch")

DEFAULT_WATCH_TIMEOUT_S = 300  # what client-go's reflectors ask for (5-10 min)
GONE = 410

ObjectKey = tuple[str, str]  # (namespace or "", name)


@dataclass
class Backoff:
    """Exponential delays from `initial_s` to `max_s`, each drawn from its upper half ("equal jitter", so
    agents restarted together spread out); `reset` after a success."""

    initial_s: float = 0.5
    max_s: float = 30.0
    _next_s: float = 0.0

    def next_delay(self) -> float:
        self._next_s = min(self.max_s, self._next_s * 2) if self._next_s else self.initial_s
        return random.uniform(self._next_s / 2, self._next_s)

    def reset(self) -> None:
        self._next_s = 0.0


def _namespace_and_name(obj: Mapping[str, Any]) -> ObjectKey:
    metadata = obj.get("metadata") or {}
    return str(metadata.get("namespace") or ""), str(metadata.get("name") or "")


def whole(obj: Mapping[str, Any]) -> Any:
    """The default `relevant`: every change of the kept object counts."""
    return obj


def without_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without metadata.managedFields (often half its size; nothing a reader of a mirror needs)."""
    metadata = obj.get("metadata")
    if isinstance(metadata, dict) and "managedFields" in metadata:
        return {**obj, "metadata": {k: v for k, v in metadata.items() if k != "managedFields"}}
    return obj


def _kept(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> Mapping[str, Any]:
    """The mirrored object when the new one equals it: a reader's snapshot keeps sharing it (after a relist the
    snapshot would otherwise hold a second copy of every object) and caches keyed by it stay valid."""
    return after if before != after else before


class ObjectCache:
    """The objects of one `kind` (optionally only those matching `field_selector`), kept current by a thread."""

    def __init__(
        self,
        target: KubeTarget,
        kind: Kind,
        *,
        on_change: Callable[[], None],
        field_selector: str | None = None,
        relevant: Callable[[Mapping[str, Any]], Any] = whole,
        transform: Callable[[dict[str, Any]], Mapping[str, Any]] = without_managed_fields,
        watch_timeout_s: int = DEFAULT_WATCH_TIMEOUT_S,
        backoff: Backoff | None = None,
    ) -> None:
        self.target, self.kind, self.field_selector = target, kind, field_selector
        self._on_change, self._relevant, self._transform = on_change, relevant, transform
        self._watch_timeout_s = watch_timeout_s
        self._backoff = backoff or Backoff()
        self._objects: dict[ObjectKey, Mapping[str, Any]] = {}
        self._generation = 0  # counts the changes `relevant` sees
        self._snapshot: tuple[int, tuple[Mapping[str, Any], ...]] = (-1, ())
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._synced = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"watch-{kind.kind}", daemon=True)
        self._version: str | None = None  # where the next watch starts; None: list first
        self._events_since_list = False  # a 410 with none since the list waits before listing again
        self._stream: WatchStream | None = None
        self.last_error: str | None = None
        self.lists = 0  # every list after the first is a relist (410, or after an outage)

    # --- what callers use ----------------------------------------------------------------------------------------

    def start(self) -> ObjectCache:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the thread to stop and end its open watch; `close` waits for it."""
        self._stop.set()
        stream = self._stream
        if stream is not None:
            stream.close()

    def close(self, timeout: float = 2.0) -> None:
        self.stop()
        self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def wait_synced(self, timeout: float) -> bool:
        """True once the first list arrived (possibly earlier)."""
        return self._synced.wait(timeout)

    def objects(self) -> list[Mapping[str, Any]]:
        """The mirrored objects, sorted by namespace and name (the caller must not modify them)."""
        with self._lock:
            return [self._objects[key] for key in sorted(self._objects)]

    def snapshot(self) -> tuple[Mapping[str, Any], ...]:
        """The objects as a tuple (in no particular order), the same tuple while nothing relevant changed (readers
        may key caches on it; no sort: a change of one object among thousands costs a copy, not a sort)."""
        with self._lock:
            if self._snapshot[0] != self._generation:
                self._snapshot = (self._generation, tuple(self._objects.values()))
            return self._snapshot[1]

    # --- the thread ----------------------------------------------------------------------------------------------

    def _run(self) -> None:
        kube: KubeClient | None = None
        while not self._stop.is_set():
            try:
                kube = kube or KubeClient(self.target)  # inside the loop: a kubeconfig that fails is retried too
                if self._version is None:
                    self._list(kube)
                self._follow(kube)
            except KubeError as error:
                if error.status == GONE:
                    log.info("%s: watch version %s expired, listing again", self.kind.kind, self._version)
                    self._version = None
                    if not self._events_since_list:
                        self._stop.wait(self._backoff.next_delay())
                    continue
                self._failed(str(error))
            except Exception as error:  # a bug or a broken client must not leave a silently frozen mirror
                log.exception("%s: watch failed", self.kind.kind, extra={"reason": "api"})
                self._failed(f"{type(error).__name__}: {error}")
                if kube is not None:
                    kube.close()
                kube = None
        if kube is not None:
            kube.close()

    def _failed(self, message: str) -> None:
        self.last_error = message
        delay = self._backoff.next_delay()
        log.warning("%s (retrying in %.1fs)", message, delay, extra={"reason": "api"})
        self._stop.wait(delay)

    def _list(self, kube: KubeClient) -> None:
        items, version = kube.list_with_version(
            self.kind, field_selector=self.field_selector, transform=self._transform
        )
        self.lists += 1
        old = self._objects  # this thread alone writes it
        replacement = {key: _kept(old.get(key), obj) for key, obj in ((_namespace_and_name(o), o) for o in items)}
        with self._lock:
            changed = self._differ(self._objects, replacement)
            self._objects = replacement
            self._generation += changed
        self._version = version
        self._events_since_list = False
        self._succeeded()
        if changed:
            self._on_change()
        self._synced.set()  # after on_change: a caller that waited for the sync sees this list's change as read

    def _follow(self, kube: KubeClient) -> None:
        """Watch from the version reached until the stream ends; every event and bookmark moves the version on,
        so a stream that breaks resumes where it broke."""
        assert self._version is not None
        received = False
        self._stream = kube.watch(
            self.kind, self._version, field_selector=self.field_selector, timeout_seconds=self._watch_timeout_s
        )
        try:
            if self._stop.is_set():  # stop() came while the watch was being opened
                return
            for event in self._stream.events():
                received = self._events_since_list = True
                self._succeeded()
                obj = event.get("object") or {}
                self._version = str((obj.get("metadata") or {}).get("resourceVersion") or self._version)
                if event.get("type") != "BOOKMARK" and self._apply(event.get("type", ""), obj):
                    self._on_change()
        finally:
            self._stream.close()
            self._stream = None
        if not received and not self._stop.is_set():
            self._stop.wait(self._backoff.next_delay())

    def _apply(self, event_type: str, obj: dict[str, Any]) -> bool:
        """Put one event into the mirror; True when what is relevant changed."""
        key = _namespace_and_name(obj)
        with self._lock:
            before = self._objects.get(key)
            if event_type == "DELETED":
                self._objects.pop(key, None)
                changed = before is not None
            else:
                kept = self._objects[key] = _kept(before, self._transform(obj))
                changed = before is None or self._relevant(before) != self._relevant(kept)
            self._generation += changed
        return changed

    def _differ(self, old: dict[ObjectKey, Mapping[str, Any]], new: dict[ObjectKey, Mapping[str, Any]]) -> bool:
        """Whether what `relevant` sees differs, one object at a time (views of a whole big list at once would be a
        peak of memory that the allocator keeps)."""
        if old.keys() != new.keys():
            return True
        return any(self._relevant(old[key]) != self._relevant(obj) for key, obj in new.items())

    def _succeeded(self) -> None:
        self.last_error = None
        self._backoff.reset()
