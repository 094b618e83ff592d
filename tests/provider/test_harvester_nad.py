"""A NAD's life on the Harvester-mode test server (tests/k8s_api/harvester), for every route mode: what Harvester's
webhooks and controllers write into it is never drift, whatever we change next needs one `up`, and what Harvester
refuses is refused by us first, in preview."""

from __future__ import annotations

import json
from typing import Any

import pytest

from harvester_network.kube import KubeClient, KubeError, KubeTarget
from harvester_network.provider import (
    ClusterNetworkProvider,
    IPPoolProvider,
    NetworkAttachmentDefinitionProvider,
    ProviderError,
    VlanConfigProvider,
)
from harvester_network.render import harvester as h
from tests.k8s_api.fixtures import HarvesterApi
from tests.provider.test_harvester_fields import ROUTES, contents

CN = "data"


@pytest.fixture
def hv(harvester_api: HarvesterApi) -> dict[str, Any]:
    """Provider inputs that reach the Harvester-mode server; cluster network `data` (MTU 9000) on every node."""
    connection = {"kubeconfig": harvester_api.kubeconfig_path, "timeout": 10}
    ClusterNetworkProvider().create({"name": CN, **connection})
    VlanConfigProvider().create({"clusterNetwork": CN, "uplink": {"nics": ["eth1"], "mtu": 9000}, **connection})
    assert harvester_api.harvester is not None
    for vlan in (100, 200):  # what the auto-route helper job's DHCP finds on each VLAN
        harvester_api.harvester.dhcp_answers[vlan] = (f"10.{vlan}.0.0/24", f"10.{vlan}.0.1")
    harvester_api.settle()
    return connection


@pytest.fixture
def kube(harvester_api: HarvesterApi) -> Any:
    with KubeClient(KubeTarget.from_kubeconfig(harvester_api.kubeconfig_path)) as connected:
        yield connected


def unchanged_after_refresh(provider: NetworkAttachmentDefinitionProvider, id_: str, outs: Any, inputs: Any) -> Any:
    refreshed = provider.read(id_, outs).outs or {}
    assert provider.diff(id_, refreshed, inputs).changes is False
    return refreshed


@pytest.mark.parametrize("route", ROUTES.values(), ids=ROUTES.keys())
@pytest.mark.parametrize("mtu", [0, 9000], ids=["mtu-unset", "mtu-set"])
def test_a_nads_life_needs_one_up_per_change_and_shows_no_drift(
    hv: dict[str, Any], kube: KubeClient, harvester_api: HarvesterApi, route: Any, mtu: int
) -> None:
    provider = NetworkAttachmentDefinitionProvider()
    inputs = {"name": "net", "namespace": "default", "clusterNetwork": CN, "vlan": 100, "mtu": mtu, **hv}
    if route is not None:
        inputs["route"] = route
    created = provider.create(inputs)
    harvester_api.settle()
    live = kube.get("NetworkAttachmentDefinition", "net", "default")
    assert live is not None and live["metadata"]["labels"]["network.harvesterhci.io/ready"] == "true"
    assert json.loads(live["spec"]["config"])["mtu"] == 9000  # Harvester's patchMTU when we set none
    if route is not None:
        assert json.loads(live["metadata"]["annotations"][h.ANNOTATION_ROUTE])["connectivity"] == "true"
    outs = unchanged_after_refresh(provider, created.id, created.outs, inputs)

    assert harvester_api.harvester is not None
    harvester_api.harvester.check_connectivity("ping failed")  # the 15-minute check
    outs = unchanged_after_refresh(provider, created.id, outs, inputs)

    for vlan in (200, 0):  # a new VLAN (auto routes: Harvester marks them outdated), then untagged
        inputs = {**inputs, "vlan": vlan}
        assert provider.diff(created.id, outs, inputs).changes is True
        outs = provider.update(created.id, outs, inputs).outs or {}
        harvester_api.settle()
        outs = unchanged_after_refresh(provider, created.id, outs, inputs)
        # a second `up` would find nothing to do: an update now changes nothing
        before = kube.get("NetworkAttachmentDefinition", "net", "default")
        provider.update(created.id, outs, inputs)
        harvester_api.settle()
        after = kube.get("NetworkAttachmentDefinition", "net", "default")
        assert before is not None and after is not None and contents(after) == contents(before)


