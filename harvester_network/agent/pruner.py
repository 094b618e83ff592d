"""PortPruner: the agent's link events, read on a thread of their own, where a VM port of an owned bridge still in
VLAN 1 is fixed at once from its own event (no pass); the events that ask for a pass reach the loop (agent/loop.py)
through `wait`. See docs/agent.md "VLAN 1 on new VM ports".
"""

from __future__ import annotations

import select
import threading
from collections.abc import Callable
from typing import Any

from harvester_network.agent.link_events import LinkEventWatcher, LinkNews
from harvester_network.agent.netlink_apply import PruneRequests
from harvester_network.agent.wakeup import Wakeup
from harvester_network.facts import AGENT_RESYNC_S


class PortPruner:
    """The agent's link events, read on a thread of their own with their own netlink sockets (`ipr`: an IPRoute
    the pass does not use, for the watcher's first dumps). A VM port of an owned bridge in VLAN 1 is fixed there
    at once, so the leak window never waits for a pass or a status publish to end; between the event and its
    prune the thread takes the GIL once, when its `select` returns (a busy main thread costs that up to Python's
    5 ms switch interval: benchmarks/pruner_gil.py). What needs a pass reaches the loop through `wait`. Its
    writes go to `count_writes` (AgentMetrics.writes.inc, which takes a lock: the pass may count at the same
    time)."""

    def __init__(self, ipr: Any, count_writes: Callable[[int], object]) -> None:
        self.events = LinkEventWatcher(ipr)
        self.requests = PruneRequests()
        self.count_writes = count_writes
        self._full_pass = Wakeup()
        self._stop = Wakeup()
        self._stopping = False  # read by the thread between events: Wakeup.is_set would hand the GIL over
        self._thread = threading.Thread(target=self._run, name="link-events", daemon=True)
        self._thread.start()

    def wait(self, timeout: float, wake: Wakeup | None = None) -> bool:
        """LinkEvents.wait: True once the thread saw an event that asks for a pass (its prunes are done)."""
        select.select([self._full_pass, *([wake] if wake is not None else [])], [], [], timeout)
        if self._full_pass.is_set():
            self._full_pass.clear()  # before the pass reads the kernel: an event during the pass raises it again
            return True
        return False

    def _run(self) -> None:
        while not self._stopping:
            news = self.events.wait(AGENT_RESYNC_S, self._stop, self.prune)
            if news.full_pass:
                self._full_pass.set()

    def prune(self, news: LinkNews) -> None:
        """Sends the prunes (a failure is logged by PruneRequests; the next pass prunes what is left)."""
        writes_before = self.requests.writes
        self.requests.prune([(change, news.indexes[change.link]) for change in news.prunes])
        self.count_writes(self.requests.writes - writes_before)

    def close(self, timeout: float = 5.0) -> None:
        self._stopping = True
        self._stop.set()
        self._thread.join(timeout)
        if not self._thread.is_alive():  # a thread stuck in a write keeps its sockets (daemon: gone at exit)
            self.events.close()
            self.requests.close()
            self._stop.close()
            self._full_pass.close()

    def __enter__(self) -> PortPruner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
