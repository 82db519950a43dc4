"""The prose reader: interval phrases and yes/no declarations in free text.

Also the rationale helpers the reasoning signals use (:func:`intervals_in_text`,
:func:`axis_range_in_text`), which apply the same rules.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from functools import cached_property

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
    r"\b(?:values?|amplitudes?|magnitudes?|levels?(?!\s+shifts?)|readings?|axis|jump\w*|rises?|rose|risen|drops?|"
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

_NEG_WORD = r"(?:anomal\w*|abnormal\w*|outliers?|irregularit\w*|unusual|deviations?|problems?|issues?)"
NEG_RE = re.compile(
    rf"\bno\s+(?:\w+\s+){{0,3}}?{_NEG_WORD}"
    rf"|\b(?:does|do|did|is|are|was|were|has|have|had)\s*(?:not|n't)\s+(?:\w+\s+){{0,4}}?{_NEG_WORD}"
    rf"|\b(?:ca|can|could|would|wo)\s*(?:not|n't)\s+(?:\w+\s+){{0,4}}?{_NEG_WORD}"
    rf"|\b(?:not|nothing|none)\s+(?:\w+\s+){{0,2}}?(?:anomalous|abnormal|unusual|irregular)\b"
    rf"|\bnone\s+(?:detected|found|observed|present)\b"
    rf"|\b(?:without|free\s+(?:of|from)|absence\s+of|lack\s+of)\s+(?:any\s+)?{_NEG_WORD}"
    r"|\b(?:appears?|seems?|looks?|is|are|remains?|behaves?)\s+(?:to\s+be\s+)?(?:\w+ly\s+)?"
    r"(?:normal|as\s+expected)\b(?!\s+(?:until|up\s+to|before|except))"
    r"|\b(?:normal|stable|regular|consistent)\s+(?:throughout|everywhere|overall)\b|\ball\s+normal\b"
    r"|没有(?:发现|检测到|出现|明显)?(?:任何)?(?:明显的)?异常|无(?:明显)?异常|未(?:发现|检测到|见)(?:任何)?(?:明显)?异常"
    r"|不存在(?:任何)?(?:明显)?异常|一切正常|(?:序列|数据|信号|整体)(?:整体)?(?:表现)?正常|表现正常",
    re.I,
)
"""A prose 'no anomaly' in many phrasings (English and Chinese); see docs/parsing.md."""
_EXCEPT_RE = re.compile(
    r"\b(?:except|apart\s+from|other\s+than|besides|aside\s+from|save\s+for|but|however|although|though|"
    r"until|up\s+to|before|only)\b|除了|但是|但|然而|直到",
    re.I,
)
_WHOLE_ANOMALY_RE = re.compile(
    r"\b(?:the\s+)?(?:whole|entire|full|complete)\s+(?:\w+\s+){0,2}?(?:series|window|plot|signal|segment|sequence|"
    r"range|data|chart)\s+(?:is|are|appears?|seems?|looks?)\s+(?:to\s+be\s+)?(?:\w+\s+)?anomal\w*"
    r"|\banomal\w*\s+(?:\w+\s+){0,3}?(?:throughout|everywhere|from\s+start\s+to\s+end)\b"
    r"|\ball\s+(?:of\s+)?(?:the\s+)?(?:points|indices|values|data|samples)\s+(?:\w+\s+)?(?:is|are)\s+anomal\w*"
    r"|整个(?:序列|窗口|信号|数据)(?:都)?(?:是|为)?异常",
    re.I,
)
"""An answer that clearly says the whole plotted window is anomalous (a whole-window range is then kept)."""
_KV_RE = re.compile(
    r"\banomal\w*(?:\s+(?:detected|present|found))?\**\s*[:=]\s*\**\s*(true|false|yes|no|none)\b", re.I
)
_WHOLE_RE = re.compile(r"\s*\**\s*(yes|true|no|none|false|normal)\s*\**\s*(?:[.,!:;]|$)", re.I)


_TRIGGER_IDX_RE = re.compile(r"ind|idx|posit|point|time|sampl|t=|x=|t =|x =")
_TRIGGER_RE = re.compile(r"ind|idx|posit|point|time|sampl|start|between|from|\(|\[|t=|x=|t =|x =")
"""Where a prose phrase can start (on lower-cased text): a cheap literal scan before the full regex."""

_EXTRA_RE = re.compile(
    rf"(?=[\d索下位从-])(?:(?:索引|下标|位置|从)\s*(?:从\s*)?(?:索引\s*)?(?P<c1>{NUM})\s*(?:至|到|~|-|–|—)\s*(?:索引\s*)?(?P<c2>{NUM})"
    rf"|(?P<k1>{NUM})\s*(?:至|到)\s*(?:索引\s*)?(?P<k2>{NUM})"
    rf"|(?:索引|下标)\s*(?:为|是)?\s*(?P<cp>{NUM})"
    rf"|(?<!\d[.,])(?P<x1>{NUM})\s*(?:–|—|-|~|\bto\b|\bthrough\b)\s*(?P<x2>{NUM})(?!\w|\.\d))",
    re.I,
)
"""Ranges without an English index word: Chinese ("索引21500至21800") and bare "21500–21800" (read only in a sentence about an anomaly)."""
_EXTRA_TRIGGER_RE = re.compile(r"\d\s*(?:[–—~-]|to\b|through\b|至|到)|索引|下标", re.I)
"""A pre-scan: :data:`_EXTRA_RE` is tried only on answers where one of its phrases can occur."""
_ANOMALYISH_RE = re.compile(
    r"\b(?:anomal\w*|abnormal\w*|outliers?|spikes?|spiked|dips?|drops?|dropped|shifts?|bursts?|glitch\w*|unusual|"
    r"irregular\w*|deviat\w*|breaks?|broken|surges?|plunges?|peaks?|suspicious|stands?\s+out|departs?|differs?)\b"
    r"|异常|突变|尖峰",
    re.I,
)
"""Words that make a sentence about an anomaly (then a range in it may be an answer)."""
_EXTENT_NOUN_RE = re.compile(
    r"\b(?:series|data|signal|plot|graph|window|chart|sequence|axis|x[\s-]?values?|indices|index)\b|横轴|[xX]轴|范围",
    re.I,
)
_EXTENT_VERB_RE = re.compile(
    r"\b(?:spans?|spanning|covers?|covering|rang\w*|runs?|extends?|extending|goes|plotted|shown|displayed)\b"
    r"|横轴|[xX]轴|范围",
    re.I,
)
"""A sentence that states the plot's extent ("the series spans 20000 to 24999")."""
_NORMALDESC_RE = re.compile(
    r"\b(?:is|are|was|were|remains?|stays?|looks?|seems?|appears?|behaves?|oscillates?|repeats?)\s+"
    r"(?:\w+\s+)?(?:stable|normal|regular|regularly|periodic|consistent|steady|smooth|flat|unremarkable|as\s+expected)\b"
    r"|正常|平稳",
    re.I,
)
"""A sentence that describes normal behaviour ("the series is stable from 20000 to 21000")."""
_BOUNDARIES = (". ", "\n", "; ", "! ", "? ", "。", "；", "！", "？")


