"""Scoring rules shared by the VLM views (VisAnomBench and the windowed TSB-AD-U view).

* :func:`read_answer`: a prediction -> intervals in absolute indices. Text is parsed in the
  task's answer format (:mod:`harness.answers.formats`; default the paper's tags) inside the shown window (a parse failure is an empty
  prediction with ``meta['parse_failed'] = True``; the parser's issues go to
  ``meta['parse_issues']``). A prediction with scores and no text (a classical detector)
  gets ONE interval via :func:`harness.scoring.thresholds.peak_interval`, as the paper's classical
  rows do.
* :func:`rationale_metrics`: the reasoning signals of the parsed text. :class:`AnswerParses`
  hands the parse made in ``postprocess`` on to ``score_sample``, so each answer is parsed once.
* :func:`interval_metrics`: the paper's per-sample TP/FP/FN and IoU.
* :func:`binary_metrics_of`: point-wise and affiliation P/R/F1 of the predicted intervals
  against 0/1 labels.
* :func:`group_summary`: pooled interval metrics and metric means of a group of records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from harness.answers.formats import DEFAULT_ANSWER_FORMAT, AnswerFormat, answer_format
from harness.answers.parse import ParsedAnswer, normalize_intervals
from harness.core.types import Interval, Prediction, Sample
from harness.scoring.metrics import (
    affiliation_prf,
    interval_counts,
    interval_iou,
    intervals_to_labels,
    point_prf,
)
from harness.scoring.reasoning import reasoning_signals
from harness.scoring.run_metrics import interval_summary
from harness.scoring.thresholds import threshold_prediction

POINT_KEYS = ("Point-P", "Point-R", "Point-F1")
AFFILIATION_KEYS = ("Affiliation-P", "Affiliation-R", "Affiliation-F1")
BINARY_KEYS = (*POINT_KEYS, *AFFILIATION_KEYS)
PROTOCOL = "parse-in-window/1; scores->peak_interval(k=3)/1; paper interval counts; point; affiliation"
"""Text of the scoring protocol; part of the tasks' fingerprints (change it when rules change)."""


def window_of(sample: Sample) -> Interval:
    """The absolute inclusive index range a sample shows."""
    return int(sample.index_offset), int(sample.index_offset) + len(sample.series) - 1


class AnswerParses:
    """Each text answer parsed once, in the task's answer format: ``postprocess`` parses it
    (:meth:`parse`, then :func:`read_answer`) and ``score_sample`` takes the same parse back
    (:meth:`take`) for :func:`rationale_metrics`. A kept parse is used only for the same text
    and window."""

    def __init__(self, answer: AnswerFormat | str = DEFAULT_ANSWER_FORMAT) -> None:
        self.answer = answer_format(answer)
        self._kept: dict[str, tuple[str, Interval, ParsedAnswer]] = {}

    def parse(self, sample_id: str, prediction: Prediction, window: Interval) -> ParsedAnswer | None:
        """Parse the prediction's text (None when it has none) and keep it for :meth:`take`."""
        if prediction.text is None:
            self._kept.pop(sample_id, None)
            return None
        parsed = self.answer.read(prediction.text, window)
        self._kept[sample_id] = (prediction.text, window, parsed)
        return parsed

    def take(self, sample_id: str, prediction: Prediction, window: Interval) -> ParsedAnswer | None:
        """The parse kept for this text and window (parsed now when there is none)."""
        kept = self._kept.pop(sample_id, None)
        if kept is not None and kept[:2] == (prediction.text, window):
            return kept[2]
        return None if prediction.text is None else self.answer.read(prediction.text, window)


