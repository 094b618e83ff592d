"""Plan changes on the Harvester-mode test server (tests/k8s_api/harvester): what Harvester allows is applied in an
order it accepts, with no second `up`; what it refuses fails before anything changes, naming what to do."""

from __future__ import annotations

import json
from typing import Any

import pytest

from harvester_network.kube import KubeClient, KubeError, KubeTarget
from harvester_network.provider import (
    ClusterNetworkProvider,
    NetworkAttachmentDefinitionProvider,
    ProviderError,
    VlanConfigProvider,
)
from harvester_network.render import harvester as h
from tests.k8s_api.fixtures import HarvesterApi
from tests.provider.test_providers import ROUTE

CN = "data"
NODES = ("node1", "node2")


@pytest.fixture
def hv(harvester_api: HarvesterApi) -> dict[str, Any]:
    """Provider inputs that reach the Harvester-mode server, and its ClusterNetwork `data`."""
    connection = {"kubeconfig": harvester_api.kubeconfig_path, "timeout": 10}
    ClusterNetworkProvider().create({"name": CN, **connection})
    return connection


@pytest.fixture
def kube(harvester_api: HarvesterApi) -> Any:
    with KubeClient(KubeTarget.from_kubeconfig(harvester_api.kubeconfig_path)) as connected:
        yield connected


def vlanconfig(hv: dict[str, Any], node: str | None = None, **uplink: Any) -> dict[str, Any]:
    inputs = {"clusterNetwork": CN, "uplink": {"nics": ["eth1"], **uplink}, **hv}
    return inputs if node is None else {**inputs, "node": node}


def vlanstatus_owners(kube: KubeClient) -> dict[str, str]:
    """node -> the VlanConfig its VlanStatus of cluster network `data` belongs to."""
    statuses = kube.list_objects("VlanStatus", labels={h.LABEL_CLUSTER_NETWORK: CN})
    return {s["status"]["node"]: s["status"]["vlanConfig"] for s in statuses}


def test_gaining_nodes_replaces_the_shared_vlanconfig_in_one_up(
    hv: dict[str, Any], kube: KubeClient, harvester_api: HarvesterApi
) -> None:
    provider = VlanConfigProvider()
    shared = provider.create(vlanconfig(hv))
    harvester_api.settle()
    assert vlanstatus_owners(kube) == {"node1": CN, "node2": CN}
    # What Pulumi would do by itself (create the new ones, delete the old one last) Harvester refuses:
    with pytest.raises(KubeError, match=r"it overlaps with other vlanconfigs matching node\(s\) \[node1\]"):
        kube.apply(provider.desired(vlanconfig(hv, "node1")))

    made = [provider.create(vlanconfig(hv, node)) for node in NODES]  # the component creates node1's first
    assert kube.get("VlanConfig", CN) is None
    provider.delete(shared.id, shared.outs or {})  # Pulumi deletes the old resource last: nothing left to do
    harvester_api.settle()
    assert vlanstatus_owners(kube) == {node: f"{CN}-{node}" for node in NODES}
    for node, created in zip(NODES, made, strict=True):
        refreshed = provider.read(created.id, created.outs or {}).outs or {}
        assert provider.diff(created.id, refreshed, vlanconfig(hv, node)).changes is False


def test_losing_nodes_replaces_the_per_node_vlanconfigs_in_one_up(
    hv: dict[str, Any], kube: KubeClient, harvester_api: HarvesterApi
) -> None:
    provider = VlanConfigProvider()
    per_node = [provider.create(vlanconfig(hv, node)) for node in NODES]
    shared = provider.create(vlanconfig(hv))
    assert [kube.get("VlanConfig", f"{CN}-{node}") for node in NODES] == [None, None]
    for created in per_node:
        provider.delete(created.id, created.outs or {})
    harvester_api.settle()
    assert vlanstatus_owners(kube) == {"node1": CN, "node2": CN}
    refreshed = provider.read(shared.id, shared.outs or {}).outs or {}
    assert provider.diff(shared.id, refreshed, vlanconfig(hv)).changes is False


