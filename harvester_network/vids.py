"""VLAN ID lists folded into ranges, and their text form ("5-7,9"): pure, stdlib only.

One home for the agent (a bridge VLAN request per range, agent/netlink_apply.py) and the CLI's node plan table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

VidRange = tuple[int, int]  # first, last (inclusive)


def vid_ranges(vids: Iterable[int]) -> list[VidRange]:
    """Sorted, de-duplicated VIDs folded into inclusive ranges: {5, 6, 7, 9} -> [(5, 7), (9, 9)]."""
    ranges: list[VidRange] = []
    for vid in sorted(set(vids)):
        if ranges and ranges[-1][1] == vid - 1:
            ranges[-1] = (ranges[-1][0], vid)
        else:
            ranges.append((vid, vid))
    return ranges


def format_ranges(ranges: Sequence[VidRange]) -> str:
    """[(5, 7), (9, 9)] -> "5-7,9"; no ranges -> ""."""
    return ",".join(str(first) if first == last else f"{first}-{last}" for first, last in ranges)
