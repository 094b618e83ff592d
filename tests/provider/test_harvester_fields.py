"""Fields Harvester writes into our objects are not drift, and an `up` leaves them alone.

Harvester's writes are made here as its controllers make them (an Update by another field manager), each
naming the upstream function it follows (harvester/network-controller-harvester, harvester/vm-dhcp-controller).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client

from harvester_network.kube import KubeClient, KubeError
from harvester_network.provider import NetworkAttachmentDefinitionProvider, ProviderError
from harvester_network.render import harvester as h
from tests.k8s_api.fixtures import KubeApi
from tests.provider.test_providers import BARE_VMS, FAKES_CONTROLLERS, ROUTE, nad_inputs

# The field manager Harvester's network controller writes as (wrangler clients: the binary's name).
HARVESTER_MANAGER = "harvester-network-controller"
ROUTES = {
    "manual": ROUTE,
    "auto": {"mode": "auto"},
    "auto with server": {"mode": "auto", "serverIP": "10.100.0.2"},
    "none": None,
}


def harvester_update(k8s_api: KubeApi, namespace: str, name: str, change: Any) -> dict[str, Any]:
    """Read the NAD, let `change` edit it, write it back with an Update, as Harvester's controllers do."""
    custom: Any = client.CustomObjectsApi(k8s_api.api_client())
    group, version, plural = "k8s.cni.cncf.io", "v1", "network-attachment-definitions"
    nad = custom.get_namespaced_custom_object(group, version, namespace, plural, name)
    change(nad)
    updated: dict[str, Any] = custom.replace_namespaced_custom_object(
        group, version, namespace, plural, name, nad, field_manager=HARVESTER_MANAGER
    )
    return updated


def contents(obj: dict[str, Any]) -> dict[str, Any]:
    """An object without what every write changes (its version, who wrote which field)."""
    metadata = {k: v for k, v in obj["metadata"].items() if k not in ("resourceVersion", "managedFields")}
    return {**obj, "metadata": metadata}


def route_of(nad: dict[str, Any]) -> dict[str, Any]:
    route: dict[str, Any] = json.loads(nad["metadata"]["annotations"][h.ANNOTATION_ROUTE])
    return route


def set_route_keys(nad: dict[str, Any], **keys: Any) -> None:
    nad["metadata"]["annotations"][h.ANNOTATION_ROUTE] = json.dumps({**route_of(nad), **keys})


def harvester_settles(nad: dict[str, Any]) -> None:
    """What Harvester's controllers write into a new NAD of ours."""
    labels = nad["metadata"]["labels"]
    labels["network.harvesterhci.io/ready"] = "true"  # pkg/controller/manager/nad ensureLabels
    # vm-dhcp-controller pkg/controller/ippool ensureNADLabels
    labels["network.harvesterhci.io/ippool-namespace"] = nad["metadata"]["namespace"]
    labels["network.harvesterhci.io/ippool-name"] = nad["metadata"]["name"]
    config = json.loads(nad["spec"]["config"])
    config.setdefault("mtu", 9000)  # pkg/webhook/nad/mutator.go patchMTU, manager/nad OnCNChange (sjson: appended)
    nad["spec"]["config"] = json.dumps(config, separators=(",", ":"))
    if h.ANNOTATION_ROUTE not in (nad["metadata"].get("annotations") or {}):
        return
    if route_of(nad)["mode"] == "auto":  # the helper job's findings (pkg/controller/manager/nad createOrUpdateJob)
        set_route_keys(nad, cidr="10.100.0.0/24", gateway="10.100.0.1", outdated=False)
    set_route_keys(nad, connectivity="true")  # pkg/controller/manager/nad initializeConnectivity/updateNetworkConf


def make_nad(connection: dict[str, Any], namespace: str, cn: str, **changes: Any) -> tuple[Any, dict[str, Any], Any]:
    """A NAD made through the provider: (the provider, its inputs, the CreateResult)."""
    provider = NetworkAttachmentDefinitionProvider()
    inputs = nad_inputs(connection, namespace, cn, **changes)
    return provider, inputs, provider.create(inputs)


