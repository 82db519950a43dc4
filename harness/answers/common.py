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
# thousands separators ("150,800", "21 500" with a space, thin or no-break space, "21'500",
# "1.234.567"), optional decimals and exponent. A single dot group ("21.500") is read by
# :func:`to_int`, which decides between decimal and thousands with the window.
_SPACES = " \u00a0\u202f\u2009"
_GROUPED = (rf"\d{{1,3}}(?:,\d{{3}}){{1,6}}(?!\d)|\d{{1,3}}(?:['’]\d{{3}}){{1,6}}(?!\d)"
            rf"|\d{{1,3}}(?:[{_SPACES}]\d{{3}}){{1,6}}(?![\d'’]|[.,]\d)|\d{{1,3}}(?:\.\d{{3}}){{2,6}}(?![\d.])")
_GROUPED_LAZY = (rf"\d{{1,3}}(?:,\d{{3}}){{1,6}}?(?!\d)|\d{{1,3}}(?:['’]\d{{3}}){{1,6}}(?!\d)"
                 rf"|\d{{1,3}}(?:[{_SPACES}]\d{{3}}){{1,6}}(?![\d'’]|\.\d)|\d{{1,3}}(?:\.\d{{3}}){{2,6}}(?![\d.])")
_TAIL = r"(?:\.\d+)?(?:[eE][+-]?\d+(?![\w]))?"
_SIGN = r"(?:(?<![\w.])-(?=\d))?(?<![\d.'’])"
NUM = rf"{_SIGN}(?:{_GROUPED}|\d+{_TAIL})"
NUM_LAZY = rf"{_SIGN}(?:{_GROUPED_LAZY}|\d+{_TAIL})"  # inside pairs: "(150,800, 151,200)"

NUM_RE = re.compile(NUM)
_PLAIN_INT_RE = re.compile(r"-?\d+")
_ODD_SEP_RE = re.compile(rf"[{_SPACES}'’]")
_DOT_GROUPS_RE = re.compile(r"-?\d{1,3}(?:\.\d{3}){2,6}")
_DOT_ONE_GROUP_RE = re.compile(r"-?[1-9]\d{0,2}\.\d{3}")
_PAIR_SEP = r"(?:,|;|-|–|—|\bto\b|\band\b|\.\.|:)"
FRAG_PAIR_RE = re.compile(rf"(?:[(\[]\s*)?({NUM_LAZY})\s*{_PAIR_SEP}\s*({NUM_LAZY})(?:\s*[)\]])?", re.I)
STRICT_PAIR_RE = re.compile(rf"\s*[(\[]?\s*({NUM_LAZY})\s*{_PAIR_SEP}\s*({NUM_LAZY})\s*[)\]]?\s*", re.I)
STRICT_NUM_RE = re.compile(rf"\s*({NUM})\s*")


class Acc:
    """Collects issues in order of first occurrence; ``window`` (when known) settles separators."""

    __slots__ = ("issues", "window")

    def __init__(self, window: Pair | None = None) -> None:
        self.issues: dict[str, None] = {}
        self.window = window

    def note(self, issue: str) -> None:
        """Record ``issue`` (once)."""
        self.issues[issue] = None

    def inside(self, v: int) -> bool:
        """Whether ``v`` lies in the window (True when no window is known)."""
        return self.window is None or self.window[0] <= v <= self.window[1]


def _plain(t: str, acc: Acc) -> int:
    if len(t.lstrip("-")) > 18:
        acc.note("huge-number")
        return -HUGE if t.startswith("-") else HUGE
    return int(t)


def to_int(token: str, acc: Acc) -> int | None:
    """Convert a number token to an int: separators read, floats rounded (half up), huge values clamped.

    A space or apostrophe group ("21 500", "21'500") is one number; with a window, a value it
    gives outside the window is ``ambiguous-separator`` (dropped, never shifted). "21.500" is
    21500 when only that reading lies in the window, 21.5 when only that one does, and
    ``ambiguous-separator`` (dropped) otherwise.
    """
    if _ODD_SEP_RE.search(token):
        v = _plain(_ODD_SEP_RE.sub("", token).replace(",", ""), acc)
        acc.note("thousands-separator")
        if not acc.inside(v):
            acc.note("ambiguous-separator")
            return None
        return v
    if _DOT_GROUPS_RE.fullmatch(token):
        acc.note("thousands-separator")
        return _plain(token.replace(".", ""), acc)
    if _DOT_ONE_GROUP_RE.fullmatch(token):
        thousands = int(token.replace(".", ""))
        decimal = math.floor(float(token) + 0.5)
        if acc.window is not None and acc.inside(thousands) != acc.inside(decimal):
            if acc.inside(thousands):
                acc.note("thousands-separator")
                return thousands
            acc.note("rounded")
            return decimal
        acc.note("ambiguous-separator")
        return None
    t = token.replace(",", "")
    if _PLAIN_INT_RE.fullmatch(t):
        return _plain(t, acc)
    try:
        x = float(t)
    except ValueError:
        acc.note("bad-number")
        return None
    return float_to_int(x, acc)


def float_to_int(x: float, acc: Acc) -> int | None:
    """Round a float half up (``rounded``); NaN is ``bad-number`` (None), huge values are clamped."""
    if math.isnan(x):
        acc.note("bad-number")
        return None
    acc.note("rounded")
    if math.isinf(x) or abs(x) >= HUGE:
        acc.note("huge-number")
        return -HUGE if x < 0 else HUGE
    return math.floor(x + 0.5)


def pair_of(a: str, b: str, acc: Acc) -> Pair | None:
    """Two number tokens as a pair (None when either is unreadable)."""
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
    """``window`` as ``(start, end)``; malformed -> None, reversed -> swapped (both ``bad-window``)."""
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


def finish(raw: list[Pair], win: Pair | None, acc: Acc, *, map_relative: bool = False,
           merge: bool = False) -> tuple[Pair, ...]:
    """Swap reversed ends, map relative answers (only if asked), clip to the window, sort, merge if asked.

    Without ``merge`` every stated interval stays one interval (the paper's per-interval
    counting); overlapping or touching ones are noted ``overlapping``.
    """
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
    out: list[Pair] = []
    reach: int | None = None  # the furthest end so far
    for a, b in clipped:
        if reach is not None and a <= reach + 1:
            if merge:
                acc.note("merged")
                out[-1] = (out[-1][0], max(b, out[-1][1]))
            else:
                acc.note("overlapping")
                out.append((a, b))
        else:
            out.append((a, b))
        reach = b if reach is None else max(reach, b)
    return tuple(out)


def covers_window(iv: Pair, win: Pair | None) -> bool:
    """Whether ``iv`` covers at least :data:`WHOLE_WINDOW_SHARE` of the window (the plotted extent)."""
    if win is None:
        return False
    n = win[1] - win[0] + 1
    return n > 1 and (iv[1] - iv[0] + 1) >= WHOLE_WINDOW_SHARE * n


WHOLE_WINDOW_SHARE = 0.9
"""An interval covering this share of the window or more describes the plot, not an anomaly (docs/parsing.md)."""
