"""The tags reader: the paper's ``<anomaly>True|False</anomaly>`` and ``<index>(start, end)</index>`` answers.

Also the paper-format writer (:func:`format_answer`), so the tag names live in one place.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from harness.answers.common import (
    EMPTY_FENCE_RE,
    FRAG_PAIR_RE,
    NUM_RE,
    Acc,
    Pair,
    finish,
    pair_of,
    to_int,
    truth,
)

ANOMALY_TAG = "anomaly"
"""The paper's tag for the yes/no answer: ``<anomaly>True</anomaly>``."""
INDEX_TAG = "index"
"""The paper's tag for one interval: ``<index>(start, end)</index>``."""

_ANOM_TAG_RE = re.compile(rf"<\s*{ANOMALY_TAG}\s*>(?:([^<]{{0,200}}?)<\s*/\s*{ANOMALY_TAG}\s*>|([^<\n]*))", re.I)
_INDEX_TAG_RE = re.compile(rf"<\s*{INDEX_TAG}\s*>(?:([^<]{{0,400}}?)<\s*/\s*{INDEX_TAG}\s*>|([^<\n]*))", re.I)
_ANY_ANSWER_TAG_RE = re.compile(rf"<\s*/?\s*(?:{ANOMALY_TAG}|{INDEX_TAG})\s*/?\s*>", re.I)
_EMPTY_INDEX_RE = re.compile(r"^\W*(?:none|null|nil|n/?a|no|nothing|empty)?\W*$", re.I)


def _fragment_intervals(s: str, acc: Acc) -> list[Pair] | None:
    """Intervals in a short fragment (an index tag's content); ``None`` when it has no number."""
    if _EMPTY_INDEX_RE.match(s):
        return []
    out: list[Pair] = []
    found = False
    for m in FRAG_PAIR_RE.finditer(s):
        found = True
        p = pair_of(m.group(1), m.group(2), acc)
        if p is not None:
            out.append(p)
    if found:
        return out
    nums = [v for v in (to_int(t, acc) for t in NUM_RE.findall(s)) if v is not None]
    if not nums:
        return None
    if len(nums) == 1:
        return [(nums[0], nums[0])]
    out = [(nums[i], nums[i + 1]) for i in range(0, len(nums) - 1, 2)]
    if len(nums) % 2:
        out.append((nums[-1], nums[-1]))
    return out


def has_tags(body: str) -> bool:
    return _ANOM_TAG_RE.search(body) is not None or _INDEX_TAG_RE.search(body) is not None


def _tag_content(m: re.Match[str], acc: Acc, text: str) -> str:
    if m.group(1) is not None:
        return m.group(1)
    if not m.group(2).strip() and text.startswith("<", m.end()):
        acc.note("nested-tags")
    else:
        acc.note("unclosed-tag")
    return m.group(2)


def read_tags(body: str, acc: Acc) -> tuple[list[Pair], bool | None, str, bool]:
    """Read the paper's tags: (raw intervals, declared anomaly, rationale text, index unreadable)."""
    declared: bool | None = None
    seen: set[bool] = set()
    bad_anomaly = False
    for m in _ANOM_TAG_RE.finditer(body):
        content = _tag_content(m, acc, body)
        if not content.strip():
            continue
        v = truth(content)
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
        rest = EMPTY_FENCE_RE.sub("", rest)
    return raw, declared, rest, n_tags > 0 and n_bad == n_tags


_SANITIZE_RE = re.compile(rf"<\s*/?\s*(?:{ANOMALY_TAG}|{INDEX_TAG}|think(?:ing)?)\s*/?\s*>", re.I)


def format_answer(intervals: Iterable[tuple[int, int]], rationale: str = "") -> str:
    """Write an answer in the paper's format (tags, then the rationale).

    Intervals are normalised (ends swapped, sorted, merged: one tag per maximal run);
    answer/think tags inside ``rationale`` are removed so the text parses back unchanged.
    """
    pairs = [(int(a), int(b)) for a, b in intervals]
    ivs = finish(pairs, None, Acc(), merge=True)
    lines = [tagged(ANOMALY_TAG, str(bool(ivs)))]
    lines += [tagged(INDEX_TAG, f"({a}, {b})") for a, b in ivs]
    r = sanitize(rationale)
    if r:
        lines.append(r)
    return "\n".join(lines)


def tagged(tag: str, content: str) -> str:
    """``<tag>content</tag>``: how the paper's format writes one answer tag."""
    return f"<{tag}>{content}</{tag}>"


def sanitize(rationale: str | None) -> str:
    """The rationale without answer or think tags (removed until none is left)."""
    r = rationale or ""
    while True:  # removing one tag can join the text around it into another
        cleaned = _SANITIZE_RE.sub("", r)
        if cleaned == r:
            return r.strip()
        r = cleaned


