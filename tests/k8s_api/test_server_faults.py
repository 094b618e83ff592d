"""The test server's own knobs: fault injection, the retained event window, the bookmark interval, and
running it as a program. These need the in-process server and skip against a real cluster."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import urllib3
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from tests.k8s_api.faults import Faults
from tests.k8s_api.server import TestApiServer


def test_fail_next_answers_status_errors_then_recovers(k8s_faults: Faults, core: Any) -> None:
    k8s_faults.fail_next(2, code=503, path="/configmaps")
    for _ in range(2):
        with pytest.raises(ApiException) as caught:
            core.list_namespaced_config_map("default")
        assert caught.value.status == 503
    core.list_namespace()  # other paths were never affected
    assert core.list_namespaced_config_map("default").items == []


def test_fail_next_can_target_a_method(k8s_faults: Faults, core: Any) -> None:
    k8s_faults.fail_next(code=500, method="POST")
    core.list_namespaced_config_map("default")
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("default", {"metadata": {"name": "x"}})
    assert caught.value.status == 500


def test_refused_connection_is_reset(k8s_faults: Faults, core: Any) -> None:
    k8s_faults.refuse_next(10, path="/namespaces")  # more than the client's retries
    with pytest.raises(urllib3.exceptions.HTTPError):
        core.list_namespace()
    k8s_faults.clear()
    assert core.list_namespace().items


def test_expire_next_watch_sends_410_in_stream(k8s_faults: Faults, core: Any) -> None:
    start = core.list_namespaced_config_map("default").metadata.resource_version
    k8s_faults.expire_next_watch()
    with pytest.raises(ApiException) as caught:
        list(watch.Watch().stream(core.list_namespaced_config_map, "default", resource_version=start,
                                  timeout_seconds=5))  # fmt: skip
    assert caught.value.status == 410


def test_drop_watches_cuts_open_streams(k8s_faults: Faults, core: Any) -> None:
    start = core.list_namespaced_config_map("default").metadata.resource_version
    stream = watch.Watch().stream(core.list_namespaced_config_map, "default", resource_version=start,
                                  timeout_seconds=30)  # fmt: skip
    core.create_namespaced_config_map("default", {"metadata": {"name": "before-drop"}})
    assert next(stream)["type"] == "ADDED"
    k8s_faults.drop_watches()
    with pytest.raises((urllib3.exceptions.HTTPError, ConnectionError)):
        next(stream)


def test_drop_next_watch_after_events(k8s_faults: Faults, core: Any) -> None:
    for name in ("a", "b", "c"):
        core.create_namespaced_config_map("default", {"metadata": {"name": name}})
    k8s_faults.drop_next_watch(after_events=1)
    seen = []
    with pytest.raises((urllib3.exceptions.HTTPError, ConnectionError)):
        for event in watch.Watch().stream(core.list_namespaced_config_map, "default", timeout_seconds=10):
            seen.append(event["object"].metadata.name)
    assert seen == ["a"]


def test_latency_makes_matching_requests_time_out(k8s_faults: Faults, core: Any) -> None:
    k8s_faults.set_latency(2.0, path="/configmaps")
    with pytest.raises(urllib3.exceptions.HTTPError, match="Read timed out"):
        core.list_namespaced_config_map("default", _request_timeout=0.2)
    core.list_namespace(_request_timeout=0.2)  # other paths are not delayed


def test_request_log_records_calls(k8s_faults: Faults, core: Any) -> None:
    core.read_namespace("default")
    assert ("GET", "/api/v1/namespaces/default") in k8s_faults.requests


def test_event_window_expires_old_versions(tmp_path: Path) -> None:
    with TestApiServer(event_window=3) as server:
        api: Any = client.CoreV1Api(config.new_client_from_config(server.write_kubeconfig(tmp_path / "kc")))
        start = api.list_namespaced_config_map("default").metadata.resource_version
        for index in range(4):
            api.create_namespaced_config_map("default", {"metadata": {"name": f"c{index}"}})
        with pytest.raises(ApiException) as caught:
            list(watch.Watch().stream(api.list_namespaced_config_map, "default", resource_version=start,
                                      timeout_seconds=5))  # fmt: skip
        assert caught.value.status == 410


def test_bookmark_interval_is_configurable(k8s_server: TestApiServer, core: Any) -> None:
    k8s_server.set_bookmark_interval(0.05)
    start = core.list_namespaced_config_map("default").metadata.resource_version
    kinds = [e["type"] for e in watch.Watch().stream(core.list_namespaced_config_map, "default",
             resource_version=start, allow_watch_bookmarks=True, timeout_seconds=1)]  # fmt: skip
    assert kinds.count("BOOKMARK") >= 5


def test_server_runs_as_a_program(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.k8s_api.server", "--port", "0", "--kubeconfig-out", str(kubeconfig),
         "--install-crds"],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        extensions: Any = client.ApiextensionsV1Api(config.new_client_from_config(str(kubeconfig)))
        names = {c.metadata.name for c in extensions.list_custom_resource_definition().items}
        assert "vlanconfigs.network.harvesterhci.io" in names
    finally:
        process.terminate()
        process.wait(timeout=10)
