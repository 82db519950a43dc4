"""``visanom run`` across Python environments.

Each spec's environment is resolved and checked first (:func:`harness.environments.jobs.env_for_model`):
a missing or broken one stops the command before any work, naming the environment and the
command that creates it. Specs whose environment is this interpreter run in-process
(:func:`harness.run.orchestrate.run_specs`); the others go through the sweep's planner, driver and
local executor (workers started with their environment's interpreter), so there is one
scheduler and one writer: this process writes every record, the cache and each ``run.json``,
into the same results folder.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.cpus import default_workers
from harness.core.errors import UsageError
from harness.core.spec import RunSpec
from harness.core.text import printable
from harness.environments.jobs import JobEnv, env_for_model
from harness.run.cache import PredictionCache
from harness.run.runner import RunResult
from harness.sweep.file import Job, Sweep

Echo = Callable[[str], None] | None


@dataclass
class MixedResult:
    """What a run across environments did: in-process results and the other environments' jobs."""

    here: list[RunResult] = field(default_factory=list)
    elsewhere: list[Any] = field(default_factory=list)  # harness.sweep.driver.JobRun

    @property
    def n_failed(self) -> int:
        """Failed samples plus failed jobs of the other environments."""
        failed = sum(r.n_failed for r in self.here)
        for jr in self.elsewhere:
            failed += 1 if jr.state != "done" and jr.state != "cached" else \
                int(((jr.run or {}).get("counts") or {}).get("n_failed") or 0)
        return failed


def environments_of(specs: Sequence[RunSpec]) -> list[JobEnv]:
    """Each spec's environment; :class:`UsageError` (before any work) for an unknown name or
    a missing or broken environment."""
    from harness.run.pairs import check_names

    out = []
    for spec in specs:
        check_names(spec)
        env = env_for_model(spec.model, dict(spec.model_args))
        if not env.ok:
            raise UsageError(f"cannot run {spec.task} / {spec.label}: {env.reason}")
        out.append(env)
    return out


def run_across_environments(specs: Sequence[RunSpec], *, output: str | Path, cache: PredictionCache | None,
                            batch_size: int | None = None, rerun: bool = False, progress: bool = True,
                            echo: Echo = print) -> MixedResult:
    """Run every spec in its environment (see the module docstring); a spec's judge grades
    its run's rationales in this process (the one that writes the run), wherever it ran."""
    from harness.run.orchestrate import run_specs

    envs = environments_of(specs)
    here = [s for s, e in zip(specs, envs, strict=True) if e.is_current]
    foreign = [s for s, e in zip(specs, envs, strict=True) if not e.is_current]
    if not foreign:
        return MixedResult(run_specs(here, output=output, cache=cache, batch_size=batch_size, rerun=rerun,
                                     progress=progress, echo=echo))
    from harness.sweep.driver import Driver, Reporter
    from harness.sweep.plan import api_limit, gpu_count, plan_sweep

    out = Path(output)
    sweep = Sweep(name="visanom run", path=Path("<command line>"), output=out,
                  jobs=[Job(s, where=f"--task {s.task} --model {s.model}", group="run") for s in foreign])
    planned = plan_sweep(sweep, out)  # built and checked in their environments, before any work
    refused = [f"{pj.name} (environment {pj.env.name if pj.env else '?'}): {pj.reason}"
               for pj in planned if not pj.runnable]
    if refused:
        raise UsageError("cannot run here: " + "; ".join(refused))
    result = MixedResult()
    if here:  # validated here too before anything runs
        result.here = run_specs(here, output=output, cache=cache, batch_size=batch_size, rerun=rerun,
                                progress=progress, echo=echo)
    from harness.sweep.executors import LocalExecutor

    workers = default_workers()
    gpus = gpu_count()
    capacity = {"cpu": workers, "gpu": gpus}
    for pj in planned:
        if pj.kind == "api" and pj.provider:
            capacity[f"api:{pj.provider}"] = api_limit(sweep, pj.provider)
    driver = Driver(sweep, planned, output=out, cache=cache, reporter=Reporter(False, progress), rerun=rerun)
    driver.run(LocalExecutor(capacity, threads_per_worker=1), workers, gpus, batch_size=batch_size)
    result.elsewhere = driver.jobs
    if echo is not None:
        for jr in driver.jobs:
            echo(foreign_line(jr))
    return result


def foreign_line(jr: Any) -> str:
    """One line per job run in another environment (like :func:`harness.run.orchestrate.summary_line`)."""
    from harness.records.figures import headline_text

    pj = jr.pj
    where = f"[environment {pj.env.name}]" if pj.env else ""
    if jr.state not in ("done", "cached"):
        return printable(f"{pj.name}: {jr.state}: {jr.reason} {where}".rstrip())
    counts = (jr.run or {}).get("counts") or {}
    return printable(f"{pj.name}: {headline_text(jr.run or {})}  n={counts.get('n')} "
                     f"failed={counts.get('n_failed')} cached={counts.get('n_cached')} {where} -> {pj.folder}")
