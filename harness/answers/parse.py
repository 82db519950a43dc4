"""The answer parser: a model's free text -> anomaly intervals in absolute, inclusive indices.

One entry point, :func:`parse_answer`, which never raises. It reads, by default in this
order of precedence (the first shape found is the answer; the others are ignored); an answer
format (:mod:`harness.answers.formats`, chosen by the task) may pick other readers or another order:

1. ``tags``: the paper's format, ``<anomaly>True|False</anomaly>`` and one
   ``<index>(start, end)</index>`` per interval, followed by a step-by-step rationale;
2. ``json``: a JSON value (fenced or bare) holding ``[[s, e], ...]``, ``{"start": s, "end": e}``
   objects or ``{"anomalies": [...]}``-like wrappers;
3. ``prose``: pairs and index phrases in free text ("from index 120 to 180", "(120, 180)",
   "at index 250") or an explicit normal answer ("no anomalies").

``<think>...</think>`` blocks are never read for the answer; they are kept in the rationale.
Rules and the vocabulary of ``issues`` are documented in ``docs/parsing.md``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "JUDGE_KEYS",
    "Judgement",
    "parse_judge_reply",
    "ParsedAnswer",
    "normalize_intervals",
    "ANOMALY_TAG",
    "INDEX_TAG",
    "READERS",
    "axis_range_in_text",
    "check_readers",
    "format_answer",
    "format_json_answer",
    "intervals_in_text",
    "parse_answer",
    "tagged",
]

Pair = tuple[int, int]

ANOMALY_TAG = "anomaly"
"""The paper's tag for the yes/no answer: ``<anomaly>True</anomaly>``."""
INDEX_TAG = "index"
"""The paper's tag for one interval: ``<index>(start, end)</index>``."""
READERS = ("tags", "json", "prose")
"""The shapes :func:`parse_answer` can read, in its default order of precedence."""

HUGE = 10**18
"""Numbers beyond +-HUGE (or with more than 18 digits) are clamped to +-HUGE ('huge-number')."""

_MAX_JSON_ATTEMPTS = 64
_MAX_JSON_ITEMS = 10_000
_MAX_JSON_DEPTH = 32


@dataclass(frozen=True)
class ParsedAnswer:
    """The parsed answer of one model output.

    ``intervals`` are sorted, merged (overlapping or touching) and inside the window;
    ``anomaly`` is what the answer declared (explicitly, or implicitly by giving intervals);
    ``failed`` marks an unparsable answer (then ``intervals`` is empty); ``issues`` records
    every repair or oddity; ``format`` is ``'tags'``, ``'json'``, ``'prose'`` or ``'none'``.
    """

    intervals: tuple[Pair, ...] = ()
    anomaly: bool | None = None
    rationale: str = ""
    failed: bool = False
    issues: tuple[str, ...] = ()
    format: str = "none"


# --------------------------------------------------------------------------- numbers

# A number: optional sign (only where it cannot be a range dash), digits with optional
# thousands separators "150,800", optional decimals and exponent.
_GROUPED = r"\d{1,3}(?:,\d{3}){1,6}(?!\d)"
_GROUPED_LAZY = r"\d{1,3}(?:,\d{3}){1,6}?(?!\d)"
_TAIL = r"(?:\.\d+)?(?:[eE][+-]?\d+(?![\w]))?"
_SIGN = r"(?:(?<![\w.])-(?=\d))?(?<![\d.])"
NUM = rf"{_SIGN}(?:{_GROUPED}|\d+){_TAIL}"
NUM_LAZY = rf"{_SIGN}(?:{_GROUPED_LAZY}|\d+){_TAIL}"  # inside pairs: "(150,800, 151,200)"

_NUM_RE = re.compile(NUM)
_PLAIN_INT_RE = re.compile(r"-?\d+")
_PAIR_SEP = r"(?:,|;|-|–|—|\bto\b|\band\b|\.\.|:)"
_FRAG_PAIR_RE = re.compile(rf"(?:[(\[]\s*)?({NUM_LAZY})\s*{_PAIR_SEP}\s*({NUM_LAZY})(?:\s*[)\]])?", re.I)
_STRICT_PAIR_RE = re.compile(rf"\s*[(\[]?\s*({NUM_LAZY})\s*{_PAIR_SEP}\s*({NUM_LAZY})\s*[)\]]?\s*", re.I)
_STRICT_NUM_RE = re.compile(rf"\s*({NUM})\s*")


