"""In-context examples for the text recipes (LLMAD, LLM-TSAD), drawn from labelled TRAIN data.

:class:`ExamplePool` holds labelled series: the train split the task the recipe runs on offers
(``task.examples``, :func:`pool_for_task`), or nothing. From it a recipe takes

* anomalous examples (:meth:`ExamplePool.anomaly_segments`): each labelled anomaly with
  ``pad`` points on each side, at most ``max_len`` points (LLMAD: pad 20, 200 points);
* normal examples (:meth:`ExamplePool.normal_segments`): label-free stretches of ``length``
  points (LLMAD: 800; halved until some are found).

A sample that carries its own anomaly-free training prefix (``Sample.train_end``, the
TSB-AD-U view) adds normal stretches from that prefix (:func:`normal_from_prefix`). Nothing
here ever reads a TEST sample's labels.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.core.hashing import array_hash, stable_hash


@dataclass(frozen=True)
class Example:
    """One labelled series (values and 0/1 labels of equal length)."""

    values: np.ndarray
    labels: np.ndarray
    origin: str = ""


@dataclass(frozen=True)
class Segment:
    """A piece of an example: values, labels and where it came from."""

    values: np.ndarray
    labels: np.ndarray
    origin: str = ""


@dataclass
class ExamplePool:
    """Labelled train series to draw in-context examples from."""

    examples: list[Example] = field(default_factory=list)
    source: str = "none"

    def fingerprint(self) -> str:
        """Hash of the examples' values and labels (part of the recipe's fingerprint)."""
        return stable_hash([self.source, [[e.origin, array_hash(np.asarray(e.values, np.float64)),
                                            array_hash(np.asarray(e.labels, np.int8))] for e in self.examples]])

    def anomaly_segments(self, pad: int = 20, max_len: int = 200) -> list[Segment]:
        """Each labelled anomaly run with ``pad`` points around it, cut to ``max_len`` points."""
        out = []
        for e in self.examples:
            for a, b in runs(e.labels):
                lo, hi = max(0, a - pad), min(len(e.values), b + 1 + pad)
                if hi - lo > max_len:
                    lo = max(0, min(lo, (a + b) // 2 - max_len // 2))
                    hi = min(len(e.values), lo + max_len)
                out.append(Segment(e.values[lo:hi], e.labels[lo:hi], f"{e.origin}[{lo}:{hi}]"))
        return out

    def normal_segments(self, length: int = 800) -> list[Segment]:
        """Label-free stretches of ``length`` points (halved until at least one is found)."""
        while length >= 8:
            out = [s for e in self.examples for s in normal_stretches(e.values, e.labels, length, e.origin)]
            if out:
                return out
            length //= 2
        return []


def runs(labels: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (start, end) of each run of 1s."""
    y = np.asarray(labels).astype(np.int8).ravel()
    if y.size == 0:
        return []
    d = np.diff(np.r_[0, y, 0])
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1
    return [(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]


def normal_stretches(values: np.ndarray, labels: np.ndarray, length: int, origin: str = "") -> Iterator[Segment]:
    """Non-overlapping label-free stretches of exactly ``length`` points."""
    y = np.asarray(labels).astype(np.int8).ravel()
    start = 0
    while start + length <= y.size:
        block = y[start : start + length]
        bad = np.flatnonzero(block)
        if bad.size:
            start += int(bad[-1]) + 1
            continue
        yield Segment(np.asarray(values[start : start + length]), block, f"{origin}[{start}:{start + length}]")
        start += length


def normal_from_prefix(series: np.ndarray, train_end: int | None, length: int) -> list[Segment]:
    """Normal stretches from a sample's own anomaly-free training prefix (``series[:train_end]``)."""
    if not train_end or train_end < 8:
        return []
    prefix = np.asarray(series[: int(train_end)])
    n = min(length, prefix.size)
    return [Segment(prefix[i : i + n], np.zeros(n, np.int8), f"prefix[{i}:{i + n}]")
            for i in range(0, prefix.size - n + 1, n)]


def pool_for_task(task: Any, max_series: int = 64) -> ExamplePool:
    """The task's labelled train series, through the small interface a task may offer:
    ``task.examples(n, kind="labelled")`` -> ``[(id, values, labels), ...]`` (at most
    ``max_series``; the task gives none when it evaluates its train split itself). A task
    without that method gives an empty pool. Recipes import no task package."""
    offer = getattr(task, "examples", None)
    if not callable(offer):
        return ExamplePool()
    examples = [Example(np.asarray(v, np.float64), np.asarray(y, np.int8), str(i))
                for i, v, y in offer(int(max_series), kind="labelled")]
    if not examples:
        return ExamplePool()
    return ExamplePool(examples, f"{getattr(task, 'name', 'task')}:train")


def _dtw_kernel() -> Any:
    """The compiled DTW kernel (numba, a core dependency; compiled on first use)."""
    global _DTW
    if _DTW is None:
        from numba import njit

        @njit(cache=False, nogil=True)
        def dtw(a: np.ndarray, b: np.ndarray) -> float:  # pragma: no cover - compiled
            n, m = a.size, b.size
            prev = np.full(m + 1, np.inf)
            prev[0] = 0.0
            cur = np.empty(m + 1)
            for i in range(1, n + 1):
                cur[0] = np.inf
                for j in range(1, m + 1):
                    d = (a[i - 1] - b[j - 1]) ** 2
                    best = prev[j - 1]
                    if prev[j] < best:
                        best = prev[j]
                    if cur[j - 1] < best:
                        best = cur[j - 1]
                    cur[j] = d + best
                prev, cur = cur, prev
            return np.sqrt(prev[m])

        _DTW = dtw
    return _DTW


_DTW: Any = None


def dtw_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Dynamic time warping distance (square root of the summed squared differences along the
    best warping path, no window constraint) between two 1-D series."""
    x, y = np.ascontiguousarray(a, np.float64).ravel(), np.ascontiguousarray(b, np.float64).ravel()
    if x.size == 0 or y.size == 0:
        return float("inf")
    return float(_dtw_kernel()(x, y))


def nearest(query: np.ndarray, candidates: Sequence[Segment], k: int = 1) -> list[Segment]:
    """The ``k`` candidates closest to ``query`` by DTW distance (LLMAD's retrieval), in order."""
    if not candidates or k < 1:
        return []
    q = np.asarray(query, np.float64)
    dist = [dtw_distance(q, c.values) for c in candidates]
    order = np.argsort(dist, kind="stable")[:k]
    return [candidates[int(i)] for i in order]
