"""How much faster is a sweep on 2 worker processes than on 1?

Two measurements, each against its 1-worker reference in the same run (fresh results folder,
no prediction cache, so every sample is computed):

1. the CPU part of a sweep: several classical detectors over a folder of synthetic series in
   TSB-AD-U format (jobs run side by side and each is split by series);
2. per-series splitting: ONE detector over the same series (its shards run side by side).

The series (sine + noise with one anomalous stretch, ``--series`` of ``--length`` points)
are written to a temporary folder in TSB-AD-U's file format and read by the ``tsb-ad-u``
task with a custom list, the way the official 350 are.

Targets: both ratios >= 1.7 on 2 workers. The machine's load average is printed with the
numbers: on a machine shared with other work, the ratio says as much about the neighbours.

    PYTHONPATH=. python benchmarks/sweep_bench.py [--workers 2] [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from harness.sweep.driver import run_sweep
from harness.sweep.executors import thread_env
from harness.sweep.file import load_sweep

SWEEP = """
name: bench
groups:
  - tasks: [{{name: tsb-ad-u, args: {{data_dir: "{data}", file_list: bench}}}}]
    models: [{models}]
"""


def make_series(folder: Path, n: int, length: int) -> Path:
    """``n`` synthetic series in TSB-AD-U format plus the list ``bench.csv``; returns the folder."""
    data = folder / "data"
    data.mkdir()
    names = []
    for i in range(n):
        rng = np.random.default_rng(i)
        t = np.arange(length)
        x = np.sin(2 * np.pi * t / (40 + 7 * (i % 5))) + 0.2 * rng.standard_normal(length)
        labels = np.zeros(length, dtype=int)
        start = length // 2 + 37 * i % (length // 3)
        x[start : start + 60] += 2.5 * rng.standard_normal(60)
        labels[start : start + 60] = 1
        name = f"{i + 1:03d}_Synthetic_id_{i + 1}_Sine_tr_{length // 4}_1st_{start}.csv"
        body = "\n".join(f"{v:.6f},{lab}" for v, lab in zip(x, labels, strict=True))
        (data / name).write_text("Data,Label\n" + body + "\n")
        names.append(name)
    (data / "bench.csv").write_text("file_name\n" + "\n".join(names) + "\n")
    return data


def _children_cpu_s() -> float:
    """User + system CPU seconds of this process's finished children (the sweep's workers)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(sweep_text: str, workers: int, folder: Path) -> tuple[float, float, list[float]]:
    """One sweep from scratch with ``workers`` worker processes: wall seconds, the workers' CPU
    seconds, and each job's wall seconds."""
    path = folder / "bench.yaml"
    path.write_text(sweep_text)
    out = folder / f"out-{workers}-{time.monotonic_ns()}"
    sweep = load_sweep(str(path))
    cpu0, t0 = _children_cpu_s(), time.perf_counter()
    result = run_sweep(sweep, output=out, workers=workers, cache=None, progress=False, print_fn=lambda s: None)
    wall, cpu = time.perf_counter() - t0, _children_cpu_s() - cpu0
    if not result.ok:
        raise SystemExit(f"benchmark sweep did not complete: {[(j.pj.name, j.state, j.reason) for j in result.jobs]}")
    shutil.rmtree(out, ignore_errors=True)
    return wall, cpu, [round(j.wall_s, 1) for j in result.jobs]


def measure(name: str, text: str, workers: int, repeat: int, folder: Path) -> float:
    """Best-of-``repeat`` wall times on 1 and on ``workers`` workers; prints and returns the ratio.

    The workers' CPU seconds are printed beside the wall times: the same CPU on both settings with a
    wall that does not halve means the cores were busy with other work (neighbours); much more CPU
    on ``workers`` means the workers fought each other (threads, memory bandwidth)."""
    one = min((timed(text, 1, folder) for _ in range(repeat)), key=lambda r: r[0])
    many = min((timed(text, workers, folder) for _ in range(repeat)), key=lambda r: r[0])
    ratio = one[0] / many[0]
    print(f"{name}: 1 worker {one[0]:.1f} s (workers' CPU {one[1]:.1f} s), {workers} workers {many[0]:.1f} s "
          f"(workers' CPU {many[1]:.1f} s) -> {ratio:.2f}x  (load average now {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores)", flush=True)
    print(f"  per-job wall s, 1 worker: {one[2]}; {workers} workers: {many[2]}", flush=True)
    return ratio


def main() -> None:
    """Run both measurements."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--repeat", type=int, default=1, help="best of N runs per setting")
    p.add_argument("--models", default="Sub-PCA, IForest, POLY", help="detectors of the CPU-sweep measurement")
    p.add_argument("--one", default="Sub-KNN", help="the detector of the per-series measurement")
    p.add_argument("--series", type=int, default=24, help="synthetic series (default: %(default)s)")
    p.add_argument("--length", type=int, default=20000, help="points per series (default: %(default)s)")
    args = p.parse_args()
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print(f"worker thread limits: {thread_env(1)} (harness.sweep.executors.thread_env; a variable set in "
          "this shell wins)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = make_series(folder, args.series, args.length)
        r1 = measure(f"CPU sweep ({args.models}) over {args.series} series",
                     SWEEP.format(data=data, models=args.models), args.workers, args.repeat, folder)
        r2 = measure(f"one detector ({args.one}) split over {args.series} series",
                     SWEEP.format(data=data, models=args.one), args.workers, args.repeat, folder)
    target = 1.7
    print(f"targets >= {target}x: CPU sweep {'met' if r1 >= target else 'NOT met'}, "
          f"per-series split {'met' if r2 >= target else 'NOT met'}")


if __name__ == "__main__":
    main()
