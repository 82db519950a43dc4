"""Reasoning signals without a judge: checks of a rationale against the plot and the answer.

Three per-sample values in ``[0, 1]`` (``None`` = undefined: the sample is left out of
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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.answers.parse import axis_range_in_text, intervals_in_text
from harness.core.types import Interval
from harness.scoring.metrics import interval_iou

MIN_IOU = 0.5
"""An answer interval is mentioned when a cited interval has at least this IoU with it."""

KEYS = ("reason-axis", "reason-in-window", "reason-consistent")
"""Metric names of the signals, in ``samples.jsonl`` and ``run.json``."""


@dataclass(frozen=True)
class ReasoningSignals:
    """The three signals of one answer (None where undefined)."""

    axis: float | None = None
    in_window: float | None = None
    consistent: float | None = None

    def as_metrics(self) -> dict[str, float | None]:
        """``{"reason-axis": ..., "reason-in-window": ..., "reason-consistent": ...}``."""
        return dict(zip(KEYS, (self.axis, self.in_window, self.consistent), strict=True))


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


def reasoning_signals(
    rationale: str | None, answer: Sequence[Interval], window: Interval, n_xticks: int = 20
) -> ReasoningSignals:
    """All three signals of one answer; all None when ``rationale`` is empty."""
    if not rationale or not rationale.strip():
        return ReasoningSignals()
    cited = intervals_in_text(rationale)
    return ReasoningSignals(
        axis=axis_signal(rationale, window, n_xticks),
        in_window=in_window_signal(cited, window),
        consistent=consistency_signal(list(answer), cited),
    )
