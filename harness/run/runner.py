"""The runner: batches samples through a model, caches, records, resumes and scores.

The unit of work is a :class:`~harness.core.spec.RunSpec` with its built task and model. The
model adapter owns batching inside ``predict``; the runner owns the cache, the run folder
(``<output>/<slug(task)>/<slug(model)>/<run_id>``, never outside ``output``), the input
store, the draws (``harness.run.draws``), the progress bar and the rule that a failure belongs
to one sample and never stops a sweep.
"""

from __future__ import annotations

import dataclasses
import math
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from harness.core.errors import OutputError, UsageError
from harness.core.hashing import array_hash, stable_hash
from harness.core.provenance import environment, utc_now
from harness.core.spec import RunSpec, public_args, slug
from harness.core.types import ModelAdapter, Prediction, Sample, Task
from harness.records.store import RUN_SCHEMA, STATUS_COMPLETE, InputStore, RunDir, dumps, inside, json_safe
from harness.run.cache import PredictionCache, cache_key
from harness.run.draws import VIEW_KEYS, Rescore, aggregate_draws, draw_seeds, model_for_draw, reduce_sample
from harness.scoring.metrics.degenerate import degenerate_scores

MAX_FAILURES_LISTED = 50


@dataclass
class RunResult:
    """Where a run was written and what it measured."""

    path: Path
    run: dict[str, Any]

    @property
    def n_failed(self) -> int:
        return self.run["counts"]["n_failed"]


def run_id_for(spec: RunSpec, task_fp: str, model_fp: str) -> str:
    """The run folder name: hash of the spec id and the task and model fingerprints, so the
    same spec on the same code and weights always maps to the same folder."""
    return stable_hash(["run", spec.id, task_fp, model_fp], 16)


def registered_name(model: ModelAdapter) -> str:
    """The name a model was built under (``make_model`` records it), else its own name."""
    return str(getattr(model, "registered_name", None) or model.name)


def spec_for(task: Task, model: ModelAdapter, limit: int | None = None) -> RunSpec:
    """The spec of an already built pair (no generation overrides, one draw, no seed)."""
    return RunSpec(task=str(task.name), model=registered_name(model),
                   task_args=dict(getattr(task, "args", None) or {}),
                   model_args=dict(getattr(model, "public_args", None) or {}), limit=limit)


def run_dir_for(output: Path, spec: RunSpec, run_id: str) -> Path:
    """``<output>/<slug(task)>/<slug(model)>/<run_id>``; refuses a path outside ``output``."""
    output = Path(output)
    return inside(output, output / slug(spec.task) / slug(spec.model) / run_id)


def render_settings_of(task: Task) -> dict[str, Any] | None:
    """The render settings (``harness.render.plot.RenderSettings``) a task draws its images with."""
    settings = getattr(task, "settings", None)
    if settings is not None and dataclasses.is_dataclass(settings) and not isinstance(settings, type):
        return json_safe(dataclasses.asdict(settings))
    return None


def describe_error(exc: BaseException) -> str:
    """A one-line description of an exception: type, message and where it was raised."""
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(tb[-1].filename).name}:{tb[-1].lineno})" if tb else ""
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {msg}{where}"[:1000]


def degenerate_flag(pred: Prediction) -> str | bool | None:
    """The ``degenerate_scores`` field of a sample record: None when the sample has no scores
    (a text model, a failure), else the reason the scores rank nothing (the model's own verdict
    on its raw scores first, see harness.scoring.metrics.degenerate), else False."""
    if pred.error is not None or pred.scores is None:
        return None
    own = pred.meta.get("degenerate_scores")
    return own if isinstance(own, str) and own else degenerate_scores(pred.scores) or False


