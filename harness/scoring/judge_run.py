"""The judge as a scoring step of the run (a spec with ``judge``; ``visanom run --judge MODEL``).

After a run's samples are recorded, each sample with a text answer is judged with the same
template as rationale selection (:mod:`harness.scoring.judge`), on the plot the model saw
(read from the task's input store under the results folder). Grades go to ``judge.jsonl``
in the run folder; :func:`harness.run.summarise.summarise` puts the ``judge`` block (the
judge's registered name, its public arguments, template and counts) and the means
``judge-grounded``, ``judge-axis``, ``judge-clarity`` into ``run.json`` (a reply that cannot
be parsed is recorded in ``judge.jsonl`` and counted in ``judge.n_unparsable``, never averaged).
The judge is part of the spec, so of the run id: a judged run has its own folder and row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.core.files import atomic_write_bytes
from harness.core.spec import public_args
from harness.records.store import RunDir, dumps, inside
from harness.scoring.judge import JUDGE_KEYS, JudgeItem, judge_items, load_judge_template, model_name
from harness.scoring.run_metrics import metric_entry

JUDGE_FILE = "judge.jsonl"


def judge_records(records: Sequence[Mapping[str, Any]], judge: Any, run_dir: RunDir, output: Path,
                  name: str | None = None, template_name: str = "judge") -> dict[str, Any]:
    """Judge every rationale of ``records`` with the built model ``judge``; writes
    ``judge.jsonl`` and returns ``{"block": run.json's judge block, "metrics": judge means}``.
    ``output`` is the results folder the records' input paths are relative to."""
    output = Path(output)
    template = load_judge_template(template_name)
    items, keys = [], []
    for rec in records:
        text, inp, target = rec.get("text"), rec.get("input") or {}, rec.get("target") or {}
        if rec.get("error") or not text:
            continue
        png = None
        if inp.get("image"):
            path = inside(output, output / inp["image"])
            png = path.read_bytes() if path.is_file() else None
        start = int(inp.get("index_offset") or 0)
        end = start + int(target.get("length") or 1) - 1
        items.append(JudgeItem(str(rec["sample_id"]), png, inp.get("prompt") or "", text, start, end))
        keys.append(str(rec["sample_id"]))
    found = judge_items(judge, items, template)
    lines = [dumps({"sample_id": k, **found[k].as_record()}) for k in keys]
    atomic_write_bytes(run_dir.path / JUDGE_FILE, ("\n".join(lines) + "\n").encode() if lines else b"")
    graded = [found[k].grades for k in keys if found[k].grades is not None]
    block = {"model": name or model_name(judge), "args": public_args(getattr(judge, "public_args", None) or {}),
             "template": template.name, "template_hash": template.source_hash,
             "n_judged": len(keys), "n_unparsable": len(keys) - len(graded), "file": JUDGE_FILE}
    return {"block": block, "metrics": {f"judge-{k}": metric_entry([g[k] for g in graded]) for k in JUDGE_KEYS}}