class _Acc:
    """Collects issues in order of first occurrence."""

    __slots__ = ("issues",)

    def __init__(self) -> None:
        self.issues: dict[str, None] = {}

    def note(self, issue: str) -> None:
        self.issues[issue] = None


def _to_int(token: str, acc: _Acc) -> int | None:
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
    return _float_to_int(x, acc)


def _float_to_int(x: float, acc: _Acc) -> int | None:
    if math.isnan(x):
        acc.note("bad-number")
        return None
    acc.note("rounded")
    if math.isinf(x) or abs(x) >= HUGE:
        acc.note("huge-number")
        return -HUGE if x < 0 else HUGE
    return math.floor(x + 0.5)


def _pair(a: str, b: str, acc: _Acc) -> Pair | None:
    x, y = _to_int(a, acc), _to_int(b, acc)
    if x is None or y is None:
        return None
    return (x, y)


# --------------------------------------------------------------------------- think blocks

_THINK_TOKEN_RE = re.compile(r"<\s*(/?)\s*think(?:ing)?\s*>", re.I)


def _split_think(text: str, acc: _Acc) -> tuple[list[str], str]:
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


def _join_rationale(thinks: Iterable[str], rest: str) -> str:
    parts = [t.strip() for t in thinks]
    parts.append(rest.strip())
    return "\n\n".join(p for p in parts if p)


# --------------------------------------------------------------------------- tags

_ANOM_TAG_RE = re.compile(rf"<\s*{ANOMALY_TAG}\s*>(?:([^<]{{0,200}}?)<\s*/\s*{ANOMALY_TAG}\s*>|([^<\n]*))", re.I)
_INDEX_TAG_RE = re.compile(rf"<\s*{INDEX_TAG}\s*>(?:([^<]{{0,400}}?)<\s*/\s*{INDEX_TAG}\s*>|([^<\n]*))", re.I)
_ANY_ANSWER_TAG_RE = re.compile(rf"<\s*/?\s*(?:{ANOMALY_TAG}|{INDEX_TAG})\s*/?\s*>", re.I)
_WORD_RE = re.compile(r"[a-z0-9]+", re.I)
_TRUE_WORDS = frozenset({"true", "yes", "y", "1", "anomalous", "anomaly", "anomalies", "present", "detected"})
_FALSE_WORDS = frozenset({"false", "no", "n", "0", "normal", "none", "absent"})
_EMPTY_INDEX_RE = re.compile(r"^\W*(?:none|null|nil|n/?a|no|nothing|empty)?\W*$", re.I)


def _truth(content: str) -> bool | None:
    m = _WORD_RE.search(content)
    if m is None:
        return None
    w = m.group(0).lower()
    if w in _TRUE_WORDS:
        return True
    if w in _FALSE_WORDS:
        return False
    return None


def _fragment_intervals(s: str, acc: _Acc) -> list[Pair] | None:
    """Intervals in a short fragment (an index tag's content); ``None`` when it has no number."""
    if _EMPTY_INDEX_RE.match(s):
        return []
    out: list[Pair] = []
    found = False
    for m in _FRAG_PAIR_RE.finditer(s):
        found = True
        p = _pair(m.group(1), m.group(2), acc)
        if p is not None:
            out.append(p)
    if found:
        return out
    nums = [v for v in (_to_int(t, acc) for t in _NUM_RE.findall(s)) if v is not None]
    if not nums:
        return None
    if len(nums) == 1:
        return [(nums[0], nums[0])]
    out = [(nums[i], nums[i + 1]) for i in range(0, len(nums) - 1, 2)]
    if len(nums) % 2:
        out.append((nums[-1], nums[-1]))
    return out


def _has_tags(body: str) -> bool:
    return _ANOM_TAG_RE.search(body) is not None or _INDEX_TAG_RE.search(body) is not None


