"""Pulumi components: the seed's UI flow as code, on top of the plan model and the renderer.

`ClusterNetwork` (uplink, node overrides) -> `VlanNetwork` (name + VLAN ID, optional DHCP server) ->
`VirtualMachine` (interfaces); `HarvesterNetworking` builds a whole plan for one cluster. Type tokens are
`harvester-network:index:<Type>`. See docs/pulumi.md.
"""

from harvester_network.components.base import TYPE_PREFIX, ClusterSettings
from harvester_network.components.clusternetwork import ClusterNetwork
from harvester_network.components.harvester import HarvesterNetworking
from harvester_network.components.virtualmachine import VirtualMachine
from harvester_network.components.vlannetwork import VlanNetwork

__all__ = ["TYPE_PREFIX", "ClusterNetwork", "ClusterSettings", "HarvesterNetworking", "VirtualMachine", "VlanNetwork"]
