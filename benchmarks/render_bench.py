"""Benchmark: the plain pyplot approach vs ``harness.render.plot`` (per plot, and throughput with workers).

Run: ``.venv/bin/python benchmarks/render_bench.py [--reps 7] [--plots 120] [--workers 2]``.
Baseline and ours are measured in the same run, interleaved, and reported as medians.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from harness.render.plot import RenderSettings, render_series
from harness.render.pool import render_many, shutdown_pool
from harness.render.reference import render_plain


def _windows(n_points: int, count: int, seed: int = 0) -> list[tuple[np.ndarray, int]]:
    """``count`` random-walk windows with distinct 6-digit absolute offsets."""
    rng = np.random.default_rng(seed)
    return [(np.cumsum(rng.normal(size=n_points)), 146534 + 997 * i) for i in range(count)]


def _ms(fn: Callable[[np.ndarray, int], bytes], item: tuple[np.ndarray, int]) -> float:
    t = time.perf_counter()
    fn(*item)
    return (time.perf_counter() - t) * 1e3


def per_plot(sizes: list[int], reps: int) -> None:
    """Median ms per plot on one core, plain and ours interleaved window by window."""
    print(f"per plot, one process ({reps} windows each, interleaved):")
    print(f"{'points':>8} {'plain ms':>9} {'ours ms':>8} {'speed-up':>8}")
    render_series(*_windows(1000, 1)[0])  # build this process's figure outside the timing
    render_plain(*_windows(1000, 1)[0])
    for n in sizes:
        plain, ours = [], []
        for item in _windows(n, reps, seed=n):
            plain.append(_ms(render_plain, item))
            ours.append(_ms(render_series, item))
        p, o = statistics.median(plain), statistics.median(ours)
        print(f"{n:>8} {p:>9.1f} {o:>8.1f} {p / o:>7.2f}x")


def throughput(plots: int, n_points: int, workers: int, rounds: int) -> None:
    """Plots per second: plain single-process loop vs ``render_many`` (cold pool, then kept pool)."""
    items = _windows(n_points, plots, seed=1)
    plain_rates, pool_rates = [], []
    shutdown_pool()
    for _ in range(rounds + 1):  # round 0 of render_many starts the pool (cold)
        t = time.perf_counter()
        for item in items:
            render_plain(*item)
        plain_rates.append(plots / (time.perf_counter() - t))
        t = time.perf_counter()
        for _png in render_many(items, RenderSettings(), workers=workers):
            pass
        pool_rates.append(plots / (time.perf_counter() - t))
    shutdown_pool()
    p, cold, warm = statistics.median(plain_rates), pool_rates[0], statistics.median(pool_rates[1:])
    print(f"throughput, {plots} plots of {n_points} points, {rounds + 1} interleaved rounds (medians):")
    print(f"  plain single process          : {p:6.1f} plots/s")
    print(
        f"  render_many workers={workers}, cold  : {cold:6.1f} plots/s  {cold / p:.2f}x (incl. starting the pool)"
    )
    print(
        f"  render_many workers={workers}, warm  : {warm:6.1f} plots/s  {warm / p:.2f}x (pool kept from earlier call)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reps", type=int, default=7, help="windows per size for the per-plot timing")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    ap.add_argument("--plots", type=int, default=120, help="plots per throughput round")
    ap.add_argument("--points", type=int, default=1000, help="points per plot in the throughput test")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    per_plot(args.sizes, args.reps)
    throughput(args.plots, args.points, args.workers, args.rounds)


if __name__ == "__main__":
    main()
