"""`--metrics-addr`: Prometheus `/metrics` and `/healthz` for the node agent.

Unauthenticated and, in the DaemonSet, on the host network: they listen on loopback unless told otherwise
(render/agent_install.py's DEFAULT_METRICS_ADDRESS; docs/security.md).
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from harvester_network.agent.reconcile import PassReport
from harvester_network.model import names
from harvester_network.render.agent_install import listen_address


class AgentMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.reconciles = Counter("hvnet_agent_reconciles", "Reconcile passes", registry=self.registry)
        self.errors = Counter(
            "hvnet_agent_reconcile_errors", "Passes with a cluster network not ready", registry=self.registry
        )
        self.writes = Counter("hvnet_agent_netlink_writes", "Netlink write requests", registry=self.registry)
        self.duration = Histogram(
            "hvnet_agent_reconcile_duration_seconds", "Duration of one reconcile pass", registry=self.registry
        )
        self.vids = Gauge(
            "hvnet_agent_bridge_vids", "VIDs trunked on a bridge's uplink", ["bridge"], registry=self.registry
        )
        self.ready = Gauge(
            "hvnet_agent_cluster_network_ready",
            "1 when set up on this node",
            ["cluster_network"],
            registry=self.registry,
        )
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


def serve_metrics(metrics: AgentMetrics, address: str, max_age_s: float) -> ThreadingHTTPServer:
    """Serve on `host:port` (no host: 127.0.0.1) in a daemon thread; returns the server (its `server_address` has
    the real port). ValueError for an address that is not HOST:PORT."""
    host, port = listen_address(address)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                body, status, ctype = generate_latest(metrics.registry), 200, CONTENT_TYPE_LATEST
            elif self.path == "/healthz":
                ok = metrics.healthy(max_age_s)
                body, status, ctype = (b"ok\n" if ok else b"no recent reconcile\n"), 200 if ok else 503, "text/plain"
            else:
                body, status, ctype = b"not found\n", 404, "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:  # requests are not worth a log line each
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
