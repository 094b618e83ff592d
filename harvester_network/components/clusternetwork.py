"""ClusterNetwork: steps 1 and 2 of the seed's flow, the VLAN uplink and per-node overrides."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from typing import Any, Unpack

import pulumi

from harvester_network import provider
from harvester_network.components.base import ClusterSettings, HarvesterComponent, dumped, validated
from harvester_network.model import names
from harvester_network.model.plan import NodeOverride, Uplink


class ClusterNetwork(HarvesterComponent):
    """A Harvester cluster network with its VlanConfigs, exactly as `hvnet render` makes them for
    `clusterNetworks: [{name, description, uplink, nodeOverrides}]` and `nodes`.

    uplink: `{nics: [...], bondMode, bondMiimon, mtu, txQLen}` (plan format) or a model `Uplink`.
    node_overrides: `[{node, nics, bondMode?, bondMiimon?}]`; they need `nodes` (every node of the cluster).
    nodes: with nodes, one VlanConfig per node; without, one VlanConfig for every node.
    name: the Harvester name (at most 12 characters); defaults to the resource name.
    """

    def __init__(
        self,
        resource_name: str,
        *,
        uplink: dict[str, Any] | Uplink,
        node_overrides: Sequence[dict[str, Any] | NodeOverride] = (),
        nodes: Sequence[str] | None = None,
        name: str | None = None,
        description: str = "",
        opts: pulumi.ResourceOptions | None = None,
        **settings: Unpack[ClusterSettings],
    ) -> None:
        super().__init__("ClusterNetwork", resource_name, settings, opts)
        item = {
            "name": name or resource_name,
            "description": description,
            "uplink": dumped(uplink),
            "nodeOverrides": dumped(list(node_overrides)),
        }
        data: dict[str, Any] = {"clusterNetworks": [item]}
        if nodes is not None:
            data["nodes"] = list(nodes)
        plan = validated(data, f"ClusterNetwork {resource_name}")
        self.spec = plan.cluster_networks[0]
        self.nodes = plan.nodes
        spec = self.spec

        object_settings = self.object_settings
        node_list: list[str | None] = list(self.nodes) if self.nodes is not None else [None]
        self.cluster_network = provider.ClusterNetwork(
            resource_name,
            name=spec.name,
            description=spec.description,
            settings=object_settings,
            opts=self.child_opts(),
        )
        # As render/clusternetwork.py: one VlanConfig per listed node (its override or the default uplink),
        # else one for every node. Harvester accepts a VlanConfig only once its ClusterNetwork exists. The first
        # goes before the others: it deletes what the plan no longer has and Harvester would refuse the others
        # next to (provider/vlanconfig.py make_way), so that happens once, not in each in parallel.
        self.vlan_configs: list[provider.VlanConfig] = []
        for node in node_list:
            self.vlan_configs.append(
                provider.VlanConfig(
                    resource_name if node is None else f"{resource_name}-{node}",
                    cluster_network=spec.name,
                    node=node,
                    description=spec.description,
                    uplink=dumped(spec.uplink if node is None else spec.uplink_for(node)),
                    settings=object_settings,
                    opts=self.child_opts([self.cluster_network, *self.vlan_configs[:1]]),
                )
            )

        # What a network on this cluster network waits for.
        self.objects: list[pulumi.Resource] = [self.cluster_network, *self.vlan_configs]
        self.name = spec.name
        self.vlan_config_names = [names.vlanconfig_name(spec.name, node) for node in node_list]
        self.bridge = names.bridge_name(spec.name)
        self.mtu = spec.uplink.mtu
        self.matched_nodes: pulumi.Output[list[str]] = pulumi.Output.all(
            *(vc.matchedNodes for vc in self.vlan_configs)
        ).apply(lambda lists: sorted(set(chain.from_iterable(n for n in lists if n))))
        self.register_outputs(
            {
                "name": self.name,
                "bridge": self.bridge,
                "mtu": self.mtu,
                "vlanConfigs": self.vlan_config_names,
                "matchedNodes": self.matched_nodes,
            }
        )

    def plan_data(self) -> dict[str, Any]:
        """This cluster network (and the nodes) as plan data, for the one-item plan of a network on it."""
        data: dict[str, Any] = {"clusterNetworks": [dumped(self.spec)]}
        if self.nodes is not None:
            data["nodes"] = list(self.nodes)
        return data