def test_a_vlanconfig_made_by_hand_is_never_removed_for_ours(
    hv: dict[str, Any], kube: KubeClient, harvester_api: HarvesterApi
) -> None:
    provider = VlanConfigProvider()
    by_hand = provider.desired(vlanconfig(hv))
    del by_hand["metadata"]["labels"][h.LABEL_MANAGED_BY]
    kube.apply(by_hand, field_manager="kubectl")
    harvester_api.settle()
    with pytest.raises(KubeError, match="it overlaps with other vlanconfigs"):
        provider.create(vlanconfig(hv, "node1"))
    assert kube.get("VlanConfig", CN) is not None


def test_a_layout_change_while_vms_run_fails_before_anything_changes(
    hv: dict[str, Any], kube: KubeClient, harvester_api: HarvesterApi
) -> None:
    provider = VlanConfigProvider()
    provider.create(vlanconfig(hv))
    NetworkAttachmentDefinitionProvider().create(
        {"name": "vlan100", "namespace": "default", "clusterNetwork": CN, "vlan": 100, "route": ROUTE, **hv}
    )
    assert harvester_api.harvester is not None
    harvester_api.harvester.run_vm("default", "web-1", ["default/vlan100"], node="node1")
    harvester_api.harvester.run_vm("default", "db-1", ["vlan100"], node="node2")
    with pytest.raises(ProviderError) as in_preview:  # Pulumi checks a new resource's inputs in preview
        provider.check({}, vlanconfig(hv, "node1"))
    with pytest.raises(ProviderError) as caught:
        provider.create(vlanconfig(hv, "node1"))
    assert str(in_preview.value) == str(caught.value)
    assert str(caught.value) == (
        f"apply VlanConfig {CN}-node1: Harvester refuses it next to VlanConfigs the plan no longer has ({CN}), and "
        "refuses to delete those now:\n"
        f"  - VM default/db-1 runs on its nodes with a network of cluster network {CN}; stop it (VlanConfig {CN})\n"
        f"  - VM default/web-1 runs on its nodes with a network of cluster network {CN}; stop it (VlanConfig {CN})\n"
        "nothing was changed; stop those VMs, then run `pulumi up` again"
    )
    assert kube.get("VlanConfig", CN) is not None and kube.get("VlanConfig", f"{CN}-node1") is None


def test_an_uplink_change_while_vms_run_fails_in_preview_and_update_before_anything_changes(
    hv: dict[str, Any], kube: KubeClient, harvester_api: HarvesterApi
) -> None:
    provider = VlanConfigProvider()
    created = provider.create(vlanconfig(hv))
    NetworkAttachmentDefinitionProvider().create(
        {"name": "vlan100", "namespace": "default", "clusterNetwork": CN, "vlan": 100, **hv}
    )
    assert harvester_api.harvester is not None
    harvester_api.harvester.run_vm("default", "web-1", ["default/vlan100"], node="node2")
    before = kube.get("VlanConfig", CN)
    changed = vlanconfig(hv, nics=["eth2"])
    expected = (
        f"update VlanConfig {CN}: Harvester refuses this change now:\n"
        f"  - its uplink changes while VMs run on its nodes with networks of cluster network {CN}: "
        "stop VMs default/web-1 first\n"
        "nothing was changed; run `pulumi up` again once that is done"
    )
    for step in (provider.diff, provider.update):
        with pytest.raises(ProviderError) as caught:
            step(created.id, created.outs or {}, changed)
        assert str(caught.value) == expected
    assert kube.get("VlanConfig", CN) == before
    harvester_api.harvester.stop_vm("default", "web-1")
    provider.update(created.id, created.outs or {}, changed)


