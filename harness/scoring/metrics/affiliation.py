"""Affiliation precision / recall (Huet, Navarro & Rossi, KDD 2022), as tsb-ad 1.5 computes it.

A predicted or true point i is the half-open event [i, i+1); runs of points are merged into
events and the time axis is [0, n). Each true event J owns an affiliation zone E (from the
midpoint between it and its left neighbour to the midpoint with its right neighbour; the
outermost zones reach 0 and n). Within E:

* precision of J = mean over the predicted time x inside E of P(d(X, J) >= d(x, J)) with X
  uniform on E (1 inside J); zones without predicted time are skipped in the average;
* recall of J = mean over y in J of P(|X - y| >= d(y, pred within E)), X uniform on E
  (0 when E holds no predicted time).

Precision and recall are the means over zones. Integrals are closed-form, per piece.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._validate import as_labels, as_pred
from .runs import runs


@njit(cache=True)
def _int_min_lin(y0, y1, a1, b1, a2, b2):  # pragma: no cover - numba
    """Integral over [y0, y1] of min(a1 + b1*y, a2 + b2*y)."""
    if y1 <= y0:
        return 0.0
    cuts = [y0, y1]
    if b1 != b2:
        yc = (a2 - a1) / (b1 - b2)
        if y0 < yc < y1:
            cuts = [y0, yc, y1]
    total = 0.0
    for i in range(len(cuts) - 1):
        u, v = cuts[i], cuts[i + 1]
        mid = 0.5 * (u + v)
        if a1 + b1 * mid <= a2 + b2 * mid:
            a, b = a1, b1
        else:
            a, b = a2, b2
        total += a * (v - u) + b * (v * v - u * u) / 2.0
    return total


@njit(cache=True)
def _precision_piece(u, v, ja, jb, lo, hi):  # pragma: no cover - numba
    """Integral over predicted piece [u, v] of P(d(X, J) >= d(x, J)), J = [ja, jb], E = [lo, hi]."""
    len_e = hi - lo
    len_j = jb - ja
    m_left = ja - lo
    m_right = hi - jb
    total = max(0.0, min(v, jb) - max(u, ja))
    # part left of J: d = ja - x
    l0, l1 = u, min(v, ja)
    if l1 > l0:
        mass = len_j * (l1 - l0) + _int_min_lin(l0, l1, ja, -1.0, m_left, 0.0)
        mass += _int_min_lin(l0, l1, ja, -1.0, m_right, 0.0)
        total += (l1 - l0) - mass / len_e
    # part right of J: d = x - jb
    r0, r1 = max(u, jb), v
    if r1 > r0:
        mass = len_j * (r1 - r0) + _int_min_lin(r0, r1, -jb, 1.0, m_left, 0.0)
        mass += _int_min_lin(r0, r1, -jb, 1.0, m_right, 0.0)
        total += (r1 - r0) - mass / len_e
    return total


@njit(cache=True)
def _recall_piece(y0, y1, iu, iv, lo, hi):  # pragma: no cover - numba
    """Integral over true piece [y0, y1] of P(|X - y| >= d(y, I)), I = [iu, iv], E = [lo, hi]."""
    len_e = hi - lo
    total = max(0.0, min(y1, iv) - max(y0, iu))
    l0, l1 = y0, min(y1, iu)  # left of I: d = iu - y
    if l1 > l0:
        mass = _int_min_lin(l0, l1, iu, -1.0, -lo, 1.0) + _int_min_lin(l0, l1, iu, -1.0, hi, -1.0)
        total += (l1 - l0) - mass / len_e
    r0, r1 = max(y0, iv), y1  # right of I: d = y - iv
    if r1 > r0:
        mass = _int_min_lin(r0, r1, -iv, 1.0, -lo, 1.0) + _int_min_lin(r0, r1, -iv, 1.0, hi, -1.0)
        total += (r1 - r0) - mass / len_e
    return total


@njit(cache=True)
def affiliation_sums(gs, ge, ps, pe, n):  # pragma: no cover - numba
    """Return (sum of zone precisions, zones with predictions, sum of zone recalls)."""
    g = gs.shape[0]
    npred = ps.shape[0]
    cu = np.empty(npred + 1)
    cv = np.empty(npred + 1)
    k0 = 0
    p_sum = 0.0
    p_cnt = 0
    r_sum = 0.0
    for j in range(g):
        lo = 0.0 if j == 0 else (ge[j - 1] + gs[j]) / 2.0
        hi = float(n) if j == g - 1 else (ge[j] + gs[j + 1]) / 2.0
        while k0 < npred and pe[k0] <= lo:
            k0 += 1
        m = 0
        k = k0
        while k < npred and ps[k] < hi:
            u = max(ps[k], lo)
            v = min(pe[k], hi)
            if u < v:
                cu[m] = u
                cv[m] = v
                m += 1
            k += 1
        if m == 0:
            continue
        num = 0.0
        length = 0.0
        for i in range(m):
            num += _precision_piece(cu[i], cv[i], gs[j], ge[j], lo, hi)
            length += cv[i] - cu[i]
        p_sum += num / length
        p_cnt += 1
        rec = 0.0
        for i in range(m):
            z0 = lo if i == 0 else (cv[i - 1] + cu[i]) / 2.0
            z1 = hi if i == m - 1 else (cv[i] + cu[i + 1]) / 2.0
            y0 = max(z0, gs[j])
            y1 = min(z1, ge[j])
            if y1 > y0:
                rec += _recall_piece(y0, y1, cu[i], cv[i], lo, hi)
        r_sum += rec / (ge[j] - gs[j])
    return p_sum, p_cnt, r_sum


def affiliation_from_runs(
    true_starts: np.ndarray, true_ends: np.ndarray, pred_starts: np.ndarray, pred_ends: np.ndarray, n: int
) -> tuple[float | None, float | None]:
    """(precision, recall) from inclusive runs; precision None without predictions, both None without truth."""
    if true_starts.size == 0:
        return None, None
    p_sum, p_cnt, r_sum = affiliation_sums(
        true_starts.astype(np.float64),
        true_ends.astype(np.float64) + 1.0,
        pred_starts.astype(np.float64),
        pred_ends.astype(np.float64) + 1.0,
        n,
    )
    precision = p_sum / p_cnt if p_cnt else None
    return precision, r_sum / true_starts.size


def f_from_pr(p: float | None, r: float | None) -> float | None:
    """Harmonic mean; None when recall is undefined, and a missing precision counts as 0."""
    if r is None:
        return None
    p = 0.0 if p is None else p
    return min(1.0, 2 * p * r / (p + r)) if p + r > 0 else 0.0  # rounding must not exceed 1


def affiliation_prf(pred: object, labels: object) -> tuple[float | None, float | None, float | None]:
    """Affiliation (precision, recall, F1) of binary predictions against 0/1 labels.

    Precision is None when nothing is predicted (F1 is then 0); all three are None when
    the labels hold no anomaly.
    """
    y = as_labels(labels)
    p = as_pred(pred, y.size)
    ts, te = runs(y)
    ps, pe = runs(p)
    precision, recall = affiliation_from_runs(ts, te, ps, pe, y.size)
    return precision, recall, f_from_pr(precision, recall)
