"""`--metrics-addr`: Prometheus `/metrics` and `/healthz` for the node agent.

- AgentMetrics: the agent's counters, gauges and one histogram, written in the Prometheus text exposition format
  (version 0.0.4) by `exposition()`; tests read it back with prometheus_client's own parser. Written here, not
  with prometheus_client, whose package import (http.server, wsgiref, gzip, its collectors) cost the agent more
  memory than everything else it adds to its two libraries (benchmarks/RESULTS.md, "Agent in Kubernetes mode").
- serve_metrics: a daemon thread answering `GET /metrics` and `GET /healthz`, one short-lived thread per connection
  (at most MAX_CONNECTIONS), each request read with a size bound and a timeout; anything else gets a 4xx, never a
  traceback.

Unauthenticated and, in the DaemonSet, on the host network: they listen on loopback unless told otherwise
(render/agent_install.py's DEFAULT_METRICS_ADDRESS; docs/security.md).
"""

from __future__ import annotations

import bisect
import contextlib
import math
import socket
import threading
import time

from harvester_network.agent.reconcile import PassReport
from harvester_network.model import names
from harvester_network.render.agent_install import listen_address

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# prometheus_client's default buckets (seconds): a pass takes milliseconds to seconds.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, math.inf)
MAX_REQUEST_BYTES = 8192  # a request line and headers; a scrape sends a few hundred bytes
REQUEST_TIMEOUT_S = 5.0  # for the whole request head: a client that stalls is dropped
MAX_CONNECTIONS = 16  # at once; more are closed unanswered, so no client can make the agent start threads


