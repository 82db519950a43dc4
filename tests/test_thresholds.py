"""Tests of the score thresholding policy (harness/scoring/thresholds.py)."""

from __future__ import annotations

import numpy as np
import pytest

from harness.scoring.thresholds import (
    binarize,
    binary_to_intervals,
    check_scores,
    peak_interval,
    score_threshold,
    threshold_prediction,
)


def _bump(n: int = 500, at: int = 300, width: int = 10) -> np.ndarray:
    rng = np.random.default_rng(0)
    s = 0.1 * rng.random(n)
    s[at : at + width] += 5.0
    return s


def test_peak_interval_is_one_run_around_the_peak() -> None:
    s = _bump()
    (iv,) = peak_interval(s)
    assert iv == (300, 309)
    assert iv[0] <= int(np.argmax(s)) <= iv[1]


def test_peak_interval_ends_are_inclusive_and_offset() -> None:
    s = np.zeros(50)
    s[10:13] = 1.0
    assert peak_interval(s) == ((10, 12),)
    assert peak_interval(s, index_offset=1000) == ((1010, 1012),)


def test_peak_interval_only_the_run_containing_the_peak() -> None:
    s = np.zeros(200)
    s[20:30] = 5.0
    s[100:104] = 9.0
    assert peak_interval(s) == ((100, 103),)
    assert peak_interval(s, k=1.0) == ((100, 103),)
    assert len(binary_to_intervals(binarize(s, k=1.0))) == 2


def test_peak_interval_at_series_edges() -> None:
    s = np.zeros(100)
    s[:4] = 7.0
    assert peak_interval(s, 5) == ((5, 8),)
    s = np.zeros(100)
    s[-3:] = 7.0
    assert peak_interval(s) == ((97, 99),)


def test_constant_scores_are_deterministic() -> None:
    s = np.full(300, 0.42)
    assert peak_interval(s) == ((0, 0),)
    assert peak_interval(s, index_offset=7) == ((7, 7),)
    assert binarize(s).sum() == 0


def test_flat_peak_below_threshold_is_single_point() -> None:
    s = np.array([0.0, 1.0, 0.0, 1.0, 0.0])  # max not above mean + 3 std
    assert peak_interval(s) == ((1, 1),)


def test_binarize_matches_mean_plus_k_std() -> None:
    s = _bump()
    b = binarize(s)
    assert b.dtype == np.int64 and set(np.unique(b)) <= {0, 1}
    np.testing.assert_array_equal(b, (s > s.mean() + 3 * s.std()).astype(np.int64))
    assert b.sum() == 10
    assert binarize(s, k=0.0).sum() == int((s > s.mean()).sum())


def test_threshold_invariant_to_affine_rescaling() -> None:
    s = _bump()
    assert peak_interval(s) == peak_interval(3.0 * s + 11.0)
    np.testing.assert_array_equal(binarize(s), binarize((s - s.min()) / np.ptp(s)))


def test_non_finite_scores_are_ignored() -> None:
    s = _bump()
    s[5] = np.nan
    s[6] = np.inf
    (iv,) = peak_interval(s)
    assert iv == (300, 309)
    assert binarize(s)[5] == 0 and binarize(s)[6] == 0
    assert np.isfinite(score_threshold(s))


def test_empty_or_all_nan_is_value_error() -> None:
    with pytest.raises(ValueError):
        peak_interval(np.array([]))
    with pytest.raises(ValueError):
        binarize(np.array([np.nan, np.nan]))


def test_binary_to_intervals() -> None:
    assert binary_to_intervals(np.array([0, 1, 1, 0, 1]), 10) == ((11, 12), (14, 14))
    assert binary_to_intervals(np.array([], dtype=int)) == ()
    assert binary_to_intervals(np.zeros(5)) == ()


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("Model function is not defined", "returned a message instead of scores"),
        (None, "returned no scores"),
        ({"a": 1}, "non-numeric output of type dict"),
        (np.zeros(4), "scores have length 4, the window has 5"),
        (np.array([0.0, np.nan, 1.0, np.inf, 2.0]), "2 of 5 scores are not finite"),
    ],
)
def test_check_scores_refuses_what_cannot_be_scored(raw: object, why: str) -> None:
    scores, err = check_scores(raw, 5, "the window")
    assert scores is None and err is not None and err.startswith(why)


def test_threshold_prediction_sets_the_peak_interval_or_the_error() -> None:
    from harness.core.types import Prediction

    s = np.zeros(50)
    s[20:23] = 5.0
    ok = threshold_prediction(Prediction("a", scores=list(s)), 50, index_offset=100)
    assert ok.error is None and ok.intervals == ((120, 122),) and isinstance(ok.scores, np.ndarray)
    bad = threshold_prediction(Prediction("b", scores=s[:10]), 50)
    assert bad.error == "scores have length 10, the series has 50" and not bad.intervals