def _tag_content(m: re.Match[str], acc: _Acc, text: str) -> str:
    if m.group(1) is not None:
        return m.group(1)
    if not m.group(2).strip() and text.startswith("<", m.end()):
        acc.note("nested-tags")
    else:
        acc.note("unclosed-tag")
    return m.group(2)


def _parse_tags(body: str, acc: _Acc) -> tuple[list[Pair], bool | None, str, bool]:
    """Read the paper's tags: (raw intervals, declared anomaly, rationale text, index unreadable)."""
    declared: bool | None = None
    seen: set[bool] = set()
    bad_anomaly = False
    for m in _ANOM_TAG_RE.finditer(body):
        content = _tag_content(m, acc, body)
        if not content.strip():
            continue
        v = _truth(content)
        if v is None:
            bad_anomaly = True
            continue
        seen.add(v)
        if declared is None:
            declared = v
    if len(seen) > 1:
        acc.note("conflicting-anomaly-tags")
    if declared is None:
        acc.note("bad-anomaly-tag" if bad_anomaly else "no-anomaly-tag")

    raw: list[Pair] = []
    n_tags = n_bad = 0
    for m in _INDEX_TAG_RE.finditer(body):
        content = _tag_content(m, acc, body)
        if not content.strip() and m.group(1) is None:
            continue  # an empty unclosed/nested opener
        n_tags += 1
        got = _fragment_intervals(content, acc)
        if got is None:
            n_bad += 1
            acc.note("bad-index-tag")
        else:
            raw.extend(got)
    rest = _ANY_ANSWER_TAG_RE.sub("", _INDEX_TAG_RE.sub("", _ANOM_TAG_RE.sub("", body)))
    if "```" in rest:
        rest = _EMPTY_FENCE_RE.sub("", rest)
    return raw, declared, rest, n_tags > 0 and n_bad == n_tags


# --------------------------------------------------------------------------- JSON

_FENCE_RE = re.compile(r"```[ \t]*[\w+.-]*[ \t]*\r?\n?(.*?)```", re.S)
_JSON_START_RE = re.compile(r"[\[{]")
_DECODER = json.JSONDecoder()
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


def _json_int(x: Any, acc: _Acc) -> int | None:
    if isinstance(x, bool):
        return None
    if isinstance(x, int):
        if abs(x) > HUGE:
            acc.note("huge-number")
            return HUGE if x > 0 else -HUGE
        return x
    if isinstance(x, float):
        return _float_to_int(x, acc)
    if isinstance(x, str):
        m = _STRICT_NUM_RE.fullmatch(x)
        if m:
            return _to_int(m.group(1), acc)
    return None


def _is_point(x: Any) -> bool:
    return _is_num(x) or (isinstance(x, str) and _STRICT_NUM_RE.fullmatch(x) is not None)


def _json_truth(x: Any) -> bool | None:
    if isinstance(x, bool):
        return x
    if isinstance(x, str) and len(x) < 40:
        return _truth(x)
    return None


def _walk(v: Any, st: _JsonState, acc: _Acc, depth: int) -> None:
    """Collect intervals and an anomaly declaration from a decoded JSON value."""
    st.items += 1
    if depth > _MAX_JSON_DEPTH or st.items > _MAX_JSON_ITEMS:
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
            elif "anomal" in key and _json_truth(x) is not None:
                if st.declared is None:
                    st.declared = _json_truth(x)
            elif (key in _POINT_KEYS or key.endswith(("index", "idx"))) and _is_point(x):
                p = _json_int(x, acc)
                if p is not None:
                    st.out.append((p, p))
            else:
                if isinstance(x, list) and not x and any(w in key for w in _LIST_KEY_WORDS):
                    st.empty_list = True
                _walk(x, st, acc, depth + 1)
        a = _json_int(start, acc) if start is not None else None
        b = _json_int(end, acc) if end is not None else None
        a, b = (a if a is not None else b), (b if b is not None else a)
        if a is not None and b is not None:
            st.out.append((a, b))
    elif isinstance(v, list):
        if v and all(_is_num(x) for x in v):
            nums = [n for n in (_json_int(x, acc) for x in v) if n is not None]
            if len(v) == 2 and len(nums) == 2:
                st.out.append((nums[0], nums[1]))
            else:
                st.out.extend((n, n) for n in nums)
            return
        for x in v:
            if _is_num(x):
                n = _json_int(x, acc)
                if n is not None:
                    st.out.append((n, n))
            else:
                _walk(x, st, acc, depth + 1)
    elif isinstance(v, str) and len(v) < 100:
        m = _STRICT_PAIR_RE.fullmatch(v)
        if m:
            p = _pair(m.group(1), m.group(2), acc)
            if p is not None:
                st.out.append(p)
        else:
            n = _json_int(v, acc)
            if n is not None:
                st.out.append((n, n))


