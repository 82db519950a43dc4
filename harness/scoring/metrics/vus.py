"""Volume under the range-based ROC / PR surfaces (VUS-ROC, VUS-PR; Paparrizos et al. 2022).

Same definition as tsb-ad 1.5 ``RangeAUC_volume_opt`` (``version='opt'``): for every window
w in 0..sliding_window the labels get sqrt-shaped ramps of half-width w // 2 around each
anomaly segment, ``thre`` thresholds are taken at evenly spaced ranks of the sorted scores,
and the range-based TPR/FPR/precision curves are integrated; VUS is the mean over windows.
Instead of re-scanning the series for each (window, threshold) pair, each point is assigned
the first threshold that predicts it, so every sum becomes a cumulative histogram.
"""

from __future__ import annotations

import numpy as np

from ._validate import as_labels, as_scores, as_window
from ._vus_kernels import existence_hist, ramp_hist
from .runs import runs


def threshold_bins(scores: np.ndarray, thre: int) -> np.ndarray:
    """Index of the first of tsb-ad's ``thre`` rank thresholds at which ``score >= t`` holds."""
    desc = -np.sort(-scores)
    t = desc[np.linspace(0, scores.size - 1, thre).astype(int)]
    return thre - np.searchsorted(t[::-1], scores, side="right")


def vus_surfaces(
    scores: object, labels: object, sliding_window: int, thre: int = 250
) -> tuple[np.ndarray | None, np.ndarray]:
    """Per-window range AUC-ROC and AP arrays (length sliding_window + 1).

    The ROC array is None when every point is anomalous (FPR undefined). Raises ValueError
    when there is no anomaly (both undefined); callers turn that into None.
    """
    y = as_labels(labels)
    s = as_scores(scores, y.size)
    max_window = as_window(sliding_window)
    if thre < 1:
        raise ValueError(f"thre must be >= 1, got {thre}")
    n = y.size
    seg_s, seg_e = runs(y)
    if seg_s.size == 0:
        raise ValueError("no anomaly in labels: VUS is undefined")
    jidx = threshold_bins(s, thre).astype(np.int64)
    n_pred = np.cumsum(np.bincount(jidx, minlength=thre)).astype(np.float64)
    hit_anom = np.cumsum(np.bincount(jidx[y == 1], minlength=thre)).astype(np.float64)
    ramp = np.cumsum(ramp_hist(seg_s, seg_e, jidx, n, max_window, thre, False), axis=1)
    ex_hist, ngroups = existence_hist(seg_s, seg_e, jidx, n, max_window, thre)
    existence = np.cumsum(ex_hist, axis=1) / ngroups[:, None]
    p = float(y.sum())
    tp = hit_anom[None, :] + ramp
    p_new = (p + (p + ramp)) / 2.0
    recall = np.minimum(tp / p_new, 1.0)
    tpr = recall * existence
    rows = max_window + 1
    tpr_full = np.hstack([np.zeros((rows, 1)), tpr, np.ones((rows, 1))])
    prec = tp / n_pred[None, :]
    ap = np.sum(np.diff(tpr_full[:, :-1], axis=1) * prec, axis=1)
    if p >= n:
        return None, ap
    fpr = (n_pred[None, :] - tp) / (n - p_new)
    fpr_full = np.hstack([np.zeros((rows, 1)), fpr, np.ones((rows, 1))])
    roc = np.sum(np.diff(fpr_full, axis=1) * (tpr_full[:, 1:] + tpr_full[:, :-1]) / 2.0, axis=1)
    return roc, ap


def vus(
    scores: object, labels: object, sliding_window: int, thre: int = 250
) -> tuple[float | None, float | None]:
    """``(vus_roc, vus_pr)``; None for a value that is undefined (see docs/metrics.md)."""
    y = as_labels(labels)
    if not y.any():
        as_scores(scores, y.size)
        as_window(sliding_window)
        return None, None
    roc, ap = vus_surfaces(scores, y, sliding_window, thre)
    return (None if roc is None else float(np.mean(roc))), float(np.mean(ap))


def vus_pr(scores: object, labels: object, sliding_window: int, thre: int = 250) -> float | None:
    """VUS-PR as tsb-ad ``get_metrics(..., version='opt', thre=250)`` reports it; None without anomalies."""
    return vus(scores, labels, sliding_window, thre)[1]


def vus_roc(scores: object, labels: object, sliding_window: int, thre: int = 250) -> float | None:
    """VUS-ROC as tsb-ad reports it; None without anomalies or without normal points."""
    return vus(scores, labels, sliding_window, thre)[0]
