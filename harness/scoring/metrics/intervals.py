"""Interval-level metrics of VisAnomBench (the paper's TP/FP/FN, P/R/F1 and Overlap).

Convention used everywhere in ``harness.scoring.metrics``: an interval is ``(start, end)`` in absolute
series indices with BOTH ends INCLUSIVE, so ``(5, 5)`` is the single point 5 and
``(5, 7)`` covers 5, 6, 7. Two intervals overlap when they share at least one index.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

Interval = tuple[int, int]


def as_intervals(intervals: Iterable[Sequence[int]] | None, name: str = "intervals") -> np.ndarray:
    """Return intervals as an ``(k, 2)`` int64 array; raise ValueError on malformed ones."""
    items = [] if intervals is None else list(intervals)
    out = np.zeros((len(items), 2), dtype=np.int64)
    for i, iv in enumerate(items):
        try:
            start, end = iv
        except (TypeError, ValueError):
            raise ValueError(f"{name}[{i}] must be a (start, end) pair, got {iv!r}") from None
        for v in (start, end):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise ValueError(f"{name}[{i}] must hold integer indices, got {iv!r}")
        if start > end:
            raise ValueError(f"{name}[{i}] has start > end: {iv!r} (ends are inclusive)")
        out[i] = (int(start), int(end))
    return out


def _overlap_matrix(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """``[i, j]`` is True when predicted interval i shares an index with true interval j."""
    return (pred[:, None, 0] <= true[None, :, 1]) & (true[None, :, 0] <= pred[:, None, 1])


def interval_counts(
    pred_intervals: Iterable[Sequence[int]] | None, true_intervals: Iterable[Sequence[int]] | None
) -> tuple[int, int, int]:
    """Return ``(tp, fp, fn)`` for one sample, as the paper counts them.

    tp = true intervals overlapped by at least one predicted interval; fn = the other true
    intervals; fp = predicted intervals that overlap no true interval (each listed predicted
    interval counts on its own, duplicates included). So tp + fn = number of true intervals.
    """
    pred = as_intervals(pred_intervals, "pred_intervals")
    true = as_intervals(true_intervals, "true_intervals")
    if len(true) == 0:
        return 0, len(pred), 0
    if len(pred) == 0:
        return 0, 0, len(true)
    hit = _overlap_matrix(pred, true)
    tp = int(hit.any(axis=0).sum())
    return tp, int((~hit.any(axis=1)).sum()), len(true) - tp


def merge_intervals(intervals: np.ndarray) -> np.ndarray:
    """Union of inclusive intervals as sorted, disjoint, non-adjacent ``(k, 2)`` intervals."""
    if len(intervals) == 0:
        return intervals.reshape(0, 2)
    iv = intervals[np.argsort(intervals[:, 0], kind="stable")]
    reach = np.maximum.accumulate(iv[:, 1])
    new = np.ones(len(iv), dtype=bool)
    new[1:] = iv[1:, 0] > reach[:-1] + 1
    starts = iv[new, 0]
    ends = np.maximum.reduceat(iv[:, 1], np.flatnonzero(new))
    return np.stack([starts, ends], axis=1)


def _total_length(merged: np.ndarray) -> int:
    return int((merged[:, 1] - merged[:, 0] + 1).sum())


def _intersection_length(a: np.ndarray, b: np.ndarray) -> int:
    """Number of indices shared by two merged interval lists."""
    if len(a) == 0 or len(b) == 0:
        return 0
    lo = np.maximum(a[:, None, 0], b[None, :, 0])
    hi = np.minimum(a[:, None, 1], b[None, :, 1])
    return int(np.clip(hi - lo + 1, 0, None).sum())


def interval_iou(
    pred_intervals: Iterable[Sequence[int]] | None, true_intervals: Iterable[Sequence[int]] | None
) -> float | None:
    """Intersection over union of the predicted and true anomalous index sets of one sample.

    Each side's index set is the union of its inclusive intervals; IoU = |P & T| / |P | T|.
    It is 0.0 when exactly one side is empty and None (undefined) when both are empty.
    """
    pred = merge_intervals(as_intervals(pred_intervals, "pred_intervals"))
    true = merge_intervals(as_intervals(true_intervals, "true_intervals"))
    union_parts = _total_length(pred) + _total_length(true)
    if union_parts == 0:
        return None
    inter = _intersection_length(pred, true)
    return inter / (union_parts - inter)


def prf(tp: int, fp: int, fn: int) -> tuple[float | None, float | None, float | None]:
    """Precision, recall, F1 from counts; each is None when its denominator is 0.

    P = tp/(tp+fp), R = tp/(tp+fn), F1 = 2tp/(2tp+fp+fn) (the harmonic mean of P and R
    when both exist, and 0 when exactly one of them is undefined and the other is 0).
    """
    for name, v in (("tp", tp), ("fp", fp), ("fn", fn)):
        if v < 0:
            raise ValueError(f"{name} must be >= 0, got {v}")
    p = tp / (tp + fp) if tp + fp else None
    r = tp / (tp + fn) if tp + fn else None
    denom = 2 * tp + fp + fn
    f = 2 * tp / denom if denom else None
    return p, r, f


def labels_to_intervals(labels: object, offset: int = 0) -> list[Interval]:
    """Inclusive ``(start, end)`` intervals of the runs of ones in a 0/1 vector, plus ``offset``."""
    from ._validate import as_labels
    from .runs import runs

    starts, ends = runs(as_labels(labels))
    return [(int(s) + offset, int(e) + offset) for s, e in zip(starts, ends, strict=True)]


def intervals_to_labels(intervals: Iterable[Sequence[int]] | None, n: int, offset: int = 0) -> np.ndarray:
    """0/1 int64 vector of length ``n`` with the inclusive intervals (minus ``offset``) set.

    Parts of intervals outside ``[0, n)`` after subtracting ``offset`` are ignored.
    """
    iv = as_intervals(intervals) - offset
    out = np.zeros(n + 1, dtype=np.int64)
    lo = np.clip(iv[:, 0], 0, n)
    hi = np.clip(iv[:, 1] + 1, 0, n)
    keep = hi > lo
    np.add.at(out, lo[keep], 1)
    np.add.at(out, hi[keep], -1)
    return (np.cumsum(out[:-1]) > 0).astype(np.int64)