def _json_candidate(v: Any, bare: bool, acc: _Acc) -> _JsonState | None:
    """Interpret a decoded value; ``bare`` allows flat/empty lists (whole answer, fence, label)."""
    if isinstance(v, list) and not bare and (not v or all(_is_num(x) for x in v)):
        return None
    if not isinstance(v, (list, dict)):
        return None
    sub = _Acc()
    st = _JsonState()
    _walk(v, st, sub, 0)
    if isinstance(v, list) and not v:
        st.empty_list = True
    if not st.out and st.declared is None and not st.empty_list:
        return None
    for issue in sub.issues:
        acc.note(issue)
    return st


def _parse_json(body: str, acc: _Acc) -> tuple[list[Pair], bool | None, str] | None:
    """First JSON value that reads as an answer: (raw intervals, declared anomaly, rest)."""
    for m in _FENCE_RE.finditer(body):
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
        if attempts > _MAX_JSON_ATTEMPTS:
            break
        try:
            v, end = _DECODER.raw_decode(body, m.start())
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
    if st.out:
        return True
    return False if st.empty_list else None


# --------------------------------------------------------------------------- prose

_IDX = r"(?:indices|indexes|index|idx|positions?|points?|timestamps?|time[\s-]?steps?|samples?|[tx]\s*=)"
_APPROX = r"(?:(?:approximately|approx\.?|about|around|roughly|near|circa|~|≈)\s*)?"
_RSEP = r"\s*(?:-|–|—|\bto\b|\bthrough\b|\bthru\b|\buntil\b|\btill\b|\.\.\.?|~)\s*"
_PROSE_RE = re.compile(
    "|".join(
        [
            # "start: 120, end: 180", "starting at index 120 and ending at 180"
            rf"\bstart\w*[^\d\n]{{0,25}}?(?P<s1>{NUM})[^\d]{{0,40}}?\bend\w*[^\d\n]{{0,25}}?(?P<s2>{NUM})",
            rf"\bbetween\s+(?:the\s+)?(?:{_IDX}\s*)?{_APPROX}(?P<b1>{NUM})\s*(?:\band\b|-|–|—|\bto\b|,)\s*"
            rf"(?:{_IDX}\s*)?{_APPROX}(?P<b2>{NUM})",
            rf"\bfrom\s+(?:the\s+)?(?:{_IDX}\s*)?{_APPROX}(?P<f1>{NUM}){_RSEP}(?:{_IDX}\s*)?{_APPROX}(?P<f2>{NUM})",
            rf"[(\[]\s*(?P<p1>{NUM_LAZY})\s*(?:,|;|-|–|—|\bto\b|\.\.|:)\s*(?P<p2>{NUM_LAZY})\s*[)\]]",
            rf"\b{_IDX}\s*(?:of\s+|from\s+)?{_APPROX}(?P<r1>{NUM}){_RSEP}(?:{_IDX}\s*)?{_APPROX}(?P<r2>{NUM})",
            rf"\b{_IDX}\s*(?:of\s+|=\s*|:\s*)?{_APPROX}(?P<pt>{NUM}(?:\s*(?:,\s*and|,|\band\b|&)\s*{NUM})*)",
        ]
    ),
    re.I,
)
_PAIR_GROUPS = (("s1", "s2"), ("b1", "b2"), ("f1", "f2"), ("p1", "p2"), ("r1", "r2"))
_IDX_RE = re.compile(rf"\b{_IDX}", re.I)
_VALUEISH_RE = re.compile(
    r"\b(?:values?|amplitudes?|magnitudes?|levels?|readings?|axis|jump\w*|rises?|rose|risen|drops?|"
    r"dropped|falls?|fell|increas\w*|decreas\w*|climb\w*|declin\w*|grows?|grew)\b|%|\bpercent",
    re.I,
)
_VALUEISH_FAST_RE = re.compile(
    r"value|amplitude|magnitude|level|reading|axis|jump|rise|rose|risen|drop|fall|fell|increas|decreas"
    r"|climb|declin|grow|grew|%|percent"
)
"""A literal pre-scan (lower-cased text) so the word-boundary regex runs only on likely clauses."""
_AXISDESC_RE = re.compile(
    r"\baxis\b.*\b(?:rang\w*|spans?|spanning|extends?|goes|covers?|represents?|shows?|labell?ed|ticks?)\b",
    re.I | re.S,
)
_INDEXDESC_RE = re.compile(
    r"\b(?:index|indices|indexes|x[\s-]?values?|time\s*steps?)\s+(?:rang\w*|spans?|spanning|goes|go|runs?|"
    r"extends?)\s*$",
    re.I,
)
"""'The index ranges from 0 to 999' (right before the numbers, no anomaly word): the plot's extent."""
_EMPTY_FENCE_RE = re.compile(r"```[\w+.-]*\s*```")
_STEP_RE = re.compile(r"\bstep\s*\d+\s*[:.)]", re.I)

