"""Metrics of binary predictions: point-wise, point-adjusted, event-based and range-based.

Definitions follow tsb-ad 1.5 (``basic_metricor``) except where noted in docs/metrics.md;
``tsbad_compat=True`` reproduces two tsb-ad edge bugs (point adjustment never reaches index
0; the last true event loses its final point when it touches the series end).
"""

from __future__ import annotations

import numpy as np

from ._validate import as_labels, as_pred
from .affiliation import f_from_pr
from .intervals import prf
from .runs import runs


def point_prf(pred: object, labels: object) -> tuple[float | None, float | None, float | None]:
    """Point-wise (precision, recall, F1) of 0/1 predictions; None where a denominator is 0."""
    y = as_labels(labels)
    p = as_pred(pred, y.size)
    tp = int(np.sum(p & y))
    return prf(tp, int(p.sum()) - tp, int(y.sum()) - tp)


def _run_sums(x: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Sum of ``x`` over each inclusive run."""
    cs = np.concatenate(([0], np.cumsum(x)))
    return cs[ends + 1] - cs[starts]


def pa_f1(pred: object, labels: object, *, tsbad_compat: bool = False) -> float | None:
    """Point-adjusted F1: a true segment with any predicted point counts as fully predicted."""
    pred, y = validate_pair(pred, labels)
    ts, te = runs(y)
    hit = _run_sums(pred, ts, te) > 0
    tp = int(np.sum((te - ts + 1)[hit]))
    if tsbad_compat and ts.size and ts[0] == 0 and hit[0] and pred[0] == 0:
        tp -= 1
    fp = int(np.sum(pred & (1 - y)))
    return prf(tp, fp, int(y.sum()) - tp)[2]


def _true_events(y: np.ndarray, tsbad_compat: bool) -> tuple[np.ndarray, np.ndarray]:
    ts, te = runs(y)
    if tsbad_compat and te.size and te[-1] == y.size - 1:
        te = te.copy()
        te[-1] -= 1  # tsb-ad ``_get_events`` closes a run at the series end one point early
    return ts, te


def event_f1(pred: object, labels: object, *, tsbad_compat: bool = False) -> float | None:
    """tsb-ad 'Event-based-F1': event recall (true runs hit) with point-wise precision."""
    pred, y = validate_pair(pred, labels)
    ts, te = _true_events(y, tsbad_compat)
    if ts.size == 0:
        return None
    hit = np.zeros(ts.size, dtype=bool)
    ok = te >= ts
    hit[ok] = _run_sums(pred, ts[ok], te[ok]) > 0
    n_pred = int(pred.sum())
    precision = float(np.sum(pred & y)) / n_pred if n_pred else None
    return f_from_pr(precision, float(hit.sum()) / ts.size)


def _overlap_counts(a_s: np.ndarray, a_e: np.ndarray, b_s: np.ndarray, b_e: np.ndarray) -> np.ndarray:
    """For each run of A, how many runs of B share an index with it (runs sorted, disjoint)."""
    return np.searchsorted(b_s, a_e, side="right") - np.searchsorted(b_e, a_s, side="left")


def range_pr_unchecked(
    pred: np.ndarray,
    y: np.ndarray,
    alpha: float = 0.2,
    *,
    tsbad_compat: bool = False,
    true_runs: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[float | None, float | None]:
    """Range-based (precision, recall) of Tatbul et al. with tsb-ad's settings.

    Flat positional bias, cardinality factor 1 / (number of overlapping runs of the other
    side); recall = mean over true runs of alpha*existence + (1-alpha)*overlap*cardinality,
    precision = the same over predicted runs with alpha = 0. Recall is None without true
    runs, precision None without predicted runs. ``tsbad_compat`` reproduces tsb-ad's
    ``range_convers_new``, which finds no run in an all-ones prediction. ``true_runs`` may
    pass ``runs(y)`` precomputed.
    """
    ts, te = runs(y) if true_runs is None else true_runs
    ps, pe = runs(pred)
    if tsbad_compat and pred.all():
        ps, pe = ps[:0], pe[:0]
    if ts.size == 0:
        return (None, None) if ps.size == 0 else (0.0, None)
    covered = _run_sums(pred, ts, te)
    n_over = _overlap_counts(ts, te, ps, pe)
    card = np.where(n_over > 0, 1.0 / np.maximum(n_over, 1), 0.0)
    # the ratio first: (1 - alpha) * covered / length rounds above 1 - alpha (R-based-F1 1.0000000000000002)
    recall_terms = alpha * (covered > 0) + (1 - alpha) * (covered / (te - ts + 1)) * card
    recall = min(1.0, float(np.sum(recall_terms)) / ts.size)
    if ps.size == 0:
        return None, recall
    covered_p = _run_sums(y, ps, pe)
    n_over_p = _overlap_counts(ps, pe, ts, te)
    card_p = np.where(n_over_p > 0, 1.0 / np.maximum(n_over_p, 1), 0.0)
    precision = min(1.0, float(np.sum(covered_p / (pe - ps + 1) * card_p)) / ps.size)
    return precision, recall


def range_pr(
    pred: object, labels: object, alpha: float = 0.2, *, tsbad_compat: bool = False
) -> tuple[float | None, float | None]:
    """Range-based (precision, recall) of validated 0/1 inputs; see :func:`range_pr_unchecked`."""
    p, y = validate_pair(pred, labels)
    return range_pr_unchecked(p, y, alpha, tsbad_compat=tsbad_compat)


def range_f1(pred: object, labels: object, *, tsbad_compat: bool = False) -> float | None:
    """tsb-ad 'R-based-F1' (range-based F1, alpha = 0.2); None without true anomalies."""
    return f_from_pr(*range_pr(pred, labels, tsbad_compat=tsbad_compat))


def validate_pair(pred: object, labels: object) -> tuple[np.ndarray, np.ndarray]:
    """Validated ``(pred, labels)`` as int64 0/1 arrays of equal length."""
    y = as_labels(labels)
    return as_pred(pred, y.size), y
