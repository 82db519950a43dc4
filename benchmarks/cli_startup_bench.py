"""Start-up time of ``visanom ls tasks`` and ``visanom --help`` against the eager registry.

Each command runs in a fresh interpreter ``--repeat`` times; the median wall time is reported.
The reference, measured in the same run, is what the registry did before it became lazy:
import every built-in task and model module and compute every detector's effective
hyperparameters (which imports tsb-ad), then list the tasks.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/cli_startup_bench.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 1.0

EAGER_REFERENCE = """
import importlib
for mod in ("tasks.tsb_ad_u", "tasks.tsb_ad_u.vlm_view", "tasks.visanombench.task", "baselines.classical",
            "baselines.template_reasoner", "baselines.hf_models", "baselines.api_models",
            "baselines.vllm_models"):
    importlib.import_module(mod)
from baselines.tsbad.adapter import effective_hyperparameters
from baselines.tsbad.catalog import SPECS
for spec in SPECS:
    effective_hyperparameters(spec.tsb_name)
from harness.cli.main import main
main(["ls", "tasks"])
"""


def median_time(argv: list[str], repeat: int) -> float:
    """Median wall time of ``argv`` in a fresh process, over ``repeat`` runs (after one warm-up)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    times = []
    for i in range(repeat + 1):
        t0 = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        if i:  # the first run warms the file cache and bytecode
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    """Print the median times, the speed-up over the eager reference and the 1 s target."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    py = sys.executable
    ref = median_time([py, "-c", EAGER_REFERENCE], args.repeat)
    print(f"reference (eager: import every built-in, then ls tasks): {ref:.3f} s")
    for label, argv in (("visanom ls tasks", [py, "-m", "harness", "ls", "tasks"]),
                        ("visanom --help", [py, "-m", "harness", "--help"])):
        t = median_time(argv, args.repeat)
        verdict = "under" if t < TARGET_S else "OVER"
        print(f"{label:18s} {t:.3f} s  ({ref / t:.1f}x faster than the reference; {verdict} the {TARGET_S:.0f} s target)")


if __name__ == "__main__":
    main()
