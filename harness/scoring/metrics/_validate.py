"""Input checks shared by every metric: one place that turns bad input into a ValueError."""

from __future__ import annotations

import numpy as np


def as_labels(labels: object, name: str = "labels") -> np.ndarray:
    """Return ``labels`` as a 1-D int64 array of 0/1; raise ValueError naming the cause."""
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if arr.dtype == bool:
        return arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must be numeric 0/1, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    bad = (arr != 0) & (arr != 1)
    if bad.any():
        raise ValueError(
            f"{name} must contain only 0 and 1; found {arr[bad][0]!r} at index {int(np.argmax(bad))}"
        )
    return arr.astype(np.int64)


def as_scores(scores: object, n: int | None = None, name: str = "scores") -> np.ndarray:
    """Return ``scores`` as a finite 1-D float64 array (of length ``n`` when given)."""
    arr = np.asarray(scores)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        bad = int(np.argmax(~np.isfinite(arr)))
        raise ValueError(f"{name} contains NaN or inf (first at index {bad})")
    if n is not None and arr.size != n:
        raise ValueError(f"length mismatch: {name} has {arr.size} points, labels have {n}")
    return arr


def as_pred(pred: object, n: int, name: str = "pred") -> np.ndarray:
    """Return binary predictions as int64 0/1 of length ``n`` (bool accepted)."""
    arr = as_labels(pred, name)
    if arr.size != n:
        raise ValueError(f"length mismatch: {name} has {arr.size} points, labels have {n}")
    return arr


def as_window(sliding_window: object) -> int:
    """Return the sliding window as a non-negative int."""
    if isinstance(sliding_window, bool) or not isinstance(sliding_window, (int, np.integer)):
        raise ValueError(f"sliding_window must be an int, got {sliding_window!r}")
    if sliding_window < 0:
        raise ValueError(f"sliding_window must be >= 0, got {sliding_window}")
    return int(sliding_window)
