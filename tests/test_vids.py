"""harvester_network/vids.py on the host: VID lists folded into ranges and their text, one table for the agent's
bridge VLAN requests and the CLI's node plan."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from harvester_network.facts import MAX_VID
from harvester_network.vids import VidRange, format_ranges, vid_ranges


@pytest.mark.parametrize(
    ("vids", "ranges", "text"),
    [
        pytest.param([], [], "", id="empty"),
        pytest.param([5], [(5, 5)], "5", id="single VID"),
        pytest.param([5, 6], [(5, 6)], "5-6", id="two adjacent"),
        pytest.param([5, 6, 7], [(5, 7)], "5-7", id="three adjacent"),
        pytest.param([2, 4, 6], [(2, 2), (4, 4), (6, 6)], "2,4,6", id="gaps of one"),
        pytest.param([2, 3, 4, 10], [(2, 4), (10, 10)], "2-4,10", id="a range then a gap"),
        pytest.param([10, 2, 3], [(2, 3), (10, 10)], "2-3,10", id="unsorted"),
        pytest.param([9, 5, 7, 6, 5], [(5, 7), (9, 9)], "5-7,9", id="unsorted with a repeat"),
        pytest.param([1], [(1, 1)], "1", id="VID 1"),
        pytest.param([MAX_VID], [(4094, 4094)], "4094", id="VID 4094"),
        pytest.param([1, MAX_VID], [(1, 1), (4094, 4094)], "1,4094", id="1 and 4094"),
        pytest.param([1, 2, MAX_VID - 1, MAX_VID], [(1, 2), (4093, 4094)], "1-2,4093-4094", id="both ends"),
        pytest.param(range(1, MAX_VID + 1), [(1, 4094)], "1-4094", id="every VID"),
        pytest.param(iter([3, 4]), [(3, 4)], "3-4", id="an iterator"),
    ],
)
def test_vid_ranges(vids: Iterable[int], ranges: list[VidRange], text: str) -> None:
    assert vid_ranges(vids) == ranges
    assert format_ranges(ranges) == text
