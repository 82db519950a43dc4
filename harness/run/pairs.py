"""Validate, build and check a (task, model) pair: the one place every entry point does it
(``visanom run`` through :func:`harness.run.orchestrate.run_specs`, the sweep planner, its
workers and probes, and ``visanom run`` across environments).

Everything that can be refused is refused before any work: unknown names, bad arguments,
a task that cannot score what a model produces, generation settings a model does not take,
draws a model cannot re-seed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness import registry
from harness.core.errors import UsageError
from harness.core.spec import RunSpec
from harness.run.draws import draw_seeds, model_for_draw


def check_names(spec: RunSpec) -> None:
    """The spec's settings, and its task, model and judge names (:class:`UsageError`)."""
    spec.validate()
    registry.task_entry(spec.task)
    registry.model_entry(spec.model)
    if spec.judge is not None:
        registry.model_entry(spec.judge)


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


def bind(model: Any, task: Any) -> Any:
    """The model as it runs on ``task``: a model that draws on the task (a recipe's train-split
    examples, ``for_task``) is bound to it; its fingerprint, so the run folder, is the bound one's."""
    hook = getattr(model, "for_task", None)
    return hook(task) if callable(hook) else model


def build_task(spec: RunSpec) -> Any:
    """The spec's task (full arguments, secrets included)."""
    return registry.make_task(spec.task, **dict(spec.task_args))


def build_base_model(spec: RunSpec) -> Any:
    """The spec's model as registered, before its generation overrides (one per name and
    arguments: specs that differ only in generation or draws share it)."""
    return registry.make_model(spec.model, **dict(spec.model_args))


def for_spec(spec: RunSpec, base: Any, task: Any = None) -> Any:
    """``base`` made the spec's model: checked against ``task`` (when given), with the spec's
    generation overrides, its draws checked (a model that cannot re-seed refuses them)."""
    if task is not None:
        check_compatible(task, base)
    model = apply_generation(base, spec.generation)
    for seed in draw_seeds(spec):
        model_for_draw(model, seed)
    return model


def build_model(spec: RunSpec, task: Any = None) -> Any:
    """The spec's model built, with its generation overrides and draws checked (and checked
    against ``task`` when given)."""
    return for_spec(spec, build_base_model(spec), task)


def build_judge(spec: RunSpec) -> Any:
    """The spec's judge model, or None when it names none."""
    return None if spec.judge is None else registry.make_model(spec.judge, **dict(spec.judge_args))