def test_a_vlan_change_harvester_refuses_while_vms_run_is_refused_in_preview(
    hv: dict[str, Any], kube: KubeClient, harvester_api: HarvesterApi
) -> None:
    provider = NetworkAttachmentDefinitionProvider()
    inputs = {"name": "net", "namespace": "default", "clusterNetwork": CN, "vlan": 100, "mtu": 9000, **hv}
    created = provider.create(inputs)
    assert harvester_api.harvester is not None
    harvester_api.harvester.run_vm("default", "web-1", ["default/net"], node="node1")
    harvester_api.harvester.run_vm("default", "db-1", ["net"], node="node2")
    moved = {**inputs, "vlan": 200}
    # Harvester itself:
    with pytest.raises(KubeError, match=r"VM\(s\) default/(web|db)-1, default/(web|db)-1 which must be stopped"):
        kube.apply(provider.desired(moved))
    with pytest.raises(ProviderError, match="stop VMs default/db-1, default/web-1 first"):
        provider.diff(created.id, created.outs or {}, moved)
    harvester_api.harvester.stop_vm("default", "web-1")
    harvester_api.harvester.stop_vm("default", "db-1")
    outs = provider.update(created.id, created.outs or {}, moved).outs or {}
    harvester_api.settle()
    unchanged_after_refresh(provider, created.id, outs, moved)


def test_a_create_over_our_own_nad_that_vms_use_is_refused_before_anything_changes(
    hv: dict[str, Any], kube: KubeClient, harvester_api: HarvesterApi
) -> None:
    provider = NetworkAttachmentDefinitionProvider()
    inputs = {"name": "net", "namespace": "default", "clusterNetwork": CN, "vlan": 100, "mtu": 9000, **hv}
    provider.create(inputs)
    assert harvester_api.harvester is not None
    harvester_api.harvester.run_vm("default", "web-1", ["default/net"], node="node1")
    before = kube.get("NetworkAttachmentDefinition", "net", "default")
    # The state lost the NAD (a stack recreated): `up` creates it again over the live one it made.
    with pytest.raises(ProviderError, match=r"(?s)Harvester refuses this change now:.*stop VMs default/web-1 first"):
        provider.create({**inputs, "vlan": 200})
    after = kube.get("NetworkAttachmentDefinition", "net", "default")
    assert before is not None and after is not None and contents(after) == contents(before)


def test_an_ippool_whose_immutable_fields_change_is_replaced_and_its_dns_changes_in_place(
    hv: dict[str, Any], kube: KubeClient, harvester_api: HarvesterApi
) -> None:
    """vm-dhcp-controller's IPPool CRD makes cidr, router, serverIP and the range immutable (self == oldSelf)."""
    route = {"mode": "manual", "cidr": "10.100.0.0/24", "gateway": "10.100.0.1"}
    NetworkAttachmentDefinitionProvider().create(
        {"name": "net", "namespace": "default", "clusterNetwork": CN, "vlan": 100, "route": route, **hv}
    )
    pools = IPPoolProvider()
    dhcp = {"serverIP": "10.100.0.2", "range": {"start": "10.100.0.100", "end": "10.100.0.200"}, "backend": "ippool"}
    inputs = {"name": "net", "namespace": "default", "route": route, "dhcpServer": dhcp, **hv}
    created = pools.create(inputs)
    changes = {
        "serverIP": ({**dhcp, "serverIP": "10.100.0.3"}, ["dhcpServer"]),
        "range": ({**dhcp, "range": {"start": "10.100.0.150", "end": "10.100.0.200"}}, ["dhcpServer"]),
        "dns": ({**dhcp, "dns": ["10.100.0.53"]}, []),
    }
    for what, (changed, replaces) in changes.items():
        diff = pools.diff(created.id, created.outs or {}, {**inputs, "dhcpServer": changed})
        assert (diff.changes, diff.replaces, diff.delete_before_replace) == (True, replaces, bool(replaces)), what
    moved = pools.diff(created.id, created.outs or {}, {**inputs, "route": {**route, "gateway": "10.100.0.254"}})
    assert (moved.replaces, moved.delete_before_replace) == (["route"], True)
    # What an in-place update of an immutable field meets (and the replacement avoids):
    with pytest.raises(KubeError, match="ServerIP is immutable"):
        pools.update(created.id, created.outs or {}, {**inputs, "dhcpServer": changes["serverIP"][0]})
    pools.update(created.id, created.outs or {}, {**inputs, "dhcpServer": changes["dns"][0]})
    live = kube.get("IPPool", "net", "default")
    assert live is not None and live["spec"]["ipv4Config"]["dns"] == ["10.100.0.53"]


