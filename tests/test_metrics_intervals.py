"""Interval-level metrics of VisAnomBench and the paper's published counts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.scoring.metrics import (
    interval_counts,
    interval_iou,
    intervals_to_labels,
    labels_to_intervals,
    merge_intervals,
    prf,
)


def test_counts_follow_the_paper_definition():
    true = [(10, 20), (50, 60), (90, 95)]
    pred = [(0, 5), (18, 30), (19, 19), (61, 70), (96, 99)]
    # (18,30) and (19,19) hit (10,20); (50,60) and (90,95) are missed; 3 preds hit nothing
    assert interval_counts(pred, true) == (1, 3, 2)


def test_inclusive_ends_touching_counts_as_overlap():
    assert interval_counts([(20, 25)], [(10, 20)]) == (1, 0, 0)
    assert interval_counts([(21, 25)], [(10, 20)]) == (0, 1, 1)
    assert interval_counts([(5, 5)], [(5, 5)]) == (1, 0, 0)


def test_empty_sides():
    assert interval_counts([], []) == (0, 0, 0)
    assert interval_counts(None, [(1, 2)]) == (0, 0, 1)
    assert interval_counts([(1, 2), (4, 4)], []) == (0, 2, 0)


def test_iou_definition():
    assert interval_iou([(0, 9)], [(5, 14)]) == pytest.approx(5 / 15)
    assert interval_iou([(0, 4), (3, 9)], [(0, 9)]) == 1.0  # union of predictions
    assert interval_iou([(0, 4)], [(5, 9)]) == 0.0  # adjacent, no shared index
    assert interval_iou([], [(5, 9)]) == 0.0
    assert interval_iou([(5, 9)], []) == 0.0
    assert interval_iou([], []) is None


def test_merge_intervals_merges_overlapping_and_adjacent():
    got = merge_intervals(np.array([[5, 7], [0, 2], [3, 3], [10, 12], [11, 11]]))
    assert got.tolist() == [[0, 3], [5, 7], [10, 12]]


def test_prf_policy():
    assert prf(0, 0, 0) == (None, None, None)
    assert prf(0, 0, 4) == (None, 0.0, 0.0)
    assert prf(0, 3, 0) == (0.0, None, 0.0)
    p, r, f = prf(3, 1, 2)
    assert (p, r) == (0.75, 0.6) and f == pytest.approx(2 * p * r / (p + r))
    with pytest.raises(ValueError, match="fp must be >= 0"):
        prf(1, -1, 0)


@pytest.mark.parametrize("bad", [[(5, 3)], [(1,)], [(1.5, 2)], [("a", 3)], [(True, 3)]])
def test_bad_intervals_raise(bad):
    with pytest.raises(ValueError, match="pred_intervals"):
        interval_counts(bad, [(0, 1)])


# --- the paper's table (PAPER.md): P/R/F1 must follow from TP/FP/FN -------------------------

PAPER_ROWS_WITH_COUNTS = [
    # model, tp, fp, fn, P, R, F1 (percent, as printed)
    ("VisAnomReasoner-7B", 576, 223, 183, 72.09, 75.88, 73.94),
    ("VisAnomReasoner-3B", 564, 240, 195, 70.15, 74.30, 72.17),
]


@pytest.mark.parametrize("row", PAPER_ROWS_WITH_COUNTS, ids=lambda r: r[0])
def test_paper_rows_follow_from_counts(row):
    _, tp, fp, fn, p_pub, r_pub, f_pub = row
    assert tp + fn == 759  # ground-truth intervals in the test set
    p, r, f = prf(tp, fp, fn)
    assert round(100 * p, 2) == p_pub
    assert round(100 * f, 2) == f_pub
    # The paper's recall is the value truncated (not rounded) to 2 decimals:
    # 576/759 = 75.889% is printed 75.88, 564/759 = 74.308% is printed 74.30.
    assert math.floor(100 * 100 * r) / 100 == r_pub
    assert abs(100 * r - r_pub) < 0.01


def _printed_as(x: np.ndarray, printed: float) -> np.ndarray:
    """True where ``x`` (percent) prints as ``printed`` when rounded or truncated to 2 decimals."""
    x = np.nan_to_num(np.asarray(x, dtype=float), nan=-1.0)
    return (np.abs(np.round(x, 2) - printed) < 1e-9) | (
        np.abs(np.floor(x * 100 + 1e-9) / 100 - printed) < 1e-9
    )


PAPER_ROWS_PRF = [
    ("Grok-4-Fast", 22.43, 31.88, 26.33), ("Llama-4-Maverick-17B", 28.15, 58.23, 37.96),
    ("Qwen2.5-VL-7B", 22.47, 68.12, 33.79), ("Idefics3-8B", 5.64, 16.21, 8.37),
    ("SmolVLM", 3.34, 6.46, 4.41), ("LLaVA-7B", 1.69, 1.19, 1.39), ("TimesFM", 26.52, 25.82, 26.17),
    ("Chronos", 27.10, 26.35, 26.72), ("AnomLLM", 14.74, 19.63, 16.84), ("LLM-TSAD", 7.82, 66.53, 14.00),
    ("LLMAD", 46.47, 45.98, 46.23), ("VLM4TS", 40.39, 57.31, 47.39), ("Sub-PCA", 44.46, 43.35, 43.90),
    ("Matrix Profile", 39.19, 38.21, 38.69), ("IForest", 48.92, 47.69, 48.30),
    ("7B interval-only", 56.76, 67.98, 61.87),
]  # fmt: skip


@pytest.mark.parametrize("row", PAPER_ROWS_PRF, ids=lambda r: r[0])
def test_every_paper_row_has_integer_counts_that_reproduce_it(row):
    """With TP + FN = 759, some integer TP, FP reproduce each row's P, R and F1.

    The paper prints some values rounded and some truncated to 2 decimals (e.g. the 7B
    interval-only row needs TP=516, FP=393: P = 56.766% printed 56.76), so a value matches
    when either its rounded or its truncated form equals the printed one.
    """
    _, p_pub, r_pub, f_pub = row
    tp = np.arange(0, 760)
    fp = np.arange(0, 20000)
    found = []
    for t in tp[_printed_as(100 * tp / 759, r_pub)]:
        with np.errstate(divide="ignore", invalid="ignore"):
            p = 100 * t / (t + fp)
        for f_ in fp[_printed_as(p, p_pub)]:
            _, _, f1 = prf(int(t), int(f_), 759 - int(t))
            if _printed_as(np.array([100 * f1]), f_pub)[0]:
                found.append((int(t), int(f_)))
    assert found, f"no integer TP/FP reproduces {row}"


@pytest.mark.parametrize(("name", "tp"), [("Sub-PCA", 329), ("Matrix Profile", 290), ("IForest", 362)])
def test_classical_rows_one_interval_per_series(name, tp):
    """Classical detectors emitted one interval per series: TP + FP = 740."""
    p_pub, r_pub, f_pub = next(r[1:] for r in PAPER_ROWS_PRF if r[0] == name)
    p, r, f = prf(tp, 740 - tp, 759 - tp)
    assert (round(100 * p, 2), round(100 * r, 2), round(100 * f, 2)) == (p_pub, r_pub, f_pub)


def test_labels_intervals_round_trip():
    y = np.array([1, 1, 0, 0, 1, 0, 1, 1, 1])
    assert labels_to_intervals(y) == [(0, 1), (4, 4), (6, 8)]
    assert labels_to_intervals(y, offset=100) == [(100, 101), (104, 104), (106, 108)]
    assert intervals_to_labels([(100, 101), (104, 104), (106, 108)], 9, offset=100).tolist() == y.tolist()
    assert labels_to_intervals(np.zeros(4, int)) == []
    assert intervals_to_labels([(-5, 1), (7, 20)], 9).tolist() == [1, 1, 0, 0, 0, 0, 0, 1, 1]
