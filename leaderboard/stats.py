"""Rank statistics for the leaderboard, in numpy and the standard library (no scipy in the core).

* :func:`average_ranks`: per block (series) the models' ranks (1 = best, ties share the mean
  rank), averaged over blocks.
* :func:`friedman`: Friedman's chi-square over those ranks, its p-value (chi-square with
  ``k - 1`` degrees of freedom) and Iman and Davenport's F (Demšar 2006, section 3.2.2).
* :func:`q_alpha` and :func:`nemenyi_cd`: the Nemenyi post-hoc test's critical difference
  ``CD = q_alpha * sqrt(k (k + 1) / (6 N))``, where ``q_alpha`` is the studentized range
  quantile (infinite degrees of freedom) divided by ``sqrt(2)`` (Demšar 2006, eq. 5 and table 5).
* :func:`cliques`: maximal groups of models whose average ranks lie within one CD (the bars
  of a critical-difference diagram).
* :func:`bootstrap_rank_intervals` and :func:`paired_bootstrap_ci`: percentile intervals over
  blocks resampled with replacement (a seeded generator, so a rebuild gives the same page).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

__all__ = [
    "average_ranks", "bootstrap_rank_intervals", "chi2_sf", "cliques", "friedman", "friedman_from_ranks",
    "nemenyi_cd",
    "paired_bootstrap_ci", "q_alpha", "rank_rows", "resample_counts",
]


def rank_rows(values: np.ndarray) -> np.ndarray:
    """Ranks within each row of ``values`` (blocks x models), 1 = the highest value; ties get the
    mean of the ranks they span."""
    x = np.asarray(values, dtype=np.float64)
    n, k = x.shape
    order = np.argsort(-x, axis=1, kind="stable")
    ranks = np.empty_like(x)
    rows = np.arange(n)[:, None]
    ranks[rows, order] = np.arange(1, k + 1, dtype=np.float64)[None, :]
    sorted_x = np.take_along_axis(x, order, axis=1)
    for i in np.nonzero((np.diff(sorted_x, axis=1) == 0).any(axis=1))[0]:  # rows with ties only
        values_i = sorted_x[i]
        start = 0
        for j in range(1, k + 1):
            if j == k or values_i[j] != values_i[start]:
                if j - start > 1:
                    ranks[i, order[i, start:j]] = (start + 1 + j) / 2.0
                start = j
    return ranks


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Mean rank of each model (column) over the blocks (rows); 1 = best."""
    return rank_rows(values).mean(axis=0)


def friedman(values: np.ndarray) -> dict[str, float]:
    """Friedman's test on ``values`` (N blocks x k models, higher is better).

    Returns ``chi2`` (Demšar's eq. 3, no tie correction), ``df`` (k - 1), ``p`` (chi-square
    upper tail), and Iman-Davenport's ``F`` with ``df1`` = k - 1, ``df2`` = (k - 1)(N - 1)."""
    x = np.asarray(values, dtype=np.float64)
    n, k = x.shape
    if n < 2 or k < 2:
        raise ValueError(f"Friedman's test needs at least 2 blocks and 2 models (got {n} x {k})")
    return friedman_from_ranks(average_ranks(x), n)


def friedman_from_ranks(ranks: Sequence[float], n: int) -> dict[str, float]:
    """:func:`friedman` from the k average ranks over ``n`` blocks."""
    r = np.asarray(ranks, dtype=np.float64)
    k = r.size
    chi2 = 12.0 * n / (k * (k + 1)) * (float(np.sum(r ** 2)) - k * (k + 1) ** 2 / 4.0)
    denom = n * (k - 1) - chi2
    f = (n - 1) * chi2 / denom if denom > 0 else math.inf
    return {"chi2": chi2, "df": float(k - 1), "p": chi2_sf(chi2, k - 1), "F": f,
            "df1": float(k - 1), "df2": float((k - 1) * (n - 1))}


def chi2_sf(x: float, df: int) -> float:
    """P(X > x) for a chi-square variable with ``df`` degrees of freedom (regularised upper
    incomplete gamma Q(df/2, x/2): its series below a + 1, Lentz's continued fraction above)."""
    if x <= 0:
        return 1.0
    a, z = df / 2.0, x / 2.0
    log_front = a * math.log(z) - z - math.lgamma(a)
    if z < a + 1.0:
        term = total = 1.0 / a
        ap = a
        for _ in range(10_000):
            ap += 1.0
            term *= z / ap
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(log_front))
    tiny = 1e-300
    b = z + 1.0 - a
    c, d = 1.0 / tiny, 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return min(1.0, math.exp(log_front) * h)


