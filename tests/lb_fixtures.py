"""Synthetic results folders in the ``visanom.run/2`` layout, for the leaderboard tests.

``write_run2`` writes what the runner writes (common brief, "Record contract"): a run folder
``<slug(task)>/<slug(model)>/<run_id>/`` with ``run.json`` and ``samples.jsonl`` (``target``,
``input``, ``draws``, ``parse_issues``), score files for score models, and the task's
content-addressed input store ``<slug(task)>/inputs/<input_hash>.{png,npy}``.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from harness.core.hashing import stable_hash
from harness.core.spec import slug

ROOT = Path(__file__).resolve().parents[1]


def shared_reference() -> Path:
    """``shared/reference`` beside the project (``../shared``; for a worktree one more level up);
    a path that does not exist when no copy is found (tests then skip)."""
    for folder in ROOT.parents:
        if (folder / "shared" / "reference").is_dir():
            return folder / "shared" / "reference"
    return ROOT.parent / "shared" / "reference"


RENDER = {"width_in": 10.0, "height_in": 4.0, "dpi": 100, "left": 0.10, "right": 0.985, "bottom": 0.25, "top": 0.925}


def png_bytes(width: int = 100, height: int = 40, colour: tuple[int, int, int] = (255, 255, 255)) -> bytes:
    """A small PNG (the tests never need the real renderer's pixels)."""
    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, format="PNG")
    return buf.getvalue()


def write_input(root: Path, task: str, input_hash: str, *, image: bool, series: np.ndarray | None) -> dict[str, Any]:
    """Write the input store files of one sample; return the record's ``input`` block."""
    store = root / slug(task) / "inputs"
    store.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"series": None, "image": None, "index_offset": 0, "train_end": None, "prompt": None,
                           "render": None}
    if image:
        (store / f"{input_hash}.png").write_bytes(png_bytes())
        out["image"] = f"{slug(task)}/inputs/{input_hash}.png"
        out["render"] = dict(RENDER)
        out["prompt"] = "Do you see any anomalies on this plot?"
    if series is not None:
        np.save(store / f"{input_hash}.npy", series, allow_pickle=False)
        out["series"] = f"{slug(task)}/inputs/{input_hash}.npy"
    return out


def write_run2(
    root: Path,
    task: str,
    model: str,
    *,
    n: int = 5,
    kind: str = "text",
    headline: str = "F1",
    value: float = 0.5,
    finished: str = "2026-11-20T10:00:00Z",
    spec_id: str | None = None,
    label: str | None = None,
    display: dict[str, Any] | None = None,
    answer: str = "<anomaly>True</anomaly>\n<index>(110, 120)</index>\nStep 1: the x-axis ...",
    length: int = 200,
    offset: int = 100,
    extra_counts: dict[str, Any] | None = None,
    degenerate: tuple[int, ...] = (),
    groups: dict[str, Any] | None = None,
    usage: dict[str, Any] | None = None,
) -> Path:
    """Write one complete /2 run of ``n`` samples; return its folder."""
    spec_id = spec_id or stable_hash([task, model], 16)
    run_id = stable_hash([spec_id, finished], 12)
    folder = root / slug(task) / slug(model) / run_id
    (folder / "scores").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(abs(hash((task, model))) % 2**32)
    lines = []
    for i in range(n):
        sid = f"s{i:04d}"
        input_hash = stable_hash([task, sid], 16)
        series = np.sin(np.arange(length) / 7.0) + rng.normal(0, 0.1, length)
        inp = write_input(root, task, input_hash, image=kind == "text", series=series)
        inp["index_offset"] = offset
        gt = [[offset + 10, offset + 20]]
        record: dict[str, Any] = {
            "sample_id": sid, "input_hash": input_hash, "meta": {"source": "KPI" if i % 2 else "UCR"},
            "text": answer if kind == "text" else None, "scores_file": None,
            "intervals": [[offset + 10, offset + 20]] if i % 3 else [[offset + 50, offset + 60]],
            "error": None, "parse_failed": False,
            "metrics": {headline: float(i % 2), "reason-axis": 1.0, "IoU": 0.5},
            "latency_s": 0.25, "usage": usage or {}, "cached": False, "pred_meta": {},
            "target": {"intervals": gt, "length": length, "index_offset": offset},
            "input": inp, "parse_issues": ["two index tags; the first was used"] if i == 1 else [],
        }
        record["degenerate_scores"] = ("constant scores" if i in degenerate else False) if kind == "score" else None
        if kind == "score":
            scores = np.abs(np.sin(np.arange(length) / 3.0)) + (np.arange(length) == 15) * 5
            rel = f"scores/{sid}.npy"
            np.save(folder / rel, scores, allow_pickle=False)
            record["scores_file"] = rel
        record["draws"] = [{"draw": 0, "seed": 0, **{k: record[k] for k in (
            "text", "scores_file", "intervals", "parse_failed", "error", "metrics", "usage", "latency_s",
            "cached", "pred_meta")}}]
        lines.append(json.dumps(record))
    (folder / "samples.jsonl").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    counts = {"n": n, "n_ok": n, "n_failed": 0, "n_cached": 0, "n_parse_failed": 0, "n_undefined": 0}
    if degenerate:
        counts["n_degenerate"] = len(degenerate)  # as the hardening branch writes it (with run["degenerate"])
    counts.update(extra_counts or {})
    run = {
        "schema": "visanom.run/2", "run_id": run_id, "status": "complete",
        "spec": {"task": task, "model": model, "task_args": {}, "model_args": {}, "limit": None},
        "spec_id": spec_id, "label": label or model,
        "task": {"name": task, "version": "1", "fingerprint": f"fp-{task}", "args": {},
                 "display": {"title": task.upper()}},
        "model": {"name": model, "fingerprint": f"fp-{model}", "args": {"k": 3}, "display": display or {}},
        "limit": None, "headline": headline,
        "metrics": {headline: {"value": value, "ci95": [value - 0.1, value + 0.1], "n": n},
                    "reason-axis": {"value": 0.9, "ci95": [0.8, 1.0], "n": n}},
        "metrics_fail_as_zero": {headline: {"value": value, "ci95": None, "n": n}},
        "groups": groups or {"source": {"KPI": {headline: value, "n": n // 2}, "UCR": {headline: value, "n": n - n // 2}}},
        "counts": counts, "failures": [], "usage": usage or {},
        "draws": {"n": 1, "reducer": None, "reduce_by": None},
        "timing": {"started": "2026-11-20T09:00:00Z", "finished": finished, "wall_s": 3.0, "model_s": 1.25},
        "env": {"visanom": "0.1.0", "python": "3.11"},
    }
    (folder / "run.json").write_text(json.dumps(run), encoding="utf-8")
    return folder
