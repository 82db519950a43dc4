"""Benchmark harness.scoring.metrics against tsb-ad 1.5's ``get_metrics`` (same inputs, one core).

    python benchmarks/metrics_bench.py compare [--lengths 1000 10000 100000] [--window 100]
    python benchmarks/metrics_bench.py tsbad-u [--limit N]

``compare`` times every metric of ``get_metrics`` (tsb-ad's own component calls, whose sum
is ``get_metrics``) and ours on identical synthetic series, checks the values agree, and
prints per-metric ratios and peak traced memory (tracemalloc) per series length.
``tsbad-u`` times ours only on synthetic series with the real lengths, anomaly counts and
anomaly lengths of the 350 TSB-AD-U evaluation series, windows from tsb-ad's
``find_length_rank`` on a periodic signal: first VUS-PR + VUS-ROC for all, then the suite.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.scoring.metrics import auc_pr, auc_roc, best_point_f1, score_metrics, vus  # noqa: E402
from harness.scoring.metrics.oracle import (  # noqa: E402
    oracle_affiliation_f,
    oracle_event_f1,
    oracle_pa_f1,
    oracle_range_f1,
    threshold_counts,
)

# the published per-series table in the team's shared folder: ../shared beside the project root
# (for a worktree, one level further up), as tests/lb_fixtures.py:shared_reference finds it
_TABLE = Path("shared", "reference", "tsb-ad-u", "leaderboard_vus_pr_per_series.csv")
CSV = next((p / _TABLE for p in Path(__file__).resolve().parents[1].parents if (p / _TABLE).is_file()),
           Path(__file__).resolve().parents[2] / _TABLE)


def pin_one_core() -> None:
    """Run on a single CPU so timings are single-core."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def synthetic(n: int, n_anom: int, anom_len: int, rng: np.random.Generator, period: int = 50):
    """(series, labels, scores): periodic signal with ``n_anom`` segments totalling ``anom_len``."""
    t = np.arange(n)
    series = np.sin(2 * np.pi * t / period) + 0.2 * rng.standard_normal(n)
    y = np.zeros(n, dtype=np.int64)
    n_anom = max(1, min(n_anom, anom_len, n // 4))
    anom_len = max(anom_len, n_anom)
    cuts = np.sort(rng.choice(np.arange(1, anom_len), n_anom - 1, replace=False)) if n_anom > 1 else []
    lengths = np.diff(np.r_[0, cuts, anom_len]).astype(int)
    slots = np.sort(rng.choice(np.arange(n // 10, n - 1), size=n_anom, replace=False))
    for a, length in zip(slots, lengths, strict=True):
        y[a : min(n, a + int(length))] = 1
    if y.all():
        y[0] = 0
    series = series + 2.0 * y * rng.random()
    kernel = np.ones(9) / 9
    scores = np.convolve(np.abs(rng.standard_normal(n)), kernel, mode="same") + y * rng.uniform(0.2, 1.0)
    return series, y, scores


def timed(fn: Callable[[], object]) -> tuple[object, float, float]:
    """(result, seconds, peak traced MiB)."""
    tracemalloc.start()
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return out, dt, peak


def ours_parts(s: np.ndarray, y: np.ndarray, w: int) -> dict[str, Callable[[], object]]:
    def oracle(fn):
        return lambda: fn(threshold_counts(s), y)

    return {
        "AUC-ROC": lambda: auc_roc(s, y),
        "AUC-PR": lambda: auc_pr(s, y),
        "VUS-PR+VUS-ROC": lambda: vus(s, y, w),
        "Standard-F1": lambda: best_point_f1(s, y),
        "PA-F1": lambda: oracle_pa_f1(threshold_counts(s), y, tsbad_compat=True),
        "Event-based-F1": lambda: oracle_event_f1(threshold_counts(s), y, tsbad_compat=True),
        "R-based-F1": oracle(oracle_range_f1),
        "Affiliation-F": oracle(oracle_affiliation_f),
    }


def tsbad_parts(s: np.ndarray, y: np.ndarray, w: int) -> dict[str, Callable[[], object]]:
    from TSB_AD.evaluation.basic_metrics import basic_metricor, generate_curve

    g = basic_metricor()
    return {
        "AUC-ROC": lambda: g.metric_ROC(y, s),
        "AUC-PR": lambda: g.metric_PR(y, s),
        "VUS-PR+VUS-ROC": lambda: tuple(generate_curve(y, s, w, "opt", 250)[6:]),
        "Standard-F1": lambda: g.metric_PointF1(y, s),
        "PA-F1": lambda: g.metric_PointF1PA(y, s),
        "Event-based-F1": lambda: g.metric_EventF1PA(y, s),
        "R-based-F1": lambda: g.metric_RF1(y, s),
        "Affiliation-F": lambda: g.metric_Affiliation(y, s),
    }


def _close(a: object, b: object) -> float:
    a_arr, b_arr = np.atleast_1d(np.asarray(a, dtype=float)), np.atleast_1d(np.asarray(b, dtype=float))
    return float(np.max(np.abs(a_arr - b_arr)))


def compare(lengths: list[int], window: int, seed: int, skip_tsbad_above: int) -> None:
    """Print a per-metric timing / memory table for each series length."""
    rng = np.random.default_rng(seed)
    _, y0, s0 = synthetic(500, 2, 20, rng)
    _, t_first, _ = timed(lambda: score_metrics(s0, y0, 10))
    print(f"first call (numba cache load/compile): {t_first:.2f} s; window {window}; one core")
    for n in lengths:
        _, y, s = synthetic(n, 5, max(5, n // 100), rng)
        print(f"\n== n = {n:,} points, {int(y.sum())} anomalous in 5 segments, window {window} ==")
        print(
            f"{'metric':<16}{'tsb-ad s':>10}{'ours s':>10}{'ratio':>9}{'tsb MiB':>9}{'ours MiB':>9}{'max |diff|':>12}"
        )
        tot_t = tot_o = 0.0
        peak_t = peak_o = 0.0
        ours = ours_parts(s, y, window)
        theirs = tsbad_parts(s, y, window)
        for name, fn in ours.items():
            val_o, dt_o, mem_o = timed(fn)
            if n <= skip_tsbad_above:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    val_t, dt_t, mem_t = timed(theirs[name])
                diff = _close(val_o, val_t)
                print(
                    f"{name:<16}{dt_t:>10.3f}{dt_o:>10.4f}{dt_t / dt_o:>9.0f}{mem_t:>9.1f}{mem_o:>9.1f}{diff:>12.1e}"
                )
                tot_t += dt_t
                peak_t = max(peak_t, mem_t)
            else:
                print(f"{name:<16}{'-':>10}{dt_o:>10.4f}{'-':>9}{'-':>9}{mem_o:>9.1f}")
            tot_o += dt_o
            peak_o = max(peak_o, mem_o)
        _, dt_full, mem_full = timed(lambda s=s, y=y: score_metrics(s, y, window, tsbad_compat=True))
        if n <= skip_tsbad_above:
            print(
                f"{'get_metrics':<16}{tot_t:>10.3f}{dt_full:>10.4f}{tot_t / dt_full:>9.0f}{peak_t:>9.1f}{mem_full:>9.1f}"
            )
        else:
            print(f"{'score_metrics':<16}{'-':>10}{dt_full:>10.4f}")


def _tsbad_u_series(row, rng: np.random.Generator):
    from TSB_AD.utils.slidingWindows import find_length_rank

    period = int(rng.integers(16, 300))
    series, y, s = synthetic(int(row.ts_len), int(row.num_anomaly), int(row.anomaly_len), rng, period)
    return y, s, int(find_length_rank(series, rank=1))


def tsbad_u(limit: int | None, seed: int) -> None:
    """Time VUS and the full suite over series shaped like the 350 TSB-AD-U evaluation series."""
    import pandas as pd

    table = pd.read_csv(CSV)
    if limit:
        table = table.head(limit)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    data = [_tsbad_u_series(row, rng) for row in table.itertuples()]
    windows = np.array([w for _, _, w in data])
    print(f"{len(data)} series, {int(table.ts_len.sum()):,} points; built in {time.perf_counter() - t0:.1f} s; "
          f"windows min/median/max {windows.min()}/{int(np.median(windows))}/{windows.max()}")  # fmt: skip
    _, y0, s0 = synthetic(2000, 3, 30, np.random.default_rng(1))
    score_metrics(s0, y0, 20)  # load the numba kernels before timing
    tracemalloc.start()
    t0 = time.perf_counter()
    slowest = 0.0
    for y, s, w in data:
        t1 = time.perf_counter()
        vus(s, y, w)
        slowest = max(slowest, time.perf_counter() - t1)
    t_vus = time.perf_counter() - t0
    peak_vus = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.reset_peak()
    print(
        f"VUS-PR + VUS-ROC, all series: {t_vus:.1f} s (slowest series {slowest:.2f} s), peak traced {peak_vus:.0f} MiB"
    )
    t0 = time.perf_counter()
    slowest = 0.0
    for y, s, w in data:
        t1 = time.perf_counter()
        score_metrics(s, y, w)
        slowest = max(slowest, time.perf_counter() - t1)
    t_full = time.perf_counter() - t0
    peak_full = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    print(
        f"full score_metrics suite, all series: {t_full:.1f} s (slowest series {slowest:.2f} s), peak traced {peak_full:.0f} MiB"
    )


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    c = sub.add_parser("compare", help="ours vs tsb-ad per metric and length")
    c.add_argument("--lengths", type=int, nargs="+", default=[1000, 10_000, 100_000])
    c.add_argument("--window", type=int, default=100)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--skip-tsbad-above", type=int, default=10**9, help="only time ours above this length")
    u = sub.add_parser("tsbad-u", help="ours on the 350 TSB-AD-U series lengths")
    u.add_argument("--limit", type=int, default=None)
    u.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    pin_one_core()
    if args.mode == "compare":
        compare(args.lengths, args.window, args.seed, args.skip_tsbad_above)
    else:
        tsbad_u(args.limit, args.seed)


if __name__ == "__main__":
    main()
