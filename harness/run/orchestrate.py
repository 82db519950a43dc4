"""Orchestration: run specs (build each task and model once, run, close).

The command line parses arguments into :class:`~harness.core.spec.RunSpec` objects and calls
:func:`run_specs`. Sweeps (``harness/sweep/driver.py``; the demo is ``baselines/sweeps/demo.yaml``)
build on the same pieces (:mod:`harness.run.pairs`, the execution core :mod:`harness.run.core`,
:func:`harness.run.summarise.summarise`) and run specs in worker processes or on Ray.
Everything that can be refused is refused before any work (:mod:`harness.run.pairs`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.core.errors import UsageError
from harness.core.hashing import stable_hash
from harness.core.spec import RunSpec
from harness.core.text import printable
from harness.records.figures import headline_text
from harness.run.cache import PredictionCache
from harness.run.pairs import (
    apply_generation,
    build_base_model,
    build_judge,
    build_task,
    check_names,
    for_spec,
)
from harness.run.runner import Runner, RunResult

__all__ = ["apply_generation", "matrix_specs", "run_spec", "run_specs", "summary_line"]

Echo = Callable[[str], None] | None


def matrix_specs(
    models: Sequence[str], tasks: Sequence[str], *, model_args: Mapping[str, Any] | None = None,
    task_args: Mapping[str, Any] | None = None, **settings: Any,
) -> list[RunSpec]:
    """One spec per distinct (model, task), model-major, with the same arguments and ``settings``
    (``limit``, ``generation``, ``seed``, ``draws``, ``reducer``, ``reduce_by``); a name given
    twice is run once (two runners on one run folder would only repeat the work)."""
    if not models:
        raise UsageError("no model named (--model takes one or more comma-separated names)")
    if not tasks:
        raise UsageError("no task named (--task takes one or more comma-separated names)")
    return [RunSpec(task=t, model=m, task_args=dict(task_args or {}), model_args=dict(model_args or {}), **settings)
            for m in dict.fromkeys(models) for t in dict.fromkeys(tasks)]


def summary_line(result: RunResult) -> str:
    """One line per finished run: label, headline value, counts and folder."""
    run = result.run
    c = run["counts"]
    reduced = run.get("reduced")
    extra = f" (over {reduced['n']} draws, {reduced['reducer']})" if reduced else ""
    return printable(f"{run['task']['name']} / {run['label']}: {headline_text(run)}{extra}  n={c['n']} "
                     f"failed={c['n_failed']} cached={c['n_cached']}  -> {result.path}")


def _key(name: str, args: Mapping[str, Any]) -> str:
    return stable_hash([name, dict(args)], 16)


def run_specs(
    specs: Sequence[RunSpec],
    *,
    output: str | Path,
    cache: PredictionCache | None,
    batch_size: int | None = None,
    rerun: bool = False,
    progress: bool = True,
    echo: Echo = print,
) -> list[RunResult]:
    """Run every spec. All are checked first (names, arguments, model/task pairs, draws);
    each task, model and judge (name + arguments) is built once; a model runs all its specs,
    then is closed (frees GPU memory). ``echo`` gets one line per finished run."""
    if batch_size is not None and batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {batch_size}")
    for spec in specs:
        check_names(spec)
    tasks: dict[str, Any] = {}
    models: dict[str, Any] = {}
    judges: dict[str, Any] = {}
    for spec in specs:
        tk, mk = _key(spec.task, spec.task_args), _key(spec.model, spec.model_args)
        if tk not in tasks:
            tasks[tk] = build_task(spec)
        if mk not in models:
            models[mk] = build_base_model(spec)
        if spec.judge is not None and _key(spec.judge, spec.judge_args) not in judges:
            judges[_key(spec.judge, spec.judge_args)] = build_judge(spec)
    runners: dict[str, list[Runner]] = {mk: [] for mk in models}
    planned = []
    for spec in specs:  # every pair, generation override and draw is checked before any folder is made
        task = tasks[_key(spec.task, spec.task_args)]
        planned.append((spec, task, for_spec(spec, models[_key(spec.model, spec.model_args)], task)))
    for spec, task, model in planned:
        judge = judges.get(_key(spec.judge, spec.judge_args)) if spec.judge is not None else None
        runners[_key(spec.model, spec.model_args)].append(
            Runner(task, model, Path(output), spec=spec, batch_size=batch_size, cache=cache, rerun=rerun,
                   progress=progress, judge=judge))
    results = []
    for mk, model in models.items():
        try:
            for runner in runners[mk]:
                res = runner.run()
                if echo is not None:
                    echo(summary_line(res))
                results.append(res)
        finally:
            close = getattr(model, "close", None)
            if callable(close):
                close()
    return results


def run_spec(spec: RunSpec, **options: Any) -> RunResult:
    """Run one spec; ``options`` are those of :func:`run_specs` (``output``, ``cache``,
    ``batch_size``, ``rerun``, ``progress``, ``echo``)."""
    (result,) = run_specs([spec], **options)
    return result