def _clause(text: str, pos: int) -> str:
    """The text from the last sentence/step boundary (at most 160 characters back) to ``pos``."""
    seg = text[max(0, pos - 160) : pos]
    cut = max(seg.rfind(b) for b in _BOUNDARIES)
    cut = cut + 1 if cut >= 0 else 0
    if "tep" in seg:
        for m in _STEP_RE.finditer(seg, cut):
            cut = m.end()
    return seg[cut:]


def _tail(text: str, end: int) -> str:
    """The text from ``end`` to the next sentence boundary (at most 160 characters)."""
    seg = text[end : end + 160]
    cuts = [i for i in (seg.find(b) for b in _BOUNDARIES) if i >= 0]
    return seg[: min(cuts)] if cuts else seg


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


_EXTENT_LITERALS = ("span", "cover", "rang", "run", "extend", "goes", "plotted", "shown", "displayed", "轴", "范围")
_NORMAL_LITERALS = ("stable", "normal", "regular", "periodic", "consistent", "steady", "smooth", "flat",
                    "unremarkable", "expected", "正常", "平稳")
"""Literal pre-scans (lower-cased) for :data:`_EXTENT_VERB_RE` and :data:`_NORMALDESC_RE`."""


class _PlotCheck:
    """The sentence-level plot-description decisions of one text, each sentence judged once."""

    __slots__ = ("cache", "words")

    def __init__(self, text: str) -> None:
        # a pre-scan: without any extent or normal-behaviour word no sentence needs judging
        low = text.lower()
        self.words = any(w in low for w in _EXTENT_LITERALS) or any(w in low for w in _NORMAL_LITERALS)
        self.cache: dict[tuple[int, int], str | None] = {}

    def judge(self, text: str, start: int, end: int) -> str | None:
        """``extent-description``, ``normal-description`` or None for ``text[start:end]``."""
        key = (start, end)
        if key not in self.cache:
            sentence = text[start:end]
            low = sentence.lower()
            extent = (any(w in low for w in _EXTENT_LITERALS) and _EXTENT_VERB_RE.search(sentence) is not None
                      and _EXTENT_NOUN_RE.search(sentence) is not None)
            normal = (not extent and any(w in low for w in _NORMAL_LITERALS)
                      and _NORMALDESC_RE.search(sentence) is not None)
            verdict = None
            if (extent or normal) and not _ANOMALYISH_RE.search(sentence):
                verdict = "extent-description" if extent else "normal-description"
            self.cache[key] = verdict
        return self.cache[key]


