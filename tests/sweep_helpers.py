"""Helpers for the sweep tests: a small sweep file and record comparison."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

SMALL_SWEEP = """
name: small
groups:
  - name: detectors split by series
    tasks: [tsb-ad-u-demo]
    models: [Sub-PCA, IForest]
    limit: 6
pairs:
  - {task: visanombench-demo, model: template-reasoner, limit: 6}
"""
VOLATILE = {"latency_s", "cached"}


def write_small_sweep(folder: Path) -> Path:
    """The small sweep file in ``folder``."""
    path = folder / "small.yaml"
    path.write_text(SMALL_SWEEP)
    return path


def records_of(output: Path) -> dict[str, Any]:
    """Every run under ``output``: metrics and counts of run.json, and its records (timing and
    cache flags left out) with their score arrays, keyed by task/model folder."""
    out: dict[str, Any] = {}
    for run_path in sorted(output.glob("*/*/*/run.json")):
        run = json.loads(run_path.read_text())
        folder = run_path.parent
        records = []
        for line in (folder / "samples.jsonl").read_text().splitlines():
            rec = {k: v for k, v in json.loads(line).items() if k not in VOLATILE}
            rec["draws"] = [{k: v for k, v in d.items() if k not in VOLATILE} for d in rec.get("draws") or ()]
            if rec.get("scores_file"):
                rec["scores"] = np.load(folder / rec["scores_file"]).tolist()
            records.append(rec)
        records.sort(key=lambda r: r["sample_id"])
        key = f"{run['task']['name']}/{run['model']['name']}/{folder.name}"
        out[key] = {"metrics": run.get("metrics"), "counts": {k: v for k, v in run["counts"].items()
                                                              if k != "n_cached"},
                    "records": records}
    return out
