"""One sample's record: each draw's answer post-processed and scored by the task, the draws
reduced to the headline view, the target, and what the model saw (stored once by content).

A failure while scoring belongs to that sample (a ``scoring:`` error); a record that cannot
be written as JSON becomes a ``record:`` error. Nothing here calls the model.
"""

from __future__ import annotations

import dataclasses
import math
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from harness.core.errors import OutputError
from harness.core.hashing import array_hash, stable_hash
from harness.core.spec import RunSpec
from harness.core.types import Prediction, Sample, Task
from harness.records.store import InputStore, dumps, json_safe
from harness.run.draws import VIEW_KEYS, Rescore, reduce_sample
from harness.scoring.metrics.degenerate import degenerate_scores


class ScoreSink(Protocol):
    """Where raw score arrays go: a run folder (``RunDir``) or a worker's memory store."""

    def write_scores(self, sample_id: str, scores: np.ndarray, draw: int = 0) -> str:
        """Keep one score array; returns its path relative to the run folder."""
        ...


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


def render_settings_of(task: Task) -> dict[str, Any] | None:
    """The render settings (``harness.render.plot.RenderSettings``) a task draws its images with."""
    settings = getattr(task, "settings", None)
    if settings is not None and dataclasses.is_dataclass(settings) and not isinstance(settings, type):
        return json_safe(dataclasses.asdict(settings))
    return None


class Recorder:
    """Turns one sample and its draws' predictions into its ``samples.jsonl`` record."""

    def __init__(self, task: Task, spec: RunSpec, seeds: Sequence[int | None], scores: ScoreSink,
                 inputs: InputStore):
        self.task, self.spec, self.seeds = task, spec, list(seeds)
        self.scores, self.inputs = scores, inputs
        self.render = render_settings_of(task)

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
            scores_file = self.scores.write_scores(sample.id, pred.scores, draw=draw)
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

    def record(self, sample: Sample, preds: Sequence[Prediction]) -> dict[str, Any]:
        """The sample's record from one prediction per draw (score files written to the sink)."""
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
