"""Threshold-free point metrics: AUC-ROC, AUC-PR (average precision) and the oracle point F1.

All three walk the distinct score values from high to low (ties form one threshold, as in
scikit-learn's ``_binary_clf_curve``), so they agree with ``roc_auc_score``,
``average_precision_score`` and tsb-ad's ``metric_PointF1``.
"""

from __future__ import annotations

import numpy as np

from ._validate import as_labels, as_scores

F1_EPS = 1e-5
"""tsb-ad's ``metric_PointF1`` adds this to the F1 denominator; part of its definition."""


def _curve(scores: object, labels: object) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative (tps, fps) at each distinct threshold, highest score first (inputs validated)."""
    labels = as_labels(labels)
    scores = as_scores(scores, labels.size)
    order = np.argsort(-scores, kind="mergesort")
    s = scores[order]
    y = labels[order]
    last = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]
    tps = np.cumsum(y)[last].astype(np.float64)
    fps = (last + 1) - tps
    return tps, fps


def auc_roc(scores: object, labels: object) -> float | None:
    """Area under the ROC curve (trapezoids, ties as one step); None without both classes."""
    tps, fps = _curve(scores, labels)
    if tps[-1] == 0 or fps[-1] == 0:
        return None
    tpr = np.r_[0.0, tps / tps[-1]]
    fpr = np.r_[0.0, fps / fps[-1]]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def auc_pr(scores: object, labels: object) -> float | None:
    """Average precision: sum of recall steps times precision; None without anomalies."""
    tps, fps = _curve(scores, labels)
    if tps[-1] == 0:
        return None
    precision = tps / (tps + fps)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def best_point_f1(scores: object, labels: object, *, eps: float = F1_EPS) -> float | None:
    """tsb-ad 'Standard-F1': max over distinct thresholds of 2PR/(P+R+eps); None without anomalies.

    tsb-ad's definition adds ``eps`` = 1e-5 to the denominator, so a perfect detector gets
    0.999995; pass ``eps=0`` for the plain F1.
    """
    tps, fps = _curve(scores, labels)
    if tps[-1] == 0:
        return None
    precision = tps / (tps + fps)
    recall = tps / tps[-1]
    denom = precision + recall + eps
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
    return float(f1.max())


def curve_metrics(
    scores: object, labels: object, *, eps: float = F1_EPS
) -> tuple[float | None, float | None, float | None]:
    """``(auc_roc, auc_pr, best_point_f1(eps=eps))`` from a single sort of the scores."""
    tps, fps = _curve(scores, labels)
    if tps[-1] == 0:
        return None, None, None
    precision = tps / (tps + fps)
    recall = tps / tps[-1]
    roc = None
    if fps[-1] > 0:
        tpr = np.r_[0.0, recall]
        fpr = np.r_[0.0, fps / fps[-1]]
        roc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))
    ap = float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
    denom = precision + recall + eps
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
    return roc, ap, float(f1.max())
