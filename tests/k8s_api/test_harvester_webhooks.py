"""Contract tests of the emulated Harvester network webhooks (tests/k8s_api/harvester/webhooks.py): what a Harvester
cluster refuses or changes in the request path. Each test names the upstream function (network-controller-harvester
2e5cbea, pkg/webhook) it holds the emulation to."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from tests.k8s_api.fixtures import HarvesterApi
from tests.k8s_api.test_harvester_controllers import GROUP, NAD_GROUP, ROUTE, VERSION, Harvester

VALIDATOR = 'admission webhook "validator.harvester-system.harvester-network-webhook" denied the request: '
MANUAL = {"mode": "manual", "cidr": "10.0.0.0/24", "gateway": "10.0.0.1"}


@pytest.fixture
def harvester(harvester_api: HarvesterApi) -> Harvester:
    return Harvester(harvester_api)


@pytest.fixture
def cn1(harvester: Harvester) -> Harvester:
    """cn1 with VlanConfig vc1 (MTU 9000) on both nodes."""
    harvester.cluster_network("cn1")
    harvester.vlanconfig("vc1", "cn1", mtu=9000)
    return harvester


def refusal(error: pytest.ExceptionInfo[ApiException]) -> str:
    body = json.loads(error.value.body or "{}")
    assert (error.value.status, body["reason"]) == (500, "InternalError")
    message: str = body["message"]
    return message


def patch_vlanconfig(harvester: Harvester, name: str, patch: dict[str, Any]) -> None:
    harvester.custom.patch_cluster_custom_object(GROUP, VERSION, "vlanconfigs", name, patch)


def delete_nad(harvester: Harvester, name: str) -> None:
    harvester.custom.delete_namespaced_custom_object(NAD_GROUP, "v1", "default", "network-attachment-definitions", name)


# --- ClusterNetwork (pkg/webhook/clusternetwork/validator.go) ---------------------------------------------------


def test_cluster_network_name_longer_than_12_is_refused(harvester: Harvester) -> None:
    """CnValidator.Create -> IsClusterNetworkNameValid (bridge `<cn>-br` must fit 15 characters)."""
    with pytest.raises(ApiException) as error:
        harvester.cluster_network("thirteen-char")
    assert refusal(error) == VALIDATOR + (
        "can't create cluster network thirteen-char because the length of the clusterNetwork name thirteen-char "
        "is more than 12"
    )


def test_cluster_network_cannot_be_created_with_an_uplink_mtu(harvester: Harvester) -> None:
    """CnValidator.Create -> checkMTOfNewClusterNetwork."""
    body = {
        "kind": "ClusterNetwork",
        "metadata": {"name": "cn2", "annotations": {"network.harvesterhci.io/uplink-mtu": "9000"}},
    }
    with pytest.raises(ApiException) as error:
        harvester.create("clusternetworks", body)
    assert "annotation network.harvesterhci.io/uplink-mtu can't be added" in refusal(error)


def test_cluster_network_with_vlanconfigs_or_nads_cannot_be_deleted(cn1: Harvester) -> None:
    """CnValidator.Delete: its VlanConfigs, then its NADs, must go first; mgmt never."""
    with pytest.raises(ApiException) as error:
        cn1.custom.delete_cluster_custom_object(GROUP, VERSION, "clusternetworks", "cn1")
    assert refusal(error).endswith("because vlanconfig(s) [vc1] under this clusternetwork are still existing")
    with pytest.raises(ApiException) as error:
        cn1.custom.delete_cluster_custom_object(GROUP, VERSION, "clusternetworks", "mgmt")
    assert refusal(error).endswith("can't delete cluster network mgmt because it is not allowed")


# --- VlanConfig (pkg/webhook/vlanconfig/validator.go) ------------------------------------------------------------


def test_vlanconfig_of_a_missing_cluster_network_is_refused(harvester: Harvester) -> None:
    """Validator.Create: `cnCache.Get` must find the cluster network."""
    with pytest.raises(ApiException) as error:
        harvester.vlanconfig("vc1", "nope")
    assert "can't create vlanConfig vc1 because it refers to a none-existing cluster network nope" in refusal(error)


def test_vlanconfigs_of_one_cluster_network_need_one_mtu(cn1: Harvester) -> None:
    """Validator.validateMTU."""
    with pytest.raises(ApiException) as error:
        cn1.vlanconfig("vc2", "cn1", mtu=1500, selector={"rack": "b"})
    assert refusal(error).endswith(
        "the vlanconfig vc2 MTU 1500 is different with another vlanconfig vc1 MTU 9000, all vlanconfigs on one "
        "clusternetwork need to have same MTU"
    )


def test_per_node_vlanconfig_overlaps_while_the_old_one_owns_the_vlanstatus(cn1: Harvester) -> None:
    """Validator.checkOverlaps: the VlanStatus `<cn>-<node>-<crc>` still names vc1, so a per-node VlanConfig for
    node1 is refused until vc1 is gone (the nodes/no-nodes plan transition)."""
    with pytest.raises(ApiException) as error:
        cn1.vlanconfig("cn1-node1", "cn1", mtu=9000, selector={"kubernetes.io/hostname": "node1"})
    assert refusal(error).endswith("because it overlaps with other vlanconfigs matching node(s) [node1]")
    cn1.custom.delete_cluster_custom_object(GROUP, VERSION, "vlanconfigs", "vc1")
    cn1.api.settle()
    cn1.vlanconfig("cn1-node1", "cn1", mtu=9000, selector={"kubernetes.io/hostname": "node1"})
    assert [s["status"]["vlanConfig"] for s in cn1.items("vlanstatuses")] == ["cn1-node1"]


def test_running_vm_blocks_uplink_change_and_delete_of_its_vlanconfig(cn1: Harvester) -> None:
    """Validator.Update (getAffectedNodes: an uplink change affects all old nodes) and Delete -> checkVmi."""
    cn1.nad("vlan100", "cn1", 100)
    assert cn1.api.harvester is not None
    cn1.api.harvester.run_vm("default", "db-1", ["default/vlan100"], node="node1")
    cn1.api.harvester.run_vm("default", "web-1", ["vlan100"], node="node2")
    with pytest.raises(ApiException) as error:
        patch_vlanconfig(cn1, "vc1", {"spec": {"uplink": {"nics": ["eth2"]}}})
    assert refusal(error).endswith(
        "can't update vlanConfig vc1 because it is blocked by VM(s) default/db-1, default/web-1 which must be "
        "stopped at first"
    )
    with pytest.raises(ApiException) as error:
        cn1.custom.delete_cluster_custom_object(GROUP, VERSION, "vlanconfigs", "vc1")
    assert "it is blocked by VM(s) default/db-1, default/web-1" in refusal(error)
    cn1.api.harvester.stop_vm("default", "db-1")
    cn1.api.harvester.stop_vm("default", "web-1")
    patch_vlanconfig(cn1, "vc1", {"spec": {"uplink": {"nics": ["eth2"]}}})


def test_narrowing_the_node_selector_is_blocked_only_by_vms_on_dropped_nodes(cn1: Harvester) -> None:
    """getAffectedNodes: same uplink, fewer nodes -> only the dropped nodes' VMs count."""
    cn1.nad("vlan100", "cn1", 100)
    assert cn1.api.harvester is not None
    cn1.api.harvester.add_node("node3", {"rack": "a"})
    cn1.api.harvester.run_vm("default", "db-1", ["vlan100"], node="node1")
    cn1.core.patch_node("node1", {"metadata": {"labels": {"rack": "a"}}})
    cn1.api.settle()
    patch_vlanconfig(cn1, "vc1", {"spec": {"nodeSelector": {"rack": "a"}}})  # node2 dropped: no VM there
    with pytest.raises(ApiException) as error:
        patch_vlanconfig(cn1, "vc1", {"spec": {"nodeSelector": {"kubernetes.io/hostname": "node3"}}})
    assert "blocked by VM(s) default/db-1" in refusal(error)


