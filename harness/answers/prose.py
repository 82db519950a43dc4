"""The prose reader: interval phrases and yes/no declarations in free text.

Also the rationale helpers the reasoning signals use (:func:`intervals_in_text`,
:func:`axis_range_in_text`), which apply the same rules.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from harness.answers.common import NUM, NUM_LAZY, NUM_RE, Acc, Pair, pair_of, to_int, truth

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
_STEP_RE = re.compile(r"\bstep\s*\d+\s*[:.)]", re.I)

NEG_RE = re.compile(
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


def prose_intervals(text: str, acc: Acc) -> list[Pair]:
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
            for tok in NUM_RE.findall(g["pt"]):
                v = to_int(tok, acc)
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
        p = pair_of(g[a], g[b], acc)
        if p is not None:
            out.append(p)
    return out


def prose_declared(text: str) -> bool | None:
    """An explicit declaration: 'anomaly: yes/no' or an answer that opens with yes/no."""
    m = _KV_RE.search(text) if "nomal" in text.lower() else None
    if m:
        return truth(m.group(1))
    w = _WHOLE_RE.match(text)
    return truth(w.group(1)) if w else None


def intervals_in_text(text: str | None) -> list[Pair]:
    """Intervals mentioned in free text (a rationale), in order of appearance.

    Same prose rules as :func:`parse_answer` (axis descriptions and value ranges skipped,
    points as ``(i, i)``, reversed ends swapped, floats rounded); no window, no merging.
    """
    if not text:
        return []
    try:
        return [(a, b) if a <= b else (b, a) for a, b in prose_intervals(str(text), Acc())]
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


