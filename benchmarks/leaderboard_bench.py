"""Leaderboard build speed and site size on a synthetic results folder.

Writes ``--models`` runs (default 50) on each of two tasks of ``--samples`` samples (default
1,000): a text task (an answer, a plot in the input store, GT and predicted intervals) and a
score task (a series of ``--length`` points in the input store and a score file per sample).
Then times, with ``--workers`` processes (default 2, the target machine's cores):

1. a build from scratch (reference: 60 s),
2. a rebuild with nothing changed,
3. an incremental rebuild after one new run is added (reference: 5 s),

prints each time and its ratio to the reference, and the site's size (total and per part).

    .venv/bin/python benchmarks/leaderboard_bench.py [--models 50] [--samples 1000] [--workers 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.core.spec import slug  # noqa: E402
from leaderboard.build import build  # noqa: E402

FROM_SCRATCH_S = 60.0
INCREMENTAL_S = 5.0
ANSWER = ("<anomaly>True</anomaly>\n<index>({a}, {b})</index>\n"
          "Step 1: The x-axis represents the index, ranging from {lo} to {hi}; the y-axis the value.\n"
          "Step 2: One region stands out around index {a} to {b}, where the series drops sharply.\n"
          "Step 3: This region is an anomaly because it breaks the periodic pattern seen elsewhere.")
GROUPS = ("ours", "large VLM", "small VLM", "TS foundation", "LLM/VLM detector", "classical", "heuristic baseline")


def write_inputs(root: Path, task: str, n: int, length: int, image: bool) -> list[dict]:
    """The task's input store: one PNG (text task) or one series (score task) per sample."""
    store = root / slug(task) / "inputs"
    store.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    Image.new("RGB", (1000, 400), (255, 255, 255)).save(buf, format="PNG")
    png = buf.getvalue()
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        h = f"{i:016x}"
        inp = {"series": None, "image": None, "index_offset": 1000 * i, "train_end": None, "prompt": None,
               "render": None}
        if image:
            (store / f"{h}.png").write_bytes(png)
            inp.update(image=f"{slug(task)}/inputs/{h}.png", prompt="Do you see any anomalies on this plot?",
                       render={"left": 0.10, "right": 0.985, "bottom": 0.25, "top": 0.925})
        else:
            np.save(store / f"{h}.npy", np.sin(np.arange(length) / 9.0) + rng.normal(0, 0.1, length))
            inp["series"] = f"{slug(task)}/inputs/{h}.npy"
        out.append({"hash": h, "input": inp})
    return out


