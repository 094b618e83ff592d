"""agent/metrics.py: the exposition read back by prometheus_client's own parser (what a Prometheus server accepts),
and the /metrics server against bad, huge, stalled and concurrent clients."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from harvester_network.agent import metrics as agent_metrics
from harvester_network.agent.metrics import AgentMetrics, MetricsServer, serve_metrics
from harvester_network.agent.reconcile import ClusterNetworkReport, PassReport


def parsed(metrics: AgentMetrics) -> dict[str, Any]:
    """{family name: (type, {(sample name, sorted labels): value})}, by the reference parser."""
    families = text_string_to_metric_families(metrics.exposition())
    return {
        family.name: (family.type, {(s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples})
        for family in families
    }


def report(writes: int, duration_s: float, *networks: tuple[str, bool, int]) -> PassReport:
    return PassReport(
        cluster_networks=[
            ClusterNetworkReport(name, f"{name}-vc", ready, "", tuple(range(2, 2 + vids)))
            for name, ready, vids in networks
        ],
        writes=writes,
        duration_s=duration_s,
    )


def test_passes_read_back_as_counters_gauges_and_a_histogram() -> None:
    metrics = AgentMetrics()
    metrics.observe(report(5, 0.03, ("vlan", True, 2), ("storage", False, 0)))
    metrics.observe(report(0, 3.0, ("vlan", True, 3)))
    metrics.writes.inc(4)  # as PortPruner counts its own fixes

    families = parsed(metrics)

    assert families["hvnet_agent_reconciles"] == ("counter", {("hvnet_agent_reconciles_total", ()): 2.0})
    assert families["hvnet_agent_reconcile_errors"][1] == {("hvnet_agent_reconcile_errors_total", ()): 1.0}
    assert families["hvnet_agent_netlink_writes"][1] == {("hvnet_agent_netlink_writes_total", ()): 9.0}
    kind, samples = families["hvnet_agent_reconcile_duration_seconds"]
    buckets = {dict(labels)["le"]: value for (name, labels), value in samples.items() if name.endswith("_bucket")}
    assert kind == "histogram"
    assert (buckets["0.025"], buckets["0.05"], buckets["2.5"], buckets["5.0"], buckets["+Inf"]) == (0, 1, 1, 2, 2)
    assert samples[("hvnet_agent_reconcile_duration_seconds_count", ())] == 2
    assert samples[("hvnet_agent_reconcile_duration_seconds_sum", ())] == pytest.approx(3.03)
    # The last pass only: the storage network it no longer reports is gone from both gauges.
    assert families["hvnet_agent_bridge_vids"] == ("gauge", {("hvnet_agent_bridge_vids", (("bridge", "vlan-br"),)): 3})
    assert families["hvnet_agent_cluster_network_ready"][1] == {
        ("hvnet_agent_cluster_network_ready", (("cluster_network", "vlan"),)): 1.0
    }


def test_label_values_and_help_texts_are_escaped() -> None:
    metrics = AgentMetrics()
    awkward = 'a "quoted"\\back\nslash'
    metrics.ready.labels(awkward).set(0)
    metrics.reconciles.help_text = "two\nlines \\ here"

    families = parsed(metrics)

    assert families["hvnet_agent_cluster_network_ready"][1] == {
        ("hvnet_agent_cluster_network_ready", (("cluster_network", awkward),)): 0.0
    }
    [reconciles] = [f for f in text_string_to_metric_families(metrics.exposition()) if f.name.endswith("reconciles")]
    assert reconciles.documentation == "two\nlines \\ here"


def test_a_counter_only_goes_up_and_a_gauge_takes_its_labels() -> None:
    metrics = AgentMetrics()
    with pytest.raises(ValueError, match="only goes up"):
        metrics.writes.inc(-1)
    with pytest.raises(ValueError, match="takes the labels"):
        metrics.vids.labels("a", "b")


# --- the server ---------------------------------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[MetricsServer]:
    failures: list[Any] = []
    previous = threading.excepthook
    threading.excepthook = failures.append  # a traceback on any server thread fails the test
    served = serve_metrics(AgentMetrics(), "127.0.0.1:0", max_age_s=60)
    try:
        yield served
    finally:
        served.shutdown()
        threading.excepthook = previous
    assert not failures, [f.exc_value for f in failures]


def exchange(server: MetricsServer, request: bytes, timeout: float = 10.0) -> bytes:
    with socket.create_connection(server.server_address, timeout=timeout) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def status_line(answer: bytes) -> bytes:
    return answer.split(b"\r\n", 1)[0]


def scrape(server: MetricsServer) -> bytes:
    return exchange(server, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")


def test_a_scrape_gets_the_exposition_with_its_length(server: MetricsServer) -> None:
    answer = scrape(server)
    head, body = answer.split(b"\r\n\r\n", 1)

    assert status_line(answer) == b"HTTP/1.1 200 OK"
    assert b"Content-Type: text/plain; version=0.0.4" in head
    assert f"Content-Length: {len(body)}".encode() in head
    assert "hvnet_agent_reconciles" in {f.name for f in text_string_to_metric_families(body.decode())}


@pytest.mark.parametrize(
    ("request_bytes", "expected"),
    [
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", b"HTTP/1.1 400 Bad Request"),  # TLS to plain HTTP
        (b"GET\r\n\r\n", b"HTTP/1.1 400 Bad Request"),
        (b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", b"HTTP/1.1 405 Method Not Allowed"),
        (b"GET /admin HTTP/1.1\r\n\r\n", b"HTTP/1.1 404 Not Found"),
        (b"GET /healthz HTTP/1.0\n\n", b"HTTP/1.1 503 Service Unavailable"),  # no pass yet
        (
            b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 20_000 + b"\r\n\r\n",
            b"HTTP/1.1 431 Request Header Fields Too Large",
        ),
        (b"", b""),  # connected and closed at once: nothing to answer
    ],
)
def test_bad_requests_get_an_error_and_the_server_goes_on(
    server: MetricsServer, request_bytes: bytes, expected: bytes
) -> None:
    assert status_line(exchange(server, request_bytes)) == expected
    assert status_line(scrape(server)) == b"HTTP/1.1 200 OK"


def test_a_stalled_client_is_dropped_and_does_not_hold_up_a_scrape(
    server: MetricsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(agent_metrics, "REQUEST_TIMEOUT_S", 0.5)
    with socket.create_connection(server.server_address, timeout=10) as stalled:
        stalled.sendall(b"GET /metr")  # and nothing more
        assert status_line(scrape(server)) == b"HTTP/1.1 200 OK"
        started = time.monotonic()
        assert stalled.recv(100) == b""  # the server hung up on it
        assert time.monotonic() - started < 5


def test_connections_beyond_the_limit_are_closed_unanswered(
    server: MetricsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(agent_metrics, "REQUEST_TIMEOUT_S", 2.0)
    held = [socket.create_connection(server.server_address, timeout=10) for _ in range(agent_metrics.MAX_CONNECTIONS)]
    try:
        time.sleep(0.3)  # every held connection has its thread
        assert unanswered(server)
    finally:
        for connection in held:
            connection.close()
    deadline = time.monotonic() + 5
    while unanswered(server):  # the slots come back
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert status_line(scrape(server)) == b"HTTP/1.1 200 OK"


def unanswered(server: MetricsServer) -> bool:
    try:
        return scrape(server) == b""
    except ConnectionResetError:  # closed with the request unread
        return True