@pytest.mark.parametrize("route", ROUTES.values(), ids=ROUTES.keys())
def test_what_harvester_writes_into_a_nad_is_not_drift_and_up_keeps_it(
    connection: dict[str, Any], kube: KubeClient, k8s_api: KubeApi, k8s_namespace: str, cluster_network: str, route: Any
) -> None:
    provider, inputs, created = make_nad(connection, k8s_namespace, cluster_network, route=route)
    settled = harvester_update(k8s_api, k8s_namespace, "vlan100", harvester_settles)

    refreshed = provider.read(created.id, created.outs or {}).outs or {}
    assert provider.diff(created.id, refreshed, inputs).changes is False
    # An update (another input changed, or `up --refresh` with a stale state) applies, and changes nothing of theirs.
    provider.update(created.id, refreshed, inputs)
    live = kube.get("NetworkAttachmentDefinition", "vlan100", k8s_namespace)
    assert live is not None and contents(live) == contents(settled)
    hvnet = next(e for e in live["metadata"]["managedFields"] if e["manager"] == "hvnet")
    assert "f:network.harvesterhci.io/ready" not in json.dumps(hvnet["fieldsV1"])


def test_a_nad_whose_route_harvester_marked_outdated_after_a_vlan_change_is_not_drift(
    connection: dict[str, Any], k8s_api: KubeApi, k8s_namespace: str, cluster_network: str
) -> None:
    provider, inputs, created = make_nad(connection, k8s_namespace, cluster_network, route={"mode": "auto"})
    harvester_update(k8s_api, k8s_namespace, "vlan100", harvester_settles)
    moved = {**inputs, "vlan": 200}
    updated = provider.update(created.id, provider.read(created.id, created.outs or {}).outs or {}, moved)
    # pkg/webhook/nad/mutator.go tagRouteOutdated -> pkg/utils OutdateLayer3NetworkConfPerMode (auto mode)
    harvester_update(k8s_api, k8s_namespace, "vlan100", lambda nad: set_route_keys(nad, outdated=True))
    refreshed = provider.read(created.id, updated.outs or {}).outs or {}
    assert provider.diff(created.id, refreshed, moved).changes is False


def test_a_new_vlan_or_route_replaces_harvesters_route_keys(
    connection: dict[str, Any], kube: KubeClient, k8s_api: KubeApi, k8s_namespace: str, cluster_network: str
) -> None:
    """Harvester checks a new VLAN's or route's connectivity anew: the old findings must not stay."""
    provider, inputs, created = make_nad(connection, k8s_namespace, cluster_network)
    harvester_update(k8s_api, k8s_namespace, "vlan100", harvester_settles)
    for change in ({"vlan": 200}, {"route": {**ROUTE, "gateway": "10.100.0.254"}}):
        provider.update(created.id, created.outs or {}, {**inputs, **change})
        live = kube.get("NetworkAttachmentDefinition", "vlan100", k8s_namespace)
        assert live is not None and "connectivity" not in route_of(live), change
        harvester_update(k8s_api, k8s_namespace, "vlan100", lambda nad: set_route_keys(nad, connectivity="true"))
        # the MTU Harvester set stays, or its validator would refuse the config (checkNadConfig)
        assert json.loads(live["spec"]["config"])["mtu"] == 9000


def test_a_nad_that_becomes_untagged_loses_its_route_without_drift(
    connection: dict[str, Any], kube: KubeClient, k8s_api: KubeApi, k8s_namespace: str, cluster_network: str
) -> None:
    provider, inputs, created = make_nad(connection, k8s_namespace, cluster_network)
    untagged = {**inputs, "vlan": 0}
    updated = provider.update(created.id, created.outs or {}, untagged)
    live = kube.get("NetworkAttachmentDefinition", "vlan100", k8s_namespace)
    assert live is not None and h.ANNOTATION_ROUTE not in (live["metadata"].get("annotations") or {})
    refreshed = provider.read(created.id, updated.outs or {}).outs or {}
    assert provider.diff(created.id, refreshed, untagged).changes is False


def test_our_own_route_keys_changed_behind_our_back_are_drift(
    connection: dict[str, Any], k8s_api: KubeApi, k8s_namespace: str, cluster_network: str
) -> None:
    provider, inputs, created = make_nad(connection, k8s_namespace, cluster_network)
    harvester_update(k8s_api, k8s_namespace, "vlan100", lambda nad: set_route_keys(nad, gateway="10.100.0.9"))
    refreshed = provider.read(created.id, created.outs or {}).outs or {}
    assert provider.diff(created.id, refreshed, inputs).changes is True


def run_vmi(kube: KubeClient, k8s_api: KubeApi, namespace: str, name: str, nad: str, node: str = "n1") -> None:
    """A running VM (its VirtualMachineInstance) attached to `nad`, as KubeVirt shows it."""
    kube.apply(
        {
            "apiVersion": h.KUBEVIRT_API,
            "kind": "VirtualMachineInstance",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"networks": [{"name": "n", "multus": {"networkName": nad}}]},
        }
    )
    custom: Any = client.CustomObjectsApi(k8s_api.api_client())
    custom.patch_namespaced_custom_object_status(
        "kubevirt.io", "v1", namespace, "virtualmachineinstances", name, {"status": {"nodeName": node}}
    )


