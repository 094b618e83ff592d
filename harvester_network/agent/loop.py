"""The agent's main loop: reconcile, publish status, then wait for whatever comes first of a watch event, a link
event, the status retry or the resync (one `select` on the link-event thread's and the source's Wakeups).

A VM port still in VLAN 1 is fixed from its own link event, without a pass, by agent/pruner.py's PortPruner, which
also tells this loop when a link event asks for a pass (LinkEvents).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from harvester_network.agent.desired import DesiredState
from harvester_network.agent.hostip import HostIpMigrator
from harvester_network.agent.hoststate import HostState
from harvester_network.agent.inputs import ClusterObjects, LinkInfo, NodeIdentity
from harvester_network.agent.metrics import AgentMetrics
from harvester_network.agent.netlink import Reconciler
from harvester_network.agent.netlink_apply import ApplyResult, EnslaveHook
from harvester_network.agent.netlink_read import KernelState, inventory_of, ipv4_link_indexes
from harvester_network.agent.reconcile import PassReport, reconcile_pass
from harvester_network.agent.status import StatusSink
from harvester_network.agent.wakeup import Wakeup
from harvester_network.facts import AGENT_RESYNC_S

log = logging.getLogger("hvnet.agent")

# After status could not be published (the API is down), it is published again this soon.
STATUS_RETRY_S = 5.0
# The longest single wait: how soon a stop request or a directory source (no Wakeup: polled) is seen.
TICK_S = 1.0


class ObjectSource(Protocol):
    """Where the agent's objects and its node's labels come from."""

    def load(self) -> tuple[ClusterObjects, NodeIdentity]:
        """The current objects and node; raises (and the caller keeps its last good state) when unavailable."""

    def changed(self) -> bool:
        """True once after the objects or node changed since the last `load`."""

    @property
    def wakeup(self) -> Wakeup | None:
        """Readable when `changed()` turns True (None: the loop polls `changed()` every TICK_S)."""

    def close(self) -> None: ...


class LinkEvents(Protocol):
    """Netlink link events on owned links, with VM ports in VLAN 1 already fixed where they are read (PortPruner)."""

    def wait(self, timeout: float, wake: Wakeup | None = None) -> bool:
        """True when a link event within `timeout` s asks for a pass; returns early when `wake` is raised."""


class _Settled(NamedTuple):
    """The last pass that found nothing to do: its desired state (compared by identity) and kernel read."""

    desired: HostState
    kernel: KernelState


class _Statuses(NamedTuple):
    """A node's statuses, waiting to be published."""

    node: str
    statuses: list[dict[str, Any]]


class KernelHost:
    """The node's kernel, through one pyroute2 IPRoute (the agent runs in the node's network namespace).

    `host_ip` moves a NIC's host addresses to its bridge around enslaving it (desired.py lets such a NIC be an
    uplink because of it); around each pass it finishes or undoes what a killed agent or a failed enslave left
    half-done, and moves the addresses back to NICs that leave their bond."""

    def __init__(self, ipr: Any, host_ip: HostIpMigrator, enslave_hooks: tuple[EnslaveHook, ...] = ()) -> None:
        self.ipr = ipr
        self.host_ip = host_ip
        self.reconciler = Reconciler(ipr, (host_ip, *enslave_hooks))
        self._current: KernelState | None = None
        self._settled: _Settled | None = None

    def inventory(self) -> dict[str, LinkInfo]:
        self._current = self.reconciler.read()  # one link dump per pass: the plan below reads this one too
        return inventory_of(self._current.links, ipv4_link_indexes(self.reconciler.route))

    def reconcile(self, desired: HostState) -> ApplyResult:
        writes_before = self.host_ip.writes
        errors = self.host_ip.before_pass(desired)
        # What the inventory read still holds unless the migration recovery just changed links.
        current = self._current if self.host_ip.writes == writes_before else None
        self._current = None
        if current is None:
            current = self.reconciler.read()
        if self._settled is not None and self._settled.desired is desired and self._settled.kernel == current:
            # plan_changes is pure: the same inputs plan nothing again (its VID diff walks every NAD's VID).
            result = ApplyResult()
        else:
            result = self.reconciler.reconcile(desired, current)
        # Nothing applied, failed or written: the plan was empty.
        settled = not (result.applied or result.errors or result.writes)
        self._settled = _Settled(desired, current) if settled else None
        errors += self.host_ip.recover()  # a migration whose enslave failed goes back to its NIC now
        result.errors[:0] = errors
        return result

    @property
    def writes(self) -> int:
        return self.reconciler.writes + self.host_ip.writes


