"""NetworkAttachmentDefinitions, exactly as Harvester writes them."""

from __future__ import annotations

import json
from typing import Any

from harvester_network.model import names
from harvester_network.model.plan import AutoRoute, ClusterNetwork, Network
from harvester_network.render import harvester as h


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def bridge_cni_config(net: Network, cn: ClusterNetwork) -> dict[str, Any]:
    """The bridge CNI plugin's config, keys in Harvester's order.

    Tagged networks add `preserveDefaultVlan: false` so bridge plugins that know it keep VLAN 1 off
    the VM port (harvester/harvester#8816; older plugins ignore it, the agent prunes instead), and
    `mtu` when the cluster network sets one, so VM ports match the uplink (Harvester #4353, #4752).
    """
    config: dict[str, Any] = {
        "cniVersion": "0.3.1",
        "name": net.name,
        "type": "bridge",
        "bridge": names.bridge_name(cn.name),
        "promiscMode": True,
        "vlan": net.vlan,
    }
    if net.vlan:
        config["preserveDefaultVlan"] = False
    if cn.uplink.mtu:
        config["mtu"] = cn.uplink.mtu
    config["ipam"] = {}
    return config


def route_annotation(net: Network) -> str | None:
    """The route of a tagged network. Untagged networks carry none: Harvester reads routes of VLAN NADs only
    (network-controller-harvester pkg/utils/nad.go IsVlanNad) and its NAD mutator deletes the annotation when a
    network becomes untagged (pkg/webhook/nad/mutator.go tagRouteOutdated), so ours would only come back as drift."""
    route = net.route
    if route is None or not net.vlan:
        return None
    if isinstance(route, AutoRoute):
        auto: dict[str, Any] = {"mode": "auto"}
        if route.server_ip:
            auto["serverIPAddr"] = str(route.server_ip)
        return compact_json(auto)
    return compact_json({"mode": "manual", "cidr": str(route.cidr), "gateway": str(route.gateway)})


def nad_object(net: Network, cn: ClusterNetwork) -> dict[str, Any]:
    labels = {h.LABEL_CLUSTER_NETWORK: cn.name, h.LABEL_NETWORK_TYPE: h.TYPE_VLAN if net.vlan else h.TYPE_UNTAGGED}
    if net.vlan:
        labels[h.LABEL_VLAN_ID] = str(net.vlan)
    labels[h.LABEL_MANAGED_BY] = h.MANAGED_BY
    metadata: dict[str, Any] = {"name": net.name, "namespace": net.namespace, "labels": labels}
    route = route_annotation(net)
    if route is not None:
        metadata["annotations"] = {h.ANNOTATION_ROUTE: route}
    return {
        "apiVersion": h.NAD_API,
        "kind": "NetworkAttachmentDefinition",
        "metadata": metadata,
        "spec": {"config": compact_json(bridge_cni_config(net, cn))},
    }
