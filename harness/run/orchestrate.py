"""Orchestration: run specs (build each task and model once, run, close).

The command line parses arguments into :class:`~harness.core.spec.RunSpec` objects and calls
:func:`run_specs`. Sweeps (``harness/sweep/driver.py``; the demo is ``baselines/sweeps/demo.yaml``)
build on the same pieces (:func:`check_compatible`, :func:`apply_generation`, the runner's
``process``/``summarise``) and run specs in worker processes or on Ray.
Everything that can be refused is refused before any work: unknown names, bad arguments,
a task that cannot score what a model produces, draws a model cannot re-seed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness import registry
from harness.core.errors import UsageError
from harness.core.hashing import stable_hash
from harness.core.spec import RunSpec
from harness.core.text import printable
from harness.run.cache import PredictionCache
from harness.run.draws import draw_seeds, model_for_draw
from harness.run.runner import Runner, RunResult

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


def check_compatible(task: Any, model: Any) -> None:
    """Refuse a pair where the task cannot score what the model produces (before any work)."""
    accepts = getattr(task, "accepts", None)
    provides = getattr(model, "provides", None)
    if accepts is not None and provides is not None and not set(accepts) & set(provides):
        raise UsageError(
            f"task {task.name!r} accepts {'/'.join(sorted(accepts))} output, but model {model.name!r} produces "
            f"{'/'.join(sorted(provides))}; pick a task that accepts it (visanom ls tasks)"
        )


def apply_generation(model: Any, generation: Mapping[str, Any]) -> Any:
    """The model with the spec's decoding overrides (its ``with_generation`` hook); a model
    without the hook takes none (a usage error naming the settings)."""
    if not generation:
        return model
    hook = getattr(model, "with_generation", None)
    if not callable(hook):
        raise UsageError(f"model {getattr(model, 'name', model)!r} takes no generation settings "
                         f"(got {', '.join(sorted(generation))}); these are for text models")
    return hook(dict(generation))


def summary_line(result: RunResult) -> str:
    """One line per finished run: label, headline value, counts and folder."""
    run = result.run
    c = run["counts"]
    head = run.get("headline")
    value = (run.get("metrics", {}).get(head) or {}).get("value")
    shown = "undefined" if value is None else f"{value:.4f}"
    reduced = run.get("reduced")
    extra = f" (over {reduced['n']} draws, {reduced['reducer']})" if reduced else ""
    return printable(f"{run['task']['name']} / {run['label']}: {head}={shown}{extra}  n={c['n']} "
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
    judge: Any = None,
) -> list[RunResult]:
    """Run every spec. All are checked first (names, arguments, model/task pairs, draws);
    each task and each model (name + arguments) is built once; a model runs all its specs,
    then is closed (frees GPU memory). ``echo`` gets one line per finished run. ``judge`` (a
    built model) grades each run's rationales after scoring (:func:`harness.scoring.judge_run.judge_run`)."""
    if batch_size is not None and batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {batch_size}")
    for spec in specs:
        spec.validate()
        registry.task_entry(spec.task)
        registry.model_entry(spec.model)
    tasks: dict[str, Any] = {}
    models: dict[str, Any] = {}
    for spec in specs:
        tk, mk = _key(spec.task, spec.task_args), _key(spec.model, spec.model_args)
        if tk not in tasks:
            tasks[tk] = registry.make_task(spec.task, **spec.task_args)
        if mk not in models:
            models[mk] = registry.make_model(spec.model, **spec.model_args)
    planned = []
    for spec in specs:  # every pair, generation override and draw is checked before any folder is made
        task, model = tasks[_key(spec.task, spec.task_args)], models[_key(spec.model, spec.model_args)]
        check_compatible(task, model)
        model = apply_generation(model, spec.generation)
        for seed in draw_seeds(spec):
            model_for_draw(model, seed)
        planned.append((spec, task, model))
    runners: dict[str, list[Runner]] = {mk: [] for mk in models}
    for spec, task, model in planned:
        runners[_key(spec.model, spec.model_args)].append(
            Runner(task, model, Path(output), spec=spec, batch_size=batch_size, cache=cache, rerun=rerun,
                   progress=progress))
    results = []
    for mk, model in models.items():
        try:
            for runner in runners[mk]:
                res = runner.run()
                if judge is not None:
                    from harness.scoring.judge_run import judge_run

                    res = judge_run(res, judge)
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
