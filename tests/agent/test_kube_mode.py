"""The agent in Kubernetes mode against the test API server: KubeSource (list+watch of its objects and its Node),
KubeStatusSink (VlanStatus by server-side apply as the node's field manager, node labels, ClusterNetwork ready)
and the loop around them (events, 410 relists, an API outage and recovery), with a fake kernel."""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from harvester_network.agent.inputs import LinkInfo
from harvester_network.agent.kube_source import KubeSource, SourceUnavailable
from harvester_network.agent.loop import AgentLoop
from harvester_network.agent.metrics import AgentMetrics
from harvester_network.agent.status import KubeStatusSink, agent_field_manager
from harvester_network.agent.wakeup import Wakeup
from harvester_network.kube import KubeClient, KubeError, KubeTarget, condition, field_managers
from harvester_network.model import load_plan_file
from harvester_network.render import harvester as h
from harvester_network.render import render_plan
from harvester_network.render.crds import custom_resource_definitions
from harvester_network.render.vlanstatus import vlanstatus_name
from tests.agent.test_reconcile import FakeHost
from tests.k8s_api.faults import Faults
from tests.k8s_api.fixtures import KubeApi, apply_crds, eventually, real_cluster_kubeconfig

pytestmark = pytest.mark.skipif(
    bool(real_cluster_kubeconfig()), reason="writes Nodes, VlanConfigs and agent status a real cluster's own agents own"
)

QUICKSTART = Path(__file__).parents[2] / "examples" / "quickstart" / "plan.yaml"
AGENT_KINDS = {"ClusterNetwork", "VlanConfig", "NetworkAttachmentDefinition"}
NODE_LABEL = h.node_cluster_network_label("vlan")
STATUS = vlanstatus_name("vlan", "node1")
NODE1_LABELS = {"kubernetes.io/hostname": "node1", "zone": "a"}  # the kubelet sets the hostname label


@pytest.fixture
def target(k8s_api: KubeApi) -> KubeTarget:
    k8s_api.install_crds()
    return KubeTarget.from_kubeconfig(k8s_api.kubeconfig_path)


