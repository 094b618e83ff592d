"""A flag that other threads raise and that `select()` can wait on beside the netlink socket (a self-pipe)."""

from __future__ import annotations

import contextlib
import os
import select


class Wakeup:
    """Raised by the watch threads (`set`), seen by the agent loop's `select` (`fileno`) and `is_set`."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        self._closed = False

    def fileno(self) -> int:
        return self._read

    def set(self) -> None:
        if self._closed:  # a watch thread that outlived close()
            return
        with contextlib.suppress(BlockingIOError):  # a full pipe is raised already
            os.write(self._write, b"!")

    def is_set(self) -> bool:
        # The pipe's content is the flag, so a set() racing a clear() is never lost (no separate Event to skew).
        return bool(select.select([self._read], [], [], 0)[0])

    def clear(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._read, 4096):
                pass

    def close(self) -> None:
        self._closed = True
        os.close(self._read)
        os.close(self._write)
