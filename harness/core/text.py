"""Untrusted text made safe to print on a terminal.

Names of folders, tasks, models and labels come from files a user (or an attacker) wrote; a
name holding ``ESC ] 0; ... BEL`` or ``ESC [2J`` would set the terminal title or clear the
screen if printed raw. :func:`printable` escapes every control character, so every place
that prints such text shows it visibly instead.
"""

from __future__ import annotations

import logging
import re
from typing import Any

# C0 controls, DEL, C1 controls, and the Unicode bidirectional overrides/isolates, which
# reorder what a terminal shows (U+202A..U+202E, U+2066..U+2069) and line/paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\e"}


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: Any, *, keep_newlines: bool = False) -> str:
    """``text`` (``str()`` of any value) with every control character written as an escape
    (``\\e``, ``\\n``, ``\\x07``, ``\\u202e``), so it prints as one visible line. With
    ``keep_newlines`` a message's own line breaks (and tabs) stay; everything else is escaped."""
    text = text if isinstance(text, str) else str(text)
    if keep_newlines:
        return "\n".join(_CONTROL.sub(lambda m: "\t" if m.group(0) == "\t" else _escape(m), line)
                         for line in text.split("\n"))
    return _CONTROL.sub(_escape, text)


class PrintableFormatter(logging.Formatter):
    """A log formatter whose lines are :func:`printable` (names in log messages are untrusted too)."""

    def format(self, record: logging.LogRecord) -> str:
        """The formatted record with control characters escaped (its own line breaks kept)."""
        return printable(super().format(record), keep_newlines=True)
