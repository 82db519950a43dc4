"""tsb-ad's oracle-threshold F-scores: the best value over 100 evenly spaced thresholds.

tsb-ad thresholds ``score > t`` for ``t in linspace(min(score), max(score), 100)`` and keeps
the maximum. Point i is predicted at threshold k exactly when ``k < c[i]`` with
``c[i] = #{t_k < score[i]}``, which lets PA-F1 and Event-F1 be computed for all thresholds
at once; range-based F1 and affiliation F are evaluated per distinct prediction.
"""

from __future__ import annotations

import numpy as np

from .affiliation import affiliation_from_runs, f_from_pr
from .binary import range_pr_unchecked
from .runs import runs

N_THRESHOLDS = 100


def threshold_counts(scores: np.ndarray, k: int = N_THRESHOLDS) -> np.ndarray:
    """``c[i]``: how many of tsb-ad's thresholds lie strictly below ``scores[i]``."""
    t = np.linspace(scores.min(), scores.max(), k)
    return np.searchsorted(t, scores, side="left")


def segment_max(c: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Max of ``c`` over each inclusive run (runs sorted and disjoint); -1 for an empty run."""
    out = np.full(starts.size, -1, dtype=np.int64)
    ok = ends >= starts
    if ok.any():
        bounds = np.empty(2 * int(ok.sum()), dtype=np.int64)
        bounds[0::2] = starts[ok]
        bounds[1::2] = ends[ok] + 1
        out[ok] = np.maximum.reduceat(np.append(c, 0), bounds)[0::2]
    return out


def _hist_above(c: np.ndarray, k: int) -> np.ndarray:
    """``out[t] = #{i : c[i] > t}`` for t in 0..k-1."""
    cnt = np.bincount(c, minlength=k + 1)
    return cnt[::-1].cumsum()[::-1][1:]


def oracle_pa_f1(
    c: np.ndarray, y: np.ndarray, *, tsbad_compat: bool = False, k: int = N_THRESHOLDS
) -> float | None:
    """Best point-adjusted F1 over tsb-ad's thresholds; None without anomalies."""
    ts, te = runs(y)
    if ts.size == 0:
        return None
    cmax = segment_max(c, ts, te)
    thr = np.arange(k)
    lengths = (te - ts + 1).astype(np.float64)
    tp = ((cmax[None, :] > thr[:, None]) * lengths[None, :]).sum(axis=1)
    if tsbad_compat and ts[0] == 0:
        tp = tp - ((thr < cmax[0]) & (thr >= c[0]))
    fp = _hist_above(c[y == 0], k).astype(np.float64)
    fn = y.sum() - tp
    f1 = 2 * tp / (2 * tp + fp + fn)
    return float(f1.max())


def oracle_event_f1(
    c: np.ndarray, y: np.ndarray, *, tsbad_compat: bool = False, k: int = N_THRESHOLDS
) -> float | None:
    """Best tsb-ad Event-based-F1 over its thresholds; None without anomalies."""
    ts, te = runs(y)
    if ts.size == 0:
        return None
    if tsbad_compat and te[-1] == y.size - 1:
        te = te.copy()
        te[-1] -= 1
    cmax = segment_max(c, ts, te)
    thr = np.arange(k)
    rec = (cmax[None, :] > thr[:, None]).sum(axis=1) / ts.size
    n_pred = _hist_above(c, k)
    tp = _hist_above(c[y == 1], k)
    prec = np.divide(tp, n_pred, out=np.zeros(k), where=n_pred > 0)
    denom = prec + rec
    f = np.divide(2 * prec * rec, denom, out=np.zeros(k), where=denom > 0)
    return float(f.max())


def _distinct_levels(c: np.ndarray, k: int) -> np.ndarray:
    """Threshold indices that give distinct predictions (the first of each equal run)."""
    present = np.zeros(k + 1, dtype=bool)
    present[c] = True
    # prediction at t is {c > t}; it changes between t-1 and t only if some c == t
    change = np.ones(k, dtype=bool)
    change[1:] = present[1:k]
    return np.flatnonzero(change)


def oracle_range_f1(c: np.ndarray, y: np.ndarray, k: int = N_THRESHOLDS) -> float | None:
    """Best range-based F1 over tsb-ad's thresholds; None without anomalies."""
    true_runs = runs(y)
    if true_runs[0].size == 0:
        return None
    best = 0.0
    for t in _distinct_levels(c, k):
        f = f_from_pr(*range_pr_unchecked((c > t).astype(np.int64), y, true_runs=true_runs))
        best = max(best, f if f is not None else 0.0)
    return best


def oracle_affiliation_f(c: np.ndarray, y: np.ndarray, k: int = N_THRESHOLDS) -> float | None:
    """Best affiliation F over tsb-ad's thresholds; None without anomalies (0 if never predicting)."""
    ts, te = runs(y)
    if ts.size == 0:
        return None
    best = 0.0
    for t in _distinct_levels(c, k):
        ps, pe = runs(c > t)
        precision, recall = affiliation_from_runs(ts, te, ps, pe, y.size)
        f = f_from_pr(precision, recall)
        best = max(best, f if f is not None else 0.0)
    return best
