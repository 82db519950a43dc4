"""Property tests (hypothesis): bounds, perfect predictions, shift invariance."""

from __future__ import annotations

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from harness.scoring.metrics import (
    affiliation_prf,
    binary_metrics,
    interval_counts,
    interval_iou,
    point_prf,
    score_metrics,
)
from harness.scoring.metrics.binary import range_f1, range_pr

FAST = settings(max_examples=40, deadline=None)


@st.composite
def labelled_series(draw, min_size: int = 2, max_size: int = 120):
    """(labels with >= 1 anomaly and >= 1 normal point, scores, 0/1 prediction, window)."""
    n = draw(st.integers(min_size, max_size))
    y = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)), dtype=np.int64)
    i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
    y[i] = 1
    if j != i:
        y[j] = 0
    elif y.all():
        y[(i + 1) % n] = 0
    levels = draw(st.sampled_from([2, 5, 1000]))
    s = np.array(draw(st.lists(st.integers(0, levels), min_size=n, max_size=n)), dtype=float)
    p = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)), dtype=np.int64)
    w = draw(st.integers(0, 30))
    return y, s, p, w


def _in_unit(d: dict) -> bool:
    return all(v is None or 0.0 <= v <= 1.0 for v in d.values())


@FAST
@given(labelled_series())
def test_score_metrics_bounded(case):
    y, s, _, w = case
    out = score_metrics(s, y, w)
    assert _in_unit(out)
    assert all(v is not None for v in out.values())  # both classes present: all defined


@FAST
@given(labelled_series())
def test_binary_metrics_bounded(case):
    y, _, p, w = case
    assert _in_unit(binary_metrics(p, y, w))
    assert all(v is None or 0 <= v <= 1 for v in point_prf(p, y) + affiliation_prf(p, y))


@FAST
@given(labelled_series())
def test_perfect_scores_and_predictions_score_one(case):
    y, _, _, w = case
    for key, v in score_metrics(y.astype(float), y, w).items():
        # Standard-F1 keeps tsb-ad's 1e-5 in the denominator: 2 / (2 + 1e-5)
        assert abs(v - 1.0) < (5e-6 if key == "Standard-F1" else 1e-12)
    for v in binary_metrics(y, y, w).values():
        assert abs(v - 1.0) < 1e-12
    assert point_prf(y, y) == (1.0, 1.0, 1.0)


intervals = st.lists(st.tuples(st.integers(0, 500), st.integers(0, 40)), max_size=6).map(
    lambda xs: [(a, a + d) for a, d in xs]
)


@settings(max_examples=200, deadline=None)
@given(intervals, intervals, st.integers(-10_000, 10_000_000))
def test_interval_metrics_shift_invariant(pred, true, offset):
    shift = [(a + offset, b + offset) for a, b in pred]
    shift_t = [(a + offset, b + offset) for a, b in true]
    assert interval_counts(shift, shift_t) == interval_counts(pred, true)
    assert interval_iou(shift, shift_t) == interval_iou(pred, true)


@settings(max_examples=200, deadline=None)
@given(intervals, intervals)
def test_interval_counts_bounds(pred, true):
    tp, fp, fn = interval_counts(pred, true)
    assert tp + fn == len(true) and 0 <= fp <= len(pred)
    iou = interval_iou(pred, true)
    assert (iou is None) == (not pred and not true)
    assert iou is None or 0.0 <= iou <= 1.0
    if true:
        assert interval_counts(true, true) == (len(true), 0, 0)
        assert interval_iou(true, true) == 1.0


@settings(max_examples=150, deadline=None)
@given(labelled_series())
@example((np.array([0, 1, 1, 1, 0, 0, 0]), np.zeros(7), np.zeros(7, dtype=np.int64), 2))  # gave 1.0000000000000002
def test_metrics_of_a_perfect_answer_never_exceed_one(case):
    """Issue 19: R-based-F1 was 1.0000000000000002 when scores or predictions equal the labels."""
    y, _, _, w = case
    for out in (score_metrics(y.astype(float), y, w), binary_metrics(y, y, w)):
        assert all(v is not None and 0.0 <= v <= 1.0 for v in out.values()), out
    assert range_f1(y, y) <= 1.0 and range_pr(y, y)[1] <= 1.0
