"""agent/main.py's return_big_blocks_when_freed: after a big block was freed, a big short-lived block is still
mmapped (so it goes back to the kernel when freed), which glibc's default dynamic threshold stops doing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harvester_network.agent import main as agent_main

PROBE = """
import ctypes, sys
from harvester_network.agent.main import return_big_blocks_when_freed

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
if sys.argv[1] == "fixed":
    assert return_big_blocks_when_freed()
big = bytearray(8 << 20)
del big  # an mmapped block freed: by default glibc now serves blocks below 8 MiB from its heap
before = libc.mallinfo2().hblks
block = bytearray(512 << 10)
print(libc.mallinfo2().hblks - before)
"""


def mmapped_blocks_added(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    return int(done.stdout)


@pytest.mark.skipif(not hasattr(__import__("ctypes").CDLL(None), "mallinfo2"), reason="not glibc >= 2.33")
def test_a_big_block_stays_mmapped_after_a_bigger_one_was_freed() -> None:
    assert mmapped_blocks_added("default") == 0  # the behaviour the call exists for
    assert mmapped_blocks_added("fixed") == 1


class Called(Exception):
    pass


def test_the_agent_fixes_the_threshold_before_it_starts_anything(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def called() -> bool:
        raise Called

    monkeypatch.setattr(agent_main, "return_big_blocks_when_freed", called)
    # Options that are refused (exit 2) before any link, thread or API connection exists: the call comes first.
    with pytest.raises(Called):
        agent_main.main(["--node", "n1", "--from-dir", str(tmp_path), "--kubeconfig", "x", "--once"])