def test_cluster_network_label_must_follow_the_spec(cn1: Harvester) -> None:
    """Validator.Update -> utils.IsClusterNetworkLabelValid."""
    with pytest.raises(ApiException) as error:
        patch_vlanconfig(cn1, "vc1", {"metadata": {"labels": {"network.harvesterhci.io/clusternetwork": "cn9"}}})
    assert refusal(error).endswith("cluster network label cn9 is invalid and must not be updated by user")


# --- NAD (pkg/webhook/nad) ---------------------------------------------------------------------------------------


def test_nad_route_is_marked_outdated_in_auto_mode_on_a_vlan_change(cn1: Harvester) -> None:
    """Mutator.Update -> tagRouteOutdated -> utils.OutdateNadLayer3NetworkConf (OutdateLayer3NetworkConfPerMode)."""
    nad = cn1.nad("net", "cn1", 100, {"mode": "auto"})
    assert json.loads(nad["metadata"]["annotations"][ROUTE]) == {"mode": "auto", "connectivity": "DHCP failed"}
    config = json.loads(nad["spec"]["config"])
    patch = {"spec": {"config": json.dumps({**config, "vlan": 200})}}
    answer = cn1.custom.patch_namespaced_custom_object(NAD_GROUP, "v1", "default", "network-attachment-definitions",
                                                       "net", patch)  # fmt: skip
    assert json.loads(answer["metadata"]["annotations"][ROUTE]) == {
        "mode": "auto",
        "connectivity": "DHCP failed",
        "outdated": True,
    }
    assert answer["metadata"]["labels"]["network.harvesterhci.io/vlan-id"] == "200"  # Mutator.ensureLabels
    cn1.api.settle()  # the helper job runs again for VLAN 200 and records its answer
    assert json.loads(cn1.get_nad("net")["metadata"]["annotations"][ROUTE]) == {
        "mode": "auto",
        "connectivity": "DHCP failed",
    }


