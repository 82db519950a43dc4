"""Planning a sweep: per job, its kind, environment, whether it can run here (and why not),
whether it is already complete, and the units of work it splits into.

Nothing here runs a model. Building a task or model object is cheap (weights load at the
first batch); a bad argument is a :class:`UsageError` naming the sweep file and line.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import registry
from harness.core.errors import UsageError, VisanomError
from harness.core.procs import run_bounded
from harness.environments.config import check_timeout_s
from harness.environments.jobs import JobEnv, env_for_model
from harness.inference.availability import availability, cuda_available
from harness.records.store import RUN_FILE, STATUS_COMPLETE, inside, read_run
from harness.registry.cards import merge_args
from harness.run.pairs import bind, build_model, build_task, check_compatible
from harness.run.summarise import run_dir_for, run_id_for
from harness.sweep.file import Job, Sweep

DEFAULT_API_CONCURRENCY = 4


@dataclass
class PlannedJob:
    """A job with everything the driver decided about it before any work."""

    index: int
    job: Job
    kind: str = "cpu"
    """``cpu`` (a detector or heuristic, split by series where the task allows), ``model``
    (loads weights; on a GPU when there is one) or ``api`` (a remote provider)."""
    provider: str | None = None
    env: JobEnv | None = None
    runnable: bool = True
    reason: str = ""
    count: int = 0
    folder: Path | None = None
    complete: bool = False
    task: Any = None
    model: Any = None
    display: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """``task / label``."""
        return self.job.name

    def skip(self, reason: str) -> None:
        """Mark the job as not runnable here, with the reason (reasons add up)."""
        if reason and reason not in self.reason:
            self.reason = f"{self.reason}; {reason}" if self.reason else reason
        self.runnable = False




def _model_args(spec: Any) -> dict[str, Any]:
    return {**dict(spec.model_args), **dict(spec.generation)}


def probe_env(env: JobEnv, jobs: Sequence[PlannedJob]) -> list[dict[str, Any]]:
    """Ask another environment's interpreter about jobs it would run (see ``worker.probe``)."""
    payload = [{"spec": pj.job.spec.to_record(), "task_args": dict(pj.job.spec.task_args),
                "model_args": dict(pj.job.spec.model_args)} for pj in jobs]
    try:
        out = run_bounded([env.python, "-m", "harness.sweep.worker", "--probe"], check_timeout_s(),
                          input=json.dumps(payload), env=env.process_env())
        answer = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        answer = None
    if not isinstance(answer, list) or len(answer) != len(jobs):
        why = (f"environment {env.name!r} ({env.python}) could not be asked about its jobs "
               "(is visanom installed in it? see `visanom env`)")
        return [{"ok": False, "reason": why, "folder": None, "error": None} for _ in jobs]
    return answer