_NEG_RE = re.compile(
    r"\bno\s+(?:\w+\s+){0,2}?anomal\w*"
    r"|\b(?:does|do|did|is|are|was|were)\s*(?:not|n't)\s+(?:\w+\s+){0,3}?anomal\w*"
    r"|\bnot\s+anomalous\b"
    r"|\bwithout\s+(?:any\s+)?anomal\w*"
    r"|\b(?:appears?|seems?|looks?)\s+(?:to\s+be\s+)?(?:entirely\s+|completely\s+|perfectly\s+)?normal\b",
    re.I,
)
_KV_RE = re.compile(
    r"\banomal\w*(?:\s+(?:detected|present|found))?\**\s*[:=]\s*\**\s*(true|false|yes|no|none)\b", re.I
)
_WHOLE_RE = re.compile(r"\s*\**\s*(yes|true|no|none|false|normal)\s*\**\s*(?:[.,!:;]|$)", re.I)


_TRIGGER_IDX_RE = re.compile(r"ind|idx|posit|point|time|sampl|t=|x=|t =|x =")
_TRIGGER_RE = re.compile(r"ind|idx|posit|point|time|sampl|start|between|from|\(|\[|t=|x=|t =|x =")
"""Where a prose phrase can start (on lower-cased text): a cheap literal scan before the full regex."""


def _clause(text: str, pos: int) -> str:
    """The text from the last sentence/step boundary (at most 160 characters back) to ``pos``."""
    seg = text[max(0, pos - 160) : pos]
    cut = max(seg.rfind(". "), seg.rfind("\n"), seg.rfind("; "), seg.rfind("! "), seg.rfind("? "))
    cut = cut + 1 if cut >= 0 else 0
    if "tep" in seg:
        for m in _STEP_RE.finditer(seg, cut):
            cut = m.end()
    return seg[cut:]


def _prose_matches(text: str) -> Iterable[re.Match[str]]:
    """Leftmost non-overlapping prose matches, trying the full regex only at trigger positions."""
    low = text.lower()
    if len(low) != len(text):  # a few non-ASCII characters change length when lower-cased
        yield from _PROSE_RE.finditer(text)
        return
    end = 0
    for t in _TRIGGER_RE.finditer(low):
        if t.start() < end:
            continue
        m = _PROSE_RE.match(text, t.start())
        if m is not None:
            end = m.end()
            yield m


