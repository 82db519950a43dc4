"""Thresholding policy: turn a detector's anomaly-score array into intervals or 0/1 labels.

One policy, used everywhere a score-producing detector must answer like a text model:

* **Threshold.** ``t = mean(scores) + k * std(scores)`` over the finite scores, with
  ``k = 3`` by default. This is the rule TSB-AD's own example script uses to binarise
  scores (``output > mean + 3 * std``), and it is invariant to shifting and scaling the
  scores, so min-max normalised and raw scores give the same answer.
* **Point-wise labels** (:func:`binarize`): ``1`` where ``score > t``, else ``0`` (integers,
  never booleans). Constant scores have ``std = 0`` and no point is strictly above the
  mean, so they give all zeros.
* **One interval per series** (:func:`peak_interval`), as the paper's classical rows do
  (they emit exactly one interval per series): the *peak* is the first index of the
  maximum score; the interval is the maximal contiguous run around the peak whose scores
  are ``> t``. When the peak itself is not above ``t`` (constant or nearly flat scores),
  the interval is the single point ``(peak, peak)``, so constant scores give the first
  index of the series. Ends are INCLUSIVE and shifted by ``index_offset`` (the absolute
  index of ``scores[0]``).

Non-finite scores are ignored when computing ``t``, are never above it, and are never
the peak. An empty array, or one with no finite score, is a :class:`ValueError`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.core.types import Interval, Prediction

DEFAULT_K = 3.0
"""Default number of standard deviations above the mean for the threshold."""


def _as_scores(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).ravel()
    if s.size == 0:
        raise ValueError("cannot threshold an empty score array")
    finite = np.isfinite(s)
    if not finite.any():
        raise ValueError("cannot threshold scores that have no finite value")
    return s, finite


def score_threshold(scores: np.ndarray, k: float = DEFAULT_K) -> float:
    """The policy's threshold ``mean + k * std`` over the finite scores."""
    s, finite = _as_scores(scores)
    vals = s[finite]
    return float(vals.mean() + k * vals.std())


def binarize(scores: np.ndarray, k: float = DEFAULT_K) -> np.ndarray:
    """Point-wise 0/1 labels (``int64``): 1 where the score is strictly above ``mean + k*std``."""
    s, finite = _as_scores(scores)
    t = score_threshold(s, k)
    above = np.zeros(s.shape, dtype=bool)
    above[finite] = s[finite] > t
    return above.astype(np.int64)


def peak_interval(scores: np.ndarray, index_offset: int = 0, k: float = DEFAULT_K) -> tuple[Interval, ...]:
    """Exactly one inclusive interval: the run above ``mean + k*std`` around the score maximum.

    Returns ``((start + index_offset, end + index_offset),)``; a single point at the peak
    when no score around it is above the threshold (e.g. constant scores: index 0).
    """
    s, finite = _as_scores(scores)
    masked = np.where(finite, s, -np.inf)
    peak = int(np.argmax(masked))
    t = score_threshold(s, k)
    above = masked > t
    start = end = peak
    if above[peak]:
        below_left = np.flatnonzero(~above[:peak])
        start = int(below_left[-1]) + 1 if below_left.size else 0
        below_right = np.flatnonzero(~above[peak + 1 :])
        end = peak + int(below_right[0]) if below_right.size else s.size - 1
    off = int(index_offset)
    return ((start + off, end + off),)


def binary_to_intervals(labels: np.ndarray, index_offset: int = 0) -> tuple[Interval, ...]:
    """All maximal runs of non-zero labels as inclusive ``(start, end)`` intervals, offset.

    The runs come from :func:`harness.scoring.metrics.runs.runs` (imported here: the metrics
    package is heavy to import).
    """
    from harness.scoring.metrics.runs import runs

    starts, ends = runs(np.asarray(labels).ravel())
    off = int(index_offset)
    return tuple((int(a) + off, int(e) + off) for a, e in zip(starts, ends, strict=True))


def _tail(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else "..." + text[-limit:]


def check_scores(raw: Any, n: int, what: str = "the series") -> tuple[np.ndarray | None, str | None]:
    """A model's raw score output as ``n`` finite float64 values, or ``(None, why)``.

    Refused, with the reason: a string or bytes (a message instead of scores), ``None``,
    output that is not numeric, a length other than ``n`` (``what`` names what has ``n``
    points), or any NaN/inf. Every score producer and every task checks scores here.
    """
    if isinstance(raw, (str, bytes)):
        return None, f"returned a message instead of scores: {_tail(str(raw), 300)}"
    if raw is None:
        return None, "returned no scores (None)"
    try:
        scores = np.asarray(raw, dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        return None, f"non-numeric output of type {type(raw).__name__}: {_tail(str(exc), 120)}"
    if scores.shape[0] != n:
        return None, f"scores have length {scores.shape[0]}, {what} has {n}"
    bad = int(n - np.isfinite(scores).sum())
    if bad:
        return None, f"{bad} of {n} scores are not finite (NaN or inf)"
    return scores, None


def threshold_prediction(prediction: Prediction, n: int, index_offset: int = 0,
                         what: str = "the series") -> Prediction:
    """Check ``prediction.scores`` (:func:`check_scores`) and set its :func:`peak_interval` (and the
    threshold it applied, ``meta["threshold"]``), or set ``prediction.error``; the prediction is
    changed in place and returned."""
    scores, err = check_scores(prediction.scores, n, what)
    if err is not None:
        prediction.error = err
        return prediction
    assert scores is not None
    prediction.scores = scores
    prediction.intervals = peak_interval(scores, index_offset=index_offset)
    threshold = score_threshold(scores)
    prediction.meta["threshold"] = float(threshold) if np.isfinite(threshold) else None  # what the viewer draws
    return prediction
