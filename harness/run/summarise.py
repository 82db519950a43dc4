"""``run.json`` as a free function of the task, the spec, the ordered records and the model's facts.

No runner and no built model are needed: :class:`ModelFacts` (fingerprint, registered and
adapter names, public arguments, display metadata, the environment the model ran in) is
plain data that travels from wherever the model was built (a sweep worker in another Python
environment) to the process that writes the run. The task is built where the run is written
(tasks are core code: they import no detector or engine).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.core.hashing import stable_hash
from harness.core.provenance import environment, utc_now
from harness.core.spec import RunSpec, public_args, slug
from harness.core.types import ModelAdapter, Task
from harness.records.store import RUN_SCHEMA, STATUS_COMPLETE, inside
from harness.run.draws import aggregate_draws, draw_seeds

MAX_FAILURES_LISTED = 50


def registered_name(model: ModelAdapter) -> str:
    """The name a model was built under (``make_model`` records it), else its own name."""
    return str(getattr(model, "registered_name", None) or model.name)


def run_id_for(spec: RunSpec, task_fp: str, model_fp: str) -> str:
    """The run folder name: hash of the spec id and the task and model fingerprints, so the
    same spec on the same code and weights always maps to the same folder."""
    return stable_hash(["run", spec.id, task_fp, model_fp], 16)


def run_dir_for(output: Path, spec: RunSpec, run_id: str) -> Path:
    """``<output>/<slug(task)>/<slug(model)>/<run_id>``; refuses a path outside ``output``."""
    output = Path(output)
    return inside(output, output / slug(spec.task) / slug(spec.model) / run_id)


@dataclass(frozen=True)
class ModelFacts:
    """What ``run.json`` says about the model, as plain (JSON-safe) data."""

    fingerprint: str
    adapter: str
    args: dict[str, Any] = field(default_factory=dict)
    display: dict[str, Any] = field(default_factory=dict)
    env: dict[str, Any] = field(default_factory=dict)
    """The provenance of the process the model ran in (``harness.core.provenance.environment``)."""

    @classmethod
    def of(cls, model: ModelAdapter, spec: RunSpec) -> ModelFacts:
        """The facts of a built model (and of this process's environment)."""
        display = dict(getattr(model, "display", None) or {})
        adapter = str(display.get("adapter") or getattr(model, "adapter_name", None) or model.name)
        args = public_args(getattr(model, "public_args", None) or spec.model_args)
        return cls(str(model.fingerprint()), adapter, args, display, environment())

    def to_record(self) -> dict[str, Any]:
        """The facts as a JSON object (sent by a worker)."""
        return asdict(self)

    @classmethod
    def from_record(cls, data: Mapping[str, Any]) -> ModelFacts:
        """The inverse of :meth:`to_record`."""
        return cls(str(data["fingerprint"]), str(data["adapter"]), dict(data.get("args") or {}),
                   dict(data.get("display") or {}), dict(data.get("env") or {}))


def summarise(task: Task, spec: RunSpec, records: Sequence[Mapping[str, Any]], model: ModelFacts, *,
              started: str, wall_s: float, judge: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``run.json`` of a run whose records, in task order, are ``records``.

    ``judge`` (:func:`harness.scoring.judge_run.judge_records`) adds the judge block and its
    ``judge-*`` means to the metrics."""
    records = list(records)
    seeds = draw_seeds(spec)
    task_fp = task.fingerprint()
    failed = [r for r in records if r["error"] is not None]
    degenerate = [r["sample_id"] for r in records if r["error"] is None and r.get("degenerate_scores")]
    usage: dict[str, float] = {}
    for r in records:
        for k, v in (r.get("usage") or {}).items():
            if isinstance(v, (int, float)):
                usage[k] = usage.get(k, 0) + v
    aggregate, reduced = aggregate_draws(task.aggregate, records, spec, seeds)
    n_undefined = aggregate.pop("n_undefined", 0)
    if judge is not None:
        aggregate["metrics"] = {**(aggregate.get("metrics") or {}), **judge["metrics"]}
    n = len(records)
    run: dict[str, Any] = {
        "schema": RUN_SCHEMA,
        "run_id": run_id_for(spec, task_fp, model.fingerprint),
        "status": STATUS_COMPLETE,
        "spec": spec.to_record(),
        "spec_id": spec.id,
        "label": spec.label,
        "task": {
            "name": spec.task, "version": task.version, "fingerprint": task_fp,
            "args": public_args(spec.task_args), "display": task.describe(),
        },
        "model": {
            "name": spec.model, "adapter": model.adapter, "fingerprint": model.fingerprint,
            "args": dict(model.args), "display": dict(model.display),
        },
        "limit": spec.limit,
        "draws": {"n": spec.draws, "reducer": spec.reducer, "reduce_by": spec.reduce_by, "seeds": list(seeds)},
        **aggregate,
        "counts": {
            "n": n,
            "n_ok": n - len(failed),
            "n_failed": len(failed),
            "n_cached": sum(bool(r.get("cached")) for r in records),
            "n_parse_failed": sum(bool(r.get("parse_failed")) for r in records),
            "n_undefined": n_undefined,
            "n_degenerate": len(degenerate),
        },
        "failures": [{"sample_id": r["sample_id"], "error": r["error"]} for r in failed[:MAX_FAILURES_LISTED]],
        "degenerate": degenerate[:MAX_FAILURES_LISTED],
        "usage": usage,
        "timing": {
            "started": started, "finished": utc_now(), "wall_s": round(wall_s, 3),
            "model_s": round(sum(r.get("latency_s") or 0.0 for r in records if not r.get("cached")), 3),
            "samples_per_s": round(n / wall_s, 4) if wall_s > 0 else None,
        },
        "env": dict(model.env) or environment(),
    }
    if reduced is not None:
        run["reduced"] = reduced
    if judge is not None:
        run["judge"] = dict(judge["block"])
    return run
