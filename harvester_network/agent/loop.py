"""The agent's main loop: reconcile, publish status, then wait for a reason to reconcile again.

Reasons: the objects changed (the source says so), a netlink link event on an owned link (a VM port
joined a bridge, an uplink went down, a bridge was deleted by hand), or the periodic full resync.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from harvester_network.agent.hostip import HostIpMigrator
from harvester_network.agent.hoststate import HostState
from harvester_network.agent.inputs import ClusterObjects, LinkInfo, NodeIdentity
from harvester_network.agent.metrics import AgentMetrics
from harvester_network.agent.netlink import Reconciler
from harvester_network.agent.netlink_apply import ApplyResult, EnslaveHook
from harvester_network.agent.netlink_read import link_inventory
from harvester_network.agent.reconcile import PassReport, reconcile_pass
from harvester_network.agent.sources import ManifestError, dir_fingerprint, load_manifest_dir, load_node_file
from harvester_network.agent.status import StatusSink
from harvester_network.facts import AGENT_RESYNC_S
from harvester_network.model import names

log = logging.getLogger("hvnet.agent")

# After status could not be published (the API is down), the next pass comes this soon, not at the resync.
STATUS_RETRY_S = 5.0
# How often the loop looks at the source between netlink events; also the bound on reacting to a new VM port.
TICK_S = 1.0


class ObjectSource(Protocol):
    """Where the agent's objects and its node's labels come from."""

    def load(self) -> tuple[ClusterObjects, NodeIdentity]:
        """The current objects and node; raises (and the caller keeps its last good state) when unavailable."""

    def changed(self) -> bool:
        """True once after the objects or node changed since the last `load`."""

    def close(self) -> None: ...


class LinkEvents(Protocol):
    """Netlink link events on owned links (netlink.py's LinkEventWatcher)."""

    def wait_for_link_events(self, timeout: float) -> bool:
        """True when an event came within `timeout` seconds."""


class KernelHost:
    """The node's kernel, through one pyroute2 IPRoute (the agent runs in the node's network namespace).

    `host_ip` moves a NIC's host addresses to its bridge around enslaving it (desired.py lets such a NIC be an
    uplink because of it); around each pass it finishes or undoes what a killed agent or a failed enslave left
    half-done, and moves the addresses back to NICs that leave their bond."""

    def __init__(self, ipr: Any, host_ip: HostIpMigrator, enslave_hooks: tuple[EnslaveHook, ...] = ()) -> None:
        self.ipr = ipr
        self.host_ip = host_ip
        self.reconciler = Reconciler(ipr, (host_ip, *enslave_hooks))

    def inventory(self) -> dict[str, LinkInfo]:
        return link_inventory(self.ipr)

    def reconcile(self, desired: HostState) -> ApplyResult:
        errors = self.host_ip.before_pass(desired)
        result = self.reconciler.reconcile(desired)
        errors += self.host_ip.recover()  # a migration whose enslave failed goes back to its NIC now
        result.errors[:0] = errors
        return result

    @property
    def writes(self) -> int:
        return self.reconciler.writes + self.host_ip.writes


class ManifestDirSource:
    """`--from-dir`: the objects of a directory (e.g. `hvnet render -o DIR`), re-read when any file changes."""

    def __init__(self, directory: Path, node_name: str, node_file: Path | None) -> None:
        self.directory, self.node_name, self.node_file = directory, node_name, node_file
        self._seen = ""

    def _fingerprint(self) -> str:
        node = dir_fingerprint(self.node_file.parent) if self.node_file else ""
        return dir_fingerprint(self.directory) + node

    def load(self) -> tuple[ClusterObjects, NodeIdentity]:
        self._seen = self._fingerprint()
        objects = load_manifest_dir(self.directory)
        if self.node_file is None:
            return objects, NodeIdentity(self.node_name, {names.HOSTNAME_LABEL: self.node_name})
        node = load_node_file(self.node_file)
        if node.name != self.node_name:
            raise ManifestError(f"{self.node_file}: names node '{node.name}', but the agent runs as '{self.node_name}'")
        return objects, node

    def changed(self) -> bool:
        return self._fingerprint() != self._seen

    def close(self) -> None:
        pass


@dataclass
class AgentLoop:
    source: ObjectSource
    host: KernelHost
    sink: StatusSink
    metrics: AgentMetrics
    resync_s: float = AGENT_RESYNC_S
    on_pass: Callable[[PassReport], None] | None = None
    status_retry_s: float = STATUS_RETRY_S
    status_published: bool = True

    def run_pass(
        self, last_good: tuple[ClusterObjects, NodeIdentity] | None
    ) -> tuple[PassReport | None, tuple[ClusterObjects, NodeIdentity] | None]:
        try:
            last_good = self.source.load()
        except Exception as error:  # any source failure: keep the last good objects
            log.error("cannot read objects, keeping the last good ones: %s", error, extra={"reason": "source"})
            if last_good is None:
                return None, None
        objects, node = last_good
        report = reconcile_pass(objects, node, self.host)
        try:
            self.sink.publish(node.name, report.statuses)
            self.status_published = True
        except Exception as error:  # the host is reconciled; the status follows when the sink is back
            self.status_published = False
            log.error(
                "cannot publish status, retrying in %gs: %s", self.status_retry_s, error, extra={"reason": "status"}
            )
        self.metrics.observe(report)
        for warning in report.warnings:
            log.warning("%s", warning, extra={"reason": "objects"})
        log.info(
            "reconciled: %d change(s), %d netlink write(s), %s",
            len(report.changes),
            report.writes,
            ", ".join(
                f"{r.cluster_network}={'ready' if r.ready else 'error: ' + r.message}" for r in report.cluster_networks
            )
            or "no cluster network matches this node",
            extra={"changes": len(report.changes), "writes": report.writes, "reason": "reconcile"},
        )
        if self.on_pass:
            self.on_pass(report)
        return report, last_good

    def run_once(self) -> int:
        report, _ = self.run_pass(None)
        return 0 if report is not None and report.ready and self.status_published else 1

    def run_forever(self, watcher: LinkEvents, stop: Callable[[], bool] = lambda: False) -> None:
        last_good: tuple[ClusterObjects, NodeIdentity] | None = None
        while not stop():
            _, last_good = self.run_pass(last_good)
            wait_s = self.resync_s if self.status_published else min(self.resync_s, self.status_retry_s)
            resync_at = time.monotonic() + wait_s
            while not stop():
                remaining = resync_at - time.monotonic()
                if remaining <= 0:
                    log.info("periodic resync", extra={"reason": "resync"})
                    break
                if self.source.changed():
                    log.info("objects changed", extra={"reason": "objects"})
                    break
                if watcher.wait_for_link_events(timeout=min(TICK_S, remaining)):
                    log.info("link event", extra={"reason": "netlink"})
                    break
