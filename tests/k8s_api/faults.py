"""Fault injection: the in-process handle tests use to make the server misbehave the way real ones do.

Every rule can be narrowed to requests whose path contains `path` (e.g. "/vlanconfigs") and, for plain
requests, to an HTTP `method`. Rules with a count are used up; `clear()` removes all of them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class _Rule:
    count: int
    path: str | None = None
    method: str | None = None
    code: int = 0
    after_events: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (self.path is None or self.path in path) and (self.method is None or self.method == method)


@dataclass(frozen=True)
class RequestFault:
    """What to do to one incoming request."""

    refuse: bool = False
    delay: float = 0.0
    error_code: int = 0


@dataclass
class Faults:
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _errors: list[_Rule] = field(default_factory=list)
    _refusals: list[_Rule] = field(default_factory=list)
    _expiries: list[_Rule] = field(default_factory=list)
    _watch_drops: list[_Rule] = field(default_factory=list)
    _latency: tuple[float, str | None] = (0.0, None)
    _drop_generation: int = 0
    # Every request seen, as (method, path with query), for tests that count calls.
    requests: list[tuple[str, str]] = field(default_factory=list)

    # --- what tests call ---------------------------------------------------------------------------------------

    def fail_next(self, count: int = 1, *, code: int = 503, path: str | None = None, method: str | None = None) -> None:
        """Answer the next `count` matching requests with a Status error (500, 503, 429, 504...)."""
        with self._lock:
            self._errors.append(_Rule(count, path, method, code=code))

    def refuse_next(self, count: int = 1, *, path: str | None = None) -> None:
        """Reset the connection of the next `count` matching requests without answering."""
        with self._lock:
            self._refusals.append(_Rule(count, path))

    def expire_next_watch(self, count: int = 1, *, path: str | None = None) -> None:
        """The next `count` matching watches get HTTP 200 and then an in-stream 410 Expired ERROR event."""
        with self._lock:
            self._expiries.append(_Rule(count, path))

    def drop_next_watch(self, count: int = 1, *, after_events: int = 0, path: str | None = None) -> None:
        """Cut the connection of the next `count` matching watches after they sent `after_events` events."""
        with self._lock:
            self._watch_drops.append(_Rule(count, path, after_events=after_events))

    def drop_watches(self) -> None:
        """Cut every watch stream open now, mid-stream (no terminating chunk)."""
        with self._lock:
            self._drop_generation += 1

    def set_latency(self, seconds: float, *, path: str | None = None) -> None:
        """Delay every matching request by `seconds` (0 turns it off)."""
        with self._lock:
            self._latency = (seconds, path)

    def clear(self) -> None:
        with self._lock:
            self._errors.clear()
            self._refusals.clear()
            self._expiries.clear()
            self._watch_drops.clear()
            self._latency = (0.0, None)

    # --- what the server calls ---------------------------------------------------------------------------------

    @staticmethod
    def _take(rules: list[_Rule], method: str, path: str) -> _Rule | None:
        for rule in rules:
            if rule.count > 0 and rule.matches(method, path):
                rule.count -= 1
                if rule.count == 0:
                    rules.remove(rule)
                return rule
        return None

    def on_request(self, method: str, path: str) -> RequestFault:
        with self._lock:
            self.requests.append((method, path))
            if self._take(self._refusals, method, path):
                return RequestFault(refuse=True)
            seconds, latency_path = self._latency
            delay = seconds if latency_path is None or latency_path in path else 0.0
            error = self._take(self._errors, method, path)
            return RequestFault(delay=delay, error_code=error.code if error else 0)

    def on_watch(self, path: str) -> tuple[bool, int | None, int]:
        """(expire now?, cut after how many events or None, the drop generation the watch started in)."""
        with self._lock:
            expire = self._take(self._expiries, "GET", path) is not None
            drop = self._take(self._watch_drops, "GET", path)
            return expire, (drop.after_events if drop else None), self._drop_generation

    def watch_dropped(self, started_generation: int) -> bool:
        with self._lock:
            return self._drop_generation != started_generation
