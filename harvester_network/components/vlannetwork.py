"""VlanNetwork: step 3 of the seed's flow, a network by name and VLAN ID, plus an optional DHCP server."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Unpack

import pulumi

from harvester_network import provider
from harvester_network.components.base import ClusterSettings, HarvesterComponent, dumped, validated
from harvester_network.components.clusternetwork import ClusterNetwork
from harvester_network.components.inputs import Lifted, pick, resolved
from harvester_network.model import names
from harvester_network.model.plan import DhcpServer, Network, Plan, Route
from harvester_network.provider.base import STAND_IN_NIC
from harvester_network.render.dhcp import dhcp_objects

# What render/dhcp.py makes for `backend: dnsmasq`, one resource each.
DNSMASQ_KINDS = ("ConfigMap", "Deployment")


@dataclass(frozen=True)
class NetworkResources:
    """The resources of one VLAN network, and what a VM needs to attach to it."""

    reference: str  # <namespace>/<name>
    cluster_network_name: str
    network: Lifted[Network]
    nad: provider.NetworkAttachmentDefinition
    dhcp: list[pulumi.CustomResource]


# VlanNetwork `network_name` outputs -> their network, so a VM given `vlan100.network_name` finds the network's spec.
_NETWORK_OF_NAME_OUTPUT: weakref.WeakKeyDictionary[pulumi.Output[str], NetworkResources] = weakref.WeakKeyDictionary()


def network_of(reference: Any) -> NetworkResources | None:
    """The network a VlanNetwork, its resources or its `network_name` output stands for."""
    if isinstance(reference, VlanNetwork):
        return reference.resources
    if isinstance(reference, NetworkResources):
        return reference
    if isinstance(reference, pulumi.Output):
        return _NETWORK_OF_NAME_OUTPUT.get(reference)
    return None


def network_resources(
    owner: HarvesterComponent,
    resource_name: str,
    network: Lifted[Network],
    *,
    name: str,
    namespace: str,
    cluster_network: str,
    mtu: Lifted[int],
    service_cidr: Lifted[str],
    dhcp_backend: str | None,
    depends_on: Sequence[pulumi.Resource],
) -> NetworkResources:
    """Create the NAD and DHCP server of a validated network (named `namespace`/`name`, on `cluster_network`
    whose uplink MTU is `mtu`) as children of `owner`.

    The names must be known; the network, MTU and service CIDR may be Outputs (of a plan validated later).
    """
    settings = owner.object_settings
    nad = provider.NetworkAttachmentDefinition(
        resource_name,
        name=name,
        namespace=namespace,
        cluster_network=cluster_network,
        vlan=pick(network, lambda n: n.vlan),
        route=pick(network, lambda n: dumped(n.route)),
        mtu=mtu,
        settings=settings,
        opts=owner.child_opts(depends_on),
    )
    dhcp: list[pulumi.CustomResource] = []
    if dhcp_backend == "ippool":
        dhcp.append(
            provider.IPPool(
                resource_name,
                name=name,
                namespace=namespace,
                route=pick(network, lambda n: dumped(n.route)),
                dhcp_server=pick(network, lambda n: dumped(n.dhcp_server)),
                service_cidr=service_cidr,
                settings=settings,
                opts=owner.child_opts([nad]),
            )
        )
    elif dhcp_backend is not None:
        objects = pick(network, dhcp_objects)
        dhcp += [
            owner.workload(
                f"{resource_name}-dhcp", pick(objects, partial(_only, kind=kind)), kind=kind, depends_on=[nad]
            )
            for kind in DNSMASQ_KINDS
        ]
    return NetworkResources(
        reference=names.network_ref(namespace, name),
        cluster_network_name=cluster_network,
        network=network,
        nad=nad,
        dhcp=dhcp,
    )


def _only(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    kinds = sorted(o["kind"] for o in objects)
    if kinds != sorted(DNSMASQ_KINDS):
        raise ValueError(f"the dnsmasq DHCP server renders {kinds}, this component creates {list(DNSMASQ_KINDS)}")
    return next(o for o in objects if o["kind"] == kind)


def dhcp_backend_of(dhcp_server: dict[str, Any] | DhcpServer | None, where: str) -> str | None:
    """Which DHCP server resources to make; it decides the resources, so it must be known now."""
    if dhcp_server is None:
        return None
    backend = dhcp_server.backend if isinstance(dhcp_server, DhcpServer) else dhcp_server.get("backend", "dnsmasq")
    if not isinstance(backend, str):
        raise ValueError(f"{where}: dhcp_server.backend must be known when the program runs, not an Output")
    return backend


class VlanNetwork(HarvesterComponent):
    """A VLAN network (NetworkAttachmentDefinition) on a cluster network, and its DHCP server if asked for,
    exactly as `hvnet render` makes them for one `networks` item.

    :param resource_name: the Pulumi name, and the NAD's name unless `name` is given.
    :param vlan_id: 1..4094 tagged, 0 untagged (may be an Input).
    :param cluster_network: a ClusterNetwork component (the NAD takes its name and MTU and waits for its
        VlanConfigs) or the name of a cluster network made elsewhere.
    :param name: the NAD's name (default: `resource_name`).
    :param namespace: the NAD's namespace.
    :param route: `{mode: manual, cidr, gateway}` or `{mode: auto, serverIP?}` (may be an Input).
    :param dhcp_server: `{serverIP, range: {start, end}, leaseTime, dns, backend, image}`; backend `dnsmasq`
        (default) runs a Deployment, `ippool` makes a vm-dhcp-controller IPPool. Its values may be Inputs;
        whether there is one, and its backend, must be known.
    :param mtu: only with a cluster network named by string: its uplink MTU (0, the default, means 1500).
    :param service_cidr: the cluster's Service CIDR, which a manual route must not overlap (default 10.53.0.0/16).
    :param opts: Pulumi resource options.
    :param settings: kubeconfig, context, adopt, wait_for_ready, timeout, k8s_provider (`ClusterSettings`).

    Attributes: `network_name` (Output `<namespace>/<name>`, known in preview: give it to a VM), `bridge`,
    `vlan_id`, `nad`.

    ## Example Usage

        vlan = ClusterNetwork("vlan", uplink={"nics": ["eth1"]})
        vlan100 = VlanNetwork("vlan100", vlan_id=100, cluster_network=vlan, route={"mode": "auto"})
        VirtualMachine("web", interfaces=[{"name": "nic-1", "network": vlan100.network_name}])
    """

    def __init__(
        self,
        resource_name: str,
        *,
        vlan_id: pulumi.Input[int],
        cluster_network: ClusterNetwork | str,
        name: str | None = None,
        namespace: str = "default",
        route: pulumi.Input[dict[str, Any]] | Route | None = None,
        dhcp_server: dict[str, Any] | DhcpServer | None = None,
        mtu: int = 0,
        service_cidr: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
        **settings: Unpack[ClusterSettings],
    ) -> None:
        super().__init__("VlanNetwork", resource_name, settings, opts)
        if isinstance(cluster_network, ClusterNetwork):
            data = cluster_network.plan_data()
            waits_for: list[pulumi.Resource] = cluster_network.objects
        else:
            # Made elsewhere: the NAD needs only its name (the bridge) and MTU.
            data = {"clusterNetworks": [{"name": cluster_network, "uplink": {"nics": [STAND_IN_NIC], "mtu": mtu}}]}
            waits_for = []
        item = {
            "name": name or resource_name,
            "namespace": namespace,
            "clusterNetwork": data["clusterNetworks"][0]["name"],
            "vlan": vlan_id,
            "route": dumped(route),
            "dhcpServer": dumped(dhcp_server),
        }
        data["networks"] = [{k: v for k, v in item.items() if v is not None}]
        if service_cidr is not None:
            data["serviceCIDR"] = service_cidr
        plan: Lifted[Plan] = resolved(data, lambda d: validated(d, f"network {resource_name}"))
        self.resources = network_resources(
            self,
            resource_name,
            pick(plan, lambda p: p.networks[0]),
            name=item["name"],
            namespace=namespace,
            cluster_network=item["clusterNetwork"],
            mtu=pick(plan, lambda p: p.cluster_networks[0].uplink.mtu),
            service_cidr=pick(plan, lambda p: str(p.service_cidr)),
            dhcp_backend=dhcp_backend_of(dhcp_server, f"VlanNetwork {resource_name}"),
            depends_on=waits_for,
        )
        self.nad = self.resources.nad
        # The NAD's `<namespace>/<name>`: known in preview and carrying the dependency on the NAD.
        self.network_name = self.nad.network_name
        _NETWORK_OF_NAME_OUTPUT[self.network_name] = self.resources
        self.bridge = names.bridge_name(self.resources.cluster_network_name)
        self.vlan_id: Lifted[int] = pick(self.resources.network, lambda n: n.vlan)
        self.register_outputs({"networkName": self.network_name, "bridge": self.bridge, "vlanId": self.vlan_id})
