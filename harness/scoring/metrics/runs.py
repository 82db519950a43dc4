"""Runs of ones in a 0/1 vector, as inclusive ``(start, end)`` index pairs."""

from __future__ import annotations

import numpy as np


def runs(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(starts, ends)`` of the maximal runs of nonzero values; ends are INCLUSIVE."""
    b = np.asarray(x) != 0
    padded = np.concatenate(([False], b, [False])).view(np.int8)
    d = np.diff(padded)
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1) - 1
    return starts, ends


def runs_to_mask(starts: np.ndarray, ends: np.ndarray, n: int) -> np.ndarray:
    """Inverse of :func:`runs`: a bool mask of length ``n`` with ``[start, end]`` set."""
    delta = np.zeros(n + 1, dtype=np.int64)
    np.add.at(delta, np.asarray(starts, dtype=np.int64), 1)
    np.add.at(delta, np.asarray(ends, dtype=np.int64) + 1, -1)
    return np.cumsum(delta[:-1]) > 0