def _prose_intervals(text: str, acc: _Acc) -> list[Pair]:
    """Interval and point mentions in free text, in order; axis/value ranges are skipped."""
    out: list[Pair] = []
    for m in _prose_matches(text):
        g = m.groupdict()
        clause = _clause(text, m.start())
        low_clause = clause.lower()
        if ("axis" in low_clause and _AXISDESC_RE.search(clause)) or (
            "anomal" not in low_clause and _INDEXDESC_RE.search(low_clause[-48:])
        ):
            continue
        if g["pt"] is not None:
            for tok in _NUM_RE.findall(g["pt"]):
                v = _to_int(tok, acc)
                if v is not None:
                    out.append((v, v))
            continue
        a, b = next(((x, y) for x, y in _PAIR_GROUPS if g[x] is not None), ("r1", "r2"))
        idx = a == "r1"
        if not idx:
            near_low = text[max(0, m.start() - 12) : m.end()].lower()
            idx = _TRIGGER_IDX_RE.search(near_low) is not None and _IDX_RE.search(near_low) is not None
        if not idx:
            near = clause + m.group(0)
            if _VALUEISH_FAST_RE.search(near.lower()) and _VALUEISH_RE.search(near):
                continue
        p = _pair(g[a], g[b], acc)
        if p is not None:
            out.append(p)
    return out


def _prose_declared(text: str) -> bool | None:
    """An explicit declaration: 'anomaly: yes/no' or an answer that opens with yes/no."""
    m = _KV_RE.search(text) if "nomal" in text.lower() else None
    if m:
        return _truth(m.group(1))
    w = _WHOLE_RE.match(text)
    return _truth(w.group(1)) if w else None


# --------------------------------------------------------------------------- windows


def _window(window: Any, acc: _Acc) -> Pair | None:
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


def _finish(raw: list[Pair], win: Pair | None, map_relative: bool, acc: _Acc) -> tuple[Pair, ...]:
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


# --------------------------------------------------------------------------- entry points


def check_readers(readers: Iterable[str]) -> tuple[str, ...]:
    """``readers`` as a tuple, or ``ValueError`` naming an unknown one (an empty list too)."""
    out = tuple(readers)
    unknown = [r for r in out if r not in READERS]
    if unknown or not out:
        raise ValueError(f"unknown answer reader(s) {unknown or '(none given)'}; known: {', '.join(READERS)}")
    return out


def parse_answer(
    text: str | None, window: tuple[int, int] | None = None, *, map_relative: bool = True,
    readers: Sequence[str] = READERS,
) -> ParsedAnswer:
    """Parse one model output; ``window`` is the shown index range ``(start, end)``, inclusive.

    Never raises (an unknown reader name is a ``ValueError`` before any parsing). ``readers``
    are the shapes tried, in order (``tags``, ``json``, ``prose``); an answer format
    (:mod:`harness.answers.formats`) chooses them. With ``map_relative`` (default), an answer whose
    numbers all lie in ``[0, length)`` while the window starts at or after ``length`` is
    shifted by the window start ('relative-shifted'); pass ``False`` to clip such answers
    away instead.
    """
    order = readers if readers is READERS else check_readers(readers)
    try:
        return _parse(text, window, map_relative, order)
    except Exception as exc:  # the contract is to never raise
        return ParsedAnswer(failed=True, issues=(f"internal-error: {type(exc).__name__}",))


