"""Elicitation: ask several registered models for rationales on every segment of a benchmark split.

Each model runs as an ordinary run spec (task ``visanombench`` over the benchmark folder, or
``visanombench-demo`` for ``--bench demo``) through :func:`harness.run.orchestrate.run_specs`, so
candidates are ordinary run records: batched, cached, resumable (the same command again
resumes), every draw kept with its model, text, parse status and error. The elicitation
folder holds the runs under ``runs/`` and ``elicit.json`` (what was asked, where each
model's run is, and the cost).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.core.errors import UsageError
from harness.core.files import atomic_write_bytes, read_json
from harness.core.spec import RunSpec
from harness.records.store import dumps
from harness.run.cache import PredictionCache

ELICIT_FILE = "elicit.json"
RUNS_DIR = "runs"
DEMO_BENCH = "demo"


def bench_task(bench: str, split: str) -> tuple[str, dict[str, Any]]:
    """The task name and arguments that serve ``bench`` (a folder, or ``demo``) split ``split``."""
    if str(bench) == DEMO_BENCH:
        return "visanombench-demo", {"split": split}
    path = Path(bench).expanduser()
    if not path.is_dir():
        raise UsageError(f"--bench {bench!r} is not a folder (a built VisAnomBench, or 'demo')")
    return "visanombench", {"data_dir": str(path.resolve()), "split": split}


def split_model_args(models: Sequence[str], pairs: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{"NAME:key": v, "key": v}`` -> per-model arguments (a bare key goes to every model)."""
    out: dict[str, dict[str, Any]] = {m: {} for m in models}
    for key, value in pairs.items():
        name, sep, arg = key.rpartition(":")
        if not sep:
            for m in models:
                out[m][key] = value
        elif name in out:
            out[name][arg] = value
        else:
            raise UsageError(f"--model-args {key}=...: {name!r} is not one of --models ({', '.join(models)})")
    return out


def elicit_specs(bench: str, models: Sequence[str], *, split: str = "train", draws: int = 1,
                 model_args: Mapping[str, Any] | None = None, limit: int | None = None, seed: int | None = None,
                 generation: Mapping[str, Any] | None = None) -> list[RunSpec]:
    """One run spec per model (all draws kept in the record: reducer ``first`` only picks the headline)."""
    if not models:
        raise UsageError("no model named (--models takes comma-separated registered names)")
    if len(set(models)) != len(models):
        raise UsageError(f"a model is named twice in --models: {', '.join(models)}")
    task, task_args = bench_task(bench, split)
    per_model = split_model_args(models, dict(model_args or {}))
    return [RunSpec(task=task, model=m, task_args=task_args, model_args=per_model[m], limit=limit, seed=seed,
                    draws=draws, generation=dict(generation or {})) for m in models]


def _tokens(usage: Mapping[str, Any]) -> tuple[int, int]:
    def num(*keys: str) -> int:
        return int(sum(v for k in keys if isinstance(v := usage.get(k), (int, float)) and not isinstance(v, bool)))

    return num("prompt_tokens", "input_tokens"), num("completion_tokens", "output_tokens")


def run_cost(path: Path) -> dict[str, Any]:
    """Per-run counts and cost from its ``samples.jsonl``: candidates, failures, parse
    failures, cached, tokens in/out, model seconds."""
    import json

    c = {"segments": 0, "candidates": 0, "failed": 0, "parse_failed": 0, "cached": 0,
         "tokens_in": 0, "tokens_out": 0, "model_s": 0.0}
    samples = path / "samples.jsonl"
    if not samples.exists():
        return c
    for line in samples.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        c["segments"] += 1
        for d in rec.get("draws") or [rec]:
            c["candidates"] += 1
            c["failed"] += d.get("error") is not None
            c["parse_failed"] += bool(d.get("parse_failed"))
            c["cached"] += bool(d.get("cached"))
            tin, tout = _tokens(d.get("usage") or {})
            c["tokens_in"] += tin
            c["tokens_out"] += tout
            c["model_s"] += float(d.get("latency_s") or 0.0)
    c["model_s"] = round(c["model_s"], 3)
    return c


def format_cost(rows: Sequence[Mapping[str, Any]]) -> str:
    """The cost table printed after elicitation."""
    head = f"{'model':28s} {'segs':>5s} {'cands':>6s} {'failed':>6s} {'unparsed':>8s} {'cached':>6s} " \
           f"{'tok in':>8s} {'tok out':>8s} {'model s':>8s}"
    lines = [head]
    for r in rows:
        c = r["cost"]
        lines.append(f"{r['model'][:28]:28s} {c['segments']:5d} {c['candidates']:6d} {c['failed']:6d} "
                     f"{c['parse_failed']:8d} {c['cached']:6d} {c['tokens_in']:8d} {c['tokens_out']:8d} "
                     f"{c['model_s']:8.2f}")
    return "\n".join(lines)


def elicit(specs: Sequence[RunSpec], out: str | Path, *, cache: PredictionCache | None, bench: str, split: str,
           batch_size: int | None = None, progress: bool = False, echo: Callable[[str], None] | None = print
           ) -> dict[str, Any]:
    """Run every spec into ``out/runs`` and write ``out/elicit.json``; returns its content.

    A model that fails on some segments has those failures recorded in its run (nothing is
    raised); a model that cannot be built or run at all stops before any work (UsageError).
    """
    from harness.run.orchestrate import run_specs

    out = Path(out)
    root = out / RUNS_DIR
    results = run_specs(specs, output=root, cache=cache, batch_size=batch_size, progress=progress, echo=None)
    rows = []
    for spec, res in zip(specs, results, strict=True):
        run = res.run
        rows.append({"model": spec.model, "label": spec.label, "spec_id": spec.id, "run_id": run.get("run_id"),
                     "path": str(res.path.relative_to(out)), "cost": run_cost(res.path)})
    record = {"schema": "visanom.elicit/1", "bench": str(bench), "split": split,
              "models": [s.model for s in specs], "draws": specs[0].draws if specs else 1,
              "results_root": RUNS_DIR, "runs": rows}
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / ELICIT_FILE, dumps(record, indent=1).encode())
    if echo is not None:
        echo(format_cost(rows))
        echo(f"candidates of {len(rows)} model(s) recorded in {out / ELICIT_FILE}")
    return record


def read_elicit(folder: str | Path) -> dict[str, Any]:
    """``elicit.json`` of an elicitation folder (UsageError when there is none)."""
    path = Path(folder) / ELICIT_FILE
    if not path.is_file():
        raise UsageError(f"{folder} holds no {ELICIT_FILE}: run `visanom bench elicit --out {folder}` first")
    return read_json(path, "elicitation record")
