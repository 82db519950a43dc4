"""``visanom run``'s runner: one spec's run folder, resumed and written, over the execution core.

The unit of work is a :class:`~harness.core.spec.RunSpec` with its built task and model. The
runner owns the run folder (``<output>/<slug(task)>/<slug(model)>/<run_id>``, never outside
``output``), the input store and the progress bar; answering, recording and summarising are
the core's (:mod:`harness.run.core`, :mod:`harness.run.summarise`), shared with the sweep
workers. A failure belongs to one sample and never stops a sweep.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from harness.core.errors import UsageError
from harness.core.provenance import utc_now
from harness.core.spec import RunSpec
from harness.core.types import ModelAdapter, Task
from harness.records.store import InputStore, RunDir
from harness.run.cache import PredictionCache
from harness.run.core import Execution
from harness.run.samples import Resume
from harness.run.summarise import registered_name, run_dir_for, summarise


@dataclass
class RunResult:
    """Where a run was written and what it measured."""

    path: Path
    run: dict[str, Any]

    @property
    def n_failed(self) -> int:
        return self.run["counts"]["n_failed"]


def spec_for(task: Task, model: ModelAdapter, limit: int | None = None) -> RunSpec:
    """The spec of an already built pair (no generation overrides, one draw, no seed)."""
    return RunSpec(task=str(task.name), model=registered_name(model),
                   task_args=dict(getattr(task, "args", None) or {}),
                   model_args=dict(getattr(model, "public_args", None) or {}), limit=limit)


class Runner:
    """Runs one spec (its task and model built) into ``output/<slug(task)>/<slug(model)>/<run_id>/``.

    ``spec`` defaults to :func:`spec_for` the pair and ``limit`` (kept for callers that build
    task and model themselves); when given, its ``limit`` is the run's. ``judge`` (a built
    model) grades the rationales when the spec names a judge (:mod:`harness.scoring.judge_run`).
    """

    def __init__(self, task: Task, model: ModelAdapter, output: Path, *, spec: RunSpec | None = None,
                 limit: int | None = None, batch_size: int | None = None, cache: PredictionCache | None = None,
                 rerun: bool = False, progress: bool = True, judge: Any = None):
        if spec is not None and limit is not None and limit != spec.limit:
            raise UsageError(f"limit {limit} differs from the spec's limit {spec.limit}")
        self.spec = spec if spec is not None else spec_for(task, model, limit)
        self.output = Path(output)
        self.inputs = InputStore(self.output, self.spec.task)
        self.execution = Execution(self.spec, task, model, cache=cache, batch_size=batch_size)
        self.run_id = self.execution.run_id
        self.dir = RunDir(run_dir_for(self.output, self.spec, self.run_id))
        self.rerun, self.progress, self.judge = rerun, progress, judge

    @property
    def task(self) -> Task:
        """The run's task."""
        return self.execution.task

    @property
    def model(self) -> ModelAdapter:
        """The run's model (bound to the task when it draws on it)."""
        return self.execution.model

    def run(self) -> RunResult:
        """Run (or resume) and write ``run.json``; per-sample failures are recorded, not raised
        (see :mod:`harness.run.samples` for what is kept and when ``run.json`` is marked stale)."""
        resume = Resume(self.dir, rerun=self.rerun)
        done = resume.done
        started, t0 = utc_now(), time.perf_counter()
        task = self.execution.task
        total = task.count(self.spec.limit) if hasattr(task, "count") else None
        bar = tqdm(total=total, desc=f"{self.spec.model} on {self.spec.task}", unit="sample",
                   disable=not self.progress, dynamic_ncols=True, initial=0)
        n_failed_now = 0
        with bar:
            for records in self.execution.records(frozenset(done), scores=self.dir, inputs=self.inputs,
                                                  on_first=resume.begin_work, on_done=lambda: bar.update(1)):
                self.dir.append(records)
                for r in records:
                    done[r["sample_id"]] = r
                    n_failed_now += r["error"] is not None
                bar.update(len(records))
                bar.set_postfix(failed=n_failed_now, refresh=False)
        ordered = [done[i] for i in self.execution.order if i in done]
        judged = None
        if self.spec.judge is not None:
            from harness.scoring.judge_run import judge_records

            judged = judge_records(ordered, self.judge, self.dir, self.output, self.spec.judge)
        run = summarise(task, self.spec, ordered, self.execution.facts, started=started,
                        wall_s=time.perf_counter() - t0, judge=judged)
        self.dir.write_run(run)
        self.dir.release()
        return RunResult(self.dir.path, run)