def _parse(text: Any, window: Any, map_relative: bool, readers: Sequence[str]) -> ParsedAnswer:
    acc = _Acc()
    win = _window(window, acc)
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", errors="replace")
    elif text is not None and not isinstance(text, str):
        text = str(text)
    if text is None or not text.strip():
        acc.note("empty")
        return ParsedAnswer(failed=True, issues=tuple(acc.issues))

    thinks, body = _split_think(text, acc)
    declared: bool | None = None
    raw: list[Pair] = []
    rest, fmt = body, "none"
    index_unreadable = False
    negated = False
    for reader in readers:
        if reader == "tags":
            if _has_tags(body):
                fmt = "tags"
                raw, declared, rest, index_unreadable = _parse_tags(body, acc)
                break
            acc.note("no-tags")
        elif reader == "json":
            js = _parse_json(body, acc)
            if js is not None:
                fmt = "json"
                raw, declared, rest = js
                break
        else:  # prose: the last resort, whatever it finds
            raw = _prose_intervals(body, acc)
            declared = _prose_declared(body)
            negated = not raw and declared is None and _NEG_RE.search(body) is not None
            fmt = "prose" if raw or declared is not None or negated else "none"
            break
    rationale = _join_rationale(thinks, rest)

    anomaly = declared
    if anomaly is None:
        anomaly = True if raw else (False if negated else None)
    if declared is True and not raw:
        acc.note("contradiction: anomaly True but no index")
    if declared is False and raw:
        acc.note("contradiction: anomaly False but index given")
    failed = not raw and (anomaly is None or (anomaly is True and index_unreadable))
    intervals = () if failed else _finish(raw, win, map_relative, acc)
    return ParsedAnswer(intervals, anomaly, rationale, failed, tuple(acc.issues), fmt)


def intervals_in_text(text: str | None) -> list[Pair]:
    """Intervals mentioned in free text (a rationale), in order of appearance.

    Same prose rules as :func:`parse_answer` (axis descriptions and value ranges skipped,
    points as ``(i, i)``, reversed ends swapped, floats rounded); no window, no merging.
    """
    if not text:
        return []
    try:
        return [(a, b) if a <= b else (b, a) for a, b in _prose_intervals(str(text), _Acc())]
    except Exception:  # a helper for checks: never raise
        return []


_AXIS_RANGE_RE = re.compile(
    rf"(?:\bx[\s-]?axis\b|\bhorizontal\s+axis\b|\bindex\s+axis\b)(?:(?![.!?;]\s|\n).){{0,200}}?"
    rf"\b(?:from|between|spans?|spanning|covers?|covering)\s+"
    rf"(?:(?:index|indices|approximately|approx\.?|about|around|roughly|the|values?|of)\s+){{0,3}}"
    rf"({NUM})\s*(?:\bto\b|\band\b|-|–|—|\bthrough\b)\s*"
    rf"(?:(?:index|approximately|approx\.?|about|around|roughly)\s+)?({NUM})",
    re.I | re.S,
)


def axis_range_in_text(text: str | None) -> tuple[float, float] | None:
    """The x-axis range a rationale states ("the x-axis ... ranging from A to B"), as written."""
    if not text:
        return None
    try:
        m = _AXIS_RANGE_RE.search(str(text))
        if m is None:
            return None
        a, b = float(m.group(1).replace(",", "")), float(m.group(2).replace(",", ""))
        if not (math.isfinite(a) and math.isfinite(b)):
            return None
        return (a, b)
    except Exception:  # never raise
        return None


_SANITIZE_RE = re.compile(rf"<\s*/?\s*(?:{ANOMALY_TAG}|{INDEX_TAG}|think(?:ing)?)\s*/?\s*>", re.I)


def format_answer(intervals: Iterable[tuple[int, int]], rationale: str = "") -> str:
    """Write an answer in the paper's format (tags, then the rationale).

    Intervals are normalised like the parser's output (ends swapped, sorted, merged);
    answer/think tags inside ``rationale`` are removed so the text parses back unchanged.
    """
    pairs = [(int(a), int(b)) for a, b in intervals]
    ivs = _finish(pairs, None, False, _Acc())
    lines = [tagged(ANOMALY_TAG, str(bool(ivs)))]
    lines += [tagged(INDEX_TAG, f"({a}, {b})") for a, b in ivs]
    r = _sanitize(rationale)
    if r:
        lines.append(r)
    return "\n".join(lines)


def tagged(tag: str, content: str) -> str:
    """``<tag>content</tag>``: how the paper's format writes one answer tag."""
    return f"<{tag}>{content}</{tag}>"


def _sanitize(rationale: str | None) -> str:
    """The rationale without answer or think tags (removed until none is left)."""
    r = rationale or ""
    while True:  # removing one tag can join the text around it into another
        cleaned = _SANITIZE_RE.sub("", r)
        if cleaned == r:
            return r.strip()
        r = cleaned