def _describes_plot(text: str, m: re.Match[str], clause: str, acc: Acc, plot: _PlotCheck) -> bool:
    """Whether the range of ``m`` is in a sentence about the plot's extent or normal behaviour, not an anomaly."""
    low_clause = clause.lower()
    if ("axis" in low_clause and _AXISDESC_RE.search(clause) and not _ANOMALYISH_RE.search(clause)) or (
        "anomal" not in low_clause and _INDEXDESC_RE.search(low_clause[-48:])
    ):
        return True
    if not plot.words:
        return False
    verdict = plot.judge(text, m.start() - len(clause), m.end() + len(_tail(text, m.end())))
    if verdict is not None:
        acc.note(verdict)
    return verdict is not None


def prose_intervals(text: str, acc: Acc) -> list[Pair]:
    """Interval and point mentions in free text, in order; axis, extent, normal-behaviour and value ranges skipped."""
    found: list[tuple[int, Pair]] = []
    spans: list[tuple[int, int]] = []
    plot = _PlotCheck(text)
    for m in _prose_matches(text):
        spans.append(m.span())
        g = m.groupdict()
        clause = _clause(text, m.start())
        if _describes_plot(text, m, clause, acc, plot):
            continue
        if g["pt"] is not None:
            for tok in NUM_RE.findall(g["pt"]):
                v = to_int(tok, acc)
                if v is not None:
                    found.append((m.start(), (v, v)))
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
            found.append((m.start(), p))
    found.extend(_extra_intervals(text, spans, acc, plot))
    found.sort(key=lambda x: x[0])
    return [p for _, p in found]