@BARE_VMS
@FAKES_CONTROLLERS
def test_a_vlan_change_while_vms_run_fails_in_preview_and_update_before_anything_changes(
    connection: dict[str, Any], kube: KubeClient, k8s_api: KubeApi, k8s_namespace: str, cluster_network: str
) -> None:
    provider, inputs, created = make_nad(connection, k8s_namespace, cluster_network)
    for vm in ("web-1", "db-1"):
        run_vmi(kube, k8s_api, k8s_namespace, vm, f"{k8s_namespace}/vlan100")
    before = kube.get("NetworkAttachmentDefinition", "vlan100", k8s_namespace)
    moved = {**inputs, "vlan": 200}
    expected = (
        f"update NetworkAttachmentDefinition {k8s_namespace}/vlan100: Harvester refuses this change now:\n"
        f"  - its config changes (vlan 100 -> 200) while VMs run with it: "
        f"stop VMs {k8s_namespace}/db-1, {k8s_namespace}/web-1 first\n"
        "nothing was changed; run `pulumi up` again once that is done"
    )
    with pytest.raises(ProviderError) as in_preview:
        provider.diff(created.id, created.outs or {}, moved)
    assert str(in_preview.value) == expected
    with pytest.raises(ProviderError) as in_update:
        provider.update(created.id, created.outs or {}, moved)
    assert str(in_update.value) == expected
    assert kube.get("NetworkAttachmentDefinition", "vlan100", k8s_namespace) == before

    # A route change is allowed while VMs run (the validator checks VMIs only when the config changes).
    rerouted = {**inputs, "route": {**ROUTE, "gateway": "10.100.0.254"}}
    assert provider.diff(created.id, created.outs or {}, rerouted).changes is True
    provider.update(created.id, created.outs or {}, rerouted)
    for vm in ("web-1", "db-1"):
        kube.delete_and_wait("VirtualMachineInstance", vm, k8s_namespace, timeout=10)
    provider.update(created.id, created.outs or {}, moved)


def test_a_preview_that_cannot_reach_the_cluster_leaves_the_check_to_the_update(
    connection: dict[str, Any], k8s_namespace: str, cluster_network: str
) -> None:
    provider, inputs, created = make_nad(connection, k8s_namespace, cluster_network)
    unreachable = {**inputs, "vlan": 200, "kubeconfig": "/nonexistent/kubeconfig"}
    assert provider.diff(created.id, created.outs or {}, unreachable).changes is True


def test_a_nad_waits_until_its_cluster_network_has_taken_the_new_mtu_from_its_vlanconfigs(
    connection: dict[str, Any], kube: KubeClient, k8s_namespace: str, cluster_network: str
) -> None:
    """Harvester refuses a NAD whose MTU is not the one its controller wrote on the cluster network (checkNadConfig);
    after an MTU change of the VlanConfigs it writes the new one a moment later."""

    def harvester_writes_mtu(mtu: str) -> None:
        cn = {"apiVersion": h.NETWORK_API, "kind": "ClusterNetwork", "metadata": {"name": cluster_network}}
        cn["metadata"]["annotations"] = {h.ANNOTATION_UPLINK_MTU: mtu}  # type: ignore[index]
        kube.apply(cn, field_manager=HARVESTER_MANAGER)

    harvester_writes_mtu("1500")
    provider = NetworkAttachmentDefinitionProvider()
    inputs = nad_inputs({**connection, "timeout": 0.3}, k8s_namespace, cluster_network, mtu=9000)
    with pytest.raises(KubeError) as caught:
        provider.create(inputs)
    assert str(caught.value).startswith(
        f"wait for ClusterNetwork {cluster_network} to take MTU 9000 from its VlanConfigs: not done after 0.3s: "
        f"its {h.ANNOTATION_UPLINK_MTU} is still 1500, its VlanConfigs' MTU; Harvester refuses a NAD with another "
        "MTU: give the network its cluster network's MTU, or 0 to take it"
    )
    assert kube.get("NetworkAttachmentDefinition", "vlan100", k8s_namespace) is None
    harvester_writes_mtu("9000")
    assert provider.create(inputs).id == f"NetworkAttachmentDefinition/{k8s_namespace}/vlan100"
