"""How long planning the TSB-AD-U VLM view takes: windows counted from row counts (now) against
parsing every series with the validating reader (before), on synthetic files named as the
official evaluation list (350 series of 20,000 points by default).

    python benchmarks/plan_bench.py [--series 350] [--length 20000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from harness import registry
from harness.cli.main import BUILTIN_PLUGINS


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=350)
    ap.add_argument("--length", type=int, default=20_000)
    args = ap.parse_args()
    registry.add_plugins(BUILTIN_PLUGINS)
    with tempfile.TemporaryDirectory() as tmp:
        task = registry.make_task("tsb-ad-u-vlm", data_dir=tmp)
        rng = np.random.default_rng(0)
        files = task.files[: args.series]
        for name in files:
            train = int(name.split("_tr_")[1].split("_")[0]) if "_tr_" in name else 100
            n = max(args.length, train + 10)
            labels = np.zeros(n, dtype=int)
            labels[n // 2: n // 2 + 20] = 1
            body = "\n".join(f"{v:.6f},{lab}" for v, lab in zip(rng.standard_normal(n), labels, strict=True))
            Path(tmp, name).write_text("Data,Label\n" + body + "\n")
        t0 = time.perf_counter()
        windows = registry.make_task("tsb-ad-u-vlm", data_dir=tmp).count(args.series)
        new_s = time.perf_counter() - t0
        old = registry.make_task("tsb-ad-u-vlm", data_dir=tmp)
        t0 = time.perf_counter()
        for name in files:
            old._load(name)  # what counting did before: the validating read of every series
        old_s = time.perf_counter() - t0
    print(f"{len(files)} series, {windows} windows")
    print(f"count by parsing every series (before): {old_s:.2f} s ({old_s / len(files) * 1000:.1f} ms/series)")
    print(f"count from row counts (now):            {new_s:.2f} s ({new_s / len(files) * 1000:.1f} ms/series)")
    print(f"ratio: {old_s / new_s:.1f}x faster")


if __name__ == "__main__":
    main()
