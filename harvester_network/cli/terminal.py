"""Text from a plan, a file name or an error, made safe to print through Rich on an operator's terminal.

A plan can hold escape sequences (ANSI colours, OSC-8 hyperlinks, a title change) and Rich markup (`[link=...]`,
`[/x]`, which also raises MarkupError): every command prints user-derived text through `safe_text`, never raw.
"""

from __future__ import annotations

import re

from rich.markup import escape

# C0 controls but newline and tab, DEL, C1 controls (\x9b is a one-byte CSI), and the bidirectional overrides that
# make text read differently than it is stored.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_text(value: object) -> str:
    """`value` as text for Rich markup: each control character shown as `\\xNN` (so an escape sequence prints
    as inert text), markup brackets escaped."""
    return escape(_UNPRINTABLE.sub(_visible, str(value)))
