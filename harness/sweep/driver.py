"""The sweep driver: plan, split into units, run them on an executor, write every record.

Only this process writes the results folder and the prediction cache. Records are appended
as each batch comes back, so a killed sweep loses at most the batches in flight; started
again, it skips complete runs, resumes partial ones, and ends with the same final table.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from harness.core.cpus import default_workers
from harness.core.errors import UsageError
from harness.core.provenance import utc_now
from harness.core.text import printable
from harness.records.figures import api_cost, headline_text, token_counts
from harness.records.store import (
    RUN_FILE,
    SCORES_DIR,
    InputStore,
    RunDir,
    atomic_write_bytes,
    inside,
    read_run,
)
from harness.run.cache import PredictionCache
from harness.run.samples import Resume
from harness.run.summarise import ModelFacts, summarise
from harness.sweep.executors import LocalExecutor, Message, RayExecutor, Unit
from harness.sweep.file import Sweep
from harness.sweep.plan import PlannedJob, api_limit, gpu_count, plan_sweep
from harness.sweep.worker import decode_array, decode_prediction

STATES = ("done", "cached", "failed", "skipped")
_INPUT_NAME = re.compile(r"[0-9A-Za-z]{1,128}\.(npy|png)")


@dataclass
class JobRun:
    """The driver's state of one job while the sweep runs."""

    pj: PlannedJob
    state: str = "pending"
    reason: str = ""
    run_dir: RunDir | None = None
    resume: Resume | None = None
    facts: ModelFacts | None = None
    task_fingerprint: str | None = None
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    positions: dict[str, int] = field(default_factory=dict)
    parts_left: int = 0
    n_new: int = 0
    started: str = ""
    t0: float = 0.0
    wall_s: float = 0.0
    run: dict[str, Any] | None = None
    errors: list[str] = field(default_factory=list)


@dataclass
class SweepResult:
    """What a sweep did: one :class:`JobRun` per job, and the wall time."""

    sweep: Sweep
    jobs: list[JobRun]
    wall_s: float
    dry_run: bool = False
    nodes: dict[str, int] = field(default_factory=dict)
    """Units run per Ray node (empty for the local executor)."""

    @property
    def ok(self) -> bool:
        """True when no job failed or was (or would be) skipped."""
        return all(j.state in ("done", "cached", "to run") for j in self.jobs)


class Reporter:
    """One overall progress bar plus a line per job state change, or JSON lines (``--json``)."""

    def __init__(self, json_out: bool, progress: bool, stream: TextIO | None = None):
        self.json_out, self.progress = json_out, progress
        self.stream = stream or (sys.stdout if json_out else sys.stderr)
        self.bar: tqdm | None = None
        self.done = self.total = 0

    def event(self, kind: str, **data: Any) -> None:
        """Write one JSON progress event (only with ``--json``)."""
        if self.json_out:
            self.stream.write(json.dumps({"event": kind, "time": utc_now(), **data}, default=str) + "\n")
            self.stream.flush()

    def start(self, total: int, initial: int) -> None:
        """The overall bar: samples of every runnable job (already-written ones count as done)."""
        self.total, self.done = total, initial
        if self.progress and not self.json_out:
            self.bar = tqdm(total=total, initial=initial, desc="sweep", unit="sample", dynamic_ncols=True,
                            file=self.stream)
        self.event("progress", done=self.done, total=self.total)

    def advance(self, n: int) -> None:
        """``n`` more samples recorded."""
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        self.event("progress", done=self.done, total=self.total)

    def job(self, jr: JobRun, total_jobs: int) -> None:
        """A job changed state."""
        head = f"[{jr.pj.index + 1}/{total_jobs}] {jr.pj.name}: {jr.state}"
        detail = jr.reason if jr.state in ("skipped", "failed") else ""
        if jr.state in ("done", "cached") and jr.run is not None:
            detail = headline_text(jr.run)
        self.event("job", index=jr.pj.index, job=jr.pj.name, where=jr.pj.job.where, state=jr.state,
                   reason=jr.reason or None, folder=str(jr.pj.folder) if jr.pj.folder else None)
        if not self.json_out:
            line = printable(f"{head}  {detail}".rstrip())
            if self.bar is not None:
                self.bar.write(line, file=self.stream)
            else:
                print(line, file=self.stream, flush=True)

    def close(self) -> None:
        """Close the bar."""
        if self.bar is not None:
            self.bar.close()