def sample_degenerate(draws: Sequence[dict[str, Any]]) -> str | bool | None:
    """A sample's ``degenerate_scores`` from its draws' flags: the first degenerate draw's
    reason (``"draw 2: ..."`` when there are several), else False when a draw has scores, else None."""
    flags = [d.get("degenerate_scores") for d in draws]
    for d, flag in zip(draws, flags, strict=True):
        if flag:
            return flag if len(draws) == 1 else f"draw {d['draw']}: {flag}"
    return False if any(f is False for f in flags) else None


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
    """Runs one spec (its task and model built) into ``output/<slug(task)>/<slug(model)>/<run_id>/``.

    ``spec`` defaults to :func:`spec_for` the pair and ``limit`` (kept for callers that build
    task and model themselves); when given, its ``limit`` is the run's.
    """

    def __init__(
        self,
        task: Task,
        model: ModelAdapter,
        output: Path,
        *,
        spec: RunSpec | None = None,
        limit: int | None = None,
        batch_size: int | None = None,
        cache: PredictionCache | None = None,
        rerun: bool = False,
        progress: bool = True,
        run_dir: RunDir | None = None,
        inputs: InputStore | None = None,
    ):
        """``run_dir`` and ``inputs`` replace the run folder and the input store (a sweep worker
        passes in-memory ones, so that only the sweep's driver writes files)."""
        if spec is not None and limit is not None and limit != spec.limit:
            raise UsageError(f"limit {limit} differs from the spec's limit {spec.limit}")
        self.spec = spec if spec is not None else spec_for(task, model, limit)
        bind = getattr(model, "for_task", None)
        if callable(bind):  # a model that draws on the task (a recipe's train-split examples)
            model = bind(task)
        self.task, self.model, self.limit = task, model, self.spec.limit
        self.batch_size = batch_size or int(getattr(model, "batch_size", 8) or 8)
        if self.batch_size < 1:
            raise UsageError(f"batch size must be at least 1, got {self.batch_size}")
        self.cache, self.rerun, self.progress = cache, rerun, progress
        self.seeds = draw_seeds(self.spec)
        self.draw_models = [model_for_draw(model, seed) for seed in self.seeds]  # refuses before any work
        self.task_fp, self.model_fp = task.fingerprint(), model.fingerprint()
        # the cache key needs only what shapes the model's input; scoring changes reuse predictions
        input_fp = getattr(task, "input_fingerprint", None)
        self.input_fp = input_fp() if callable(input_fp) else self.task_fp
        self.output = Path(output)
        self.run_id = run_id_for(self.spec, self.task_fp, self.model_fp)
        self.dir = run_dir if run_dir is not None else RunDir(run_dir_for(self.output, self.spec, self.run_id))
        self.inputs = inputs if inputs is not None else InputStore(self.output, self.spec.task)
        self.render = render_settings_of(task)

    @property
    def generation(self) -> Any:
        """The decoding settings of the model (part of the cache key)."""
        return getattr(self.model, "generation_config", None)

    # -- prediction -------------------------------------------------------------------
    def _key(self, sample: Sample, draw: int = 0) -> str | None:
        """The cache key, or None when the sample has no input hash (never cache blind).

        A seeded draw adds its index and seed: each draw of a sample has its own entry."""
        if not sample.input_hash:
            return None
        seed = self.seeds[draw]
        model = self.draw_models[draw]
        gen = getattr(model, "generation_config", None)
        return cache_key(self.model_fp, self.input_fp, sample.input_hash, gen,
                         draw=None if seed is None else (draw, seed))

    def _predict(self, batch: Sequence[Sample], draw: int = 0) -> dict[str, Prediction]:
        preds: dict[str, Prediction] = {}
        todo: list[Sample] = []
        for s in batch:
            if s.error is not None:
                preds[s.id] = Prediction(sample_id=s.id, error=f"input: {s.error}")
                continue
            key = self._key(s, draw) if self.cache is not None else None
            hit = self.cache.get(key, s.id) if key is not None else None
            if hit is not None:
                preds[s.id] = hit
            else:
                todo.append(s)
        if todo:
            preds.update(self._call_model(todo, draw))
        return preds

    def _call_model(self, todo: Sequence[Sample], draw: int = 0) -> dict[str, Prediction]:
        model = self.draw_models[draw]
        t0 = time.perf_counter()
        try:
            out = list(model.predict(todo))
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
            key = self._key(s, draw) if self.cache is not None else None
            if key is not None and p.error is None and getattr(model, "cacheable", True):
                self.cache.put(key, p)
        return preds

    def process(self, batch: Sequence[Sample]) -> list[dict[str, Any]]:
        """Predict every draw (through the cache), post-process and score one batch: its
        records, in order. Score and input files are written; ``samples.jsonl`` is not."""
        per_draw = [self._predict(batch, d) for d in range(len(self.seeds))]
        return [self._record(s, [p[s.id] for p in per_draw]) for s in batch]

    def _streamed(self, samples: Iterator[Sample]) -> Iterator[tuple[list[Sample], list[dict[str, Prediction]]]]:
        """``(samples, [predictions])`` as each sample is answered, for a one-draw run of a
        model with ``predict_stream`` (the same shape as the batch path's, one draw).

        Samples with input errors and cache hits are answered without the model and come out
        with the next answer; when ``batch_size`` of them wait, the model's stream is let
        finish and a new one begun, so they are never held for long. A failure of the stream
        itself fails the samples it holds; one of the task's own sample iterator is raised,
        as on the batch path.
        """
        model = self.draw_models[0]
        local: list[tuple[Sample, Prediction]] = []
        handed: dict[str, tuple[Sample, float]] = {}
        source = iter(samples)
        state: dict[str, Any] = {"more": True, "error": None, "pulled": 0}

        def todo() -> Iterator[Sample]:
            while True:
                try:
                    s = next(source)
                    state["pulled"] += 1
                except StopIteration:
                    state["more"] = False
                    return
                except Exception as exc:  # the task's, not the model's: raised after the stream
                    state["more"], state["error"] = False, exc
                    return
                key = self._key(s) if self.cache is not None and s.error is None else None
                hit = self.cache.get(key, s.id) if key is not None else None
                if s.error is not None or hit is not None:
                    local.append((s, hit or Prediction(sample_id=s.id, error=f"input: {s.error}")))
                    if len(local) >= self.batch_size:
                        return
                    continue
                handed[s.id] = (s, time.perf_counter())
                yield s

        def flush(preds: list[tuple[Sample, Prediction]]) -> tuple[list[Sample], list[dict[str, Prediction]]]:
            out = [s for s, _ in preds], [{s.id: p for s, p in preds}]
            preds.clear()
            return out

        def fail(err: str) -> tuple[list[Sample], list[dict[str, Prediction]]]:
            lost = [(s, Prediction(sample_id=s.id, error=err)) for s, _ in handed.values()]
            handed.clear()
            return flush(lost)

        while True:
            state["pulled"] = 0
            try:
                for p in model.predict_stream(todo()):
                    s, t0 = handed.pop(p.sample_id, (None, 0.0))
                    if s is None:
                        continue
                    p.latency_s = p.latency_s or time.perf_counter() - t0
                    key = self._key(s) if self.cache is not None else None
                    if key is not None and p.error is None and getattr(model, "cacheable", True):
                        self.cache.put(key, p)
                    yield [s], [{s.id: p}]
                    if local:
                        yield flush(local)
            except UsageError:
                raise
            except Exception as exc:  # the stream broke: what it held fails, the run goes on
                if not state["pulled"]:  # it cannot stream at all: batches for the rest
                    yield from ((b, [self._predict(b)]) for b in _batches(source, self.batch_size))
                    return
                yield fail(f"model: {describe_error(exc)}")
            if handed:
                yield fail("model: returned no prediction for this sample")
            if local:
                yield flush(local)
            if state["error"] is not None:
                raise state["error"]
            if not state["more"]:
                return

    # -- records ----------------------------------------------------------------------
    def _score(self, sample: Sample, pred: Prediction) -> tuple[Prediction, dict[str, Any] | None]:
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
        return pred, metrics

    def _draw_record(self, sample: Sample, draw: int, pred: Prediction) -> dict[str, Any]:
        """One draw's answer: raw text/scores, parse result and issues, metrics."""
        pred, metrics = self._score(sample, pred)
        scores_file = None
        if pred.scores is not None:
            scores_file = self.dir.write_scores(sample.id, pred.scores, draw=draw)
        issues = pred.meta.get("parse_issues")
        return {
            "draw": draw,
            "seed": self.seeds[draw],
            "text": pred.text,
            "scores_file": scores_file,
            "intervals": None if pred.intervals is None else [[int(a), int(b)] for a, b in pred.intervals],
            "error": pred.error,
            "parse_failed": bool(pred.meta.get("parse_failed", False)),
            "parse_issues": None if issues is None else json_safe(list(issues)),
            "metrics": metrics,
            "latency_s": round(float(pred.latency_s), 6),
            "usage": json_safe(pred.usage),
            "cached": pred.cached,
            "pred_meta": json_safe({k: v for k, v in pred.meta.items() if k != "parse_failed"}),
            "degenerate_scores": degenerate_flag(pred),
        }

    def _rescore(self, sample: Sample, preds: Sequence[Prediction]) -> Rescore:
        """The task's metrics of majority intervals (scores: the voters' mean, when all have them)."""

        def rescore(intervals: list[list[int]], voters: Sequence[int]) -> dict[str, Any] | None:
            chosen = [preds[i] for i in voters]
            scores = None
            if chosen and all(p.scores is not None for p in chosen):
                try:
                    scores = np.mean([np.asarray(p.scores, dtype=np.float64).ravel() for p in chosen], axis=0)
                except ValueError:
                    scores = None
            pred = Prediction(sample_id=sample.id, scores=scores, intervals=tuple((a, b) for a, b in intervals))
            try:
                return self.task.score_sample(pred, sample)
            except Exception:
                return None

        return rescore

    def _target(self, sample: Sample) -> dict[str, Any] | None:
        if sample.error is not None:
            return None
        try:
            target = self.task.target(sample.id)
        except Exception:
            return None
        return {"intervals": [[int(a), int(b)] for a, b in target.intervals],
                "length": int(np.asarray(target.labels).size), "index_offset": int(sample.index_offset)}

    def _input(self, sample: Sample) -> dict[str, Any]:
        """What the model saw, stored once by content (paths relative to the output folder)."""
        series = np.asarray(sample.series) if sample.series is not None else np.empty(0)
        key = sample.input_hash or stable_hash(
            [array_hash(series), None if sample.image is None else array_hash(np.frombuffer(sample.image, np.uint8)),
             sample.prompt, sample.index_offset, sample.train_end])
        try:
            series_file = self.inputs.put_series(key, series) if sample.error is None and series.size else None
            image_file = self.inputs.put_image(key, sample.image) if sample.image is not None else None
        except OSError as exc:
            raise OutputError(f"cannot write the input store {self.inputs.path}: {exc.strerror or exc}") from exc
        return {
            "series": series_file, "image": image_file, "index_offset": int(sample.index_offset),
            "train_end": None if sample.train_end is None else int(sample.train_end), "prompt": sample.prompt,
            "render": self.render if sample.image is not None else None,
        }

    def _record(self, sample: Sample, preds: Sequence[Prediction]) -> dict[str, Any]:
        draws = [self._draw_record(sample, i, p) for i, p in enumerate(preds)]
        if len(draws) == 1:
            view = {k: draws[0][k] for k in VIEW_KEYS}
        else:
            view = reduce_sample(draws, self.spec.reducer, self.spec.reduce_by, self._rescore(sample, preds))
        usage: dict[str, Any] = {}
        for d in draws:
            for k, v in (d["usage"] or {}).items():
                usage[k] = usage.get(k, 0) + v if isinstance(v, (int, float)) and not isinstance(v, bool) else v
        record = {
            "sample_id": sample.id,
            "input_hash": sample.input_hash,
            "meta": dict(sample.meta),
            "text": view["text"],
            "scores_file": view["scores_file"],
            "intervals": view["intervals"],
            "error": view["error"],
            "parse_failed": bool(view["parse_failed"]),
            "metrics": view["metrics"],
            "latency_s": round(sum(d["latency_s"] for d in draws), 6),
            "usage": usage,
            "cached": all(d["cached"] for d in draws),
            "pred_meta": view["pred_meta"],
            "parse_issues": view["parse_issues"],
            "degenerate_scores": sample_degenerate(draws),
            "target": self._target(sample),
            "input": self._input(sample),
            "draws": draws,
        }
        if "reduced" in view:
            record["reduced"] = view["reduced"]
        try:
            dumps(record)
        except (TypeError, ValueError) as exc:  # never let one odd record stop the sweep
            record.update(error=f"record: {describe_error(exc)}", metrics=None, text=None, draws=[])
            record["meta"] = json_safe(record["meta"])
        return record

    # -- the run ----------------------------------------------------------------------
    def _task_samples(self, done: frozenset[str]) -> Iterator[Sample]:
        """The task's samples; a task with ``accepts_skip`` need not load or render ``done`` ones."""
        if getattr(self.task, "accepts_skip", False):
            return self.task.samples(self.limit, skip=done)
        return self.task.samples(self.limit)

    def run(self) -> RunResult:
        """Run (or resume) and write ``run.json``; per-sample failures are recorded, not raised.

        A finished ``run.json`` is never removed: a re-run with nothing to do rewrites it in
        place (atomically); one with work to do first marks it ``status: "stale"``."""
        if self.rerun:
            self.dir.reset()
        # successful samples are done; failed ones are asked again, so their lines are dropped
        previous = self.dir.completed()
        done = {k: r for k, r in previous.items() if r.get("error") is None}
        if len(done) < len(previous):
            self.dir.mark_stale()
            self.dir.rewrite(done.values())
        started, t0 = utc_now(), time.perf_counter()
        total = self.task.count(self.limit) if hasattr(self.task, "count") else None
        order: list[str] = []
        bar = tqdm(
            total=total, desc=f"{self.spec.model} on {self.spec.task}", unit="sample",
            disable=not self.progress, dynamic_ncols=True, initial=0,
        )
        n_failed_now = 0
        stale = [False]

        def pending() -> Iterator[Sample]:
            for s in self._task_samples(frozenset(done)):
                order.append(s.id)
                if s.id in done:
                    bar.update(1)
                    continue
                if not stale[0]:  # work to do: the old record no longer describes the folder
                    stale[0] = True
                    self.dir.mark_stale()
                yield s

        with bar:
            if len(self.seeds) == 1 and callable(getattr(self.draw_models[0], "predict_stream", None)):
                groups = self._streamed(pending())  # each sample's record as soon as it is answered
            else:
                groups = ((batch, [self._predict(batch, d) for d in range(len(self.seeds))])
                          for batch in _batches(pending(), self.batch_size))
            for batch, per_draw in groups:
                records = [self._record(s, [p[s.id] for p in per_draw]) for s in batch]
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
        degenerate = [r["sample_id"] for r in records if r["error"] is None and r.get("degenerate_scores")]
        usage: dict[str, float] = {}
        for r in records:
            for k, v in (r.get("usage") or {}).items():
                if isinstance(v, (int, float)):
                    usage[k] = usage.get(k, 0) + v
        aggregate, reduced = aggregate_draws(self.task.aggregate, records, self.spec, self.seeds)
        n_undefined = aggregate.pop("n_undefined", 0)
        n = len(records)
        spec = self.spec
        model_display = getattr(self.model, "display", None) or {}
        run = {
            "schema": RUN_SCHEMA,
            "run_id": self.run_id,
            "status": STATUS_COMPLETE,
            "spec": spec.to_record(),
            "spec_id": spec.id,
            "label": spec.label,
            "task": {
                "name": spec.task, "version": self.task.version, "fingerprint": self.task_fp,
                "args": public_args(spec.task_args), "display": self.task.describe(),
            },
            "model": {
                "name": spec.model, "adapter": _adapter_name(self.model, model_display), "fingerprint": self.model_fp,
                "args": public_args(getattr(self.model, "public_args", None) or spec.model_args),
                "display": model_display,
            },
            "limit": self.limit,
            "draws": {"n": spec.draws, "reducer": spec.reducer, "reduce_by": spec.reduce_by,
                      "seeds": list(self.seeds)},
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
            "env": environment(),
        }
        if reduced is not None:
            run["reduced"] = reduced
        return run


def _adapter_name(model: ModelAdapter, display: Mapping[str, Any]) -> str:
    """The adapter behind a (possibly card-named) model."""
    return str(display.get("adapter") or getattr(model, "adapter_name", None) or model.name)
