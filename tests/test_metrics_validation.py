"""Bad input raises ValueError naming the cause; undefined metrics are None, never NaN."""

from __future__ import annotations

import numpy as np
import pytest

from harness.scoring.metrics import (
    affiliation_prf,
    binary_metrics,
    point_prf,
    score_metrics,
    vus_pr,
    vus_roc,
)

Y = np.array([0, 1, 1, 0, 0])
S = np.array([0.1, 0.9, 0.8, 0.2, 0.3])


@pytest.mark.parametrize(
    ("scores", "labels", "match"),
    [
        (S[:4], Y, "length mismatch"),
        (np.array([0.1, np.nan, 0.8, 0.2, 0.3]), Y, "NaN or inf"),
        (np.array([0.1, np.inf, 0.8, 0.2, 0.3]), Y, "NaN or inf"),
        (np.array([]), np.array([]), "empty"),
        (S, np.array([0, 2, 1, 0, 0]), "only 0 and 1"),
        (S, np.array([0, 0.5, 1, 0, 0]), "only 0 and 1"),
        (S, np.array([0, np.nan, 1, 0, 0]), "NaN or inf"),
        (S.reshape(1, 5), Y, "1-D"),
        (np.array(["a"] * 5), Y, "numeric"),
    ],
)
def test_score_input_errors(scores, labels, match):
    with pytest.raises(ValueError, match=match):
        score_metrics(scores, labels, 2)
    with pytest.raises(ValueError, match=match):
        vus_pr(scores, labels, 2)


@pytest.mark.parametrize("window", [-1, 2.5, "3", True])
def test_bad_window(window):
    with pytest.raises(ValueError, match="sliding_window"):
        score_metrics(S, Y, window)


@pytest.mark.parametrize(
    ("pred", "match"),
    [(np.array([0, 1, 0]), "length mismatch"), (np.array([0, 3, 0, 0, 0]), "pred must contain")],
)
def test_pred_input_errors(pred, match):
    for fn in (
        lambda: binary_metrics(pred, Y, 2),
        lambda: point_prf(pred, Y),
        lambda: affiliation_prf(pred, Y),
    ):
        with pytest.raises(ValueError, match=match):
            fn()


def test_no_anomaly_gives_none_not_nan():
    y = np.zeros(5, dtype=int)
    assert all(v is None for v in score_metrics(S, y, 2).values())
    out = binary_metrics(np.array([0, 1, 0, 0, 0]), y, 2)
    assert out["Standard-F1"] == 0.0 and out["PA-F1"] == 0.0  # count-based F1: predictions, no truth
    for key in ("Event-based-F1", "R-based-F1", "Affiliation-F", "VUS-Recall", "VUS-Precision", "VUS-F"):
        assert out[key] is None
    assert all(v is None for v in binary_metrics(np.zeros(5, int), y, 2).values())


def test_all_anomalous():
    y = np.ones(5, dtype=int)
    out = score_metrics(S, y, 2)
    assert out["AUC-ROC"] is None and out["VUS-ROC"] is None
    assert out["AUC-PR"] == 1.0 and out["VUS-PR"] == 1.0
    assert vus_roc(S, y, 2) is None


def test_no_prediction():
    p = np.zeros(5, dtype=int)
    assert point_prf(p, Y) == (None, 0.0, 0.0)
    assert affiliation_prf(p, Y) == (None, 0.0, 0.0)
    out = binary_metrics(p, Y, 2)
    assert out["VUS-Precision"] is None
    assert all(out[k] == 0.0 for k in out if k != "VUS-Precision")


def test_bool_and_int_inputs_agree():
    pb = np.array([False, True, False, False, True])
    assert binary_metrics(pb, Y.astype(bool), 2) == binary_metrics(pb.astype(int), Y, 2)
    assert score_metrics(S, Y.astype(bool), 2) == score_metrics(S, Y.astype(float), 2)
