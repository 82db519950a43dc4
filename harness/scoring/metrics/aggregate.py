"""Run-level aggregation: means with seeded bootstrap CIs, pooled interval P/R/F1, group breakdowns.

Undefined per-sample values (None) are excluded from means and counted as ``n_undefined``.
All bootstraps are percentile bootstraps over samples with ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .intervals import prf

_CHUNK_CELLS = 2_000_000


def _defined(values: Iterable[float | None]) -> tuple[np.ndarray, int]:
    """Finite values as an array, plus how many were None (NaN/inf raise ValueError)."""
    kept: list[float] = []
    missing = 0
    for v in values:
        if v is None:
            missing += 1
            continue
        f = float(v)
        if not math.isfinite(f):
            raise ValueError(f"non-finite metric value {v!r}: undefined values must be None")
        kept.append(f)
    return np.asarray(kept, dtype=np.float64), missing


def _resample_weights(rng: np.random.Generator, m: int, n_boot: int):
    """Yield (rows, m) matrices of how often each sample is drawn, in memory-bounded chunks."""
    rows = max(1, _CHUNK_CELLS // max(m, 1))
    done = 0
    while done < n_boot:
        k = min(rows, n_boot - done)
        idx = rng.integers(0, m, size=(k, m))
        # counts per (row, sample): one bincount over row-offset indices (what np.add.at did, faster)
        flat = (idx + (np.arange(k) * m)[:, None]).ravel()
        yield np.bincount(flat, minlength=k * m).reshape(k, m).astype(np.float64)
        done += k


def bootstrap_ci(
    values: Iterable[float | None], *, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of the defined values (None ones are dropped).

    Raises ValueError when no value is defined.
    """
    x, _ = _defined(values)
    if x.size == 0:
        raise ValueError("bootstrap_ci: no defined values")
    if not 0 < alpha < 1 or n_boot < 1:
        raise ValueError("bootstrap_ci: need 0 < alpha < 1 and n_boot >= 1")
    rng = np.random.default_rng(seed)
    means = np.concatenate([w @ x / x.size for w in _resample_weights(rng, x.size, n_boot)])
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def mean_with_ci(
    values: Iterable[float | None], *, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05
) -> dict[str, float | int | None]:
    """``{mean, ci_low, ci_high, n, n_undefined}`` over the defined values (None if none)."""
    vals = list(values)
    x, missing = _defined(vals)
    if x.size == 0:
        return {"mean": None, "ci_low": None, "ci_high": None, "n": 0, "n_undefined": missing}
    lo, hi = bootstrap_ci(x.tolist(), n_boot=n_boot, seed=seed, alpha=alpha)
    return {"mean": float(x.mean()), "ci_low": lo, "ci_high": hi, "n": int(x.size), "n_undefined": missing}


def pooled_interval_metrics(
    counts_per_sample: Sequence[Sequence[int]], *, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05
) -> dict[str, Any]:
    """Pooled interval P/R/F1 over samples (sum tp, fp, fn first) with bootstrap-over-samples CIs.

    Returns tp, fp, fn, n_samples, precision, recall, f1 (None if undefined) and
    ``<metric>_ci`` = (low, high) or None; bootstrap replicates where a metric is undefined
    are left out of its interval.
    """
    c = np.asarray(counts_per_sample, dtype=np.float64).reshape(-1, 3)
    if np.any(c < 0):
        raise ValueError("pooled_interval_metrics: counts must be >= 0")
    tp, fp, fn = (int(v) for v in c.sum(axis=0))
    p, r, f = prf(tp, fp, fn)
    out: dict[str, Any] = {"tp": tp, "fp": fp, "fn": fn, "n_samples": int(c.shape[0]),
                           "precision": p, "recall": r, "f1": f}  # fmt: skip
    if c.shape[0] == 0:
        return out | {"precision_ci": None, "recall_ci": None, "f1_ci": None}
    rng = np.random.default_rng(seed)
    sums = np.concatenate([w @ c for w in _resample_weights(rng, c.shape[0], n_boot)])
    btp, bfp, bfn = sums[:, 0], sums[:, 1], sums[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        reps = {
            "precision": btp / (btp + bfp),
            "recall": btp / (btp + bfn),
            "f1": 2 * btp / (2 * btp + bfp + bfn),
        }
    for name, v in reps.items():
        v = v[np.isfinite(v)]
        out[f"{name}_ci"] = (
            tuple(float(q) for q in np.quantile(v, [alpha / 2, 1 - alpha / 2])) if v.size else None
        )
    return out


def _group_of(record: Mapping[str, Any], key: str | Callable[[Mapping[str, Any]], Any]) -> str:
    if callable(key):
        value = key(record)
    elif key in record:
        value = record[key]
    else:
        value = (record.get("meta") or {}).get(key)
    return "unknown" if value is None else str(value)


def group_breakdown(
    records: Iterable[Mapping[str, Any]],
    key: str | Callable[[Mapping[str, Any]], Any],
    metric_fn: Callable[[list[Mapping[str, Any]]], Any],
) -> dict[str, Any]:
    """Apply ``metric_fn`` to the records of each group, groups sorted by name.

    ``key`` is a record field (looked up in the record, then in ``record['meta']``) or a
    function of the record; records without it fall in group ``"unknown"``.
    """
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for rec in records:
        groups.setdefault(_group_of(rec, key), []).append(rec)
    return {g: metric_fn(groups[g]) for g in sorted(groups)}


def interval_run_metrics(
    counts_per_sample: Sequence[Sequence[int]],
    ious: Iterable[float | None],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """VisAnomBench run summary: pooled P/R/F1 with CIs plus ``overlap`` = mean IoU with CI.

    ``ious`` are the per-sample ``interval_iou`` values (None ones are excluded and counted).
    """
    out = pooled_interval_metrics(counts_per_sample, n_boot=n_boot, seed=seed, alpha=alpha)
    out["overlap"] = mean_with_ci(ious, n_boot=n_boot, seed=seed, alpha=alpha)
    return out
