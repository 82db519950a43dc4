"""The post-scoring hook of ``visanom run --judge MODEL``: grade each rationale of a finished run.

Each sample with a text answer is judged with the same template as rationale selection
(:mod:`harness.scoring.judge`); grades go to ``judge.jsonl`` in the run folder, and ``run.json``
gains ``judge`` (the judge's registered name, its public arguments, template and counts) and the means
``judge-grounded``, ``judge-axis``, ``judge-clarity`` in ``metrics`` (a reply that cannot be
parsed is recorded in ``judge.jsonl`` and counted in ``judge.n_unparsable``, never averaged).
A judge that fails leaves the run itself untouched.
"""

from __future__ import annotations

from typing import Any

from harness.core.files import atomic_write_bytes
from harness.core.spec import public_args
from harness.records.store import RunDir, dumps, inside
from harness.run.runner import RunResult
from harness.scoring.judge import JUDGE_KEYS, JudgeItem, judge_items, load_judge_template, model_name
from harness.scoring.run_metrics import metric_entry

JUDGE_FILE = "judge.jsonl"


def judge_run(result: RunResult, judge: Any, template_name: str = "judge") -> RunResult:
    """Judge every rationale of ``result``'s run and record it (see the module docstring)."""
    run_dir = RunDir(result.path)
    root = result.path.parents[2]  # <output>/<task>/<model>/<run_id>
    template = load_judge_template(template_name)
    items, keys = [], []
    for rec in run_dir.completed().values():  # the one samples.jsonl reader, in file order
        text, inp, target = rec.get("text"), rec.get("input") or {}, rec.get("target") or {}
        if rec.get("error") or not text:
            continue
        png = None
        if inp.get("image"):
            path = inside(root, root / inp["image"])
            png = path.read_bytes() if path.is_file() else None
        start = int(inp.get("index_offset") or 0)
        end = start + int(target.get("length") or 1) - 1
        items.append(JudgeItem(str(rec["sample_id"]), png, inp.get("prompt") or "", text, start, end))
        keys.append(str(rec["sample_id"]))
    found = judge_items(judge, items, template)
    lines = [dumps({"sample_id": k, **found[k].as_record()}) for k in keys]
    atomic_write_bytes(result.path / JUDGE_FILE, ("\n".join(lines) + "\n").encode() if lines else b"")
    graded = [found[k].grades for k in keys if found[k].grades is not None]
    run = dict(result.run)
    run["judge"] = {"model": model_name(judge), "args": public_args(getattr(judge, "public_args", None) or {}),
                    "template": template.name, "template_hash": template.source_hash,
                    "n_judged": len(keys), "n_unparsable": len(keys) - len(graded), "file": JUDGE_FILE}
    metrics = dict(run.get("metrics") or {})
    for k in JUDGE_KEYS:
        metrics[f"judge-{k}"] = metric_entry([g[k] for g in graded])
    run["metrics"] = metrics
    run_dir.write_run(run)
    return RunResult(result.path, run)