def test_an_mtu_change_of_per_node_vlanconfigs_and_their_nads_takes_one_up(
    hv: dict[str, Any], kube: KubeClient, harvester_api: HarvesterApi
) -> None:
    """Harvester wants one MTU on all VlanConfigs of a cluster network (validateMTU), so it refuses changing them
    one at a time; and a NAD's MTU must be its cluster network's (checkNadConfig)."""
    provider, nads = VlanConfigProvider(), NetworkAttachmentDefinitionProvider()
    made = {node: provider.create(vlanconfig(hv, node, mtu=1500)) for node in NODES}
    nad_inputs = {"name": "vlan100", "namespace": "default", "clusterNetwork": CN, "vlan": 100, "mtu": 1500, **hv}
    nad = nads.create(nad_inputs)
    harvester_api.settle()

    # Harvester refuses the first one's MTU change while the second has the old MTU:
    with pytest.raises(KubeError, match="all vlanconfigs on one clusternetwork need to have same MTU"):
        kube.apply(provider.desired(vlanconfig(hv, "node1", mtu=9000)))

    updated = {  # in the component's order: the first, then the others
        node: provider.update(made[node].id, made[node].outs or {}, vlanconfig(hv, node, mtu=9000)).outs or {}
        for node in NODES
    }
    nad_outs = nads.update(nad.id, nad.outs or {}, {**nad_inputs, "mtu": 9000}).outs or {}
    harvester_api.settle()
    for node in NODES:
        refreshed = provider.read(made[node].id, updated[node]).outs or {}
        assert provider.diff(made[node].id, refreshed, vlanconfig(hv, node, mtu=9000)).changes is False
    live_nad = kube.get("NetworkAttachmentDefinition", "vlan100", "default")
    assert live_nad is not None and json.loads(live_nad["spec"]["config"])["mtu"] == 9000
    refreshed = nads.read(nad.id, nad_outs).outs or {}
    assert nads.diff(nad.id, refreshed, {**nad_inputs, "mtu": 9000}).changes is False


def test_a_nic_moving_to_another_cluster_network_leaves_the_old_one_first(
    hv: dict[str, Any], kube: KubeClient, harvester_api: HarvesterApi
) -> None:
    """A NIC is enslaved to one cluster network's bond: the new uplink would never come up next to the old one."""
    clusters, provider = ClusterNetworkProvider(), VlanConfigProvider()
    for other in ("storage", "backup"):
        clusters.create({"name": other, **hv})
    provider.create({**vlanconfig(hv, nics=["eth1", "eth2"])})
    provider.create({**vlanconfig(hv, "node2"), "clusterNetwork": "backup", "uplink": {"nics": ["eth3"]}})
    provider.create({**vlanconfig(hv, "node1"), "clusterNetwork": "storage", "uplink": {"nics": ["eth2"]}})
    harvester_api.settle()
    assert sorted(vc["metadata"]["name"] for vc in kube.list_objects("VlanConfig")) == ["backup-node2", "storage-node1"]


def test_a_leftover_already_being_deleted_is_waited_for(
    hv: dict[str, Any], kube: KubeClient, harvester_api: HarvesterApi
) -> None:
    provider = VlanConfigProvider()
    provider.create(vlanconfig(hv))
    kube.merge_patch("VlanConfig", CN, {"metadata": {"finalizers": ["example.com/hold"]}})
    kube.delete("VlanConfig", CN)
    with pytest.raises(KubeError, match=rf"delete VlanConfig {CN}: .*waiting for finalizers \['example.com/hold'\]"):
        provider.create({**vlanconfig(hv, "node1"), "timeout": 0.3})
    assert kube.get("VlanConfig", f"{CN}-node1") is None
    kube.merge_patch("VlanConfig", CN, {"metadata": {"finalizers": None}})
    provider.create(vlanconfig(hv, "node1"))
    harvester_api.settle()
    assert vlanstatus_owners(kube) == {"node1": f"{CN}-node1"}


def test_a_vlanconfig_harvester_cannot_set_up_times_out_naming_the_node_and_its_error(
    hv: dict[str, Any], kube: KubeClient, harvester_api: HarvesterApi
) -> None:
    assert harvester_api.harvester is not None
    harvester_api.harvester.fail_setup("node2", "eth1 has been enslaved by the link with index 7")
    provider = VlanConfigProvider()
    with pytest.raises(ProviderError) as caught:
        provider.create({**vlanconfig(hv), "timeout": 0.5})
    message = str(caught.value)
    assert message.startswith(f"wait for VlanConfig {CN} to be ready: not done after 0.5s: node2: VlanStatus {CN}-")
    assert "ready=False: eth1 has been enslaved by the link with index 7" in message
    assert "node1" not in message
