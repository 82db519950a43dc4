"""How much faster is a sweep on 2 worker processes than on 1?

Two measurements, each against its 1-worker reference in the same run (fresh results folder,
no prediction cache, so every sample is computed):

1. the CPU part of a sweep: several classical detectors on the embedded TSB-AD-U set (jobs
   run side by side and each is split by series);
2. per-series splitting: ONE detector over many series (its shards run side by side).

Targets: both ratios >= 1.7 on 2 workers. The machine's load average is printed with the
numbers: on a machine shared with other work, the ratio says as much about the neighbours.

    PYTHONPATH=. python benchmarks/sweep_bench.py [--workers 2] [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from harness.sweep import run_sweep
from harness.sweepfile import load_sweep

SWEEP_CPU = """
name: bench-cpu
groups:
  - tasks: [tsb-ad-u-demo]
    models: [{models}]
"""
SWEEP_ONE = """
name: bench-one
groups:
  - tasks: [tsb-ad-u-demo]
    models: [{model}]
"""


def timed(sweep_text: str, workers: int, folder: Path) -> float:
    """Wall seconds of one sweep from scratch with ``workers`` worker processes."""
    path = folder / "bench.yaml"
    path.write_text(sweep_text)
    out = folder / f"out-{workers}-{time.monotonic_ns()}"
    sweep = load_sweep(str(path))
    t0 = time.perf_counter()
    result = run_sweep(sweep, output=out, workers=workers, cache=None, progress=False, print_fn=lambda s: None)
    wall = time.perf_counter() - t0
    if not result.ok:
        raise SystemExit(f"benchmark sweep did not complete: {[(j.pj.name, j.state, j.reason) for j in result.jobs]}")
    shutil.rmtree(out, ignore_errors=True)
    return wall


def measure(name: str, text: str, workers: int, repeat: int, folder: Path) -> float:
    """Best-of-``repeat`` wall times on 1 and on ``workers`` workers; prints and returns the ratio."""
    one = min(timed(text, 1, folder) for _ in range(repeat))
    many = min(timed(text, workers, folder) for _ in range(repeat))
    ratio = one / many
    print(f"{name}: 1 worker {one:.1f} s, {workers} workers {many:.1f} s -> {ratio:.2f}x  "
          f"(load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)", flush=True)
    return ratio


def main() -> None:
    """Run both measurements."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--repeat", type=int, default=1, help="best of N runs per setting")
    p.add_argument("--models", default="Sub-PCA, IForest, POLY, Sub-KNN, LOF",
                   help="detectors of the CPU-sweep measurement")
    p.add_argument("--one", default="Sub-KNN", help="the detector of the per-series measurement")
    args = p.parse_args()
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        timed(SWEEP_ONE.format(model=args.one), 1, folder)  # warm the embedded data and numba caches once
        r1 = measure(f"CPU sweep ({args.models})", SWEEP_CPU.format(models=args.models), args.workers,
                     args.repeat, folder)
        r2 = measure(f"one detector ({args.one}) split over 15 series", SWEEP_ONE.format(model=args.one),
                     args.workers, args.repeat, folder)
    target = 1.7
    print(f"targets >= {target}x: CPU sweep {'met' if r1 >= target else 'NOT met'}, "
          f"per-series split {'met' if r2 >= target else 'NOT met'}")


if __name__ == "__main__":
    main()