@pytest.fixture
def kube(target: KubeTarget) -> Iterator[KubeClient]:
    with KubeClient(target) as connected:
        connected.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
        for obj in render_plan(load_plan_file(QUICKSTART)[0]):
            if obj["kind"] in AGENT_KINDS:
                connected.apply(obj)
        connected.apply({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node1", "labels": NODE1_LABELS}})
        yield connected


@pytest.fixture
def source(target: KubeTarget, kube: KubeClient) -> Iterator[KubeSource]:
    made = KubeSource(target, "node1", backoff_max_s=0.2, first_sync_wait_s=10)
    yield made
    made.close()


def nad(vid: int) -> dict[str, Any]:
    config = {"cniVersion": "0.3.1", "name": f"vlan{vid}", "type": "bridge", "bridge": "vlan-br", "vlan": vid}
    return {
        "apiVersion": h.NAD_API,
        "kind": "NetworkAttachmentDefinition",
        "metadata": {"name": f"vlan{vid}", "namespace": "default", "labels": {h.LABEL_CLUSTER_NETWORK: "vlan"}},
        "spec": {"config": json.dumps(config)},
    }


def local_vids(kube: KubeClient) -> list[int] | None:
    live = kube.get("VlanStatus", STATUS)
    if live is None or "status" not in live:  # not there, or made and its status not yet applied
        return None
    return [area["vlanID"] for area in live["status"]["localAreas"]]


# --- the source ----------------------------------------------------------------------------------------------


def test_load_gives_the_objects_and_this_nodes_labels(source: KubeSource) -> None:
    objects, node = source.load()
    assert [o["metadata"]["name"] for o in objects.cluster_networks] == ["vlan"]
    assert sorted(o["metadata"]["name"] for o in objects.vlan_configs) == ["vlan-node1", "vlan-node2", "vlan-node3"]
    assert sorted(o["metadata"]["name"] for o in objects.nads) == ["untagged", "vlan100", "vlan200"]
    assert all(o["metadata"].get("uid") for o in objects.vlan_configs)  # API objects, with their uid
    assert (node.name, node.labels) == ("node1", NODE1_LABELS)
    assert not source.changed()


def test_loads_hand_over_the_same_tuples_until_something_changes(source: KubeSource, kube: KubeClient) -> None:
    first, _ = source.load()
    again, _ = source.load()
    assert again.nads is first.nads and again.vlan_configs is first.vlan_configs  # desired.py's cache key

    kube.apply(nad(300))
    eventually(source.changed, timeout=10, what="a new NAD")
    changed, _ = source.load()

    assert changed.nads is not first.nads and len(changed.nads) == len(first.nads) + 1
    assert changed.vlan_configs is first.vlan_configs


def test_the_mirrors_keep_only_what_the_agent_reads(source: KubeSource, kube: KubeClient) -> None:
    annotated = nad(300)
    annotated["metadata"]["annotations"] = {h.ANNOTATION_ROUTE: '{"cidr":"10.3.0.0/24"}', "note": "x" * 1000}
    annotated["metadata"]["labels"]["team"] = "x"
    kube.apply(annotated)

    def mirrored_nad() -> Mapping[str, Any] | None:
        return next((o for o in source.load()[0].nads if o["metadata"]["name"] == "vlan300"), None)

    mirrored = eventually(mirrored_nad, timeout=10, what="the new NAD")

    assert set(mirrored) == {"apiVersion", "kind", "metadata", "spec"}
    assert set(mirrored["metadata"]) == {"name", "namespace", "labels", "annotations"}
    assert mirrored["metadata"]["labels"] == {h.LABEL_CLUSTER_NETWORK: "vlan"}
    assert mirrored["metadata"]["annotations"] == {h.ANNOTATION_ROUTE: '{"cidr":"10.3.0.0/24"}'}
    # spec.config keeps what desired.py reads of it (cniVersion and the network name go)
    assert json.loads(mirrored["spec"]["config"]) == {"type": "bridge", "bridge": "vlan-br", "vlan": 300}
    assert set(source.caches["Node"].objects()[0]["metadata"]) == {"name", "resourceVersion", "labels"}
    vlan_config = source.load()[0].vlan_configs[0]["metadata"]
    assert {"name", "uid"} <= set(vlan_config) <= {"name", "uid", "labels"}  # the uid: the VlanStatus owner


def test_changed_after_a_spec_or_label_change_but_not_after_status(source: KubeSource, kube: KubeClient) -> None:
    source.load()
    cache = source.caches["Node"]
    version = cache.objects()[0]["metadata"]["resourceVersion"]
    node_status = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node1"}}
    kube.apply({**node_status, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}, subresource="status")

    def heartbeat_mirrored() -> bool:  # the mirror keeps only name and labels: the new version shows it arrived
        return cache.objects()[0]["metadata"]["resourceVersion"] != version

    eventually(heartbeat_mirrored, timeout=10, what="the Node status change in the mirror")
    threading.Event().wait(0.1)
    assert not source.changed()  # a heartbeat is no reason to reconcile
    kube.apply({**node_status, "metadata": {"name": "node1", "labels": {**NODE1_LABELS, "zone": "b"}}})
    eventually(source.changed, timeout=10, what="a node label change")
    assert source.load()[1].labels["zone"] == "b"
    kube.apply(nad(300))
    eventually(source.changed, timeout=10, what="a new NAD")
    assert "vlan300" in [o["metadata"]["name"] for o in source.load()[0].nads]


def test_no_node_object_is_an_error_that_names_the_node(target: KubeTarget, kube: KubeClient) -> None:
    source = KubeSource(target, "node9", first_sync_wait_s=10)
    try:
        with pytest.raises(SourceUnavailable, match="Node node9 does not exist"):
            source.load()
    finally:
        source.close()


def test_an_unreachable_api_is_an_error_that_says_so() -> None:
    source = KubeSource(KubeTarget(kubeconfig=UNREACHABLE_KUBECONFIG), "node1", backoff_max_s=0.1, first_sync_wait_s=1)
    try:
        with pytest.raises(
            SourceUnavailable, match=r"no ClusterNetwork list from .* yet: .*cannot reach the API server"
        ):
            source.load()
    finally:
        source.close()


UNREACHABLE_KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "http://127.0.0.1:9"}}]
users: [{name: u, user: {}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
"""


# --- the status sink -----------------------------------------------------------------------------------------


def statuses_of(source: KubeSource, host: FakeHost) -> list[dict[str, Any]]:
    from harvester_network.agent.reconcile import reconcile_pass

    objects, node = source.load()
    return reconcile_pass(objects, node, host).statuses


def test_status_is_applied_as_the_nodes_field_manager_with_owner_label_and_ready(
    source: KubeSource, kube: KubeClient, target: KubeTarget
) -> None:
    KubeStatusSink(target).publish("node1", statuses_of(source, FakeHost({"eth1": LinkInfo()})))
    live = kube.get("VlanStatus", STATUS)
    assert live is not None
    assert field_managers(live) == {agent_field_manager("node1")}
    assert {e.get("subresource", "") for e in live["metadata"]["managedFields"]} == {"", "status"}
    vlan_config = kube.get("VlanConfig", "vlan-node1")
    assert vlan_config is not None
    assert live["metadata"]["ownerReferences"][0]["uid"] == vlan_config["metadata"]["uid"]
    assert live["metadata"]["labels"][h.LABEL_NODE] == "node1"
    assert [a["vlanID"] for a in live["status"]["localAreas"]] == [100, 200]
    assert condition(live, "ready") == {**condition(live, "ready"), "status": "True", "message": ""}  # type: ignore[dict-item]
    node = kube.get("Node", "node1")
    assert node is not None and node["metadata"]["labels"] == {**NODE1_LABELS, NODE_LABEL: "true"}
    cluster_network = kube.get("ClusterNetwork", "vlan")
    assert cluster_network is not None and (condition(cluster_network, "ready") or {}).get("status") == "True"


def test_an_unchanged_status_is_not_written_again(
    source: KubeSource, kube: KubeClient, target: KubeTarget, k8s_faults: Faults
) -> None:
    sink = KubeStatusSink(target)
    host = FakeHost({"eth1": LinkInfo()})
    sink.publish("node1", statuses_of(source, host))
    before = copy.deepcopy(k8s_faults.requests)
    threading.Event().wait(1.1)  # a new lastUpdateTime, to the second
    sink.publish("node1", statuses_of(source, host))
    writes = [r for r in k8s_faults.requests[len(before) :] if r[0] in ("PATCH", "PUT", "POST", "DELETE")]
    assert writes == []


def vlanstatus_lists(faults: Faults, since: int) -> int:
    return sum(method == "GET" and "/vlanstatuses?" in path for method, path in faults.requests[since:])


def test_a_change_is_written_from_what_the_sink_last_wrote_and_a_resync_lists_and_puts_back(
    source: KubeSource, kube: KubeClient, target: KubeTarget, k8s_faults: Faults
) -> None:
    """Only a publish of the same statuses again (a resync) or one after a failure lists the VlanStatuses (at 4,000
    local areas a list decodes to a megabyte); a change is compared with what the last publish left."""
    sink = KubeStatusSink(target)
    ready = statuses_of(source, FakeHost({"eth1": LinkInfo()}))
    failed = statuses_of(source, FakeHost({"eth1": LinkInfo()}, fail={"vlan": "eth1 is down"}))
    sink.publish("node1", ready)
    since = len(k8s_faults.requests)
    sink.publish("node1", failed)
    assert vlanstatus_lists(k8s_faults, since) == 0
    assert (condition(kube.get("VlanStatus", STATUS) or {}, "ready") or {})["message"] == "eth1 is down"

    kube.delete("VlanStatus", STATUS)  # someone else's doing
    sink.publish("node1", failed)  # the same statuses again: a resync
    assert vlanstatus_lists(k8s_faults, since) == 1
    assert kube.get("VlanStatus", STATUS) is not None

    k8s_faults.fail_next(1, code=503, path="/vlanstatuses/", method="PATCH")
    with pytest.raises(KubeError):
        sink.publish("node1", ready)
    kube.delete("VlanStatus", STATUS)
    sink.publish("node1", statuses_of(source, FakeHost({"eth1": LinkInfo()})))  # after a failure: listed again
    assert vlanstatus_lists(k8s_faults, since) == 2
    live = kube.get("VlanStatus", STATUS)
    assert live is not None and [a["vlanID"] for a in live["status"]["localAreas"]] == [100, 200]


def test_a_failed_setup_keeps_the_label_and_a_teardown_removes_status_and_label(
    source: KubeSource, kube: KubeClient, target: KubeTarget
) -> None:
    sink = KubeStatusSink(target)
    node2_labels = {"kubernetes.io/hostname": "node2", "zone": "b"}
    kube.apply({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node2", "labels": node2_labels}})
    node2 = KubeSource(target, "node2", first_sync_wait_s=10)
    try:
        sink.publish("node2", statuses_of(node2, FakeHost({"eno2": LinkInfo()})))  # another node's agent
    finally:
        node2.close()
    sink.publish("node1", statuses_of(source, FakeHost({"eth1": LinkInfo()})))
    sink.publish("node1", statuses_of(source, FakeHost({"eth1": LinkInfo()}, fail={"vlan": "eth1 is down"})))
    failed = kube.get("VlanStatus", STATUS)
    assert failed is not None and condition(failed, "ready") is not None
    assert (condition(failed, "ready") or {})["message"] == "eth1 is down" and failed["status"]["localAreas"] == []
    node = kube.get("Node", "node1")
    assert node is not None and node["metadata"]["labels"].get(NODE_LABEL) == "true"  # as Harvester leaves it
    sink.publish("node1", [])  # no VlanConfig matches this node any more
    assert kube.get("VlanStatus", STATUS) is None
    node = kube.get("Node", "node1")
    assert node is not None and node["metadata"]["labels"] == NODE1_LABELS
    other = kube.get("VlanStatus", vlanstatus_name("vlan", "node2"))
    assert other is not None and other["status"]["node"] == "node2"  # other nodes' status is not this agent's
    assert (kube.get("Node", "node2") or {})["metadata"]["labels"] == {**node2_labels, NODE_LABEL: "true"}


def test_a_label_another_manager_also_set_still_goes_at_teardown(
    source: KubeSource, kube: KubeClient, target: KubeTarget
) -> None:
    sink = KubeStatusSink(target)
    kube.merge_patch("Node", "node1", {"metadata": {"labels": {NODE_LABEL: "true"}}})  # e.g. `kubectl label`
    sink.publish("node1", statuses_of(source, FakeHost({"eth1": LinkInfo()})))
    sink.publish("node1", [])
    node = kube.get("Node", "node1")
    assert node is not None and node["metadata"]["labels"] == NODE1_LABELS


def harvester_shaped(crd: dict[str, Any]) -> dict[str, Any]:
    """Harvester's own CRD of the kind: no status subresource, and `status` required."""
    shaped = copy.deepcopy(crd)
    version = shaped["spec"]["versions"][0]
    version["subresources"] = {}
    version["schema"]["openAPIV3Schema"]["required"] = ["status"]
    return shaped


def test_status_works_with_harvesters_crds_too(k8s_api: KubeApi) -> None:
    crds = [
        harvester_shaped(c) if c["spec"]["names"]["kind"] == "VlanStatus" else c for c in custom_resource_definitions()
    ]
    apply_crds(k8s_api.api_client(), crds)
    target = KubeTarget.from_kubeconfig(k8s_api.kubeconfig_path)
    with KubeClient(target) as kube:
        kube.apply({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node1", "labels": NODE1_LABELS}})
        for obj in render_plan(load_plan_file(QUICKSTART)[0]):
            if obj["kind"] in AGENT_KINDS:
                kube.apply(obj)
        source = KubeSource(target, "node1", first_sync_wait_s=10)
        try:
            KubeStatusSink(target).publish("node1", statuses_of(source, FakeHost({"eth1": LinkInfo()})))
        finally:
            source.close()
        assert local_vids(kube) == [100, 200]


# --- the loop ------------------------------------------------------------------------------------------------


class LinkEventsByHand:
    """The fake kernel's link events: `kick()` is a link event."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def kick(self) -> None:
        self.event.set()

    def wait(self, timeout: float, wake: Wakeup | None = None) -> bool:
        deadline = time.monotonic() + timeout
        while not self.event.wait(0.01):
            if (wake is not None and wake.is_set()) or time.monotonic() >= deadline:
                return False
        self.event.clear()
        return True


@pytest.fixture
def running_agent(source: KubeSource, target: KubeTarget) -> Iterator[tuple[FakeHost, LinkEventsByHand]]:
    host = FakeHost({"eth1": LinkInfo()})
    events = LinkEventsByHand()
    loop = AgentLoop(source, host, KubeStatusSink(target), AgentMetrics(), resync_s=300, status_retry_s=0.2)  # type: ignore[arg-type]
    stopping = threading.Event()
    thread = threading.Thread(target=loop.run_forever, args=(events, stopping.is_set), daemon=True)
    thread.start()
    yield host, events
    stopping.set()
    thread.join(5)


def test_the_loop_follows_the_api_through_events_a_relist_and_an_outage(
    running_agent: tuple[FakeHost, LinkEventsByHand], kube: KubeClient, k8s_faults: Faults
) -> None:
    host, events = running_agent
    eventually(lambda: local_vids(kube) == [100, 200], timeout=10, what="the first status")

    kube.apply(nad(300))  # an event, long before the 300 s resync
    eventually(lambda: local_vids(kube) == [100, 200, 300], timeout=10, what="VID 300 from a watch event")

    k8s_faults.expire_next_watch(path="/network-attachment-definitions?")
    k8s_faults.drop_watches()
    kube.delete("NetworkAttachmentDefinition", "vlan300", "default")
    eventually(lambda: local_vids(kube) == [100, 200], timeout=10, what="the delete, seen through a relist")

    # The API goes away: the host keeps its state, the failure is reconciled, and its status waits for the API.
    k8s_faults.refuse_next(1_000_000)
    k8s_faults.drop_watches()
    passes = len(host.applied)
    host.fail = {"vlan": "eth1 lost its carrier"}
    events.kick()
    eventually(lambda: len(host.applied) > passes, timeout=10, what="a pass on the link event during the outage")
    k8s_faults.clear()
    eventually(lambda: local_vids(kube) == [], timeout=10, what="the status written after the outage")
    failed = kube.get("VlanStatus", STATUS)
    assert failed is not None and (condition(failed, "ready") or {}).get("message") == "eth1 lost its carrier"

    host.fail = {}
    kube.apply(nad(400))  # the watches are back
    eventually(lambda: local_vids(kube) == [100, 200, 400], timeout=10, what="events after the outage")

    kube.delete("VlanConfig", "vlan-node1")  # its VlanStatus goes with it (owner reference)

    def torn_down() -> bool:
        node = kube.get("Node", "node1") or {}
        return host.applied[-1].bridges == () and NODE_LABEL not in node["metadata"]["labels"]

    eventually(torn_down, timeout=10, what="teardown on the host and of the node label")
    assert kube.get("VlanStatus", STATUS) is None


# --- the command line ----------------------------------------------------------------------------------------
# Only refusals: they come before the agent touches any link (a run that got further would change this host).


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--kubeconfig", "/nonexistent/kubeconfig"], {}, "Invalid value for --kubeconfig: load kubeconfig"),
        (["--context", "other"], {"HOME": "/nonexistent"}, "Invalid value for --context: no kubeconfig to take"),
        (["--from-dir", ".", "--kubeconfig", "k"], {}, "--from-dir reads no API: leave out --kubeconfig/--context"),
        (["--status-dir", "s"], {}, "--node-file and --status-dir go with --from-dir"),
    ],
)
def test_agent_refuses_options_that_cannot_work(argv: list[str], env: dict[str, str], message: str) -> None:
    from typer.testing import CliRunner

    from harvester_network.cli import app

    env = {"KUBECONFIG": "", **env}
    result = CliRunner().invoke(app, ["agent", "--node", "node1", *argv], env=env)
    assert result.exit_code == 2
    assert message in " ".join(result.output.replace("│", " ").split())
