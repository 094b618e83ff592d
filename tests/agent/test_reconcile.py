"""The reconcile pass, status directory and metrics, with a fake kernel (the real one is tested in the lab kernel)."""

from __future__ import annotations

import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from harvester_network.agent.desired import DesiredState
from harvester_network.agent.hoststate import HostState, NodeError
from harvester_network.agent.inputs import ClusterObjects, LinkInfo, NodeIdentity
from harvester_network.agent.loop import AgentLoop, StatusPublisher
from harvester_network.agent.metrics import AgentMetrics, serve_metrics
from harvester_network.agent.netlink_apply import ApplyResult
from harvester_network.agent.reconcile import reconcile_pass
from harvester_network.agent.sources import ManifestDirSource
from harvester_network.agent.status import DirStatusSink
from harvester_network.model import load_plan_file
from harvester_network.render import object_file_name, render_plan

QUICKSTART = Path(__file__).parents[2] / "examples" / "quickstart" / "plan.yaml"


class FakeHost:
    """Records what it was asked to apply; `fail` names cluster networks whose apply fails."""

    def __init__(self, links: dict[str, LinkInfo], fail: dict[str, str] | None = None) -> None:
        self.links, self.fail, self.applied, self.writes = links, fail or {}, [], 0

    def inventory(self) -> dict[str, LinkInfo]:
        return self.links

    def reconcile(self, desired: HostState) -> ApplyResult:
        self.applied.append(desired)
        self.writes += len(desired.bridges)
        return ApplyResult(errors=[NodeError(cn, msg) for cn, msg in self.fail.items()])


@pytest.fixture
def objects() -> ClusterObjects:
    return ClusterObjects.from_objects(render_plan(load_plan_file(QUICKSTART)[0]))


def node(name: str) -> NodeIdentity:
    return NodeIdentity(name, {"kubernetes.io/hostname": name})


def test_ready_pass_reports_vids_and_one_status(objects: ClusterObjects) -> None:
    host = FakeHost({"eth1": LinkInfo()})
    report = reconcile_pass(objects, node("node1"), host)
    assert report.ready and report.writes == 1
    [cn] = report.cluster_networks
    assert (cn.cluster_network, cn.vlan_config, cn.vids) == ("vlan", "vlan-node1", {100, 200})
    [status] = report.statuses
    assert status["status"]["conditions"][0]["status"] == "True"
    assert [a["vlanID"] for a in status["status"]["localAreas"]] == [100, 200]
    assert host.applied[0].bridges[0].uplink.nics == ("eth1",)


def test_override_node_uses_its_own_nic(objects: ClusterObjects) -> None:
    host = FakeHost({"eno2": LinkInfo(), "eth1": LinkInfo()})
    reconcile_pass(objects, node("node2"), host)
    assert host.applied[0].bridges[0].uplink.nics == ("eno2",)


def test_missing_nic_is_not_ready_with_message(objects: ClusterObjects) -> None:
    report = reconcile_pass(objects, node("node1"), FakeHost({}))
    assert not report.ready
    status = report.statuses[0]["status"]
    assert status["conditions"][0]["status"] == "False"
    assert "eth1" in status["conditions"][0]["message"] and status["localAreas"] == []


def test_apply_error_makes_the_cluster_network_not_ready(objects: ClusterObjects) -> None:
    report = reconcile_pass(objects, node("node1"), FakeHost({"eth1": LinkInfo()}, fail={"vlan": "boom on vlan-bo"}))
    assert [(c.ready, c.message) for c in report.cluster_networks] == [(False, "boom on vlan-bo")]


def test_unmatched_node_gets_no_status(objects: ClusterObjects) -> None:
    report = reconcile_pass(objects, node("node9"), FakeHost({"eth1": LinkInfo()}))
    assert report.cluster_networks == [] and report.statuses == [] and report.ready


def test_status_dir_writes_changes_only_and_removes_stale(tmp_path: Path, objects: ClusterObjects) -> None:
    sink = DirStatusSink(tmp_path)
    statuses = reconcile_pass(objects, node("node1"), FakeHost({"eth1": LinkInfo()})).statuses
    sink.publish("node1", statuses)
    [path] = list(tmp_path.glob("*.yaml"))
    mtime = path.stat().st_mtime_ns
    again = reconcile_pass(objects, node("node1"), FakeHost({"eth1": LinkInfo()})).statuses
    again[0]["status"]["conditions"][0]["lastUpdateTime"] = "2099-01-01T00:00:00Z"
    sink.publish("node1", again)
    assert path.stat().st_mtime_ns == mtime, "an unchanged status (but for its time) was rewritten"
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump({"metadata": {"labels": {"network.harvesterhci.io/node": "node2"}}}))
    sink.publish("node1", [])
    assert not path.exists() and other.exists(), "only this node's stale statuses go"


