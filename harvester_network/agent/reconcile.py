"""One reconcile pass of the node agent: objects in, host state applied, one VlanStatus per cluster network out.

    desired = DesiredState().compute(objects, node + link inventory) # pure, incremental (desired.py)
    result  = Reconciler(ipr).reconcile(desired)                    # diff + apply (netlink.py)
    statuses = VlanStatus per cluster network matched on this node  # shaped by render/vlanstatus.py

A cluster network is ready when neither planning nor applying reported a NodeError for it.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from harvester_network.agent.desired import DesiredState
from harvester_network.agent.hoststate import HostState, LocalArea
from harvester_network.agent.inputs import ClusterObjects, LinkInfo, NodeIdentity
from harvester_network.agent.netlink_apply import ApplyResult
from harvester_network.render.vlanstatus import vlanstatus_object


class HostNetwork(Protocol):
    """What a pass needs from the node's kernel (netlink.py's Reconciler plus the link inventory)."""

    def inventory(self) -> dict[str, LinkInfo]: ...

    def reconcile(self, desired: HostState) -> ApplyResult: ...

    @property
    def writes(self) -> int: ...


@dataclass(frozen=True)
class ClusterNetworkReport:
    cluster_network: str
    vlan_config: str
    ready: bool
    message: str
    vids: frozenset[int] = frozenset()  # the desired state's own set: a pass that changed nothing compares identities


class StatusKey(NamedTuple):
    """What a pass's statuses are made from (with the VlanConfigs): equal keys, equal statuses."""

    node: str
    reports: tuple[ClusterNetworkReport, ...]
    local_areas: tuple[tuple[str, tuple[LocalArea, ...]], ...]  # (cluster network, its local areas) per bridge


@dataclass
class PassReport:
    """What one pass did: per cluster network readiness, the changes made, and the VlanStatus objects."""

    cluster_networks: list[ClusterNetworkReport] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    writes: int = 0
    warnings: list[str] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    duration_s: float = 0.0
    status_key: StatusKey | None = None  # reconcile_pass reuses the statuses while it is equal
    vlan_configs: Any = None

    @property
    def ready(self) -> bool:
        return all(cn.ready for cn in self.cluster_networks)


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def cluster_network_reports(desired: HostState, applied: ApplyResult) -> list[ClusterNetworkReport]:
    """Readiness per matched cluster network: planning errors (desired.py) and apply errors (netlink.py)."""
    messages: dict[str, list[str]] = {}
    vlan_configs: dict[str, str] = {}
    for error in (*desired.errors, *applied.errors):
        messages.setdefault(error.cluster_network, []).append(error.message)
        if getattr(error, "vlan_config", ""):
            vlan_configs.setdefault(error.cluster_network, error.vlan_config)
    reports = []
    for bridge in desired.bridges:
        cn = bridge.cluster_network
        problems = messages.pop(cn, [])
        reports.append(
            ClusterNetworkReport(
                cn,
                bridge.vlan_config or vlan_configs.get(cn, ""),
                not problems,
                "; ".join(problems),
                bridge.vids,
            )
        )
    for cn, problems in messages.items():
        reports.append(ClusterNetworkReport(cn, vlan_configs.get(cn, ""), False, "; ".join(problems)))
    return sorted(reports, key=lambda r: r.cluster_network)


def reconcile_pass(
    objects: ClusterObjects,
    node: NodeIdentity,
    host: HostNetwork,
    desired_state: DesiredState | None = None,  # kept between passes by the loop; None: from scratch
    previous: PassReport | None = None,  # the last pass: its statuses are reused when nothing in them changed
) -> PassReport:
    started = time.monotonic()
    writes_before = host.writes
    desired = (desired_state or DesiredState()).compute(objects, node.with_links(host.inventory()))
    applied = host.reconcile(desired)
    reports = cluster_network_reports(desired, applied)
    # Local areas are the same tuples while their NADs are unchanged, so this costs no walk over thousands.
    status_key = StatusKey(
        node.name, tuple(reports), tuple((b.cluster_network, b.local_areas) for b in desired.bridges)
    )
    if previous is not None and previous.status_key == status_key and previous.vlan_configs is objects.vlan_configs:
        statuses = previous.statuses
    else:
        statuses = _statuses(objects, node, desired, reports)
    return PassReport(
        cluster_networks=reports,
        changes=[c.summary() for c in applied.applied],
        writes=host.writes - writes_before,
        warnings=list(desired.warnings),
        statuses=statuses,
        duration_s=time.monotonic() - started,
        status_key=status_key,
        vlan_configs=objects.vlan_configs,
    )


def _statuses(
    objects: ClusterObjects, node: NodeIdentity, desired: HostState, reports: list[ClusterNetworkReport]
) -> list[dict[str, Any]]:
    updated_at = now_rfc3339()
    # The API gives objects a uid (the VlanStatus' owner reference needs it); rendered manifests have none.
    uids = {meta.get("name"): meta.get("uid") for meta in (vc.get("metadata") or {} for vc in objects.vlan_configs)}
    areas = {b.cluster_network: b.local_areas for b in desired.bridges}  # LocalArea is a (vid, cidr) tuple
    return [
        vlanstatus_object(
            cluster_network=r.cluster_network,
            node=node.name,
            vlan_config=r.vlan_config,
            ready=r.ready,
            message=r.message,
            updated_at=updated_at,
            local_areas=areas.get(r.cluster_network, []),
            vlan_config_uid=uids.get(r.vlan_config),
        )
        for r in reports
    ]
