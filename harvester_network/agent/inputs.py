"""What `desired.py` computes from: the cluster's objects and what the agent knows about its own node.

Objects are read-only Kubernetes objects as mappings: plain dicts as `hvnet render` YAML gives them, or what the
Kubernetes source keeps of them (agent/kube_source.py: without the fields the agent does not read; NADs as compact
NadViews), so desired.py reads the same thing from either source.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harvester_network.render import harvester as h

NETWORK_GROUP = h.NETWORK_API.split("/")[0]
NAD_GROUP = h.NAD_API.split("/")[0]

# (API group, kind) of the objects the agent reads; every other kind is ignored.
KIND_CLUSTER_NETWORK = (NETWORK_GROUP, "ClusterNetwork")
KIND_VLAN_CONFIG = (NETWORK_GROUP, "VlanConfig")
KIND_NAD = (NAD_GROUP, "NetworkAttachmentDefinition")
AGENT_KINDS = frozenset({KIND_CLUSTER_NETWORK, KIND_VLAN_CONFIG, KIND_NAD})


def group_kind(obj: Mapping[str, Any]) -> tuple[str, str]:
    """("network.harvesterhci.io", "VlanConfig") for a v1beta1 VlanConfig; the core group is ""."""
    api_version = str(obj.get("apiVersion", ""))
    return (api_version.split("/")[0] if "/" in api_version else "", str(obj.get("kind", "")))


@dataclass(frozen=True)
class ClusterObjects:
    """The ClusterNetworks, VlanConfigs and NADs the agent acts on (read-only)."""

    cluster_networks: tuple[Mapping[str, Any], ...] = ()
    vlan_configs: tuple[Mapping[str, Any], ...] = ()
    nads: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def from_objects(cls, objects: Iterable[dict[str, Any]]) -> ClusterObjects:
        """Sort a mixed stream by kind, dropping the kinds the agent does not use (CRDs, VMs, ...)."""
        by_kind: dict[tuple[str, str], list[dict[str, Any]]] = {kind: [] for kind in AGENT_KINDS}
        for obj in objects:
            kind = group_kind(obj)
            if kind in by_kind:
                by_kind[kind].append(obj)
        return cls(
            cluster_networks=tuple(by_kind[KIND_CLUSTER_NETWORK]),
            vlan_configs=tuple(by_kind[KIND_VLAN_CONFIG]),
            nads=tuple(by_kind[KIND_NAD]),
        )


@dataclass(frozen=True)
class LinkInfo:
    """One existing link of the node, as far as desired-state checks need it."""

    master: str | None = None  # name of the link it is enslaved to, None when free
    has_ipv4: bool = False  # carries IPv4 addresses (the host may depend on it)
    # The cluster network from the agent's ifalias (hoststate.OWNER_ALIAS_PREFIX) when the agent made the link.
    owner: str | None = None


@dataclass(frozen=True)
class NodeIdentity:
    """The node's name and labels (what VlanConfig nodeSelectors match), e.g. from `load_node_file`."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)

    def with_links(self, links: Mapping[str, LinkInfo]) -> NodeInfo:
        return NodeInfo(name=self.name, labels=self.labels, links=links)


@dataclass(frozen=True)
class NodeInfo:
    """The node the agent runs on: identity plus the inventory of its existing links by name."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    links: Mapping[str, LinkInfo] = field(default_factory=dict)
