"""Test-only crash points of the host-IP migration (HVNET_TEST_CRASH_AFTER): the agent SIGKILLs itself right after
the log line of a named step, so tests can check recovery (hostip.py's `recover`) after a crash at every step."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Mapping

log = logging.getLogger("harvester_network.agent.hostip")

CRASH_AFTER_ENV = "HVNET_TEST_CRASH_AFTER"


class _CrashAfter(logging.Handler):
    """Kills the process with SIGKILL right after the log line of a step or an applied change."""

    def __init__(self, step: str) -> None:
        super().__init__(logging.INFO)
        self.step = step

    def emit(self, record: logging.LogRecord) -> None:
        if self.step in (getattr(record, "step", None), getattr(record, "change", None)):
            os.kill(os.getpid(), signal.SIGKILL)


def install_test_crash_point(environ: Mapping[str, str] = os.environ) -> str | None:
    """Test-only: with HVNET_TEST_CRASH_AFTER=<step or change name> set, the agent SIGKILLs itself right after
    logging that step (`intent`, `bridge-addressed`, `enslaved`, `nic-cleared`, `migrated`, `restoring`,
    `released`, `nic-restored`, `restored`) or applied change (`CreateBridge`, `EnslaveNic`, ...), so tests can
    check recovery after a crash at every step. Needs log level info or debug. Returns the step, if any."""
    step = environ.get(CRASH_AFTER_ENV)
    if step:
        logging.getLogger().addHandler(_CrashAfter(step))
        log.warning("test crash point: the agent kills itself after step %s", step, extra={"reason": "test"})
    return step