_Z = np.linspace(-9.0, 9.0, 3601)
_ERF = np.frompyfunc(math.erf, 1, 1)


def _phi_cdf(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + _ERF(z / math.sqrt(2.0)).astype(np.float64))


def _range_cdf(q: float, k: int) -> float:
    """P(range of k standard normals <= q) = k * integral phi(z) (Phi(z + q) - Phi(z))^(k-1) dz."""
    pdf = np.exp(-_Z ** 2 / 2.0) / math.sqrt(2.0 * math.pi)
    inner = np.clip(_phi_cdf(_Z + q) - _phi_cdf(_Z), 0.0, 1.0) ** (k - 1)
    y = k * pdf * inner
    return float(np.sum((y[1:] + y[:-1]) * np.diff(_Z)) / 2.0)


@lru_cache(maxsize=128)
def q_alpha(k: int, alpha: float = 0.05) -> float:
    """Nemenyi's critical value for ``k`` models: the (1 - alpha) quantile of the studentized
    range of k normals (infinite degrees of freedom), divided by sqrt(2)."""
    if k < 2:
        raise ValueError("the Nemenyi test needs at least 2 models")
    if not 0 < alpha < 1:
        raise ValueError("alpha must be in (0, 1)")
    lo, hi = 0.0, 20.0
    for _ in range(60):  # bisection: the CDF is increasing in q
        mid = (lo + hi) / 2.0
        if _range_cdf(mid, k) < 1.0 - alpha:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0 / math.sqrt(2.0)


def nemenyi_cd(k: int, n: int, alpha: float = 0.05) -> float:
    """Critical difference of average ranks for k models over n blocks (Demšar 2006, eq. 5)."""
    return q_alpha(k, alpha) * math.sqrt(k * (k + 1) / (6.0 * n))


def cliques(ranks: Sequence[float], cd: float) -> list[tuple[int, int]]:
    """Maximal runs ``(first, last)`` of positions in ``ranks`` sorted ascending whose spread is
    below ``cd`` (no significant difference inside), of two or more models, none inside another."""
    order = sorted(range(len(ranks)), key=lambda i: ranks[i])
    r = [ranks[i] for i in order]
    runs: list[tuple[int, int]] = []
    for i in range(len(r)):
        j = i
        while j + 1 < len(r) and r[j + 1] - r[i] < cd:
            j += 1
        if j > i and not any(a <= i and j <= b for a, b in runs):
            runs.append((i, j))
    return runs


@lru_cache(maxsize=8)
def resample_counts(n: int, resamples: int, seed: int) -> np.ndarray:
    """How often each of ``n`` blocks is drawn in each of ``resamples`` bootstrap resamples
    (``resamples x n``, read-only; cached: every pair of a task shares the same resamples)."""
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(np.float64)
    counts.setflags(write=False)
    return counts


def bootstrap_rank_intervals(
    means_by_block: np.ndarray, *, resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile intervals of each model's rank by its mean over blocks (rank 1 = highest
    mean), the blocks resampled with replacement ``resamples`` times. Returns ``(lo, hi)``."""
    x = np.asarray(means_by_block, dtype=np.float64)
    n, k = x.shape
    means = resample_counts(n, resamples, seed) @ x / n  # resamples x models
    ranks = rank_rows(means)
    tail = (1.0 - level) / 2.0
    return np.quantile(ranks, tail, axis=0), np.quantile(ranks, 1.0 - tail, axis=0)


def paired_bootstrap_ci(
    differences: Sequence[float], *, resamples: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile CI of the mean paired difference, the pairs (blocks) resampled with replacement."""
    d = np.asarray(differences, dtype=np.float64)
    if d.size == 0:
        raise ValueError("no paired values")
    means = resample_counts(d.size, resamples, seed) @ d / d.size
    tail = (1.0 - level) / 2.0
    return float(np.quantile(means, tail)), float(np.quantile(means, 1.0 - tail))