def _extra_intervals(text: str, spans: list[tuple[int, int]], acc: Acc, plot: _PlotCheck) -> list[tuple[int, Pair]]:
    """Chinese index phrases and bare "A–B" ranges in a sentence about an anomaly, outside the main matches."""
    out: list[tuple[int, Pair]] = []
    k = 0
    first = _EXTRA_TRIGGER_RE.search(text)
    if first is None:
        return out
    for m in _EXTRA_RE.finditer(text, max(0, first.start() - 40)):
        while k < len(spans) and spans[k][1] <= m.start():
            k += 1
        if k < len(spans) and spans[k][0] < m.end():
            continue  # inside (or across) a phrase the main patterns read or skipped
        g = m.groupdict()
        clause = _clause(text, m.start())
        if _describes_plot(text, m, clause, acc, plot):
            continue
        if g["cp"] is not None:
            v = to_int(g["cp"], acc)
            if v is not None:
                out.append((m.start(), (v, v)))
            continue
        a, b = next((x, y) for x, y in (("c1", "c2"), ("k1", "k2"), ("x1", "x2")) if g[x] is not None)
        if a == "x1":
            sentence = clause + m.group(0) + _tail(text, m.end())
            if not _ANOMALYISH_RE.search(sentence) or (
                _VALUEISH_FAST_RE.search(sentence.lower()) and _VALUEISH_RE.search(sentence)
            ):
                continue
        p = pair_of(g[a], g[b], acc)
        if p is not None:
            out.append((m.start(), p))
    return out


def prose_declared(text: str) -> bool | None:
    """An explicit declaration: 'anomaly: yes/no' or an answer that opens with yes/no."""
    m = _KV_RE.search(text) if "nomal" in text.lower() else None
    if m:
        return truth(m.group(1))
    w = _WHOLE_RE.match(text)
    return truth(w.group(1)) if w else None


_NEG_TRIGGER_RE = re.compile(
    r"\bno\b|not\b|n't|nothing|none|without|free|absence|lack|normal|stable|regular|consistent|expected"
    r"|没|无|未|不|正常", re.I)
"""A pre-scan: :data:`NEG_RE` is tried only on answers with one of its words."""
_WHOLE_LITERALS = ("whole", "entire", "full", "complete", "throughout", "everywhere", "start to end", "all ", "整个")


class ProseStance:
    """What a prose answer says about anomalies, apart from its ranges (see docs/parsing.md).

    ``negated``: a 'no anomaly' phrase; ``positive``: an anomaly word (anomaly, spike, dip, shift, ...)
    outside every negation and 'anomaly: no'; ``exception``: an exception word after the first
    negation ("normal except ..."); ``whole``: the answer says the whole window is anomalous.
    Each is read when first asked for.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        first = _NEG_TRIGGER_RE.search(text)
        self._negs = [] if first is None else [m.span() for m in NEG_RE.finditer(text, max(0, first.start() - 40))]
        self.negated = bool(self._negs)

    @cached_property
    def positive(self) -> bool:
        """An anomaly word outside every negation (and outside 'anomaly: no')."""
        masked = self._negs + [m.span() for m in _KV_RE.finditer(self.text)]
        return any(not any(a <= m.start() < b for a, b in masked) for m in _ANOMALYISH_RE.finditer(self.text))

    @cached_property
    def exception(self) -> bool:
        """An exception word after the first negation."""
        return bool(self._negs) and _EXCEPT_RE.search(self.text, self._negs[0][1]) is not None

    @cached_property
    def whole(self) -> bool:
        """The answer says the whole window is anomalous."""
        low = self.text.lower()
        return any(w in low for w in _WHOLE_LITERALS) and _WHOLE_ANOMALY_RE.search(self.text) is not None


def prose_stance(text: str) -> ProseStance:
    """Read the negations, anomaly words, exceptions and whole-window statements of ``text`` (lazily)."""
    return ProseStance(text)


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


_SEPS_RE = re.compile("[,' \u00a0\u202f\u2009’]")


def axis_range_in_text(text: str | None) -> tuple[float, float] | None:
    """The x-axis range a rationale states ("the x-axis ... ranging from A to B"), as written."""
    if not text:
        return None
    try:
        m = _AXIS_RANGE_RE.search(str(text))
        if m is None:
            return None
        a, b = (float(_SEPS_RE.sub("", g)) for g in (m.group(1), m.group(2)))
        if not (math.isfinite(a) and math.isfinite(b)):
            return None
        return (a, b)
    except Exception:  # never raise
        return None


