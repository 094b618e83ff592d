"""harvester_network.kube against the test API server (or HVNET_TEST_KUBECONFIG's cluster): server-side apply,
reads, deletes that wait, condition waits, who uses a NAD, and errors that name verb, object and reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from harvester_network.kube import FIELD_MANAGER, KubeClient, KubeError, KubeTarget, KubeTimeout, field_managers
from harvester_network.render import harvester as h
from tests.k8s_api.fixtures import KubeApi, real_cluster_kubeconfig

# On a real cluster these objects belong to KubeVirt (whose webhooks reject bare VMs) or to Harvester's controllers.
ONLY_ON_TEST_SERVER = pytest.mark.skipif(
    bool(real_cluster_kubeconfig()), reason="writes bare KubeVirt objects or ClusterNetwork status"
)


@pytest.fixture
def kube(k8s_api: KubeApi) -> Any:
    k8s_api.install_crds()
    with KubeClient(KubeTarget.from_kubeconfig(k8s_api.kubeconfig_path)) as connected:
        yield connected


def nad(name: str, namespace: str = "default", **labels: str) -> dict[str, Any]:
    config = json.dumps({"cniVersion": "0.3.1", "name": name, "type": "bridge", "bridge": "vlan-br", "vlan": 100})
    return {
        "apiVersion": h.NAD_API,
        "kind": "NetworkAttachmentDefinition",
        "metadata": {"name": name, "namespace": namespace, "labels": {h.LABEL_CLUSTER_NETWORK: "vlan", **labels}},
        "spec": {"config": config},
    }


def vm(name: str, namespace: str, *networks: str) -> dict[str, Any]:
    return {
        "apiVersion": h.KUBEVIRT_API,
        "kind": "VirtualMachine",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "template": {
                "spec": {"networks": [{"name": f"n{i}", "multus": {"networkName": n}} for i, n in enumerate(networks)]}
            }
        },
    }


def test_apply_writes_as_hvnet_and_a_second_apply_changes_nothing(kube: KubeClient) -> None:
    first = kube.apply(nad("vlan100"))
    assert field_managers(first) == {FIELD_MANAGER}
    assert [e["operation"] for e in first["metadata"]["managedFields"]] == ["Apply"]
    second = kube.apply(nad("vlan100"))
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]


def test_an_apply_not_read_back_writes_and_answers_nothing(kube: KubeClient) -> None:
    assert kube.apply(nad("quiet"), read_back=False) == {}
    live = kube.get("NetworkAttachmentDefinition", "quiet", "default")
    assert live is not None and field_managers(live) == {FIELD_MANAGER}
    with pytest.raises(KubeError, match="quiet"):  # refusals still raise: only the answer's body goes unread
        kube.apply({**nad("quiet"), "spec": {"config": 5}}, read_back=False)


def test_get_and_list(kube: KubeClient) -> None:
    assert kube.get("NetworkAttachmentDefinition", "vlan100", "default") is None
    kube.apply(nad("vlan100"))
    kube.apply(nad("vlan200", tier="db"))
    assert kube.get("NetworkAttachmentDefinition", "vlan100", "default")["spec"]["config"].startswith("{")  # type: ignore[index]
    selected = kube.list_objects("NetworkAttachmentDefinition", labels={"tier": "db"})
    assert [o["metadata"]["name"] for o in selected] == ["vlan200"]
    assert (selected[0]["apiVersion"], selected[0]["kind"]) == (h.NAD_API, "NetworkAttachmentDefinition")
    assert len(kube.list_objects("NetworkAttachmentDefinition")) == 2


def test_api_errors_name_the_verb_the_object_and_the_reason(kube: KubeClient) -> None:
    bad = nad("vlan100")
    bad["spec"]["config"] = 5
    with pytest.raises(KubeError) as caught:
        kube.apply(bad)
    error = caught.value
    assert (error.verb, error.subject, error.reason, error.status) == (
        "apply",
        "NetworkAttachmentDefinition default/vlan100",
        "Invalid",
        422,
    )
    assert str(error).startswith("apply NetworkAttachmentDefinition default/vlan100: ")
    assert "spec.config" in str(error)
    assert str(error).endswith("(Invalid, HTTP 422)")


def test_an_unreachable_server_is_named_by_its_kubeconfig(k8s_api: KubeApi) -> None:
    config = yaml.safe_load(Path(k8s_api.kubeconfig_path).read_text())
    config["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:1"
    target = KubeTarget.from_kubeconfig(yaml.safe_dump(config))
    with KubeClient(target, request_timeout=5) as kube, pytest.raises(KubeError) as caught:
        kube.get("ClusterNetwork", "vlan")
    assert caught.value.reason == "Unreachable"
    assert str(caught.value).startswith("get ClusterNetwork vlan: cannot reach the API server of the given kubeconfig")
    assert "apiVersion" not in str(caught.value)  # never the kubeconfig contents


def test_delete_and_wait_waits_for_finalizers(kube: KubeClient) -> None:
    held = nad("vlan100")
    held["metadata"]["finalizers"] = ["example.com/hold"]
    kube.apply(held)
    with pytest.raises(KubeTimeout) as caught:
        kube.delete_and_wait("NetworkAttachmentDefinition", "vlan100", "default", timeout=0.3)
    assert "still there, waiting for finalizers ['example.com/hold']" in str(caught.value)
    kube.apply(nad("vlan100"))  # applying without the finalizer releases it
    kube.delete_and_wait("NetworkAttachmentDefinition", "vlan100", "default", timeout=10)
    assert kube.get("NetworkAttachmentDefinition", "vlan100", "default") is None
    kube.delete_and_wait("NetworkAttachmentDefinition", "vlan100", "default", timeout=1)  # gone already: fine
    assert kube.delete("NetworkAttachmentDefinition", "vlan100", "default") is False


@ONLY_ON_TEST_SERVER
def test_wait_for_condition_says_what_the_condition_is(kube: KubeClient) -> None:
    def cluster_network(**status: Any) -> dict[str, Any]:
        obj = {"apiVersion": h.NETWORK_API, "kind": "ClusterNetwork", "metadata": {"name": "vlan"}}
        return {**obj, "status": status} if status else obj

    with pytest.raises(KubeTimeout, match="the object does not exist"):
        kube.wait_for_condition("ClusterNetwork", "vlan", timeout=0.1)
    kube.apply(cluster_network())
    with pytest.raises(KubeTimeout, match="it has no 'ready' condition yet"):
        kube.wait_for_condition("ClusterNetwork", "vlan", timeout=0.1)
    # Our ClusterNetwork CRD keeps status in a subresource (render/crds.py).
    kube.apply(
        cluster_network(conditions=[{"type": "ready", "status": "False", "message": "no uplink"}]), subresource="status"
    )
    with pytest.raises(KubeTimeout) as caught:
        kube.wait_for_condition("ClusterNetwork", "vlan", timeout=0.1)
    assert str(caught.value) == (
        "wait for ClusterNetwork vlan: not done after 0.1s: condition 'ready' is False: no uplink (Timeout)"
    )
    kube.apply(cluster_network(conditions=[{"type": "ready", "status": "True"}]), subresource="status")
    assert kube.wait_for_condition("ClusterNetwork", "vlan", timeout=5)["metadata"]["name"] == "vlan"


@ONLY_ON_TEST_SERVER
def test_vms_referencing_a_nad_by_namespace_and_name_or_by_name_in_their_namespace(
    kube: KubeClient, k8s_namespace: str
) -> None:
    kube.apply(vm("by-ref", "default", "default/vlan100"))
    kube.apply(vm("by-name", "default", "vlan200", "vlan100"))
    kube.apply(vm("same-name-elsewhere", k8s_namespace, "vlan100"))
    kube.apply(vm("from-elsewhere", k8s_namespace, "default/vlan100"))
    kube.apply(vm("other-nad", "default", "default/vlan1000"))
    assert kube.vms_referencing_nad("default", "vlan100") == [
        "default/by-name",
        "default/by-ref",
        f"{k8s_namespace}/from-elsewhere",
    ]
    assert kube.vms_referencing_nad(k8s_namespace, "vlan100") == [f"{k8s_namespace}/same-name-elsewhere"]


@ONLY_ON_TEST_SERVER
def test_running_vms_using_nads_on_given_nodes(kube: KubeClient, k8s_api: KubeApi) -> None:
    custom: Any = client.CustomObjectsApi(k8s_api.api_client())
    for name, node, network in (("a", "node1", "default/vlan100"), ("b", "node2", "vlan100"), ("c", "node1", "x")):
        instance = {
            "apiVersion": h.KUBEVIRT_API,
            "kind": "VirtualMachineInstance",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"networks": [{"name": "n", "multus": {"networkName": network}}]},
        }
        kube.apply(instance)
        custom.patch_namespaced_custom_object_status(
            "kubevirt.io", "v1", "default", "virtualmachineinstances", name, {"status": {"nodeName": node}}
        )
    assert kube.running_vms_using_nads({("default", "vlan100")}) == ["default/a", "default/b"]
    assert kube.running_vms_using_nads({("default", "vlan100")}, {"node1"}) == ["default/a"]


def test_waits_ride_out_transient_api_errors(kube: KubeClient, k8s_faults: Any) -> None:
    ready = {"conditions": [{"type": "ready", "status": "True"}]}
    vlan = {"apiVersion": h.NETWORK_API, "kind": "ClusterNetwork", "metadata": {"name": "vlan"}}
    kube.apply(vlan)
    kube.apply({**vlan, "status": ready}, subresource="status")
    k8s_faults.fail_next(2, code=503, path="/clusternetworks/vlan")
    assert kube.wait_for_condition("ClusterNetwork", "vlan", timeout=10)["metadata"]["name"] == "vlan"
    k8s_faults.fail_next(1, code=403, path="/clusternetworks/vlan")
    with pytest.raises(KubeError) as caught:  # not transient: the wait ends at once
        kube.wait_for_condition("ClusterNetwork", "vlan", timeout=10)
    assert caught.value.status == 403
