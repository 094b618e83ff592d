"""Contract tests of the emulated Harvester controllers (tests/k8s_api/harvester/controllers.py): what a Harvester
cluster writes to ClusterNetworks, VlanConfigs, VlanStatuses, NADs and nodes after we create them. Each test names
the upstream handler (network-controller-harvester 2e5cbea) it holds the emulation to."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import pytest
from kubernetes import client

from tests.k8s_api.fixtures import HarvesterApi

GROUP, VERSION = "network.harvesterhci.io", "v1beta1"
NAD_GROUP = "k8s.cni.cncf.io"
ROUTE = "network.harvesterhci.io/route"


class Harvester:
    """The calls the tests make, through the kubernetes client (as any client of a real cluster would)."""

    def __init__(self, api: HarvesterApi) -> None:
        self.api = api
        self.custom: Any = client.CustomObjectsApi(api.api_client())
        self.core: Any = client.CoreV1Api(api.api_client())

    def create(self, plural: str, body: dict[str, Any]) -> dict[str, Any]:
        body = {"apiVersion": f"{GROUP}/{VERSION}", **body}
        created: dict[str, Any] = self.custom.create_cluster_custom_object(GROUP, VERSION, plural, body)
        self.api.settle()
        return created

    def get(self, plural: str, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.custom.get_cluster_custom_object(GROUP, VERSION, plural, name)
        return found

    def items(self, plural: str) -> list[dict[str, Any]]:
        return list(self.custom.list_cluster_custom_object(GROUP, VERSION, plural)["items"])

    def cluster_network(self, name: str) -> None:
        self.create("clusternetworks", {"kind": "ClusterNetwork", "metadata": {"name": name}})

    def vlanconfig(self, name: str, cn: str, *, mtu: int = 0, selector: dict[str, str] | None = None) -> None:
        uplink: dict[str, Any] = {"nics": ["eth1"]}
        if mtu:
            uplink["linkAttributes"] = {"mtu": mtu}
        spec: dict[str, Any] = {"clusterNetwork": cn, "uplink": uplink}
        if selector:
            spec["nodeSelector"] = selector
        self.create("vlanconfigs", {"kind": "VlanConfig", "metadata": {"name": name}, "spec": spec})

    def nad(self, name: str, cn: str, vlan: int, route: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
        config = {"cniVersion": "0.3.1", "name": name, "type": "bridge", "bridge": f"{cn}-br", "promiscMode": True,
                  "vlan": vlan, **extra, "ipam": {}}  # fmt: skip
        metadata: dict[str, Any] = {"name": name, "namespace": "default"}
        if route:
            metadata["annotations"] = {ROUTE: json.dumps(route, separators=(",", ":"))}
        body = {
            "apiVersion": f"{NAD_GROUP}/v1",
            "kind": "NetworkAttachmentDefinition",
            "metadata": metadata,
            "spec": {"config": json.dumps(config, separators=(",", ":"))},
        }
        self.custom.create_namespaced_custom_object(NAD_GROUP, "v1", "default", "network-attachment-definitions", body)
        self.api.settle()
        return self.get_nad(name)

    def get_nad(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.custom.get_namespaced_custom_object(
            NAD_GROUP, "v1", "default", "network-attachment-definitions", name
        )
        return found

    def patch_nad(self, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        self.custom.patch_namespaced_custom_object(NAD_GROUP, "v1", "default", "network-attachment-definitions",
                                                   name, patch)  # fmt: skip
        self.api.settle()
        return self.get_nad(name)


@pytest.fixture
def harvester(harvester_api: HarvesterApi) -> Harvester:
    return Harvester(harvester_api)


def with_vlan100(harvester_api: HarvesterApi) -> Harvester:
    """cn1, its VlanConfig vc1 on both nodes and the tagged network default/vlan100: where VMs and pools start."""
    made = Harvester(harvester_api)
    made.cluster_network("cn1")
    made.vlanconfig("vc1", "cn1")
    made.nad("vlan100", "cn1", 100)
    return made


def ready(obj: dict[str, Any]) -> str | None:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c["status"] for c in conditions if c["type"] == "ready"), None)


def test_vlanconfig_gets_matched_nodes_label_and_a_vlanstatus_per_node(harvester: Harvester) -> None:
    """webhook/vlanconfig Mutator (matchNodes, getCnLabelPatch); agent/vlanconfig updateStatus, addNodeLabel."""
    harvester.cluster_network("cn1")
    harvester.vlanconfig("vc1", "cn1")
    vc = harvester.get("vlanconfigs", "vc1")
    assert vc["metadata"]["labels"]["network.harvesterhci.io/clusternetwork"] == "cn1"
    assert vc["metadata"]["annotations"]["network.harvesterhci.io/matched-nodes"] == '["node1","node2"]'
    statuses = {s["metadata"]["name"]: s for s in harvester.items("vlanstatuses")}
    assert sorted(statuses) == ["cn1-node1-b06d7115", "cn1-node2-296420af"]  # utils.Name("", cn, node)
    status = statuses["cn1-node1-b06d7115"]
    assert {k: v for k, v in status["status"].items() if k != "conditions"} == {
        "clusterNetwork": "cn1",
        "vlanConfig": "vc1",
        "linkMonitor": "cn1",
        "node": "node1",
    }
    assert ready(status) == "True"
    assert status["metadata"]["labels"] == {
        "network.harvesterhci.io/clusternetwork": "cn1",
        "network.harvesterhci.io/vlanconfig": "vc1",
        "network.harvesterhci.io/node": "node1",
    }
    assert status["metadata"]["ownerReferences"][0]["name"] == "vc1"
    node_labels = harvester.core.read_node("node2").metadata.labels
    assert node_labels["network.harvesterhci.io/cn1"] == "true"
    assert node_labels["network.harvesterhci.io/vlanconfig"] == "vc1"


def test_cluster_network_gets_mtu_annotations_ready_and_a_link_monitor(harvester: Harvester) -> None:
    """manager/vlanconfig ensureClusterNetwork, setClusterNetworkReady; manager/clusternetwork EnsureLinkMonitor."""
    harvester.cluster_network("cn1")
    assert ready(harvester.get("clusternetworks", "cn1")) is None
    harvester.vlanconfig("vc1", "cn1", mtu=9000)
    cn = harvester.get("clusternetworks", "cn1")
    assert cn["metadata"]["annotations"] == {
        "network.harvesterhci.io/uplink-mtu": "9000",
        "network.harvesterhci.io/mtu-source-vc": "vc1",
    }
    assert ready(cn) == "True"
    assert harvester.get("linkmonitors", "cn1")["spec"] == {"targetLinkRule": {"nameRule": "cn1(-br|-bo)"}}


def test_deleting_the_last_vlanconfig_unreadies_the_cluster_network_and_drops_its_mtu(harvester: Harvester) -> None:
    """agent/vlanconfig OnRemove (VlanStatus and node label go); manager/vlanconfig setClusterNetworkUnready,
    OnVlanConfigRemove (no candidate: both MTU annotations removed)."""
    harvester.cluster_network("cn1")
    harvester.vlanconfig("vc1", "cn1", mtu=9000)
    harvester.custom.delete_cluster_custom_object(GROUP, VERSION, "vlanconfigs", "vc1")
    harvester.api.settle()
    cn = harvester.get("clusternetworks", "cn1")
    assert ready(cn) == "False"
    assert "network.harvesterhci.io/uplink-mtu" not in (cn["metadata"].get("annotations") or {})
    assert harvester.items("vlanstatuses") == []
    assert "network.harvesterhci.io/cn1" not in harvester.core.read_node("node1").metadata.labels


def test_nad_gets_mtu_labels_vlan_set_and_route_connectivity(harvester: Harvester) -> None:
    """webhook/nad Mutator.patchMTU; manager/nad ensureLabels, UpdateClusterNetworkVlanSet, initializeConnectivity."""
    harvester.cluster_network("cn1")
    harvester.vlanconfig("vc1", "cn1", mtu=9000)
    nad = harvester.nad("vlan100", "cn1", 100, {"mode": "manual", "cidr": "10.0.0.0/24", "gateway": "10.0.0.1"})
    assert nad["spec"]["config"].endswith(',"ipam":{},"mtu":9000}')  # sjson appends a missing key
    assert nad["metadata"]["labels"] == {
        "network.harvesterhci.io/clusternetwork": "cn1",
        "network.harvesterhci.io/type": "L2VlanNetwork",
        "network.harvesterhci.io/vlan-id": "100",
        "network.harvesterhci.io/ready": "true",
    }
    assert nad["metadata"]["annotations"][ROUTE] == (
        '{"mode":"manual","cidr":"10.0.0.0/24","gateway":"10.0.0.1","connectivity":"true"}'
    )
    harvester.nad("vlan200", "cn1", 200)
    cn = harvester.get("clusternetworks", "cn1")["metadata"]["annotations"]
    assert cn["network.harvesterhci.io/vlan-id-set-str"] == "100,200"
    assert cn["network.harvesterhci.io/vlan-id-set-str-hash"] == hashlib.sha256(b"100,200").hexdigest()


def test_periodic_ping_rewrites_connectivity(harvester: Harvester) -> None:
    """manager/nad CheckConnectivityPeriodically -> checkConnectivity."""
    harvester.cluster_network("cn1")
    harvester.vlanconfig("vc1", "cn1")
    harvester.nad("vlan100", "cn1", 100, {"mode": "manual", "cidr": "10.0.0.0/24", "gateway": "10.0.0.1"})
    assert harvester.api.harvester is not None
    harvester.api.harvester.check_connectivity("ping failed")
    route = json.loads(harvester.get_nad("vlan100")["metadata"]["annotations"][ROUTE])
    assert route["connectivity"] == "ping failed"


def test_auto_route_gets_the_helper_jobs_dhcp_answer(harvester: Harvester) -> None:
    """manager/nad createOrUpdateJob; pkg/helper GetVLANLayer3Network -> RecordToNad; then initializeConnectivity."""
    assert harvester.api.harvester is not None
    harvester.api.harvester.dhcp_answers[100] = ("10.0.0.0/24", "10.0.0.1")
    harvester.cluster_network("cn1")
    harvester.vlanconfig("vc1", "cn1")
    nad = harvester.nad("vlan100", "cn1", 100, {"mode": "auto"})
    assert json.loads(nad["metadata"]["annotations"][ROUTE]) == {
        "mode": "auto",
        "cidr": "10.0.0.0/24",
        "gateway": "10.0.0.1",
        "connectivity": "true",
    }
    silent = harvester.nad("vlan300", "cn1", 300, {"mode": "auto"})
    assert json.loads(silent["metadata"]["annotations"][ROUTE]) == {"mode": "auto", "connectivity": "DHCP failed"}


def test_new_node_matching_a_vlanconfig_is_added_to_it(harvester: Harvester) -> None:
    """manager/node OnChange -> updateMatchedNodeAnnotation; then the agent on the new node."""
    harvester.cluster_network("cn1")
    harvester.vlanconfig("vc1", "cn1", selector={"rack": "a"})
    assert "network.harvesterhci.io/matched-nodes" not in (harvester.get("vlanconfigs", "vc1")["metadata"].get(
        "annotations") or {})  # fmt: skip
    assert harvester.api.harvester is not None
    harvester.api.harvester.add_node("node3", {"rack": "a"})
    vc = harvester.get("vlanconfigs", "vc1")
    assert vc["metadata"]["annotations"]["network.harvesterhci.io/matched-nodes"] == '["node3"]'
    assert [s["status"]["node"] for s in harvester.items("vlanstatuses")] == ["node3"]


def test_ippool_labels_its_nad(harvester: Harvester) -> None:
    """vm-dhcp-controller pkg/controller/ippool ensureNADLabels."""
    harvester.cluster_network("cn1")
    harvester.vlanconfig("vc1", "cn1")
    harvester.nad("vlan100", "cn1", 100)
    pool = {
        "apiVersion": "network.harvesterhci.io/v1alpha1",
        "kind": "IPPool",
        "metadata": {"name": "pool-100", "namespace": "default"},
        "spec": {
            "networkName": "default/vlan100",
            "ipv4Config": {
                "cidr": "10.0.0.0/24",
                "serverIP": "10.0.0.2",
                "pool": {"start": "10.0.0.10", "end": "10.0.0.20"},
            },
        },
    }
    harvester.custom.create_namespaced_custom_object(GROUP, "v1alpha1", "default", "ippools", pool)
    harvester.api.settle()
    nad_labels = harvester.get_nad("vlan100")["metadata"]["labels"]
    assert nad_labels["network.harvesterhci.io/ippool-namespace"] == "default"
    assert nad_labels["network.harvesterhci.io/ippool-name"] == "pool-100"


def test_watched_objects_carry_wrangler_finalizers_until_their_handlers_ran(harvester: Harvester) -> None:
    """wrangler generic.NewRemoveHandler (OnRemove of manager/agent vlanconfig, manager nad, manager clusternetwork):
    finalizers `wrangler.cattle.io/<controller>`, removed after the delete was handled."""
    harvester.cluster_network("cn1")
    harvester.vlanconfig("vc1", "cn1")
    nad = harvester.nad("vlan100", "cn1", 100)
    assert harvester.get("vlanconfigs", "vc1")["metadata"]["finalizers"] == [
        "wrangler.cattle.io/harvester-network-vlanconfig-controller",
        "wrangler.cattle.io/harvester-network-manager-vlanconfig-controller",
    ]
    assert nad["metadata"]["finalizers"] == ["wrangler.cattle.io/harvester-network-manager-nad-controller"]
    assert harvester.get("clusternetworks", "cn1")["metadata"]["finalizers"] == [
        "wrangler.cattle.io/harvester-network-manager-cn-controller"
    ]
    assert all(s["metadata"]["finalizers"] for s in harvester.items("vlanstatuses"))
    harvester.custom.delete_cluster_custom_object(GROUP, VERSION, "vlanconfigs", "vc1")
    harvester.api.settle()
    assert [v["metadata"]["name"] for v in harvester.items("vlanconfigs")] == []
    assert harvester.items("vlanstatuses") == []


def test_failed_setup_is_a_not_ready_vlanstatus_without_node_label(harvester: Harvester) -> None:
    """agent/vlanconfig setupVLAN: updateStatus(vc, setupErr) (ready False, the error as message), no addNodeLabel;
    manager/vlanconfig SetClusterNetworkReady marks the cluster network ready anyway."""
    assert harvester.api.harvester is not None
    harvester.api.harvester.fail_setup("node2", "set up uplink failed, error: link eth1 not found")
    harvester.cluster_network("cn1")
    harvester.vlanconfig("vc1", "cn1")
    statuses = {s["status"]["node"]: s for s in harvester.items("vlanstatuses")}
    failed = statuses["node2"]["status"]["conditions"][0]
    assert (failed["status"], failed["message"]) == ("False", "set up uplink failed, error: link eth1 not found")
    assert ready(statuses["node1"]) == "True"
    assert "network.harvesterhci.io/cn1" not in harvester.core.read_node("node2").metadata.labels
    assert ready(harvester.get("clusternetworks", "cn1")) == "True"


def test_two_cluster_networks_on_one_node_settle(harvester: Harvester) -> None:
    """agent/vlanconfig addNodeLabel runs on VlanConfig events: with two VlanConfigs on a node, the node's
    `network.harvesterhci.io/vlanconfig` label is the last one's, and nothing keeps rewriting it."""
    harvester.cluster_network("cn1")
    harvester.cluster_network("cn2")
    harvester.vlanconfig("vc1", "cn1")
    harvester.vlanconfig("vc2", "cn2")
    assert harvester.api.server is not None
    store = harvester.api.server.cluster.store
    version = store.resource_version
    time.sleep(0.5)
    assert store.resource_version == version, "the emulated controllers keep writing"
    node_labels = harvester.core.read_node("node1").metadata.labels
    assert node_labels["network.harvesterhci.io/cn1"] == node_labels["network.harvesterhci.io/cn2"] == "true"
    assert node_labels["network.harvesterhci.io/vlanconfig"] == "vc2"
