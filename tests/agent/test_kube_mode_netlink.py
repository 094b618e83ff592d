"""The real `hvnet agent` in Kubernetes mode on a real kernel: the test API server and the agent both live in a
namespace `hvt-*` (the server's socket is made there, so the agent reaches it on that namespace's 127.0.0.1);
the objects go in through the API, the bridge/bond/VIDs are checked with iproute2, the status through the API.
Runs in the lab kernel (`make test`), like the other netlink tests."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harvester_network.kube import KubeClient, KubeTarget, condition
from harvester_network.lab.agents import hvnet_executable
from harvester_network.lab.uml import needs_lab_kernel
from harvester_network.model import load_plan_file
from harvester_network.render import harvester as h
from harvester_network.render import render_plan
from harvester_network.render.crds import custom_resource_definitions
from harvester_network.render.vlanstatus import vlanstatus_name
from tests.agent.conftest import HvtNetns
from tests.agent.test_kube_mode import AGENT_KINDS, NODE1_LABELS, nad
from tests.agent.test_netlink import add_dummies
from tests.k8s_api.fixtures import eventually
from tests.k8s_api.server import TestApiServer

pytestmark = [
    pytest.mark.netlink,
    pytest.mark.skipif(
        needs_lab_kernel(), reason="needs a kernel with bridge VLAN filtering: run via `make test` (lab kernel)"
    ),
]

QUICKSTART = Path(__file__).parents[2] / "examples" / "quickstart" / "plan.yaml"
STATUS = vlanstatus_name("vlan", "node1")


class Api:
    """The test API server and a client, both inside the namespace."""

    def __init__(self, ns: HvtNetns, kubeconfig: Path) -> None:
        self.ns, self.kubeconfig = ns, kubeconfig

    def call(self, action: Any) -> Any:
        """Run `action(kube)` with a connection made inside the namespace (sockets stay where they were made)."""
        with self.ns.inside(), KubeClient(KubeTarget(kubeconfig_path=str(self.kubeconfig))) as kube:
            return action(kube)


@pytest.fixture
def api(ns: HvtNetns, tmp_path: Path) -> Iterator[Api]:
    with ns.inside():
        server = TestApiServer().start()
    try:
        handle = Api(ns, Path(server.write_kubeconfig(tmp_path / "kubeconfig")))

        def seed(kube: KubeClient) -> None:
            for crd in custom_resource_definitions():
                kube.apply(crd)
            kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
            for obj in render_plan(load_plan_file(QUICKSTART)[0]):
                if obj["kind"] in AGENT_KINDS:
                    kube.apply(obj)
            kube.apply({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node1", "labels": NODE1_LABELS}})

        eventually(lambda: _try(handle, seed), timeout=30, what="the CRDs to be served")
        yield handle
    finally:
        server.stop()


def _try(api: Api, action: Any) -> bool:
    try:
        api.call(action)
    except Exception:  # a CRD not yet Established answers 404 for its kind
        return False
    return True


def agent_argv(ns: HvtNetns, api: Api, state_dir: Path, *extra: str) -> list[str]:
    command = [hvnet_executable(), "agent", "--node", "node1", "--kubeconfig", str(api.kubeconfig)]
    return ["ip", "netns", "exec", ns.name, *command, "--state-dir", str(state_dir), "--resync", "300", *extra]


def uplink_vids(ns: HvtNetns) -> set[int]:
    return set(ns.bridge_vlans().get("vlan-bo", {})) - {1}


def local_vids(kube: KubeClient) -> list[int] | None:
    live = kube.get("VlanStatus", STATUS)
    return [a["vlanID"] for a in live["status"]["localAreas"]] if live and "status" in live else None


def test_once_in_kubernetes_mode_builds_the_node_and_reports_it(ns: HvtNetns, api: Api, tmp_path: Path) -> None:
    add_dummies(ns, "eth1")
    done = subprocess.run(agent_argv(ns, api, tmp_path / "state", "--once"), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert ns.link("eth1")["master"] == "vlan-bo" and ns.link("vlan-bo")["master"] == "vlan-br"
    assert uplink_vids(ns) == {100, 200}
    status = api.call(lambda kube: kube.get("VlanStatus", STATUS))
    assert (condition(status, "ready") or {}).get("status") == "True"
    node = api.call(lambda kube: kube.get("Node", "node1"))
    assert node["metadata"]["labels"][h.node_cluster_network_label("vlan")] == "true"


def test_a_running_agent_follows_the_api_and_tears_down(ns: HvtNetns, api: Api, tmp_path: Path) -> None:
    add_dummies(ns, "eth1")
    agent = subprocess.Popen(agent_argv(ns, api, tmp_path / "state"), stderr=subprocess.PIPE, text=True)
    try:
        eventually(lambda: uplink_vids(ns) == {100, 200}, timeout=30, what="the first pass")
        api.call(lambda kube: kube.apply(nad(300)))
        eventually(lambda: uplink_vids(ns) == {100, 200, 300}, timeout=15, what="VID 300 from a watch event")
        eventually(lambda: api.call(local_vids) == [100, 200, 300], timeout=15, what="VID 300 in the status")

        api.call(lambda kube: kube.delete("VlanConfig", "vlan-node1"))
        eventually(lambda: "vlan-br" not in ns.links(), timeout=15, what="teardown of the bridge")
        assert "master" not in ns.link("eth1") and "UP" in ns.link("eth1")["flags"]  # released as it was

        def label_gone(kube: KubeClient) -> bool:
            node = kube.get("Node", "node1") or {}
            return h.node_cluster_network_label("vlan") not in node["metadata"]["labels"]

        eventually(lambda: api.call(label_gone), timeout=15, what="the node label to go")
    finally:
        os.kill(agent.pid, signal.SIGTERM)
        try:
            agent.wait(10)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait()
    assert agent.returncode == 0, agent.stderr.read() if agent.stderr else ""