def plan_sweep(sweep: Sweep, output: Path, *, only: str | None = None) -> list[PlannedJob]:
    """Check every job and decide what can run here; raises :class:`UsageError` (file:line)
    for a bad argument or an incompatible model/task pair."""
    import fnmatch

    jobs = [j for j in sweep.jobs if only is None or fnmatch.fnmatch(j.name, only)
            or fnmatch.fnmatch(j.spec.model, only) or fnmatch.fnmatch(j.spec.task, only)]
    if not jobs:
        raise UsageError(f"--only {only!r} matches no job of sweep {sweep.name!r}")
    planned = [PlannedJob(i, j) for i, j in enumerate(jobs)]
    tasks: dict[str, Any] = {}
    models: dict[str, Any] = {}
    foreign: dict[str, list[PlannedJob]] = {}
    for pj in planned:
        spec = pj.job.spec
        if pj.job.planned is not None:
            pj.skip(f"model {spec.model!r} is not registered yet: {pj.job.planned}")
            continue
        card = registry.model_card(spec.model)
        pj.display = dict(card.display)
        args = merge_args(card.args, None, _model_args(spec))
        pj.kind, pj.provider = card.kind(), card.provider_for(args)
        pj.env = env_for_model(spec.model, dict(spec.model_args))
        if not pj.env.ok:
            pj.skip(pj.env.reason)
            continue
        if pj.env.is_current:
            ok, reason = availability(card, args)
            if not ok:
                pj.skip(reason)
        else:
            foreign.setdefault(pj.env.python, []).append(pj)
            continue  # its task and model are built and checked in its own environment
        # the task: a bad argument stops the sweep; missing data is a reason to skip
        tkey = json.dumps([spec.task, dict(spec.task_args)], sort_keys=True, default=str)
        try:
            if tkey not in tasks:
                tasks[tkey] = build_task(spec)
            pj.task = tasks[tkey]
        except UsageError as exc:
            raise UsageError(f"{pj.job.where}: {exc}") from None
        try:
            pj.count = int(pj.task.count(spec.limit))
            _ = getattr(pj.task, "data_dir", None)  # a task whose data folder is missing says so here
        except VisanomError as exc:
            pj.skip(f"task data not available: {exc}")
            continue
        except Exception as exc:  # a task that cannot even list its samples here
            pj.skip(f"task data not available: {type(exc).__name__}: {exc}")
            continue
    for group in foreign.values():
        todo = [pj for pj in group if pj.runnable]
        for pj, answer in zip(todo, probe_env(todo[0].env, todo) if todo else [], strict=True):
            if answer.get("error"):
                raise UsageError(f"{pj.job.where}: {answer['error']}")
            if not answer.get("ok"):
                pj.skip(str(answer.get("reason") or "cannot run in its environment"))
            elif answer.get("folder"):
                pj.count = int(answer.get("count") or 0)
                pj.folder = _foreign_folder(output, answer["folder"], pj)
                pj.complete = is_complete(pj.folder)
    for pj in planned:
        if pj.job.planned is not None or pj.task is None:
            continue
        spec = pj.job.spec
        mkey = json.dumps([spec.model, dict(spec.model_args), dict(spec.generation), spec.seed, spec.draws],
                          sort_keys=True, default=str)
        if pj.env is not None and not pj.env.is_current:
            continue  # built in its own environment; the worker checks the pair there
        try:
            if mkey not in models:
                models[mkey] = build_model(spec)
            pj.model = models[mkey]
        except UsageError as exc:
            if not pj.runnable:  # e.g. an adapter that refuses to build without its extra modules
                continue
            raise UsageError(f"{pj.job.where}: {exc}") from None
        except Exception as exc:  # a model that cannot even be built here
            pj.skip(f"cannot build model here: {type(exc).__name__}: {exc}")
            continue
        try:
            check_compatible(pj.task, pj.model)
        except UsageError as exc:
            raise UsageError(f"{pj.job.where}: {exc}") from None
        if pj.runnable:
            try:
                model_fp = bind(pj.model, pj.task).fingerprint()  # as the run will fingerprint it
                pj.folder = run_dir_for(output, spec, run_id_for(spec, pj.task.fingerprint(), model_fp))
            except VisanomError as exc:
                pj.skip(str(exc))
                continue
            except Exception as exc:  # e.g. weights identity that needs the network
                pj.skip(f"cannot identify the run: {type(exc).__name__}: {exc}")
                continue
            pj.complete = is_complete(pj.folder)
    return planned


def _foreign_folder(output: Path, rel: Any, pj: PlannedJob) -> Path:
    """The run folder another environment reported for ``pj``, refused unless it lies inside
    the results folder (it comes from another process: checked like any untrusted path)."""
    try:
        return inside(output, Path(output) / str(rel))
    except VisanomError as exc:
        raise UsageError(f"{pj.job.where}: environment {pj.env.name if pj.env else '?'!r} reported "
                         f"a run folder outside the results folder: {exc}") from None


def is_complete(folder: Path) -> bool:
    """True when the folder holds a finished run record."""
    path = folder / RUN_FILE
    if not path.is_file():
        return False
    try:
        return read_run(path).get("status") == STATUS_COMPLETE
    except (OSError, ValueError):
        return False


def gpu_count() -> int:
    """CUDA devices visible to the driver (0 without torch or a GPU)."""
    if not cuda_available():
        return 0
    import torch

    return int(torch.cuda.device_count())


def api_limit(sweep: Sweep, provider: str) -> int:
    """How many API jobs of one provider may run at once."""
    return int(sweep.api_concurrency.get(provider, DEFAULT_API_CONCURRENCY))
