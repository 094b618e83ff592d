"""Each dynamic provider's methods against the test API server (or HVNET_TEST_KUBECONFIG's cluster):
create -> read -> update -> diff -> delete, adopt vs refuse, in-use delete refusal, readiness and its timeout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from harvester_network.kube import KubeClient
from harvester_network.model.plan import Network
from harvester_network.provider import (
    ClusterNetworkProvider,
    IPPoolProvider,
    NetworkAttachmentDefinitionProvider,
    ProviderError,
    VlanConfigProvider,
)
from harvester_network.render import harvester as h
from harvester_network.render.dhcp import ippool_object
from harvester_network.render.vlanstatus import vlanstatus_object
from tests.k8s_api.fixtures import KubeApi, real_cluster_kubeconfig

FAKES_CONTROLLERS = pytest.mark.skipif(
    bool(real_cluster_kubeconfig()),
    reason="writes Node, VlanStatus and status objects that only nodes and controllers write on a real cluster",
)
BARE_VMS = pytest.mark.skipif(
    bool(real_cluster_kubeconfig()), reason="writes bare KubeVirt objects that KubeVirt's webhooks reject"
)
ROUTE = {"mode": "manual", "cidr": "10.100.0.0/24", "gateway": "10.100.0.1"}


def nad_inputs(connection: dict[str, Any], namespace: str, cn: str, **changes: Any) -> dict[str, Any]:
    spec = {"name": "vlan100", "namespace": namespace, "clusterNetwork": cn, "vlan": 100, "route": ROUTE, "mtu": 0}
    return {**spec, **connection, **changes}


def test_nad_create_read_update_diff_delete(
    connection: dict[str, Any], kube: KubeClient, k8s_namespace: str, cluster_network: str
) -> None:
    provider = NetworkAttachmentDefinitionProvider()
    inputs = nad_inputs(connection, k8s_namespace, cluster_network)
    created = provider.create(inputs)
    assert created.id == f"NetworkAttachmentDefinition/{k8s_namespace}/vlan100"
    outs = created.outs or {}
    assert (outs["networkName"], outs["bridge"]) == (f"{k8s_namespace}/vlan100", f"{cluster_network}-br")
    live = kube.get("NetworkAttachmentDefinition", "vlan100", k8s_namespace)
    assert live is not None and live["spec"] == provider.desired(inputs)["spec"]
    assert outs["object"] == provider.desired(inputs)

    read = provider.read(created.id, outs)
    assert (read.id, read.outs) == (created.id, outs)

    changed = {**inputs, "vlan": 200}
    diff = provider.diff(created.id, outs, changed)
    assert (diff.changes, diff.replaces) == (True, [])
    updated = provider.update(created.id, outs, changed)
    live = kube.get("NetworkAttachmentDefinition", "vlan100", k8s_namespace)
    assert live is not None and '"vlan":200' in live["spec"]["config"]
    outs = updated.outs or {}
    assert provider.diff(created.id, outs, changed).changes is False

    # The bridge cannot change: a new cluster network replaces the NAD, deleting first as the name stays.
    moved = provider.diff(created.id, outs, {**changed, "clusterNetwork": "other"})
    assert (moved.changes, moved.replaces, moved.delete_before_replace) == (True, ["clusterNetwork"], True)
    renamed = provider.diff(created.id, outs, {**changed, "name": "vlan300"})
    assert (renamed.replaces, renamed.delete_before_replace) == (["name"], False)

    provider.delete(created.id, outs)
    assert kube.get("NetworkAttachmentDefinition", "vlan100", k8s_namespace) is None
    gone = provider.read(created.id, outs)
    assert (gone.id, gone.outs) == ("", {})


def test_create_refuses_an_object_hvnet_did_not_create_unless_adopted(
    connection: dict[str, Any], kube: KubeClient, k8s_api: KubeApi, k8s_namespace: str, cluster_network: str
) -> None:
    provider = NetworkAttachmentDefinitionProvider()
    inputs = nad_inputs(connection, k8s_namespace, cluster_network)
    custom: Any = client.CustomObjectsApi(k8s_api.api_client())
    custom.create_namespaced_custom_object(
        "k8s.cni.cncf.io",
        "v1",
        k8s_namespace,
        "network-attachment-definitions",
        provider.desired(inputs),
        field_manager="kubectl-create",
    )
    with pytest.raises(ProviderError) as caught:
        provider.create(inputs)
    assert str(caught.value).startswith(
        f"create NetworkAttachmentDefinition {k8s_namespace}/vlan100: it already exists and hvnet did not create it "
        "(written by: kubectl-create). Set adopt=True"
    )
    provider.create({**inputs, "adopt": True, "vlan": 101})
    live = kube.get("NetworkAttachmentDefinition", "vlan100", k8s_namespace)
    assert live is not None and '"vlan":101' in live["spec"]["config"]


def test_create_takes_up_an_object_it_applied_before(
    connection: dict[str, Any], kube: KubeClient, k8s_namespace: str, cluster_network: str
) -> None:
    """A create that failed after applying (a readiness timeout) left the object: the next create goes on."""
    provider = NetworkAttachmentDefinitionProvider()
    inputs = nad_inputs(connection, k8s_namespace, cluster_network)
    kube.apply(provider.desired(inputs))
    assert provider.create(inputs).id == f"NetworkAttachmentDefinition/{k8s_namespace}/vlan100"


@BARE_VMS
def test_nad_deletion_is_refused_while_a_vm_references_it(
    connection: dict[str, Any], kube: KubeClient, k8s_namespace: str, cluster_network: str
) -> None:
    provider = NetworkAttachmentDefinitionProvider()
    created = provider.create(nad_inputs(connection, k8s_namespace, cluster_network))
    vm = {
        "apiVersion": h.KUBEVIRT_API,
        "kind": "VirtualMachine",
        "metadata": {"name": "web", "namespace": k8s_namespace},
        "spec": {"template": {"spec": {"networks": [{"name": "nic-1", "multus": {"networkName": "vlan100"}}]}}},
    }
    kube.apply(vm)
    with pytest.raises(ProviderError) as caught:
        provider.delete(created.id, created.outs or {})
    assert str(caught.value) == (
        f"delete NetworkAttachmentDefinition {k8s_namespace}/vlan100: Harvester refuses while it is in use:\n"
        f"  - VM {k8s_namespace}/web lists it in its networks\n"
        "remove or detach those first, then run the deletion again"
    )
    assert kube.get("NetworkAttachmentDefinition", "vlan100", k8s_namespace) is not None
    kube.delete_and_wait("VirtualMachine", "web", k8s_namespace, timeout=10)
    provider.delete(created.id, created.outs or {})
    assert kube.get("NetworkAttachmentDefinition", "vlan100", k8s_namespace) is None


def test_cluster_network_deletion_is_refused_while_vlanconfigs_or_nads_are_left(
    connection: dict[str, Any], k8s_namespace: str, cn_name: str
) -> None:
    cn, vc, nad = ClusterNetworkProvider(), VlanConfigProvider(), NetworkAttachmentDefinitionProvider()
    created = cn.create({"name": cn_name, **connection})
    vc_inputs = {"clusterNetwork": cn_name, "node": "n1", "uplink": {"nics": ["eth1"]}, **connection}
    made_vc = vc.create({**vc_inputs, "waitForReady": False})
    made_nad = nad.create(nad_inputs(connection, k8s_namespace, cn_name))
    with pytest.raises(ProviderError) as caught:
        cn.delete(created.id, created.outs or {})
    assert f"  - VlanConfig {cn_name}-n1\n  - NetworkAttachmentDefinition {k8s_namespace}/vlan100\n" in str(
        caught.value
    )
    vc.delete(made_vc.id, made_vc.outs or {})
    nad.delete(made_nad.id, made_nad.outs or {})
    cn.delete(created.id, created.outs or {})
    assert cn.read(created.id, created.outs or {}).id == ""


def write_vlanstatus(k8s_api: KubeApi, kube: KubeClient, cn: str, node: str, ready: bool, message: str = "") -> None:
    """What the node agent writes: the object, then its status through the status subresource."""
    status = vlanstatus_object(
        cluster_network=cn,
        node=node,
        vlan_config=cn,
        ready=ready,
        message=message,
        updated_at="2024-01-01T00:00:00Z",
    )
    kube.apply(status)
    custom: Any = client.CustomObjectsApi(k8s_api.api_client())
    custom.patch_cluster_custom_object_status(
        "network.harvesterhci.io", "v1beta1", "vlanstatuses", status["metadata"]["name"], {"status": status["status"]}
    )


@FAKES_CONTROLLERS
def test_vlanconfig_readiness_timeout_names_each_node_and_its_vlanstatus_message(
    connection: dict[str, Any], kube: KubeClient, k8s_api: KubeApi, cn_name: str
) -> None:
    for node in ("node1", "node2"):
        kube.apply({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node, "labels": {"rack": "r1"}}})
    write_vlanstatus(k8s_api, kube, cn_name, "node1", ready=False, message="NIC eth9 not found")
    provider = VlanConfigProvider()
    inputs = {"clusterNetwork": cn_name, "uplink": {"nics": ["eth9"]}, **connection, "timeout": 0.5}
    with pytest.raises(ProviderError) as caught:
        provider.create(inputs)
    message = str(caught.value)
    assert message.startswith(f"wait for VlanConfig {cn_name} to be ready: not done after 0.5s: ")
    assert f"node1: VlanStatus {cn_name}-node1-" in message
    assert "ready=False: NIC eth9 not found" in message
    assert "node2: no VlanStatus yet (is the network agent running on it?)" in message
    assert message.endswith(
        "fix what is named and run `pulumi up` again (it takes the object up), or set "
        "waitForReady=false where nothing reports status"
    )

    write_vlanstatus(k8s_api, kube, cn_name, "node1", ready=True)
    write_vlanstatus(k8s_api, kube, cn_name, "node2", ready=True)
    created = provider.create(inputs)  # the object it applied before is its own
    assert (created.outs or {})["matchedNodes"] == ["node1", "node2"]
    assert (created.outs or {})["ready"] is True


@FAKES_CONTROLLERS
def test_vlanconfig_matched_nodes_follow_harvesters_annotation_else_the_selector(
    connection: dict[str, Any], kube: KubeClient, cn_name: str
) -> None:
    kube.apply({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "labels": {h.LABEL_NODE: "x"}}})
    provider = VlanConfigProvider()
    inputs = {
        "clusterNetwork": cn_name,
        "node": "n1",
        "uplink": {"nics": ["eth1"]},
        **connection,
        "waitForReady": False,
    }
    # nodeSelector kubernetes.io/hostname=n1, and the Node has no such label: nothing matches.
    assert (provider.create(inputs).outs or {})["matchedNodes"] == []
    kube.apply(
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}}}
    )
    read = provider.read(f"VlanConfig/{cn_name}-n1", inputs)
    assert read.outs is not None and read.outs["matchedNodes"] == ["n1"]


@FAKES_CONTROLLERS
def test_cluster_network_waits_for_ready_only_once_vlanconfigs_refer_to_it(
    connection: dict[str, Any], k8s_api: KubeApi, cn_name: str
) -> None:
    provider = ClusterNetworkProvider()
    inputs = {"name": cn_name, "description": "VM traffic", **connection, "timeout": 0.3}
    created = provider.create(inputs)  # nothing refers to it yet: nothing could make it ready
    assert (created.outs or {})["ready"] is False
    VlanConfigProvider().create(
        {"clusterNetwork": cn_name, "node": "n1", "uplink": {"nics": ["eth1"]}, **connection, "waitForReady": False}
    )
    with pytest.raises(
        ProviderError, match=f"wait for ClusterNetwork {cn_name} to be ready: not done after 0.3s: no ready"
    ):
        provider.update(created.id, created.outs or {}, {**inputs, "description": "changed"})
    assert provider.update(created.id, created.outs or {}, {**inputs, "waitForReady": False}).outs is not None
    # Harvester's controller marks it ready (as its own field manager).
    custom: Any = client.CustomObjectsApi(k8s_api.api_client())
    ready = {"status": {"conditions": [{"type": "ready", "status": "True"}]}}
    custom.patch_cluster_custom_object_status("network.harvesterhci.io", "v1beta1", "clusternetworks", cn_name, ready)
    assert (provider.update(created.id, created.outs or {}, inputs).outs or {})["ready"] is True


def test_drift_shows_in_the_diff_after_a_refresh_and_an_update_restores_the_object(
    connection: dict[str, Any], k8s_api: KubeApi, k8s_namespace: str, cluster_network: str
) -> None:
    provider = NetworkAttachmentDefinitionProvider()
    inputs = nad_inputs(connection, k8s_namespace, cluster_network)
    created = provider.create(inputs)
    custom: Any = client.CustomObjectsApi(k8s_api.api_client())
    edited = provider.desired({**inputs, "vlan": 999})["spec"]
    custom.patch_namespaced_custom_object(
        "k8s.cni.cncf.io", "v1", k8s_namespace, "network-attachment-definitions", "vlan100", {"spec": edited}
    )
    refreshed = provider.read(created.id, created.outs or {}).outs or {}
    diff = provider.diff(created.id, refreshed, inputs)
    assert (diff.changes, diff.replaces) == (True, [])
    restored = provider.update(created.id, refreshed, inputs).outs or {}
    assert provider.diff(created.id, provider.read(created.id, restored).outs or {}, inputs).changes is False


def test_ippool_lifecycle(connection: dict[str, Any], kube: KubeClient, k8s_namespace: str) -> None:
    provider = IPPoolProvider()
    dhcp = {"serverIP": "10.100.0.2", "range": {"start": "10.100.0.100", "end": "10.100.0.200"}, "backend": "ippool"}
    inputs = {"name": "vlan100", "namespace": k8s_namespace, "route": ROUTE, "dhcpServer": dhcp, **connection}
    created = provider.create(inputs)
    network = Network.model_validate(
        {
            "name": "vlan100",
            "namespace": k8s_namespace,
            "clusterNetwork": "x",
            "vlan": 1,
            "route": ROUTE,
            "dhcpServer": dhcp,
        }
    )
    live = kube.get("IPPool", "vlan100", k8s_namespace)
    assert live is not None and live["spec"] == ippool_object(network)["spec"]
    assert (created.outs or {})["networkName"] == f"{k8s_namespace}/vlan100"
    provider.delete(created.id, created.outs or {})
    assert kube.get("IPPool", "vlan100", k8s_namespace) is None


def test_kubeconfig_contents_reach_the_cluster_as_well_as_a_path(
    connection: dict[str, Any], k8s_namespace: str, cluster_network: str
) -> None:
    contents = Path(connection["kubeconfig"]).read_text()
    provider = NetworkAttachmentDefinitionProvider()
    created = provider.create(nad_inputs({**connection, "kubeconfig": contents}, k8s_namespace, cluster_network))
    assert created.id == f"NetworkAttachmentDefinition/{k8s_namespace}/vlan100"


def test_numbers_arrive_as_floats_from_the_engine(
    connection: dict[str, Any], k8s_namespace: str, cluster_network: str
) -> None:
    provider = NetworkAttachmentDefinitionProvider()
    inputs = nad_inputs(connection, k8s_namespace, cluster_network, vlan=100.0, mtu=1500.0)
    assert provider.check({}, inputs).failures == []
    assert '"mtu":1500' in (provider.create(inputs).outs or {})["object"]["spec"]["config"]


def test_a_read_without_inputs_is_an_import_and_is_refused(connection: dict[str, Any]) -> None:
    with pytest.raises(ProviderError, match="cannot be imported; declare it and set adopt=True"):
        NetworkAttachmentDefinitionProvider().read("NetworkAttachmentDefinition/default/x", dict(connection))


@BARE_VMS
@FAKES_CONTROLLERS
def test_vlanconfig_deletion_is_refused_while_vms_on_its_nodes_use_its_cluster_networks_nads(
    connection: dict[str, Any], kube: KubeClient, k8s_api: KubeApi, k8s_namespace: str, cluster_network: str
) -> None:
    kube.apply(
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}}}
    )
    provider = VlanConfigProvider()
    inputs = {"clusterNetwork": cluster_network, "node": "n1", "uplink": {"nics": ["eth1"]}, **connection}
    created = provider.create({**inputs, "waitForReady": False})
    NetworkAttachmentDefinitionProvider().create(nad_inputs(connection, k8s_namespace, cluster_network))
    instance = {
        "apiVersion": h.KUBEVIRT_API,
        "kind": "VirtualMachineInstance",
        "metadata": {"name": "web", "namespace": k8s_namespace},
        "spec": {"networks": [{"name": "n", "multus": {"networkName": f"{k8s_namespace}/vlan100"}}]},
    }
    kube.apply(instance)
    custom: Any = client.CustomObjectsApi(k8s_api.api_client())
    custom.patch_namespaced_custom_object_status(
        "kubevirt.io", "v1", k8s_namespace, "virtualmachineinstances", "web", {"status": {"nodeName": "n1"}}
    )
    with pytest.raises(ProviderError) as caught:
        provider.delete(created.id, created.outs or {})
    assert (
        f"  - VM {k8s_namespace}/web runs on its nodes with a network of cluster network {cluster_network}; stop it"
        in str(caught.value)
    )
    kube.delete_and_wait("VirtualMachineInstance", "web", k8s_namespace, timeout=10)
    provider.delete(created.id, created.outs or {})
