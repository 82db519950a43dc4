"""Reasoning signals without a judge: checks of a rationale against the plot, the answer and the series.

Four per-sample values in ``[0, 1]`` (``None`` = undefined: the sample is left out of
the run mean). All are ``None`` when the answer has no rationale (no text besides the
answer tags, e.g. a classical detector or an interval-only answer).

``reason-axis``
    Does the rationale state the x-axis range actually shown? The range is read with
    :func:`harness.answers.parse.axis_range_in_text` ("the x-axis ... ranging from A to B"). 1.0
    when both ends are within the tolerance of the window's first and last index, else
    0.0 (also 0.0 when no x-axis range is stated). Tolerance: half the spacing between
    two x ticks, ``(length - 1) / (n_xticks - 1) / 2`` indices and at least 1, i.e. the
    model may read an end off the nearest tick label but not a neighbouring one.
``reason-in-window``
    Do the indices the rationale cites fall inside the window? The cited intervals and
    points are :func:`harness.answers.parse.intervals_in_text` of the rationale (axis and value
    ranges are not citations). Value: the fraction of cited intervals with both ends in
    ``[start, end]``; ``None`` when nothing is cited.
``reason-consistent``
    Does the text agree with the answer tags? For each interval of the parsed answer, the
    rationale must cite an interval that overlaps it with intersection-over-union of at
    least :data:`MIN_IOU` (0.5); value: the fraction of answer intervals so mentioned.
    ``None`` when the answer gives no interval (a "normal" answer has nothing to check).
``reason-values``
    Are the values the rationale cites for a region the series' values there? A claim is an
    index range followed in the same sentence by a value the series is said to take ("around
    index 410 to 450, the values reach 3.2", "indices 410-450 ... values drop to -1.5"; see
    :data:`VALUE_CLAIM`). A claim holds when some point of the series inside the cited range
    (clipped to the window) is within :data:`VALUE_TOLERANCE` of the series' plotted range of
    the value. Value: the fraction of claims that hold; ``None`` when nothing is claimed or the
    series is not known.

``reason-kind``
    Does the rationale name what the true anomaly is? Only for items whose anomaly kinds are
    known (GutenTAG's injected kinds; ``None`` for real anomalies, normal items and tasks
    without kinds): 1.0 when the rationale uses a term of :data:`KIND_TERMS` for one of the
    item's true kinds ("spike" for an extremum, "level shift" for a mean shift, "noise" for a
    variance anomaly, ...), else 0.0. It needs the ground truth, so no template meets it by
    its wording: the template reasoner names no kind and scores 0.0.

The first three can be met by a template: the template reasoner (``baselines/template_reasoner.py``,
a thresholded Sub-PCA with filled-in text) scores 1.000 on each, whatever it detects
(:data:`TEMPLATE_MET`; the leaderboard marks those columns). ``reason-values`` is met only by
numbers read from the series; the template meets it where its 4-significant-digit numbers are
the series' values, and fails it where they are not (e.g. a series at 10,000 +- 2).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from harness.answers.parse import axis_range_in_text, intervals_in_text
from harness.core.types import Interval
from harness.scoring.metrics import interval_iou

MIN_IOU = 0.5
"""An answer interval is mentioned when a cited interval has at least this IoU with it."""

KEYS = ("reason-axis", "reason-in-window", "reason-consistent", "reason-values", "reason-kind")
"""Metric names of the signals, in ``samples.jsonl`` and ``run.json``."""
TEMPLATE_MET = ("reason-axis", "reason-in-window", "reason-consistent")
"""Signals the template reasoner meets (1.000) with filled-in text, whatever it detects."""
VALUE_TOLERANCE = 0.02
"""A cited value holds within 2% of the series' range (about what one reads off a plot's y axis)."""
_NUMBER = r"-?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?"
VALUE_CLAIM = re.compile(
    rf"ind(?:ex|ices|exes)\s+(?:from\s+)?(?P<a>{_NUMBER})\s*(?:to|-|–|through|and)\s*(?P<b>{_NUMBER})"
    r"(?:(?!\.\s)[^;\n]){0,160}?\bvalues?\s+"
    r"(?:reach(?:es|ing)?|peak(?:s|ing)?\s+at|(?:rise|drop|fall|jump|spike|climb|dip|go|goe)s?\s+(?:up\s+|down\s+)?to|"
    r"(?:is|are|of|near|around|at))\s+(?:about\s+|around\s+|approximately\s+|roughly\s+|nearly\s+)?"
    rf"(?P<v>{_NUMBER})",
    re.IGNORECASE,
)
"""An index range, then (same sentence) "value(s) reach / rise to / drop to / of / around" a number."""
KIND_TERMS: dict[str, tuple[str, ...]] = {
    "extremum": ("spike", "peak", "outlier", "extreme value", "sudden jump", "sharp drop", "dip"),
    "mean": ("level shift", "shift in level", "shift in the mean", "mean shift", "offset", "step change"),
    "amplitude": ("amplitude",),
    "frequency": ("frequency", "period", "oscillat", "faster", "slower"),
    "variance": ("noise", "noisy", "variance", "volatil", "fluctuat", "jitter"),
    "platform": ("plateau", "flat", "platform", "constant"),
    "trend": ("trend", "drift", "slope"),
    "pattern": ("pattern change", "changed pattern", "different pattern", "shape change", "changed shape",
                "different shape", "distort", "irregular shape"),
    "pattern-shift": ("phase", "shifted", "shift in time", "misaligned", "delay"),
}
"""GutenTAG anomaly kind -> lower-case terms (word starts) a rationale may use for it."""


@dataclass(frozen=True)
class ReasoningSignals:
    """The three signals of one answer (None where undefined)."""

    axis: float | None = None
    in_window: float | None = None
    consistent: float | None = None
    values: float | None = None
    kind: float | None = None

    def as_metrics(self) -> dict[str, float | None]:
        """``{"reason-axis": ..., "reason-in-window": ..., "reason-consistent": ..., "reason-values": ...,
        "reason-kind": ...}``."""
        return dict(zip(KEYS, (self.axis, self.in_window, self.consistent, self.values, self.kind), strict=True))


def axis_tolerance(window: Interval, n_xticks: int = 20) -> float:
    """Half the spacing of the x ticks of ``window`` (at least 1 index)."""
    length = window[1] - window[0] + 1
    spacing = (length - 1) / max(min(n_xticks, length) - 1, 1)
    return max(1.0, spacing / 2)


def axis_signal(rationale: str, window: Interval, n_xticks: int = 20) -> float:
    """1.0 when the stated x-axis range matches ``window`` within the tolerance, else 0.0."""
    stated = axis_range_in_text(rationale)
    if stated is None:
        return 0.0
    tol = axis_tolerance(window, n_xticks)
    lo, hi = sorted(stated)
    return float(abs(lo - window[0]) <= tol and abs(hi - window[1]) <= tol)


def in_window_signal(cited: Sequence[Interval], window: Interval) -> float | None:
    """Fraction of cited intervals lying inside ``window``; None when none is cited."""
    if not cited:
        return None
    inside = sum(window[0] <= a and b <= window[1] for a, b in cited)
    return inside / len(cited)


def consistency_signal(answer: Sequence[Interval], cited: Sequence[Interval]) -> float | None:
    """Fraction of answer intervals some cited interval matches (IoU >= MIN_IOU); None if no answer interval."""
    if not answer:
        return None
    mentioned = sum(any((interval_iou([a], [c]) or 0.0) >= MIN_IOU for c in cited) for a in answer)
    return mentioned / len(answer)


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def value_claims(rationale: str) -> list[tuple[int, int, float]]:
    """``(start, end, value)`` of every claim "index A to B ... values reach V" (start <= end)."""
    out = []
    for m in VALUE_CLAIM.finditer(rationale):
        try:
            a, b, v = _number(m["a"]), _number(m["b"]), _number(m["v"])
        except ValueError:
            continue
        if a.is_integer() and b.is_integer() and np.isfinite(v):
            out.append((int(min(a, b)), int(max(a, b)), v))
    return out


def values_signal(rationale: str, series: np.ndarray | None, window: Interval) -> float | None:
    """Fraction of value claims the series bears out (``series[0]`` is index ``window[0]``);
    None when nothing is claimed or ``series`` is None."""
    claims = value_claims(rationale)
    if series is None or not claims:
        return None
    x = np.asarray(series, dtype=np.float64).ravel()
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        return None
    tol = VALUE_TOLERANCE * (float(finite.max() - finite.min()) or max(abs(float(finite[0])), 1.0))
    held = 0
    for a, b, v in claims:
        lo, hi = max(a, window[0]) - window[0], min(b, window[1]) - window[0]
        part = x[lo:hi + 1] if lo <= hi else x[:0]
        part = part[np.isfinite(part)]
        held += bool(part.size and np.min(np.abs(part - v)) <= tol)
    return held / len(claims)


def kind_signal(rationale: str, kinds: Sequence[str] | None) -> float | None:
    """1.0 when ``rationale`` names one of the true ``kinds`` (:data:`KIND_TERMS`), else 0.0;
    None when no known kind is given (real or normal items)."""
    known = [k for k in kinds or () if k in KIND_TERMS]
    if not known:
        return None
    words = " " + re.sub(r"[^a-z]+", " ", rationale.lower())
    return float(any(" " + term in words for k in known for term in KIND_TERMS[k]))


def reasoning_signals(
    rationale: str | None, answer: Sequence[Interval], window: Interval, n_xticks: int = 20,
    series: np.ndarray | None = None, kinds: Sequence[str] | None = None,
) -> ReasoningSignals:
    """All five signals of one answer (``series``: the plotted values, first at ``window[0]``,
    for ``reason-values``; ``kinds``: the item's true anomaly kinds, for ``reason-kind``; either
    None leaves its signal None); all None when ``rationale`` is empty."""
    if not rationale or not rationale.strip():
        return ReasoningSignals()
    cited = intervals_in_text(rationale)
    return ReasoningSignals(
        axis=axis_signal(rationale, window, n_xticks),
        in_window=in_window_signal(cited, window),
        consistent=consistency_signal(list(answer), cited),
        values=values_signal(rationale, series, window),
        kind=kind_signal(rationale, kinds),
    )