def write_run(root: Path, task: str, model: str, inputs: list[dict], *, score: bool, length: int,
              finished: str) -> None:
    """One complete visanom.run/2 run folder."""
    spec_id = f"{abs(hash((task, model))):016x}"[:16]
    folder = root / slug(task) / slug(model) / f"run-{spec_id}-{finished[:10]}"
    (folder / "scores").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(abs(hash(model)) % 2**32)
    lines = []
    headline = "VUS-PR" if score else "F1"
    for i, item in enumerate(inputs):
        off = item["input"]["index_offset"]
        a = off + int(rng.integers(0, length - 50))
        record = {
            "sample_id": f"s{i:05d}", "input_hash": item["hash"], "meta": {"source": "KPI" if i % 2 else "UCR"},
            "text": None if score else ANSWER.format(a=a, b=a + 40, lo=off, hi=off + length - 1),
            "scores_file": None, "intervals": [[a, a + 40]], "error": None, "parse_failed": False,
            "metrics": {headline: float(rng.random()), "reason-axis": 1.0}, "latency_s": 0.8, "usage": {},
            "cached": False, "pred_meta": {}, "parse_issues": [],
            "target": {"intervals": [[off + 300, off + 340]], "length": length, "index_offset": off},
            "input": item["input"],
        }
        if score:
            rel = f"scores/s{i:05d}.npy"
            np.save(folder / rel, rng.random(length))
            record["scores_file"] = rel
        record["draws"] = [{"draw": 0, "seed": 0, "text": record["text"], "intervals": record["intervals"]}]
        lines.append(json.dumps(record))
    (folder / "samples.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    n = len(inputs)
    value = float(rng.random())
    run = {
        "schema": "visanom.run/2", "run_id": folder.name, "status": "complete", "spec_id": spec_id, "label": model,
        "spec": {"task": task, "model": model},
        "task": {"name": task, "version": "1", "fingerprint": f"fp-{task}", "args": {}, "display": {}},
        "model": {"name": model, "fingerprint": f"fp-{model}", "args": {},
                  "display": {"group": GROUPS[abs(hash(model)) % len(GROUPS)]}},
        "limit": None, "headline": headline,
        "metrics": {headline: {"value": value, "ci95": [value - 0.05, value + 0.05], "n": n},
                    "reason-axis": {"value": 1.0, "ci95": [1.0, 1.0], "n": n}},
        "groups": {"source": {"KPI": {headline: value, "n": n // 2}, "UCR": {headline: value, "n": n - n // 2}}},
        "counts": {"n": n, "n_ok": n, "n_failed": 0, "n_cached": 0, "n_parse_failed": 0, "n_undefined": 0},
        "failures": [], "usage": {},
        "timing": {"started": finished, "finished": finished, "wall_s": 100.0, "model_s": 80.0},
    }
    (folder / "run.json").write_text(json.dumps(run), encoding="utf-8")


def size_of(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--length", type=int, default=1000, help="points per series (score task)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", type=Path, default=None, help="build here and keep it (default: a temp folder)")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    work = args.keep or Path(tempfile.mkdtemp(prefix="visanom-lb-bench-"))
    results, site = work / "results", work / "site"
    shutil.rmtree(work, ignore_errors=True)
    t0 = time.perf_counter()
    text_inputs = write_inputs(results, "bench-text", args.samples, args.length, image=True)
    score_inputs = write_inputs(results, "bench-score", args.samples, args.length, image=False)
    for m in range(args.models):
        write_run(results, "bench-text", f"model-{m:02d}", text_inputs, score=False, length=args.length,
                  finished="2026-11-20T10:00:00Z")
        write_run(results, "bench-score", f"model-{m:02d}", score_inputs, score=True, length=args.length,
                  finished="2026-11-20T10:00:00Z")
    print(f"results: {args.models} models x 2 tasks x {args.samples} samples, {size_of(results) / 1e6:.0f} MB, "
          f"written in {time.perf_counter() - t0:.1f} s")

    def cpu() -> tuple[float, float]:
        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime

    def timed(label: str, reference: float | None) -> float:
        (main0, kids0), start = cpu(), time.perf_counter()
        report = build(results, site, workers=args.workers)
        took = time.perf_counter() - start
        main1, kids1 = cpu()
        main_s, kids_s = main1 - main0, kids1 - kids0
        # what the wall time would be on a quiet machine: the parent's CPU time plus the workers'
        # CPU time shared over the workers (an estimate that ignores waiting on the disk)
        quiet = main_s + kids_s / max(1, args.workers)
        ratio = f", {took / reference:.2f} x the {reference:.0f} s reference" if reference else ""
        qratio = f" ({quiet / reference:.2f} x)" if reference else ""
        print(f"{label}: {took:.2f} s wall{ratio}; CPU {main_s:.1f} s main + {kids_s:.1f} s workers, "
              f"quiet-machine estimate {quiet:.1f} s{qratio}; {report.runs_rendered} runs rendered, "
              f"{report.runs_reused} reused, {report.written} files written, {report.unchanged} unchanged")
        return took

    scratch = timed("build from scratch", FROM_SCRATCH_S)
    timed("rebuild, nothing changed", None)
    write_run(results, "bench-text", "model-new", text_inputs, score=False, length=args.length,
              finished="2026-11-21T10:00:00Z")
    incremental = timed("rebuild after one new run", INCREMENTAL_S)
    parts = {name: size_of(site / name) for name in ("samples", "inputs", "models", "tasks", "static")}
    total = size_of(site)
    print(f"site size: {total / 1e6:.1f} MB total; " + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in parts.items())
          + f"; index.html {(site / 'index.html').stat().st_size / 1e3:.0f} KB")
    per_sample = parts["samples"] / ((args.models * 2 + 1) * args.samples)
    print(f"sample viewer data: {per_sample:.0f} bytes per sample on average")
    print(f"verdict: from scratch {'OK' if scratch < FROM_SCRATCH_S else 'SLOW'}, "
          f"incremental {'OK' if incremental < INCREMENTAL_S else 'SLOW'}")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