# -- units -------------------------------------------------------------------------------
def _part(jr: JobRun, shard: tuple[int, int] | None, done: Sequence[str], batch_size: int | None) -> dict[str, Any]:
    spec = jr.pj.job.spec
    return {"spec": spec.to_record(), "task_args": dict(spec.task_args), "model_args": dict(spec.model_args),
            "shard": list(shard) if shard else None, "done": sorted(done), "batch_size": batch_size}


def make_units(jobs: Sequence[JobRun], *, workers: int, gpus: int, cache: str | None,
               batch_size: int | None = None) -> list[Unit]:
    """Units of work: CPU jobs split by series (shards) where the task allows; all of a
    weight-loading model's jobs in one unit (loaded once); one unit per API job."""
    units: list[Unit] = []
    by_model: dict[str, Unit] = {}
    for jr in jobs:
        pj = jr.pj
        done = [k for k, r in jr.records.items() if r.get("error") is None]
        if pj.kind == "cpu":
            n = min(max(pj.count, 1), 2 * workers) if getattr(pj.task, "shardable", False) else 1
            for i in range(n):
                shard = (i, n) if n > 1 else None
                units.append(Unit(f"{pj.index}.{i}", [_part(jr, shard, done, batch_size)], [pj.index], "cpu",
                                  pj.env, cache, size=pj.count // n))
                jr.parts_left += 1
        elif pj.kind == "api":
            units.append(Unit(f"{pj.index}", [_part(jr, None, done, batch_size)], [pj.index], f"api:{pj.provider}",
                              pj.env, cache, size=pj.count))
            jr.parts_left += 1
        else:
            spec = pj.job.spec
            key = json.dumps([spec.model, dict(spec.model_args), dict(spec.generation), pj.env.python],
                             sort_keys=True, default=str)
            unit = by_model.get(key)
            if unit is None:
                unit = by_model[key] = Unit(f"model:{pj.index}", [], [], "gpu" if gpus else "cpu", pj.env, cache)
                units.append(unit)
            unit.parts.append(_part(jr, None, done, batch_size))
            unit.jobs.append(pj.index)
            unit.size += pj.count
            jr.parts_left += 1
    # long units first (API, GPU, whole-model), then the CPU shards in job order
    return sorted(units, key=lambda u: u.resource == "cpu" and len(u.jobs) == 1)  # stable: job order kept


# -- the driver ----------------------------------------------------------------------------
class Driver:
    """Runs a planned sweep on an executor; the only writer of records and cache."""

    def __init__(self, sweep: Sweep, planned: list[PlannedJob], *, output: Path, cache: PredictionCache | None,
                 reporter: Reporter, rerun: bool = False):
        self.sweep, self.cache, self.reporter, self.output = sweep, cache, reporter, Path(output)
        self.jobs = [JobRun(pj) for pj in planned]
        self.rerun = rerun
        self.nodes: dict[str, int] = {}
        self.judges: dict[str, Any] = {}

    def _set(self, jr: JobRun, state: str, reason: str = "") -> None:
        jr.state, jr.reason = state, reason
        self.reporter.job(jr, len(self.jobs))

    def prepare(self) -> list[JobRun]:
        """Skip, serve from records, or open the run folder of each job; the ones to run."""
        todo = []
        for jr in self.jobs:
            pj = jr.pj
            if not pj.runnable:
                self._set(jr, "skipped", pj.reason)
                continue
            assert pj.folder is not None
            if pj.complete and not self.rerun:  # read only: its folder is not opened (nor locked)
                jr.run = read_run(pj.folder / RUN_FILE)
                self._set(jr, "cached")
                continue
            jr.run_dir = RunDir(pj.folder)
            jr.resume = Resume(jr.run_dir, rerun=self.rerun)  # the same rule as visanom run's
            jr.records = jr.resume.done
            if len(jr.records) < pj.count:
                jr.resume.begin_work()
            jr.started, jr.t0 = utc_now(), time.perf_counter()
            todo.append(jr)
        return todo

    def handle(self, unit: Unit, msg: Message) -> None:
        """Write what a worker returned (the only place records and cache entries are written)."""
        kind = msg.get("type")
        if kind == "end":
            if msg.get("node"):  # a Ray unit: which node ran it
                self.nodes[msg["node"]] = self.nodes.get(msg["node"], 0) + 1
            return
        jr = self.jobs[unit.jobs[msg["part"]]]
        if kind == "records":
            self._write(jr, msg)
        elif kind == "order":
            shard = unit.parts[msg["part"]].get("shard") or [0, 1]
            for k, sid in enumerate(msg["ids"]):
                jr.positions[sid] = shard[0] + k * shard[1]
            if msg.get("facts"):
                jr.facts, jr.task_fingerprint = ModelFacts.from_record(msg["facts"]), msg.get("task_fingerprint")
            self._part_done(jr)
        elif kind == "error":
            jr.errors.append(str(msg.get("message")))
            self._part_done(jr)

    def _write(self, jr: JobRun, msg: Message) -> None:
        assert jr.run_dir is not None
        for sid, draw, data in msg.get("scores") or ():
            jr.run_dir.write_scores(str(sid), decode_array(data), draw=int(draw))
        for rel, data in (msg.get("inputs") or {}).items():
            self._write_input(jr, str(rel), data)
        for record in msg["records"]:
            self._check_score_files(jr, record)
        jr.run_dir.append(msg["records"])
        for r in msg["records"]:
            jr.records[r["sample_id"]] = r
        jr.n_new += len(msg["records"])
        if self.cache is not None:
            for key, pred in msg.get("cache") or ():
                self.cache.put(key, decode_prediction(pred))
        self.reporter.advance(len(msg["records"]))

    @staticmethod
    def _check_score_files(jr: JobRun, record: dict[str, Any]) -> None:
        """Refuse a record whose score files (headline or per draw) are not in its run
        folder's ``scores/`` (a reader would otherwise follow a worker's path anywhere)."""
        assert jr.run_dir is not None
        names = [record.get("scores_file")] + [d.get("scores_file") for d in record.get("draws") or ()
                                               if isinstance(d, dict)]
        for rel in filter(None, names):
            rel = str(rel)
            if not rel.startswith(SCORES_DIR + "/"):
                raise UsageError(f"worker returned a score file outside the run's {SCORES_DIR}/: {rel!r}")
            inside(jr.run_dir.path / SCORES_DIR, jr.run_dir.path / rel)

    def _write_input(self, jr: JobRun, rel: str, data: str) -> None:
        """Store one input file a worker returned, in the task's content-addressed store
        (nowhere else: the path is checked against the store's own naming)."""
        store = InputStore(self.output, jr.pj.job.spec.task)
        name = rel.rsplit("/", 1)[-1]
        if not rel.startswith(store.rel_dir + "/") or not _INPUT_NAME.fullmatch(name):
            raise UsageError(f"worker returned an input file outside the input store: {rel!r}")
        target = inside(self.output, self.output / rel)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(target, base64.b64decode(data))

    def _part_done(self, jr: JobRun) -> None:
        jr.parts_left -= 1
        if jr.parts_left > 0:
            return
        jr.wall_s = time.perf_counter() - jr.t0
        assert jr.run_dir is not None
        try:
            self._finish(jr)
        finally:  # done or failed, this sweep no longer writes the folder: its lock goes
            jr.run_dir.release()

    def _finish(self, jr: JobRun) -> None:
        """``run.json`` of a job whose parts all ended, or the job marked failed."""
        assert jr.run_dir is not None
        if jr.errors:
            self._set(jr, "failed", "; ".join(sorted(set(jr.errors)))[:1000])
            return
        ordered = [jr.records[s] for s in sorted(jr.positions, key=jr.positions.__getitem__) if s in jr.records]
        try:
            jr.run = self._summarise(jr, ordered)
        except Exception as exc:  # aggregation failed: the records stay, the run is not marked complete
            self._set(jr, "failed", f"summarising: {type(exc).__name__}: {exc}")
            return
        jr.run_dir.write_run(jr.run)
        self._set(jr, "done")

    def _summarise(self, jr: JobRun, ordered: list[dict[str, Any]]) -> dict[str, Any]:
        """``run.json`` here, with the task built in this process (tasks are core code) and the
        model's facts from the worker that ran it; a task whose fingerprint differs between the
        two environments is refused (the records would not be the task's here)."""
        pj = jr.pj
        spec = pj.job.spec
        if jr.facts is None:
            raise RuntimeError("the worker sent no model facts")
        if pj.task is None:
            from harness.run.pairs import build_task

            pj.task = build_task(spec)
        if jr.task_fingerprint is not None and pj.task.fingerprint() != jr.task_fingerprint:
            raise RuntimeError(f"task {spec.task!r} differs between this process and environment "
                               f"{pj.env.name if pj.env else '?'!r} (fingerprints differ)")
        judged = None
        if spec.judge is not None:
            from harness.scoring.judge_run import judge_records

            assert jr.run_dir is not None
            judged = judge_records(ordered, self._judge(spec), jr.run_dir, self.output, spec.judge)
        return summarise(pj.task, spec, ordered, jr.facts, started=jr.started, wall_s=jr.wall_s, judge=judged)

    def _judge(self, spec: Any) -> Any:
        """The spec's judge model, built once per name and arguments (in this process)."""
        from harness.run.pairs import build_judge

        key = json.dumps([spec.judge, dict(spec.judge_args)], sort_keys=True, default=str)
        if key not in self.judges:
            self.judges[key] = build_judge(spec)
        return self.judges[key]

    def run(self, executor: Any, workers: int, gpus: int, batch_size: int | None = None) -> None:
        """Run every job that is not complete."""
        todo = self.prepare()
        total = sum(j.pj.count for j in self.jobs if j.pj.runnable)
        initial = sum(j.pj.count for j in self.jobs if j.state == "cached") + sum(len(j.records) for j in todo)
        self.reporter.start(total, initial)
        try:
            units = make_units(todo, workers=workers, gpus=gpus,
                               cache=str(self.cache.path) if self.cache is not None else None, batch_size=batch_size)
            for jr in todo:
                self._set(jr, "running", f"{jr.parts_left} unit(s)")
            if units:
                executor.execute(units, self.handle)
        finally:
            self.reporter.close()


# -- the table ------------------------------------------------------------------------------
def table_rows(result: SweepResult, stable: bool = False) -> list[dict[str, Any]]:
    """One row per job. ``stable`` leaves out what differs between an uninterrupted sweep and
    a killed-and-restarted one (wall time, done vs served from records)."""
    rows = []
    for jr in result.jobs:
        run = jr.run or {}
        counts = run.get("counts") or {}
        tin, tout = token_counts(run.get("usage")) or (0, 0)
        cost = api_cost(run.get("usage"), jr.pj.display)
        row = {"job": jr.pj.name, "state": jr.state, "n": counts.get("n"), "failed": counts.get("n_failed"),
               "headline": headline_text(run) if run else "", "tokens": tin + tout,
               "cost_usd": None if cost is None else round(cost, 4), "new": jr.n_new,
               "wall_s": round(jr.wall_s, 1), "reason": jr.reason if jr.state in ("failed", "skipped") else ""}
        if stable:
            row["state"] = "complete" if jr.state in ("done", "cached") else jr.state
            row.pop("wall_s"), row.pop("new")
        rows.append(row)
    return rows


def format_table(result: SweepResult) -> str:
    """The final table and a summary line."""
    rows = table_rows(result)
    cols = [("job", "JOB"), ("state", "STATE"), ("n", "N"), ("new", "NEW"), ("failed", "FAILED"),
            ("headline", "HEADLINE"), ("tokens", "TOKENS"), ("cost_usd", "COST$"), ("wall_s", "WALL_S"),
            ("reason", "REASON")]
    cells = [[("-" if r[k] is None else printable(r[k])) for k, _ in cols] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, (_, h) in enumerate(cols)]
    lines = ["  ".join(h.ljust(w) for (_, h), w in zip(cols, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)).rstrip() for cell in cells]
    counts = {s: sum(j.state == s for j in result.jobs) for s in STATES}
    tokens = sum(r["tokens"] for r in rows)
    costs = [r["cost_usd"] for r in rows if r["cost_usd"] is not None]
    lines.append(f"{len(rows)} jobs: {counts['done']} done, {counts['cached']} cached (from records), "
                 f"{counts['failed']} failed, {counts['skipped']} skipped; wall {result.wall_s:.1f} s; "
                 f"tokens {tokens}; est. API cost ${sum(costs):.2f}")
    return "\n".join(lines)


def dry_run_rows(planned: Sequence[PlannedJob]) -> list[dict[str, Any]]:
    """Per job: kind, environment, whether it can run here and why not, and its state."""
    rows = []
    for pj in planned:
        state = "complete" if pj.complete else ("-" if not pj.runnable else "to run")
        rows.append({"job": pj.name, "where": pj.job.where, "kind": pj.kind + (f":{pj.provider}" if pj.provider else ""),
                     "env": pj.env.name if pj.env else "-", "samples": pj.count if pj.runnable else None,
                     "runs_here": pj.runnable, "reason": pj.reason, "state": state})
    return rows


def format_dry_run(planned: Sequence[PlannedJob]) -> str:
    """The ``--dry-run`` listing."""
    rows = dry_run_rows(planned)
    cols = [("job", "JOB"), ("kind", "KIND"), ("env", "ENV"), ("samples", "N"), ("state", "STATE"),
            ("runs_here", "RUNS HERE")]
    cells = []
    for r in rows:
        cell = [("-" if r[k] is None else printable(r[k])) for k, _ in cols]
        cell[-1] = "yes" if r["runs_here"] else printable(f"no: {r['reason']}")
        cells.append(cell)
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, (_, h) in enumerate(cols)]
    lines = ["  ".join(h.ljust(w) for (_, h), w in zip(cols, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)).rstrip() for cell in cells]
    n_ok = sum(r["runs_here"] for r in rows)
    lines.append(f"{len(rows)} jobs: {n_ok} can run here, {len(rows) - n_ok} would be skipped")
    return "\n".join(lines)


def run_sweep(sweep: Sweep, *, output: Path | None = None, executor: str = "local", workers: int | None = None,
              only: str | None = None, dry_run: bool = False, json_out: bool = False, progress: bool = True,
              cache: PredictionCache | None = None, ray_address: str | None = None, rerun: bool = False,
              batch_size: int | None = None, print_fn: Callable[[str], None] = print) -> SweepResult:
    """Plan and run a sweep (a dry run prints the plan; its jobs are ``to run``, ``cached``
    or ``skipped``); ``workers`` defaults to :func:`harness.core.cpus.default_workers`."""
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise UsageError(f"--workers must be at least 1, got {workers}")
    if executor not in ("local", "ray"):
        raise UsageError(f"unknown executor {executor!r}; choose local or ray")
    out = Path(output) if output is not None else sweep.output
    t0 = time.perf_counter()
    planned = plan_sweep(sweep, out, only=only)
    if dry_run:
        if json_out:
            print_fn(json.dumps({"event": "plan", "sweep": sweep.name, "jobs": dry_run_rows(planned)}))
        else:
            print_fn(format_dry_run(planned))
        states = [JobRun(pj, state="skipped" if not pj.runnable else "cached" if pj.complete else "to run",
                         reason=pj.reason) for pj in planned]
        return SweepResult(sweep, states, time.perf_counter() - t0, dry_run=True)
    gpus = gpu_count()
    capacity: dict[str, int] = {"cpu": workers, "gpu": gpus}
    for pj in planned:
        if pj.kind == "api" and pj.provider:
            capacity[f"api:{pj.provider}"] = api_limit(sweep, pj.provider)
    reporter = Reporter(json_out, progress)
    driver = Driver(sweep, planned, output=out, cache=cache, reporter=reporter, rerun=rerun)
    # one numeric-library thread per worker: workers scale across cores, and every executor
    # computes with the same thread count (identical records from local and Ray runs)
    if executor == "ray":
        ex: Any = RayExecutor(capacity, address=ray_address, threads_per_worker=1)
    else:
        ex = LocalExecutor(capacity, threads_per_worker=1)
    driver.run(ex, workers, gpus, batch_size=batch_size)
    result = SweepResult(sweep, driver.jobs, time.perf_counter() - t0, nodes=dict(driver.nodes))
    if json_out:
        reporter.event("summary", ok=result.ok, wall_s=round(result.wall_s, 3), jobs=table_rows(result),
                       nodes=result.nodes)
    else:
        print_fn(format_table(result))
        if result.nodes:
            print_fn("units per Ray node: " + ", ".join(f"{n[:12]}: {c}" for n, c in sorted(result.nodes.items())))
    return result