def test_loop_once_from_directory(tmp_path: Path) -> None:
    objects_dir = tmp_path / "objects"
    objects_dir.mkdir()
    for obj in render_plan(load_plan_file(QUICKSTART)[0]):
        (objects_dir / object_file_name(obj)).write_text(yaml.safe_dump(obj))
    source = ManifestDirSource(objects_dir, "node3", None)
    loop = AgentLoop(source, FakeHost({"eth1": LinkInfo()}), DirStatusSink(tmp_path / "status"), AgentMetrics())
    assert loop.run_once() == 0
    assert not source.changed()
    (objects_dir / "30-networkattachmentdefinition-default-vlan200.yaml").unlink()
    assert source.changed()
    failing = AgentLoop(source, FakeHost({}), DirStatusSink(tmp_path / "status"), AgentMetrics())
    assert failing.run_once() == 1


def test_loop_once_fails_when_objects_unreadable(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("kind: [unclosed")
    loop = AgentLoop(
        ManifestDirSource(tmp_path, "n", None), FakeHost({}), DirStatusSink(tmp_path / "s"), AgentMetrics()
    )
    assert loop.run_once() == 1


def test_metrics_endpoint(objects: ClusterObjects) -> None:
    metrics = AgentMetrics()
    server = serve_metrics(metrics, "127.0.0.1:0", max_age_s=60)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with pytest.raises(urllib.request.HTTPError) as not_yet:
            urllib.request.urlopen(f"{base}/healthz")
        assert not_yet.value.code == 503
        metrics.observe(reconcile_pass(objects, node("node1"), FakeHost({"eth1": LinkInfo()})))
        assert urllib.request.urlopen(f"{base}/healthz").status == 200
        text = urllib.request.urlopen(f"{base}/metrics").read().decode()
        assert 'hvnet_agent_bridge_vids{bridge="vlan-br"} 2.0' in text
        assert "hvnet_agent_reconciles_total 1.0" in text
        assert 'hvnet_agent_cluster_network_ready{cluster_network="vlan"} 1.0' in text
    finally:
        server.shutdown()


def test_a_pass_reuses_the_statuses_until_what_they_say_changes(objects: ClusterObjects) -> None:
    state, host = DesiredState(), FakeHost({"eth1": LinkInfo()})
    first = reconcile_pass(objects, node("node1"), host, state)

    again = reconcile_pass(objects, node("node1"), host, state, first)
    assert again.statuses is first.statuses  # nothing to build, nothing to publish

    fewer = ClusterObjects(objects.cluster_networks, objects.vlan_configs, objects.nads[1:])
    changed = reconcile_pass(fewer, node("node1"), host, state, again)
    assert changed.statuses is not again.statuses
    areas = [[a["vlanID"] for a in s["status"]["localAreas"]] for s in (first.statuses[0], changed.statuses[0])]
    assert areas[0] != areas[1]


class FlakySink:
    """Its first publish fails once the test says so (after a newer submit); records the ones that went through."""

    def __init__(self) -> None:
        self.published: list[list[dict[str, Any]]] = []
        self.first_started, self.fail_now, self.done = threading.Event(), threading.Event(), threading.Event()

    def publish(self, node: str, statuses: list[dict[str, Any]]) -> None:
        if not self.first_started.is_set():
            self.first_started.set()
            self.fail_now.wait(5)
            raise OSError("the API is away")
        self.published.append(statuses)
        self.done.set()


def test_the_status_publisher_retries_with_the_newest_statuses() -> None:
    sink = FlakySink()
    publisher = StatusPublisher(sink, retry_s=0.2)
    try:
        publisher.submit("node1", [{"n": 1}])
        assert sink.first_started.wait(5)
        publisher.submit("node1", [{"n": 2}])  # newer, while the first is being published (and fails)
        sink.fail_now.set()
        assert sink.done.wait(5)
    finally:
        publisher.close()
    assert sink.published == [[{"n": 2}]]


class TimedHost(FakeHost):
    """A kernel read that takes `cpu_s` of this thread's CPU, then waits `wait_s` (no CPU)."""

    def __init__(self, cpu_s: float, wait_s: float) -> None:
        super().__init__({"eth1": LinkInfo()})
        self.cpu_s, self.wait_s = cpu_s, wait_s

    def inventory(self) -> dict[str, LinkInfo]:
        started = time.thread_time()
        while time.thread_time() - started < self.cpu_s:
            pass
        time.sleep(self.wait_s)
        return self.links


class ObjectsAsGiven:
    """An ObjectSource with fixed objects, for node1."""

    def __init__(self, objects: ClusterObjects) -> None:
        self.objects, self.wakeup = objects, None

    def load(self) -> tuple[ClusterObjects, NodeIdentity]:
        return self.objects, node("node1")

    def changed(self) -> bool:
        return False

    def close(self) -> None:
        pass


def test_the_pass_cpu_counter_adds_the_pass_threads_cpu_not_its_waits(tmp_path: Path, objects: ClusterObjects) -> None:
    metrics = AgentMetrics()
    host = TimedHost(cpu_s=0.05, wait_s=0.3)
    loop = AgentLoop(ObjectsAsGiven(objects), host, DirStatusSink(tmp_path), metrics)  # type: ignore[arg-type]
    loop.run_pass()
    loop.run_pass()
    [cpu] = [f for f in text_string_to_metric_families(metrics.exposition()) if f.name.endswith("cpu_seconds")]
    # Two passes of 50 ms CPU each; their 0.6 s of waiting is no CPU.
    assert 0.1 <= cpu.samples[0].value < 0.3