def test_an_ippool_a_vm_holds_an_address_from_is_not_deleted(
    hv: dict[str, Any], kube: KubeClient, harvester_api: HarvesterApi
) -> None:
    """vm-dhcp-controller refuses to delete an IPPool while VirtualMachineNetworkConfigs use it (checkVmNetCfgs)."""
    route = {"mode": "manual", "cidr": "10.100.0.0/24", "gateway": "10.100.0.1"}
    NetworkAttachmentDefinitionProvider().create(
        {"name": "net", "namespace": "default", "clusterNetwork": CN, "vlan": 100, "route": route, **hv}
    )
    pools = IPPoolProvider()
    dhcp = {"serverIP": "10.100.0.2", "range": {"start": "10.100.0.100", "end": "10.100.0.200"}, "backend": "ippool"}
    created = pools.create({"name": "net", "namespace": "default", "route": route, "dhcpServer": dhcp, **hv})
    leases = {  # what vm-dhcp-controller's VM controller writes for a VM on the network
        "apiVersion": h.DHCP_API,
        "kind": "VirtualMachineNetworkConfig",
        "metadata": {"name": "web-1", "namespace": "default"},
        "spec": {
            "vmName": "web-1",
            "networkConfigs": [{"macAddress": "52:54:00:aa:bb:01", "networkName": "default/net"}],
        },
    }
    kube.apply(leases, field_manager="vm-dhcp-controller")
    with pytest.raises(ProviderError) as caught:
        pools.delete(created.id, created.outs or {})
    assert str(caught.value) == (
        "delete IPPool default/net: Harvester refuses while it is in use:\n"
        "  - VM default/web-1 holds an address from it (VirtualMachineNetworkConfig default/web-1): delete that VM or "
        "its interface on the network\n"
        "remove or detach those first, then run the deletion again"
    )
    assert kube.get("IPPool", "net", "default") is not None
    kube.delete_and_wait("VirtualMachineNetworkConfig", "web-1", "default", timeout=10)
    pools.delete(created.id, created.outs or {})
    assert kube.get("IPPool", "net", "default") is None


def test_route_mode_changes_need_one_up_each(hv: dict[str, Any], kube: KubeClient, harvester_api: HarvesterApi) -> None:
    """Harvester marks a route whose mode changes (pkg/utils OutdateNadLayer3NetworkConfWhenRouteModeChanges) and
    checks it anew; none of that is drift."""
    provider = NetworkAttachmentDefinitionProvider()
    inputs = {"name": "net", "namespace": "default", "clusterNetwork": CN, "vlan": 100, **hv}
    created = provider.create(inputs)
    outs = created.outs or {}
    for route in (*ROUTES.values(), ROUTES["manual"]):  # manual, auto, auto with server, none, manual again
        inputs = {k: v for k, v in {**inputs, "route": route}.items() if v is not None}
        outs = provider.update(created.id, outs, inputs).outs or {}
        harvester_api.settle()
        outs = unchanged_after_refresh(provider, created.id, outs, inputs)
        before = kube.get("NetworkAttachmentDefinition", "net", "default")
        provider.update(created.id, outs, inputs)
        harvester_api.settle()
        after = kube.get("NetworkAttachmentDefinition", "net", "default")
        assert before is not None and after is not None and contents(after) == contents(before), route
        # A route the plan dropped is gone, though Harvester's controller wrote it last.
        assert (h.ANNOTATION_ROUTE in (after["metadata"].get("annotations") or {})) == (route is not None), route
