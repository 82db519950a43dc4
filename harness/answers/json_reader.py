"""The JSON reader: the first JSON value in an answer that reads as intervals or a yes/no declaration.

Also the ``json`` answer format's writer (:func:`format_json_answer`) and the JSON helpers the
recipe readers (:mod:`.recipes`) share.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from harness.answers.common import (
    HUGE,
    STRICT_NUM_RE,
    STRICT_PAIR_RE,
    Acc,
    Pair,
    finish,
    float_to_int,
    pair_of,
    to_int,
    truth,
)
from harness.answers.tags import sanitize

MAX_JSON_ATTEMPTS = 64
MAX_JSON_ITEMS = 10_000
_MAX_JSON_DEPTH = 32
# --------------------------------------------------------------------------- JSON

FENCE_RE = re.compile(r"```[ \t]*[\w+.-]*[ \t]*\r?\n?(.*?)```", re.S)
_JSON_START_RE = re.compile(r"[\[{]")
DECODER = json.JSONDecoder()
_POINT_KEYS = frozenset({"index", "idx", "point", "position", "timestamp", "location", "at", "time"})
_LIST_KEY_WORDS = ("anomal", "interval", "range", "region", "segment", "ind", "window", "span", "event")
_KEY_CLEAN_RE = re.compile(r"[^a-z]")
_LINE_LABEL_RE = re.compile(r"(?:^|\n)[^\n]{0,60}[:=]\s*$")


class _JsonState:
    __slots__ = ("declared", "empty_list", "items", "out")

    def __init__(self) -> None:
        self.out: list[Pair] = []
        self.declared: bool | None = None
        self.empty_list = False
        self.items = 0


def _is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def json_int(x: Any, acc: Acc) -> int | None:
    if isinstance(x, bool):
        return None
    if isinstance(x, int):
        if abs(x) > HUGE:
            acc.note("huge-number")
            return HUGE if x > 0 else -HUGE
        return x
    if isinstance(x, float):
        return float_to_int(x, acc)
    if isinstance(x, str):
        m = STRICT_NUM_RE.fullmatch(x)
        if m:
            return to_int(m.group(1), acc)
    return None


def _is_point(x: Any) -> bool:
    return _is_num(x) or (isinstance(x, str) and STRICT_NUM_RE.fullmatch(x) is not None)


def json_truth(x: Any) -> bool | None:
    if isinstance(x, bool):
        return x
    if isinstance(x, str) and len(x) < 40:
        return truth(x)
    return None


def _walk(v: Any, st: _JsonState, acc: Acc, depth: int) -> None:
    """Collect intervals and an anomaly declaration from a decoded JSON value."""
    st.items += 1
    if depth > _MAX_JSON_DEPTH or st.items > MAX_JSON_ITEMS:
        return
    if isinstance(v, dict):
        start: Any = None
        end: Any = None
        for k, x in v.items():
            key = _KEY_CLEAN_RE.sub("", str(k).lower())
            if key.startswith(("start", "begin", "onset")) or key == "from":
                start = x
            elif key.startswith(("end", "stop", "finish")) or key == "to":
                end = x
            elif "anomal" in key and json_truth(x) is not None:
                if st.declared is None:
                    st.declared = json_truth(x)
            elif (key in _POINT_KEYS or key.endswith(("index", "idx"))) and _is_point(x):
                p = json_int(x, acc)
                if p is not None:
                    st.out.append((p, p))
            else:
                if isinstance(x, list) and not x and any(w in key for w in _LIST_KEY_WORDS):
                    st.empty_list = True
                _walk(x, st, acc, depth + 1)
        a = json_int(start, acc) if start is not None else None
        b = json_int(end, acc) if end is not None else None
        a, b = (a if a is not None else b), (b if b is not None else a)
        if a is not None and b is not None:
            st.out.append((a, b))
    elif isinstance(v, list):
        if v and all(_is_num(x) for x in v) or len(v) == 2 and all(_is_point(x) for x in v):
            nums = [n for n in (json_int(x, acc) for x in v) if n is not None]
            if len(v) == 2 and len(nums) == 2:
                st.out.append((nums[0], nums[1]))
            else:
                st.out.extend((n, n) for n in nums)
            return
        for x in v:
            if _is_num(x):
                n = json_int(x, acc)
                if n is not None:
                    st.out.append((n, n))
            else:
                _walk(x, st, acc, depth + 1)
    elif isinstance(v, str) and len(v) < 100:
        m = STRICT_PAIR_RE.fullmatch(v)
        if m:
            p = pair_of(m.group(1), m.group(2), acc)
            if p is not None:
                st.out.append(p)
        else:
            n = json_int(v, acc)
            if n is not None:
                st.out.append((n, n))


def _json_candidate(v: Any, bare: bool, acc: Acc) -> _JsonState | None:
    """Interpret a decoded value; ``bare`` allows flat/empty lists (whole answer, fence, label)."""
    if isinstance(v, list) and not bare and (not v or all(_is_num(x) for x in v)):
        return None
    if not isinstance(v, (list, dict)):
        return None
    sub = Acc()
    st = _JsonState()
    _walk(v, st, sub, 0)
    if isinstance(v, list) and not v:
        st.empty_list = True
    if not st.out and st.declared is None and not st.empty_list:
        return None
    for issue in sub.issues:
        acc.note(issue)
    return st


def read_json(body: str, acc: Acc) -> tuple[list[Pair], bool | None, str] | None:
    """First JSON value that reads as an answer: (raw intervals, declared anomaly, rest)."""
    for m in FENCE_RE.finditer(body):
        try:
            v = json.loads(m.group(1))
        except Exception:  # any undecodable fence is simply not JSON
            continue
        st = _json_candidate(v, True, acc)
        if st is not None:
            return st.out, _json_declared(st), body[: m.start()] + body[m.end() :]
    next_ok = 0
    attempts = 0
    for m in _JSON_START_RE.finditer(body):
        if m.start() < next_ok:
            continue
        attempts += 1
        if attempts > MAX_JSON_ATTEMPTS:
            break
        try:
            v, end = DECODER.raw_decode(body, m.start())
        except Exception:  # JSONDecodeError, RecursionError, int-digit limit
            continue
        next_ok = end
        before = body[: m.start()]
        bare = (not before.strip() and body[end:].strip() in ("", ".")) or bool(
            _LINE_LABEL_RE.search(before[-80:])
        )
        st = _json_candidate(v, bare, acc)
        if st is not None:
            return st.out, _json_declared(st), before + body[end:]
    return None


def _json_declared(st: _JsonState) -> bool | None:
    if st.declared is not None:
        return st.declared
    return False if st.empty_list and not st.out else None


def format_json_answer(intervals: Iterable[tuple[int, int]], rationale: str = "") -> str:
    """Write an answer as the rationale, then one JSON object ``{"anomaly": bool, "intervals": [[s, e], ...]}``.

    Intervals are normalised like :func:`format_answer`'s; the text parses back unchanged
    with ``readers=("json", ...)``.
    """
    ivs = finish([(int(a), int(b)) for a, b in intervals], None, Acc(), merge=True)
    answer = json.dumps({"anomaly": bool(ivs), "intervals": [[a, b] for a, b in ivs]})
    r = sanitize(rationale).replace("{", "(").replace("}", ")").replace("[", "(").replace("]", ")")
    return f"{r}\n{answer}" if r else answer