def _number(value: float) -> str:
    """A sample value as Prometheus writes it (Go's float formatting for the special values)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _escape_label(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _header(name: str, help_text: str, kind: str) -> str:
    escaped = help_text.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {name} {escaped}\n# TYPE {name} {kind}\n"


class Counter:
    """A number that only goes up; exposed as `<name>_total`."""

    def __init__(self, name: str, help_text: str) -> None:
        self.name, self.help_text = name, help_text
        self._value = 0.0
        self._lock = threading.Lock()

    def inc(self, amount: float = 1) -> None:
        if amount < 0:
            raise ValueError(f"{self.name}: a counter only goes up, not by {amount}")
        with self._lock:
            self._value += amount

    def exposition(self) -> str:
        name = f"{self.name}_total"
        return _header(name, self.help_text, "counter") + f"{name} {_number(self._value)}\n"


class _GaugeChild:
    def __init__(self) -> None:
        self.value = 0.0

    def set(self, value: float) -> None:
        self.value = float(value)


class Gauge:
    """A value per label set (`gauge.labels("vlan-br").set(2)`); `clear()` forgets every label set."""

    def __init__(self, name: str, help_text: str, label_names: tuple[str, ...]) -> None:
        self.name, self.help_text, self.label_names = name, help_text, label_names
        self._children: dict[tuple[str, ...], _GaugeChild] = {}
        self._lock = threading.Lock()

    def labels(self, *values: str) -> _GaugeChild:
        if len(values) != len(self.label_names):
            raise ValueError(f"{self.name}: takes the labels {self.label_names}, got {values}")
        with self._lock:
            return self._children.setdefault(tuple(str(v) for v in values), _GaugeChild())

    def clear(self) -> None:
        with self._lock:
            self._children = {}

    def exposition(self) -> str:
        with self._lock:
            children = sorted(self._children.items())
        lines = [_header(self.name, self.help_text, "gauge")]
        for values, child in children:
            labels = ",".join(f'{n}="{_escape_label(v)}"' for n, v in zip(self.label_names, values, strict=True))
            lines.append(f"{self.name}{{{labels}}} {_number(child.value)}\n")
        return "".join(lines)


class Histogram:
    """Observations counted into cumulative buckets, with their count and sum."""

    def __init__(self, name: str, help_text: str, buckets: tuple[float, ...] = DURATION_BUCKETS) -> None:
        self.name, self.help_text, self.buckets = name, help_text, buckets
        self._counts = [0] * len(buckets)  # per bucket, not cumulative
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe(self, value: float) -> None:
        with self._lock:
            self._sum += value
            self._counts[min(bisect.bisect_left(self.buckets, value), len(self.buckets) - 1)] += 1

    def exposition(self) -> str:
        with self._lock:
            counts, total = list(self._counts), self._sum
        lines = [_header(self.name, self.help_text, "histogram")]
        cumulative = 0
        for bound, count in zip(self.buckets, counts, strict=True):
            cumulative += count
            lines.append(f'{self.name}_bucket{{le="{_number(bound)}"}} {_number(cumulative)}\n')
        lines.append(f"{self.name}_count {_number(cumulative)}\n{self.name}_sum {_number(total)}\n")
        return "".join(lines)


class AgentMetrics:
    def __init__(self) -> None:
        self.reconciles = Counter("hvnet_agent_reconciles", "Reconcile passes")
        self.errors = Counter("hvnet_agent_reconcile_errors", "Passes with a cluster network not ready")
        self.writes = Counter("hvnet_agent_netlink_writes", "Netlink write requests")
        self.duration = Histogram("hvnet_agent_reconcile_duration_seconds", "Duration of one reconcile pass")
        # Over the reconciles counter: a pass's mean CPU, as benchmarks/agent_kube.py reads it from the agent.
        self.cpu = Counter("hvnet_agent_reconcile_cpu_seconds", "CPU time of the reconcile passes (their thread's)")
        self.vids = Gauge("hvnet_agent_bridge_vids", "VIDs trunked on a bridge's uplink", ("bridge",))
        self.ready = Gauge("hvnet_agent_cluster_network_ready", "1 when set up on this node", ("cluster_network",))
        self.last_pass = 0.0

    def observe(self, report: PassReport) -> None:
        self.reconciles.inc()
        self.writes.inc(report.writes)
        self.duration.observe(report.duration_s)
        if not report.ready:
            self.errors.inc()
        self.vids.clear()
        self.ready.clear()
        for cn in report.cluster_networks:
            self.ready.labels(cn.cluster_network).set(1 if cn.ready else 0)
            self.vids.labels(names.bridge_name(cn.cluster_network)).set(len(cn.vids))
        self.last_pass = time.monotonic()

    def healthy(self, max_age_s: float) -> bool:
        """The loop made a pass recently: a stuck agent fails its liveness probe."""
        return self.last_pass > 0 and time.monotonic() - self.last_pass <= max_age_s

    def exposition(self) -> str:
        """Every metric in the Prometheus text format (what `/metrics` answers)."""
        metrics = (self.reconciles, self.errors, self.writes, self.duration, self.cpu, self.vids, self.ready)
        return "".join(metric.exposition() for metric in metrics)


class MetricsServer:
    """The listening socket and its accept thread; `server_address` is (host, port) with the real port."""

    def __init__(self, metrics: AgentMetrics, host: str, port: int, max_age_s: float) -> None:
        self._metrics, self._max_age_s = metrics, max_age_s
        self._listener = socket.create_server((host, port))
        self.server_address: tuple[str, int] = self._listener.getsockname()[:2]
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._stopping = False
        threading.Thread(target=self._accept, name="metrics", daemon=True).start()

    def shutdown(self) -> None:
        self._stopping = True
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() in the thread
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopping:
            try:
                connection, _ = self._listener.accept()
            except OSError:  # shut down, or a connection reset before it was accepted, or out of descriptors
                time.sleep(0 if self._stopping else 0.05)
                continue
            if not self._slots.acquire(blocking=False):
                connection.close()
                continue
            threading.Thread(target=self._serve, args=(connection,), name="metrics-request", daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        try:
            with connection:
                connection.settimeout(REQUEST_TIMEOUT_S)
                status, content_type, body = self._answer(_request_head(connection))
                head = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
                connection.sendall(f"{head}Connection: close\r\n\r\n".encode() + body)
                _drain(connection)
        except OSError:  # the client went away or stalled: nothing to tell it
            pass
        finally:
            self._slots.release()

    def _answer(self, head: bytes | None) -> tuple[str, str, bytes]:
        if head is None:
            return "431 Request Header Fields Too Large", "text/plain", b"request too large\n"
        method, path, version = [*head.split(b"\n", 1)[0].rstrip(b"\r").split(b" "), b"", b""][:3]
        if not version.startswith(b"HTTP/1."):
            return "400 Bad Request", "text/plain", b"bad request\n"
        if method != b"GET":
            return "405 Method Not Allowed", "text/plain", b"only GET\n"
        if path == b"/metrics":
            return "200 OK", CONTENT_TYPE, self._metrics.exposition().encode()
        if path == b"/healthz":
            if self._metrics.healthy(self._max_age_s):
                return "200 OK", "text/plain", b"ok\n"
            return "503 Service Unavailable", "text/plain", b"no recent reconcile\n"
        return "404 Not Found", "text/plain", b"not found\n"


def _request_head(connection: socket.socket) -> bytes | None:
    """The request line and headers (up to the blank line), or None when they exceed MAX_REQUEST_BYTES; raises
    TimeoutError (an OSError) when the whole head does not arrive within REQUEST_TIMEOUT_S."""
    deadline = time.monotonic() + REQUEST_TIMEOUT_S
    head = b""
    while b"\r\n\r\n" not in head and b"\n\n" not in head:
        if len(head) > MAX_REQUEST_BYTES:
            return None
        connection.settimeout(max(0.001, deadline - time.monotonic()))
        chunk = connection.recv(4096)
        if not chunk:  # the client closed before the blank line: answer what came
            break
        head += chunk
    return head


def _drain(connection: socket.socket) -> None:
    """Read what the client still sends (bounded) before closing: closing with unread input resets the
    connection, which can destroy the answer before the client reads it."""
    connection.shutdown(socket.SHUT_WR)
    connection.settimeout(0.5)
    for _ in range(16):
        if not connection.recv(MAX_REQUEST_BYTES):
            return


def serve_metrics(metrics: AgentMetrics, address: str, max_age_s: float) -> MetricsServer:
    """Serve on `host:port` (no host: 127.0.0.1) in a daemon thread; returns the server (its `server_address` has
    the real port). ValueError for an address that is not HOST:PORT; OSError when it cannot listen there."""
    host, port = listen_address(address)
    return MetricsServer(metrics, host, port, max_age_s)