def test_nad_route_is_deleted_when_it_becomes_untagged(cn1: Harvester) -> None:
    """OutdateNadLayer3NetworkConf: VLAN 0 (untagged or trunk) drops the route annotation."""
    nad = cn1.nad("net", "cn1", 100, MANUAL)
    config = json.loads(nad["spec"]["config"])
    nad = cn1.patch_nad("net", {"spec": {"config": json.dumps({**config, "vlan": 0})}})
    assert ROUTE not in (nad["metadata"].get("annotations") or {})
    assert nad["metadata"]["labels"]["network.harvesterhci.io/type"] == "UntaggedNetwork"
    assert "network.harvesterhci.io/vlan-id" not in nad["metadata"]["labels"]


def test_nad_route_mode_change_is_marked(cn1: Harvester) -> None:
    """OutdateNadLayer3NetworkConfWhenRouteModeChanges: manual -> auto (same VLAN) is outdated."""
    cn1.nad("net", "cn1", 100, MANUAL)
    nad = cn1.patch_nad("net", {"metadata": {"annotations": {ROUTE: '{"mode":"auto"}'}}})
    assert json.loads(nad["metadata"]["annotations"][ROUTE]) in (
        {"mode": "auto", "outdated": True},
        {"mode": "auto", "connectivity": "DHCP failed"},  # the helper job ran on the outdated route
    )


def test_nad_with_a_bad_manual_route_is_refused(cn1: Harvester) -> None:
    """Validator.Create -> checkRoute -> utils.NewLayer3NetworkConf."""
    with pytest.raises(ApiException) as error:
        cn1.nad("net", "cn1", 100, {"mode": "manual", "cidr": "0.0.0.0/0", "gateway": "10.0.0.1"})
    assert refusal(error).endswith("can't create nad default/net because the CIDR 0.0.0.0/0 is invalid")


def test_nad_mtu_must_match_the_cluster_network(cn1: Harvester) -> None:
    """Validator.Update -> checkNadConfig (the create mutator would have fixed it; an update is only checked)."""
    nad = cn1.nad("net", "cn1", 100)
    config = json.loads(nad["spec"]["config"])
    with pytest.raises(ApiException) as error:
        cn1.patch_nad("net", {"spec": {"config": json.dumps({**config, "mtu": 1500})}})
    assert refusal(error).endswith("because nad MTU 1500 does not match cluster network MTU 9000")


def test_nad_bridge_and_vlan_range_are_checked(cn1: Harvester) -> None:
    """checkNadConfigBridgeName and NetConf.IsVlanConfigValid."""
    nad = cn1.nad("net", "cn1", 100)
    config = json.loads(nad["spec"]["config"])
    with pytest.raises(ApiException) as error:
        cn1.patch_nad("net", {"spec": {"config": json.dumps({**config, "bridge": "mgmt-br"})}})
    assert refusal(error).endswith("nad bridge name can't be changed from cn1-br to mgmt-br")
    with pytest.raises(ApiException) as error:
        cn1.nad("bad", "cn1", 4095)
    assert "vlan 4095 is out of range [0 .. 4094]" in refusal(error)


def test_running_vm_blocks_nad_update_and_delete_and_a_vm_blocks_delete(cn1: Harvester) -> None:
    """Validator.Update/Delete -> checkVmi; Delete -> checkVM (the VM must drop the network first)."""
    nad = cn1.nad("net", "cn1", 100)
    assert cn1.api.harvester is not None
    cn1.api.harvester.run_vm("default", "db-1", ["net"], node="node1")
    config = json.loads(nad["spec"]["config"])
    with pytest.raises(ApiException) as error:
        cn1.patch_nad("net", {"spec": {"config": json.dumps({**config, "vlan": 200})}})
    assert refusal(error).endswith(
        "can't update nad default/net because it's still used by VM(s) default/db-1 which must be stopped at first"
    )
    cn1.patch_nad("net", {"metadata": {"annotations": {ROUTE: json.dumps(MANUAL)}}})  # config unchanged: allowed
    with pytest.raises(ApiException) as error:
        delete_nad(cn1, "net")
    assert "it's still used by VM(s) default/db-1 which must be stopped at first" in refusal(error)
    cn1.api.harvester.stop_vm("default", "db-1")
    networks = [{"name": "nic-1", "multus": {"networkName": "default/net"}}]
    vm = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": "db-1"},
          "spec": {"template": {"spec": {"networks": networks, "domain": {
              "cpu": {"cores": 1}, "resources": {"limits": {"memory": "1Gi"}}, "devices": {}}}}}}  # fmt: skip
    cn1.custom.create_namespaced_custom_object("kubevirt.io", "v1", "default", "virtualmachines", vm)
    with pytest.raises(ApiException) as error:
        delete_nad(cn1, "net")
    assert "it's still used by VM(s) default/db-1 which must remove the related networks and interfaces" in refusal(
        error
    )