def read_answer(prediction: Prediction, window: Interval, parsed: ParsedAnswer | None = None,
                answer: AnswerFormat | str = DEFAULT_ANSWER_FORMAT) -> Prediction:
    """Set ``prediction.intervals`` from its text (preferred) or scores; errors on neither.

    ``parsed`` is the text's parse in ``window`` when already done (else it is parsed here,
    in the ``answer`` format).

    A model that reads its own answers (a detector recipe, ``baselines/recipes``) marks its
    prediction with ``meta['parsed_by']`` and gives ``intervals`` in absolute indices and
    ``meta['parse_failed']``: those are kept (clipped to the window and merged), not re-parsed.
    """
    if prediction.intervals is not None and prediction.meta.get("parsed_by"):
        intervals, issues = normalize_intervals(prediction.intervals, window)
        prediction.intervals = intervals
        prediction.meta.update(
            parse_failed=bool(prediction.meta.get("parse_failed", False)),
            parse_format=str(prediction.meta["parsed_by"]),
            parse_issues=[*(prediction.meta.get("parse_issues") or []), *issues],
            anomaly_declared=bool(intervals),
        )
        return prediction
    if prediction.text is not None:
        if parsed is None:
            parsed = answer_format(answer).read(prediction.text, window)
        prediction.intervals = parsed.intervals
        prediction.meta.update(
            parse_failed=parsed.failed, parse_format=parsed.format, parse_issues=list(parsed.issues),
            anomaly_declared=parsed.anomaly,
        )
        return prediction
    if prediction.scores is None:
        prediction.error = "model returned neither text nor scores"
        return prediction
    threshold_prediction(prediction, window[1] - window[0] + 1, window[0], what="the window")
    if prediction.error is None:
        prediction.meta["thresholded"] = "peak_interval"
    return prediction


def interval_metrics(pred: Sequence[Interval], true: Sequence[Interval]) -> dict[str, Any]:
    """The paper's counts and IoU for one sample: ``TP``, ``FP``, ``FN``, ``IoU`` (None if both empty)."""
    tp, fp, fn = interval_counts(pred, true)
    return {"TP": tp, "FP": fp, "FN": fn, "IoU": interval_iou(pred, true), "n_pred": len(pred), "n_true": len(true)}


def binary_metrics_of(pred: Sequence[Interval], labels: np.ndarray, offset: int) -> dict[str, float | None]:
    """Point-wise and affiliation P/R/F1 of ``pred`` (absolute intervals) against ``labels``.

    ``labels[0]`` is the absolute index ``offset``. P is None when nothing is predicted,
    everything is None when the labels hold no anomaly (``harness.scoring.metrics`` policy).
    """
    y = np.asarray(labels).astype(np.int64)
    p = intervals_to_labels(pred, y.size, offset=offset)
    values = (*point_prf(p, y), *affiliation_prf(p, y))
    return dict(zip(BINARY_KEYS, values, strict=True))


def rationale_metrics(parsed: ParsedAnswer | None, window: Interval, n_xticks: int,
                      series: np.ndarray | None = None, kinds: Sequence[str] | None = None) -> dict[str, float | None]:
    """The reasoning signals of a parsed text answer (all None for a score-only prediction: ``parsed=None``);
    ``series`` (the plotted values, first at ``window[0]``) feeds ``reason-values``, ``kinds`` (the
    item's true anomaly kinds) ``reason-kind``."""
    if parsed is None:
        return reasoning_signals(None, (), window, n_xticks).as_metrics()
    return reasoning_signals(parsed.rationale, parsed.intervals, window, n_xticks, series, kinds).as_metrics()


def _mean(records: Sequence[Mapping[str, Any]], key: str) -> float | None:
    vals = [r["metrics"][key] for r in records if r.get("metrics") and r["metrics"].get(key) is not None]
    return float(np.mean(vals)) if vals else None


def group_summary(
    records: Sequence[Mapping[str, Any]], mean_keys: Sequence[str] = ("Point-F1", "Affiliation-F1"), seed: int = 0
) -> dict[str, Any]:
    """Pooled P/R/F1/Overlap and TP/FP/FN of a group, plus means of ``mean_keys`` (values only)."""
    s = interval_summary(records, seed=seed)
    out: dict[str, Any] = {k: v["value"] for k, v in s["metrics"].items()}
    out.update(s["counts"])
    ok = [r for r in records if r.get("error") is None and r.get("metrics") is not None]
    out.update({k: _mean(ok, k) for k in mean_keys})
    out.update(n=len(records), n_scored=len(ok))
    return out