class StatusPublisher:
    """Publishes the newest statuses on its own thread, so a slow or absent API never delays the host: a pass
    hands them over and goes on. A failed publish is retried every `retry_s` with the newest statuses."""

    def __init__(self, sink: StatusSink, retry_s: float) -> None:
        self.sink, self.retry_s = sink, retry_s
        self._pending: _Statuses | None = None
        self._changed = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="status", daemon=True)
        self._thread.start()

    def submit(self, node: str, statuses: list[dict[str, Any]]) -> None:
        with self._changed:
            self._pending = _Statuses(node, statuses)
            self._changed.notify()

    def close(self, timeout: float = 5.0) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._pending is not None or self._stopping)
                if self._stopping:
                    return
                assert self._pending is not None
                node, statuses = self._pending
                self._pending = None
            if not _publish(self.sink, node, statuses, self.retry_s):
                with self._changed:
                    self._pending = self._pending or _Statuses(node, statuses)  # submitted meanwhile: newer
                    self._changed.wait_for(lambda: self._stopping, self.retry_s)


def _publish(sink: StatusSink, node: str, statuses: list[dict[str, Any]], retry_s: float) -> bool:
    try:
        sink.publish(node, statuses)
    except Exception as error:  # the host is reconciled; the status follows when the sink is back
        log.error("cannot publish status, retrying in %gs: %s", retry_s, error, extra={"reason": "status"})
        return False
    return True


@dataclass
class AgentLoop:
    source: ObjectSource
    host: KernelHost
    sink: StatusSink
    metrics: AgentMetrics
    resync_s: float = AGENT_RESYNC_S
    on_pass: Callable[[PassReport], None] | None = None
    status_retry_s: float = STATUS_RETRY_S
    status_published: bool = True  # run_once: the last pass's statuses were published
    desired_state: DesiredState = field(default_factory=DesiredState)  # parsed NADs, kept between passes
    last_good: tuple[ClusterObjects, NodeIdentity] | None = None  # acted on while the source fails
    last_report: PassReport | None = None
    publisher: StatusPublisher | None = None  # run_forever's; None: publish within the pass

    def run_pass(self, force_status: bool = True) -> PassReport | None:
        """One pass: read -> desire -> diff -> apply (reconcile_pass) -> report. Statuses go out when they changed,
        or always with `force_status` (a resync puts back what someone else changed)."""
        started = time.thread_time()
        try:
            self.last_good = self.source.load()
        except Exception as error:  # any source failure: keep the last good objects
            log.error("cannot read objects, keeping the last good ones: %s", error, extra={"reason": "source"})
            if self.last_good is None:
                return None
        objects, node = self.last_good
        report = reconcile_pass(objects, node, self.host, self.desired_state, self.last_report)
        changed = self.last_report is None or report.statuses is not self.last_report.statuses
        self.last_report = report
        if self.publisher is None:
            self.status_published = _publish(self.sink, node.name, report.statuses, self.status_retry_s)
        elif changed or force_status:
            self.publisher.submit(node.name, report.statuses)
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
        self.metrics.cpu.inc(time.thread_time() - started)
        if self.on_pass:
            self.on_pass(report)
        return report

    def run_once(self) -> int:
        report = self.run_pass()
        return 0 if report is not None and report.ready and self.status_published else 1

    def run_forever(self, watcher: LinkEvents, stop: Callable[[], bool] = lambda: False) -> None:
        self.publisher = StatusPublisher(self.sink, self.status_retry_s)
        try:
            reason = "start"
            while not stop():
                self.run_pass(force_status=reason in ("start", "resync"))
                reason = self._wait_for_reason(watcher, time.monotonic() + self.resync_s, stop)
                log.info("%s", _REASONS[reason], extra={"reason": reason})
        finally:
            self.publisher.close()
            self.publisher = None

    def _wait_for_reason(self, watcher: LinkEvents, pass_at: float, stop: Callable[[], bool]) -> str:
        """Sleep until something calls for a pass (VM ports in VLAN 1 are fixed meanwhile by the watcher's thread)."""
        while not stop():
            if self.source.changed():
                return "objects"
            remaining = pass_at - time.monotonic()
            if remaining <= 0:
                return "resync"
            if watcher.wait(min(TICK_S, remaining), self.source.wakeup):
                return "netlink"
        return "stop"


_REASONS = {
    "objects": "objects changed",
    "resync": "periodic resync",
    "netlink": "link event",
    "stop": "stopping",
}
