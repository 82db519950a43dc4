"""What every answer reader shares: numbers, think blocks, yes/no words, windows and clipping.

The readers (:mod:`.tags`, :mod:`.json_reader`, :mod:`.prose`, :mod:`.recipes`) turn text
into raw ``(start, end)`` pairs as written; :func:`finish` turns those into the intervals a
task scores (reversed ends swapped, clipped to the shown window, optionally merged). The
rules are documented for readers in ``docs/parsing.md``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

Pair = tuple[int, int]

HUGE = 10**18
"""Numbers beyond +-HUGE (or with more than 18 digits) are clamped to +-HUGE ('huge-number')."""

# --------------------------------------------------------------------------- numbers

# A number: optional sign (only where it cannot be a range dash), digits with optional
# thousands separators "150,800", optional decimals and exponent.
_GROUPED = r"\d{1,3}(?:,\d{3}){1,6}(?!\d)"
_GROUPED_LAZY = r"\d{1,3}(?:,\d{3}){1,6}?(?!\d)"
_TAIL = r"(?:\.\d+)?(?:[eE][+-]?\d+(?![\w]))?"
_SIGN = r"(?:(?<![\w.])-(?=\d))?(?<![\d.])"
NUM = rf"{_SIGN}(?:{_GROUPED}|\d+){_TAIL}"
NUM_LAZY = rf"{_SIGN}(?:{_GROUPED_LAZY}|\d+){_TAIL}"  # inside pairs: "(150,800, 151,200)"

NUM_RE = re.compile(NUM)
_PLAIN_INT_RE = re.compile(r"-?\d+")
_PAIR_SEP = r"(?:,|;|-|–|—|\bto\b|\band\b|\.\.|:)"
FRAG_PAIR_RE = re.compile(rf"(?:[(\[]\s*)?({NUM_LAZY})\s*{_PAIR_SEP}\s*({NUM_LAZY})(?:\s*[)\]])?", re.I)
STRICT_PAIR_RE = re.compile(rf"\s*[(\[]?\s*({NUM_LAZY})\s*{_PAIR_SEP}\s*({NUM_LAZY})\s*[)\]]?\s*", re.I)
STRICT_NUM_RE = re.compile(rf"\s*({NUM})\s*")


class Acc:
    """Collects issues in order of first occurrence."""

    __slots__ = ("issues",)

    def __init__(self) -> None:
        self.issues: dict[str, None] = {}

    def note(self, issue: str) -> None:
        self.issues[issue] = None


def to_int(token: str, acc: Acc) -> int | None:
    """Convert a number token to an int: rounds floats (half up), clamps huge values."""
    t = token.replace(",", "")
    if _PLAIN_INT_RE.fullmatch(t):
        if len(t.lstrip("-")) > 18:
            acc.note("huge-number")
            return -HUGE if t.startswith("-") else HUGE
        return int(t)
    try:
        x = float(t)
    except ValueError:
        acc.note("bad-number")
        return None
    return float_to_int(x, acc)


def float_to_int(x: float, acc: Acc) -> int | None:
    if math.isnan(x):
        acc.note("bad-number")
        return None
    acc.note("rounded")
    if math.isinf(x) or abs(x) >= HUGE:
        acc.note("huge-number")
        return -HUGE if x < 0 else HUGE
    return math.floor(x + 0.5)


def pair_of(a: str, b: str, acc: Acc) -> Pair | None:
    x, y = to_int(a, acc), to_int(b, acc)
    if x is None or y is None:
        return None
    return (x, y)


# --------------------------------------------------------------------------- think blocks

_THINK_TOKEN_RE = re.compile(r"<\s*(/?)\s*think(?:ing)?\s*>", re.I)


def split_think(text: str, acc: Acc) -> tuple[list[str], str]:
    """Split ``text`` into think-block contents and the rest (the answer body); linear time."""
    thinks: list[str] = []
    body: list[str] = []
    pos = 0
    open_at: int | None = None
    for m in _THINK_TOKEN_RE.finditer(text):
        closing = m.group(1) == "/"
        if not closing:
            if open_at is None:
                body.append(text[pos : m.start()])
                open_at = m.end()
            # a nested opener inside a block stays part of that block
            continue
        if open_at is not None:
            thinks.append(text[open_at : m.start()])
            open_at = None
        elif not thinks and not body:
            # "... </think> answer": the opener was left out (chat templates often do this)
            thinks.append(text[pos : m.start()])
        else:
            body.append(text[pos : m.start()])
            acc.note("stray-think-tag")
        pos = m.end()
    if open_at is not None:
        # unclosed <think>: nothing marks where the thinking ends, so the rest is read as the answer
        acc.note("unclosed-think")
        body.append(text[open_at:])
    else:
        body.append(text[pos:])
    return thinks, "".join(body)


def join_rationale(thinks: Iterable[str], rest: str) -> str:
    parts = [t.strip() for t in thinks]
    parts.append(rest.strip())
    return "\n\n".join(p for p in parts if p)


# --------------------------------------------------------------------------- yes / no words

_WORD_RE = re.compile(r"[a-z0-9]+", re.I)
_TRUE_WORDS = frozenset({"true", "yes", "y", "1", "anomalous", "anomaly", "anomalies", "present", "detected"})
_FALSE_WORDS = frozenset({"false", "no", "n", "0", "normal", "none", "absent"})
EMPTY_FENCE_RE = re.compile(r"```[\w+.-]*\s*```")


def truth(content: str) -> bool | None:
    m = _WORD_RE.search(content)
    if m is None:
        return None
    w = m.group(0).lower()
    if w in _TRUE_WORDS:
        return True
    if w in _FALSE_WORDS:
        return False
    return None


# --------------------------------------------------------------------------- windows


def read_window(window: Any, acc: Acc) -> Pair | None:
    if window is None:
        return None
    try:
        a, b = int(window[0]), int(window[1])
    except Exception:  # a malformed window is recorded and ignored
        acc.note("bad-window")
        return None
    if a > b:
        acc.note("bad-window")
        a, b = b, a
    return (a, b)


def finish(raw: list[Pair], win: Pair | None, map_relative: bool, acc: Acc) -> tuple[Pair, ...]:
    """Swap reversed ends, map relative answers, clip to the window, sort and merge."""
    ivs: list[Pair] = []
    for a, b in raw:
        if a > b:
            acc.note("reversed")
            a, b = b, a
        ivs.append((a, b))
    lo, hi = win if win is not None else (0, None)
    if win is not None and map_relative and ivs:
        length = win[1] - win[0] + 1
        if win[0] >= length and all(a >= 0 and b < length for a, b in ivs):
            acc.note("relative-shifted")
            ivs = [(a + win[0], b + win[0]) for a, b in ivs]
    clipped: list[Pair] = []
    for a, b in ivs:
        a2 = max(a, lo)
        b2 = b if hi is None else min(b, hi)
        if a2 > b2:
            acc.note("out-of-window")
            continue
        if (a2, b2) != (a, b):
            acc.note("clipped")
        clipped.append((a2, b2))
    clipped.sort()
    merged: list[Pair] = []
    for a, b in clipped:
        if merged and a <= merged[-1][1] + 1:
            acc.note("merged")
            if b > merged[-1][1]:
                merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return tuple(merged)


