"""Results whose models differ, for the analysis pages (ranks, outcomes, paired, resolution).

``write_varied`` writes a run with :func:`lb_fixtures.write_run2` and then gives every sample a
model-dependent prediction and per-sample metrics: ``skill`` in [0, 1] sets how close the
prediction is to the truth and how high the metrics are; ``scatter`` makes a score model whose
PA-F1 is high while its VUS-PR is low (what point adjustment rewards).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from lb_fixtures import write_run2

WIDTHS = (0, 1, 3, 8, 20, 60, 150)  # true interval lengths - 1: a point, then wider and wider


def write_varied(root: Path, task: str, model: str, skill: float, *, kind: str = "text", n: int = 14,
                 length: int = 2000, scatter: bool = False, **kwargs: object) -> Path:
    """One run whose predictions and metrics follow ``skill`` (see the module docstring)."""
    headline = "Point-F1" if kind == "text" else "VUS-PR"
    folder = write_run2(root, task, model, kind=kind, n=n, headline=headline, value=skill, length=length,
                        **kwargs)  # type: ignore[arg-type]
    path = folder / "samples.jsonl"
    rng = np.random.default_rng(abs(hash(model)) % 2**32)
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        i = int(rec["sample_id"][1:])
        off = rec["target"]["index_offset"]
        start = off + 200 + 37 * i
        gt = [[start, start + WIDTHS[i % len(WIDTHS)]]]
        width = gt[0][1] - gt[0][0] + 1
        shift = int(round((1 - skill) * width * rng.uniform(-1.5, 1.5)))
        pred = [[gt[0][0] + shift, gt[0][1] + shift]] if rng.random() < 0.3 + 0.7 * skill else []
        if rng.random() > skill:
            pred.append([off + 1500, off + 1520])  # a false alarm
        value = float(np.clip(skill + rng.normal(0, 0.15), 0, 1))
        metrics = {headline: value, "Affiliation-F1" if kind == "text" else "Affiliation-F": float(np.clip(value + 0.1, 0, 1))}
        if kind == "score":
            metrics["PA-F1"] = float(np.clip(0.95 + rng.normal(0, 0.02), 0, 1)) if scatter else float(np.clip(value + 0.05, 0, 1))
            metrics["Event-based-F1"] = float(np.clip(value, 0, 1))
            if scatter:
                metrics[headline] = metrics[headline] * 0.3
        rec.update(intervals=pred, metrics={**rec["metrics"], **metrics})
        rec["target"]["intervals"] = gt
        rec["draws"][0].update(intervals=pred, metrics=rec["metrics"])
        out.append(json.dumps(rec))
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return folder


def write_analysis_results(root: Path, hostile: list[str] | None = None) -> Path:
    """Two tasks (text and score) of five models, one a PA-F1 'scatter' model, plus hostile names."""
    for k, (model, skill) in enumerate([("Reasoner-7B", 0.9), ("Qwen-VL", 0.7), ("GPT-ish", 0.55),
                                        ("Tiny-VLM", 0.3), ("Random", 0.1)]):
        write_varied(root, "visanombench", model, skill, display={"group": "ours" if k == 0 else "large VLM"})
        write_varied(root, "tsb-ad-u", model.replace("-", "_"), skill, kind="score", n=12,
                     scatter=model == "Random", display={"group": "classical"})
    for k, name in enumerate(hostile or []):
        write_varied(root, "visanombench", name, 0.2 + k / 50, spec_id=f"hostile{k}", label=name,
                     display={"group": name, "label": name})
    return root
