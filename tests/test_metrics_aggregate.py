"""Bootstrap CIs, pooled interval metrics and group breakdowns."""

from __future__ import annotations

import numpy as np
import pytest

from harness.scoring.metrics import (
    bootstrap_ci,
    group_breakdown,
    interval_counts,
    interval_iou,
    interval_run_metrics,
    mean_with_ci,
    pooled_interval_metrics,
    prf,
)


def test_bootstrap_ci_seeded_and_sane():
    vals = list(np.random.default_rng(1).random(50))
    a = bootstrap_ci(vals, n_boot=500, seed=3)
    assert a == bootstrap_ci(vals, n_boot=500, seed=3)
    assert a != bootstrap_ci(vals, n_boot=500, seed=4)
    assert a[0] <= float(np.mean(vals)) <= a[1]
    assert bootstrap_ci([0.5] * 10) == (0.5, 0.5)
    assert bootstrap_ci([0.7]) == (0.7, 0.7)


def test_bootstrap_ci_width_shrinks_with_n():
    rng = np.random.default_rng(0)
    small = bootstrap_ci(rng.random(20), seed=0)
    large = bootstrap_ci(rng.random(2000), seed=0)
    assert large[1] - large[0] < small[1] - small[0]


def test_none_excluded_and_counted_nan_rejected():
    out = mean_with_ci([1.0, None, 0.0, None], n_boot=200)
    assert out["mean"] == 0.5 and out["n"] == 2 and out["n_undefined"] == 2
    assert mean_with_ci([None])["mean"] is None
    with pytest.raises(ValueError, match="non-finite"):
        mean_with_ci([0.1, float("nan")])
    with pytest.raises(ValueError, match="no defined values"):
        bootstrap_ci([None, None])


def test_pooled_interval_metrics_sums_then_divides():
    samples = [([(0, 5)], [(3, 4)]), ([(10, 12), (20, 22)], [(21, 21)]), ([], [(7, 9)]), ([(1, 1)], [])]
    counts = [interval_counts(p, t) for p, t in samples]
    assert counts == [(1, 0, 0), (1, 1, 0), (0, 0, 1), (0, 1, 0)]
    out = pooled_interval_metrics(counts, n_boot=300, seed=0)
    assert (out["tp"], out["fp"], out["fn"], out["n_samples"]) == (2, 2, 1, 4)
    assert (out["precision"], out["recall"], out["f1"]) == prf(2, 2, 1)
    for k in ("precision", "recall", "f1"):
        lo, hi = out[f"{k}_ci"]
        assert 0 <= lo <= out[k] <= hi <= 1
    assert out == pooled_interval_metrics(counts, n_boot=300, seed=0)


def test_pooled_paper_counts():
    counts = [(1, 0, 0)] * 576 + [(0, 0, 1)] * 183 + [(0, 1, 0)] * 223
    out = pooled_interval_metrics(counts, n_boot=200, seed=0)
    assert round(100 * out["precision"], 2) == 72.09 and round(100 * out["f1"], 2) == 73.94
    assert out["f1_ci"][0] < out["f1"] < out["f1_ci"][1]


def test_pooled_empty():
    out = pooled_interval_metrics([], n_boot=10)
    assert out["precision"] is None and out["f1_ci"] is None


def test_group_breakdown():
    recs = [
        {"source": "KPI", "f1": 0.5, "meta": {"domain": "web"}},
        {"source": "UCR", "f1": 1.0, "meta": {"domain": "ecg"}},
        {"source": "KPI", "f1": 0.0, "meta": {}},
    ]

    def mean_f1(rs):
        return sum(r["f1"] for r in rs) / len(rs)

    assert group_breakdown(recs, "source", mean_f1) == {"KPI": 0.25, "UCR": 1.0}
    assert group_breakdown(recs, "domain", len) == {"ecg": 1, "unknown": 1, "web": 1}
    assert list(group_breakdown(recs, lambda r: r["f1"] > 0.2, len)) == ["False", "True"]


def test_interval_run_metrics():
    samples = [([(0, 5)], [(3, 4)]), ([], []), ([(10, 19)], [(15, 24)])]
    counts = [interval_counts(p, t) for p, t in samples]
    ious = [interval_iou(p, t) for p, t in samples]
    out = interval_run_metrics(counts, ious, n_boot=100, seed=1)
    assert (out["tp"], out["fp"], out["fn"]) == (2, 0, 0)
    ov = out["overlap"]
    assert ov["n"] == 2 and ov["n_undefined"] == 1
    assert ov["mean"] == pytest.approx((2 / 6 + 5 / 15) / 2)
