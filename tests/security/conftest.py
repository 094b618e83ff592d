"""Each test sees only what its own code logs: handlers earlier tests left on the root logger (the agent's
`configure_logging`, run in-process by CliRunner, binds one to a stream that is closed afterwards) are set aside."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def only_pytests_log_handlers() -> Iterator[None]:
    root = logging.getLogger()
    left = [h for h in root.handlers if not type(h).__module__.startswith("_pytest")]
    for handler in left:
        root.removeHandler(handler)
    try:
        yield
    finally:
        for handler in left:
            root.addHandler(handler)
