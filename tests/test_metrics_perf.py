"""Resource bounds: VUS memory does not grow with n x window; long series stay fast."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np

from harness.scoring.metrics import score_metrics, vus


def _series(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.zeros(n, dtype=np.int64)
    for a in rng.choice(n - 500, size=20, replace=False):
        y[a : a + int(rng.integers(1, 400))] = 1
    return rng.random(n) + 0.5 * y, y


def test_vus_memory_is_bounded_not_n_times_window():
    s, y = _series(200_000)
    vus(s[:5000], y[:5000], 10)  # load kernels outside the measurement
    tracemalloc.start()
    vus(s, y, 400)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    dense = 200_000 * 401 * 8  # one float64 n x window matrix: 640 MB
    assert peak < 40 * 2**20 < dense / 10


def test_long_series_suite_is_fast():
    s, y = _series(200_000, seed=1)
    score_metrics(s[:5000], y[:5000], 10)
    t0 = time.perf_counter()
    out = score_metrics(s, y, 150)
    assert time.perf_counter() - t0 < 20  # generous: shared CI machines; typically < 1 s
    assert all(v is not None for v in out.values())