def format_json_answer(intervals: Iterable[tuple[int, int]], rationale: str = "") -> str:
    """Write an answer as the rationale, then one JSON object ``{"anomaly": bool, "intervals": [[s, e], ...]}``.

    Intervals are normalised like :func:`format_answer`'s; the text parses back unchanged
    with ``readers=("json", ...)``.
    """
    ivs = _finish([(int(a), int(b)) for a, b in intervals], None, False, _Acc())
    answer = json.dumps({"anomaly": bool(ivs), "intervals": [[a, b] for a, b in ivs]})
    r = _sanitize(rationale).replace("{", "(").replace("}", ")").replace("[", "(").replace("]", ")")
    return f"{r}\n{answer}" if r else answer


def normalize_intervals(
    pairs: Iterable[tuple[int, int]], window: tuple[int, int] | None = None
) -> tuple[tuple[Pair, ...], tuple[str, ...]]:
    """Absolute pairs -> sorted, merged intervals inside ``window`` (inclusive), with the issues
    (``reversed``, ``clipped``, ``out-of-window``, ``merged``) :func:`parse_answer` would note."""
    acc = _Acc()
    win = _window(window, acc)
    out = _finish([(int(a), int(b)) for a, b in pairs], win, False, acc)
    return out, tuple(acc.issues)


# --- judge replies (harness/scoring/judge.py asks, this reads) ---------------------------------

JUDGE_KEYS = ("grounded", "axis", "clarity")
_JUDGE_ALIASES = {"grounded": "grounded", "groundedness": "grounded", "visual_groundedness": "grounded",
            "visual groundedness": "grounded", "axis": "axis", "axis_awareness": "axis",
            "axis awareness": "axis", "clarity": "clarity"}
_JUDGE_LINE_RE = re.compile(
    r"(visual[ _]groundedness|groundedness|grounded|axis[ _]awareness|axis|clarity)\W{0,4}?\s*[:=\-]?\s*"
    r"(-?\d+(?:\.\d+)?)\s*(?:/\s*(10|1)\b)?", re.I)


@dataclass
class Judgement:
    """One judge reply: the grades in [0, 1] (None when unparsable), the reply, the reason."""

    grades: dict[str, float] | None
    reply: str | None
    error: str | None = None

    def as_record(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"grades": self.grades, "reply": self.reply, "error": self.error}


def _judge_grade(value: Any, scale: float = 10.0) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    if x != x:  # NaN
        return None
    return min(max(x, 0.0), scale) / scale


def _judge_json(text: str) -> dict[str, float] | None:
    for m in re.finditer(r"\{[^{}]*\}", text, re.S):
        try:
            obj = json.loads(m.group(0))
        except ValueError:
            continue
        if not isinstance(obj, dict):
            continue
        out = {}
        for k, v in obj.items():
            key = _JUDGE_ALIASES.get(str(k).strip().lower())
            g = _judge_grade(v)
            if key and g is not None:
                out[key] = g
        if all(k in out for k in JUDGE_KEYS):
            return out
    return None


def parse_judge_reply(text: str | None) -> Judgement:
    """Grades from a judge reply (JSON object first, then ``name: value`` lines); never raises."""
    if text is None or not str(text).strip():
        return Judgement(None, text, "empty judge reply")
    text = str(text)
    found = _judge_json(text)
    if found is None:
        out: dict[str, float] = {}
        for m in _JUDGE_LINE_RE.finditer(text):
            key = _JUDGE_ALIASES.get(m.group(1).lower().replace("_", " "), _JUDGE_ALIASES.get(m.group(1).lower()))
            scale = float(m.group(3)) if m.group(3) else 10.0
            g = _judge_grade(m.group(2), scale)
            if key and g is not None and key not in out:
                out[key] = g
        found = out if all(k in out for k in JUDGE_KEYS) else None
    if found is None:
        return Judgement(None, text, f"unparsable judge reply: expected grades for {', '.join(JUDGE_KEYS)}")
    return Judgement({k: round(found[k], 6) for k in JUDGE_KEYS}, text)
