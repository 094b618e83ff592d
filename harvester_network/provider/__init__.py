"""Pulumi dynamic providers, one resource type per Harvester object kind hvnet owns.

Type names: `pulumi-python:dynamic/harvester-network:<Kind>`. Inputs are plan fields (camelCase, as in
plan.yaml); see provider/base.py for what every kind shares and each kind's module for what differs.
"""

from harvester_network.provider.base import ObjectProvider, ProviderError
from harvester_network.provider.clusternetwork import ClusterNetwork, ClusterNetworkProvider
from harvester_network.provider.ippool import IPPool, IPPoolProvider
from harvester_network.provider.nad import NetworkAttachmentDefinition, NetworkAttachmentDefinitionProvider
from harvester_network.provider.resource import HarvesterObject, ObjectSettings
from harvester_network.provider.vlanconfig import VlanConfig, VlanConfigProvider

__all__ = [
    "ClusterNetwork",
    "ClusterNetworkProvider",
    "HarvesterObject",
    "IPPool",
    "IPPoolProvider",
    "NetworkAttachmentDefinition",
    "NetworkAttachmentDefinitionProvider",
    "ObjectProvider",
    "ObjectSettings",
    "ProviderError",
    "VlanConfig",
    "VlanConfigProvider",
]
