"""The node's host network state as plain data.

`desired.py` computes a `HostState` from Kubernetes objects (pure); `netlink.py` reads the
kernel's current `HostState` of the links the agent owns, diffs the two and applies only the
difference. Both sides speak this module's types, like kubernetes-nmstate's desired/current state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from harvester_network.facts import DEFAULT_BOND_MODE, DEFAULT_MIIMON

# The ifalias written on every link the agent creates; the suffix is the cluster network.
OWNER_ALIAS_PREFIX = "hvnet:"


@dataclass(frozen=True)
class UplinkState:
    """The bond `<cn>-bo` over the node's uplink NICs (Harvester always bonds, even one NIC)."""

    bond: str
    nics: tuple[str, ...]
    bond_mode: str = DEFAULT_BOND_MODE
    miimon: int = DEFAULT_MIIMON
    mtu: int = 0  # 0 sets no MTU; desired.py never gives 0 (a VlanConfig's mtu 0 means facts.DEFAULT_MTU)
    txqlen: int = -1  # -1: leave as it is


class LocalArea(NamedTuple):
    """One VLAN network of a cluster network as VlanStatus lists it: its VID and the route CIDR ("" if none)."""

    vid: int
    cidr: str = ""


@dataclass(frozen=True)
class BridgeState:
    """One cluster network on this node: bridge `<cn>-br` with VLAN filtering, the bond as its port."""

    cluster_network: str
    bridge: str
    uplink: UplinkState
    # VIDs trunked (tagged) on the bond port; never 0 or 1 (1 is the default PVID).
    vids: frozenset[int] = field(default_factory=frozenset)
    # The VlanConfig this node's bridge comes from (VlanStatus names it and is owned by it).
    vlan_config: str = ""
    # VlanStatus localAreas, sorted: every tagged access-mode NAD's VID (1 included) with its route CIDR.
    local_areas: tuple[LocalArea, ...] = ()


@dataclass(frozen=True)
class NodeError:
    """A problem that keeps one cluster network from being set up on this node (goes to VlanStatus)."""

    cluster_network: str
    message: str
    # The VlanConfig the error is reported against ("" when none applies).
    vlan_config: str = ""


@dataclass(frozen=True)
class HostState:
    bridges: tuple[BridgeState, ...] = ()
    errors: tuple[NodeError, ...] = ()
    # Problems that set nothing up or down, e.g. a NAD whose config is malformed (its VIDs are ignored).
    warnings: tuple[str, ...] = ()

    def bridge_for(self, cluster_network: str) -> BridgeState | None:
        return next((b for b in self.bridges if b.cluster_network == cluster_network), None)
