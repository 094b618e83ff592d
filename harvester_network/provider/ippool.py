"""IPPool: the DHCP pool Harvester's vm-dhcp-controller add-on serves on a VLAN network.

Its name and namespace are the network's; a change of either names another object. The add-on reports
agent conditions that depend on the add-on's deployment, not on the pool, so nothing is waited for. Its CRD makes
the subnet, router, server address and range immutable (`self == oldSelf`): a change of the route, the serverIP or
the range replaces the pool, deleting the old one first (docs/harvester.md); DNS and lease time change in place.
"""

from __future__ import annotations

from typing import Any

import pulumi

from harvester_network.kube import KubeClient, KubeError
from harvester_network.model import Plan, names
from harvester_network.provider.base import STAND_IN_UPLINK, ObjectProvider, has_unknown
from harvester_network.provider.resource import HarvesterObject, ObjectSettings
from harvester_network.render.dhcp import ippool_object

# The pool depends on the network's name, route and DHCP server, not on its cluster network or VLAN.
STAND_IN_CLUSTER_NETWORK = "stand-in"
# The dhcpServer fields that render into immutable IPPool fields (serverIP, pool start and end).
IMMUTABLE_DHCP_SERVER_FIELDS = ("serverIP", "range")


class IPPoolProvider(ObjectProvider):
    kind = "IPPool"
    spec_inputs = ("name", "namespace", "route", "dhcpServer", "serviceCIDR")
    replace_on = ("name", "namespace", "route")  # the route is the pool's cidr and router, both immutable
    cluster_outputs = ()
    input_paths = {"networks[0]": "", "serviceCIDR": "serviceCIDR"}

    def plan_data(self, spec: dict[str, Any]) -> dict[str, Any]:
        network: dict[str, Any] = {
            **{key: spec[key] for key in ("name", "namespace", "route", "dhcpServer") if key in spec},
            "clusterNetwork": STAND_IN_CLUSTER_NETWORK,
            "vlan": 0,
        }
        data: dict[str, Any] = {
            "clusterNetworks": [{"name": STAND_IN_CLUSTER_NETWORK, "uplink": STAND_IN_UPLINK}],
            "networks": [network],
        }
        if "serviceCIDR" in spec:
            data["serviceCIDR"] = spec["serviceCIDR"]
        return data

    def render(self, plan: Plan) -> dict[str, Any]:
        return ippool_object(plan.networks[0])

    def outputs(self, kube: KubeClient, plan: Plan, live: dict[str, Any]) -> dict[str, Any]:
        return {"networkName": plan.networks[0].ref}

    def delete_blockers(self, kube: KubeClient, name: str, namespace: str | None) -> list[str]:
        # vm-dhcp-controller pkg/webhook/ippool/validator.go Delete -> checkVmNetCfgs (pkg/util WhoUseIPPool).
        assert namespace is not None
        try:
            configs = kube.list_objects("VirtualMachineNetworkConfig")
        except KubeError as error:
            if error.not_found:  # no vm-dhcp-controller: nothing holds a lease
                return []
            raise
        network = names.network_ref(namespace, name)
        return [
            f"VM {c['metadata']['namespace']}/{c['spec']['vmName']} holds an address from it "
            f"(VirtualMachineNetworkConfig {c['metadata']['namespace']}/{c['metadata']['name']}): delete that VM or "
            "its interface on the network"
            for c in configs
            if any(n.get("networkName") == network for n in (c.get("spec") or {}).get("networkConfigs") or [])
        ]

    def replaced_by(self, olds: dict[str, Any], news: dict[str, Any], changed: list[str]) -> list[str]:
        # vm-dhcp-controller's IPPool CRD: spec.ipv4Config cidr, router, serverIP, pool start/end immutable.
        replaced = super().replaced_by(olds, news, changed)
        if "dhcpServer" in changed and any(
            has_unknown(news.get("dhcpServer")) or (olds.get("dhcpServer") or {}).get(k) != news["dhcpServer"].get(k)
            for k in IMMUTABLE_DHCP_SERVER_FIELDS
        ):
            replaced.append("dhcpServer")
        return replaced


class IPPool(HarvesterObject, module="harvester-network", name="IPPool"):
    """The vm-dhcp-controller IPPool of network `namespace/name`: `dhcp_server` (plan format) within `route`."""

    def __init__(
        self,
        resource_name: str,
        *,
        name: pulumi.Input[str],
        route: pulumi.Input[dict[str, Any]],
        dhcp_server: pulumi.Input[dict[str, Any]],
        namespace: pulumi.Input[str] = "default",
        service_cidr: pulumi.Input[str] | None = None,
        settings: ObjectSettings | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        spec = {
            "name": name,
            "namespace": namespace,
            "route": route,
            "dhcpServer": dhcp_server,
            "serviceCIDR": service_cidr,
        }
        pulumi.CustomResource.__init__(self, *self.registration(IPPoolProvider(), resource_name, spec, settings, opts))
