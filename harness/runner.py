"""The runner: batches samples through a model, caches, records, resumes and scores.

The model adapter owns batching inside ``predict``; the runner owns the cache, the run
folder, the progress bar and the rule that a failure belongs to one sample and never stops
a sweep.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from harness.cache import PredictionCache, cache_key
from harness.errors import UsageError
from harness.hashing import stable_hash
from harness.provenance import environment, utc_now
from harness.records import RUN_SCHEMA, RunDir, dumps, json_safe
from harness.types import ModelAdapter, Prediction, Sample, Task

MAX_FAILURES_LISTED = 50


@dataclass
class RunResult:
    """Where a run was written and what it measured."""

    path: Path
    run: dict[str, Any]

    @property
    def n_failed(self) -> int:
        return self.run["counts"]["n_failed"]


def run_id_for(task: Task, model: ModelAdapter, limit: int | None) -> str:
    """The run folder name: the same command always maps to the same folder."""
    return stable_hash([task.fingerprint(), model.fingerprint(), limit], 16)


def run_folder(output: Path, task: Task, model: ModelAdapter, limit: int | None) -> Path:
    """The folder a run of ``model`` on ``task`` writes (see :func:`run_id_for`)."""
    return Path(output) / task.name / model.name / run_id_for(task, model, limit)


def describe_error(exc: BaseException) -> str:
    """A one-line description of an exception: type, message and where it was raised."""
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(tb[-1].filename).name}:{tb[-1].lineno})" if tb else ""
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {msg}{where}"[:1000]


def _batches(samples: Iterator[Sample], size: int) -> Iterator[list[Sample]]:
    batch: list[Sample] = []
    for s in samples:
        batch.append(s)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class Runner:
    """Runs one model on one task into ``output/<task>/<model>/<run_id>/``."""

    def __init__(
        self,
        task: Task,
        model: ModelAdapter,
        output: Path,
        *,
        limit: int | None = None,
        batch_size: int | None = None,
        cache: PredictionCache | None = None,
        rerun: bool = False,
        progress: bool = True,
        run_dir: RunDir | None = None,
    ):
        """``run_dir`` replaces the run folder (a sweep worker passes an in-memory one, so that
        only the sweep's driver writes files)."""
        self.task, self.model, self.limit = task, model, limit
        self.batch_size = batch_size or int(getattr(model, "batch_size", 8) or 8)
        self.cache, self.rerun, self.progress = cache, rerun, progress
        self.task_fp, self.model_fp = task.fingerprint(), model.fingerprint()
        # the cache key needs only what shapes the model's input; scoring changes reuse predictions
        input_fp = getattr(task, "input_fingerprint", None)
        self.input_fp = input_fp() if callable(input_fp) else self.task_fp
        self.run_id = run_id_for(task, model, limit)
        self.dir = run_dir if run_dir is not None else RunDir(run_folder(output, task, model, limit))
        self.generation = getattr(model, "generation_config", None)

    # -- prediction -------------------------------------------------------------------
    def _key(self, sample: Sample) -> str | None:
        """The cache key, or None when the sample has no input hash (never cache blind)."""
        if not sample.input_hash:
            return None
        return cache_key(self.model_fp, self.input_fp, sample.input_hash, self.generation)

    def _predict(self, batch: Sequence[Sample]) -> dict[str, Prediction]:
        preds: dict[str, Prediction] = {}
        todo: list[Sample] = []
        for s in batch:
            if s.error is not None:
                preds[s.id] = Prediction(sample_id=s.id, error=f"input: {s.error}")
                continue
            key = self._key(s) if self.cache is not None else None
            hit = self.cache.get(key, s.id) if key is not None else None
            if hit is not None:
                preds[s.id] = hit
            else:
                todo.append(s)
        if todo:
            preds.update(self._call_model(todo))
        return preds

    def _call_model(self, todo: Sequence[Sample]) -> dict[str, Prediction]:
        t0 = time.perf_counter()
        try:
            out = list(self.model.predict(todo))
        except UsageError:
            raise  # a set-up problem (e.g. a missing API key) stops the run with its message
        except Exception as exc:  # one bad batch must not end the sweep
            err = f"model: {describe_error(exc)}"
            return {s.id: Prediction(sample_id=s.id, error=err) for s in todo}
        by_id = {p.sample_id: p for p in out}
        preds = {}
        for s in todo:
            p = by_id.get(s.id)
            if p is None:
                p = Prediction(sample_id=s.id, error="model: returned no prediction for this sample")
            if not p.latency_s:
                p.latency_s = (time.perf_counter() - t0) / len(todo)
            preds[s.id] = p
            key = self._key(s) if self.cache is not None else None
            if key is not None and p.error is None and getattr(self.model, "cacheable", True):
                self.cache.put(key, p)
        return preds

    def process(self, batch: Sequence[Sample]) -> list[dict[str, Any]]:
        """Predict (through the cache), post-process and score one batch: its records, in order.
        Score files go to the run folder; nothing is appended to ``samples.jsonl``."""
        preds = self._predict(batch)
        return [self._record(s, preds[s.id]) for s in batch]

    # -- records ----------------------------------------------------------------------
    def _record(self, sample: Sample, pred: Prediction) -> dict[str, Any]:
        metrics = None
        if pred.error is None:
            try:
                pred = self.task.postprocess(pred, sample)
                if pred.error is None:
                    metrics = self.task.score_sample(pred, sample)
            except Exception as exc:
                pred.error = f"scoring: {describe_error(exc)}"
                metrics = None
        if metrics is not None and any(isinstance(v, float) and not math.isfinite(v) for v in metrics.values()):
            bad = sorted(k for k, v in metrics.items() if isinstance(v, float) and not math.isfinite(v))
            pred.error, metrics = f"scoring: non-finite metric value(s) {', '.join(bad)}", None
        scores_file = None
        if pred.scores is not None:
            scores_file = self.dir.write_scores(sample.id, pred.scores)
        record = {
            "sample_id": sample.id,
            "input_hash": sample.input_hash,
            "meta": dict(sample.meta),
            "text": pred.text,
            "scores_file": scores_file,
            "intervals": None if pred.intervals is None else [list(iv) for iv in pred.intervals],
            "error": pred.error,
            "parse_failed": bool(pred.meta.get("parse_failed", False)),
            "metrics": metrics,
            "latency_s": round(float(pred.latency_s), 6),
            "usage": json_safe(pred.usage),
            "cached": pred.cached,
            "pred_meta": json_safe({k: v for k, v in pred.meta.items() if k != "parse_failed"}),
        }
        try:
            dumps(record)
        except (TypeError, ValueError) as exc:  # never let one odd record stop the sweep
            record.update(error=f"record: {describe_error(exc)}", metrics=None, text=None)
            record["meta"] = json_safe(record["meta"])
        return record

    # -- the run ----------------------------------------------------------------------
    def _task_samples(self, done: frozenset[str]) -> Iterator[Sample]:
        """The task's samples; a task with ``accepts_skip`` need not load or render ``done`` ones."""
        if getattr(self.task, "accepts_skip", False):
            return self.task.samples(self.limit, skip=done)
        return self.task.samples(self.limit)

    def run(self) -> RunResult:
        """Run (or resume) and write ``run.json``; per-sample failures are recorded, not raised."""
        if self.rerun:
            self.dir.reset()
        # successful samples are done; failed ones are asked again, so their lines are dropped
        previous = self.dir.completed()
        done = {k: r for k, r in previous.items() if r.get("error") is None}
        if len(done) < len(previous):
            self.dir.rewrite(done.values())
        self.dir.run_path.unlink(missing_ok=True)  # a run.json always describes finished records
        started, t0 = utc_now(), time.perf_counter()
        total = self.task.count(self.limit) if hasattr(self.task, "count") else None
        order: list[str] = []
        bar = tqdm(
            total=total, desc=f"{self.model.name} on {self.task.name}", unit="sample",
            disable=not self.progress, dynamic_ncols=True, initial=0,
        )
        n_failed_now = 0

        def pending() -> Iterator[Sample]:
            for s in self._task_samples(frozenset(done)):
                order.append(s.id)
                if s.id in done:
                    bar.update(1)
                    continue
                yield s

        with bar:
            for batch in _batches(pending(), self.batch_size):
                records = self.process(batch)
                self.dir.append(records)
                for r in records:
                    done[r["sample_id"]] = r
                    n_failed_now += r["error"] is not None
                bar.update(len(batch))
                bar.set_postfix(failed=n_failed_now, refresh=False)
        ordered = [done[i] for i in order if i in done]
        run = self._summarise(ordered, started, time.perf_counter() - t0)
        self.dir.write_run(run)
        return RunResult(self.dir.path, run)

    def summarise(self, records: list[dict[str, Any]], started: str, wall_s: float) -> dict[str, Any]:
        """The ``run.json`` of a run whose ordered records are ``records``."""
        return self._summarise(records, started, wall_s)

    def _summarise(self, records: list[dict[str, Any]], started: str, wall_s: float) -> dict[str, Any]:
        failed = [r for r in records if r["error"] is not None]
        usage: dict[str, float] = {}
        for r in records:
            for k, v in (r.get("usage") or {}).items():
                if isinstance(v, (int, float)):
                    usage[k] = usage.get(k, 0) + v
        aggregate = dict(self.task.aggregate(records))
        n_undefined = aggregate.pop("n_undefined", 0)
        n = len(records)
        return {
            "schema": RUN_SCHEMA,
            "run_id": self.run_id,
            "status": "complete",
            "task": {
                "name": self.task.name, "version": self.task.version, "fingerprint": self.task_fp,
                "display": self.task.describe(),
            },
            "model": {
                "name": self.model.name, "fingerprint": self.model_fp,
                "args": getattr(self.model, "public_args", {}),
                "display": getattr(self.model, "display", {}),
            },
            "limit": self.limit,
            **aggregate,
            "counts": {
                "n": n,
                "n_ok": n - len(failed),
                "n_failed": len(failed),
                "n_cached": sum(bool(r.get("cached")) for r in records),
                "n_parse_failed": sum(bool(r.get("parse_failed")) for r in records),
                "n_undefined": n_undefined,
            },
            "failures": [{"sample_id": r["sample_id"], "error": r["error"]} for r in failed[:MAX_FAILURES_LISTED]],
            "usage": usage,
            "timing": {
                "started": started, "finished": utc_now(), "wall_s": round(wall_s, 3),
                "model_s": round(sum(r.get("latency_s") or 0.0 for r in records if not r.get("cached")), 3),
                "samples_per_s": round(n / wall_s, 4) if wall_s > 0 else None,
            },
            "env": environment(),
        }
