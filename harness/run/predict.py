"""Predictions of a run: every draw of every sample through the prediction cache, in batches
or, for a one-draw run of a model with ``predict_stream``, one sample at a time as each is
answered (completion order). ``visanom run`` and the sweep's workers both get their answers
from :meth:`Predictor.answers`, so a job streams (or batches) the same way under both.

A model that raises fails the samples it held (``model:`` errors) and the run goes on; a
:class:`~harness.core.errors.UsageError` (a missing API key) stops the run with its message.
Errors are never cached.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

from harness.core.errors import UsageError
from harness.core.spec import RunSpec
from harness.core.types import ModelAdapter, Prediction, Sample, Task
from harness.run.cache import cache_key
from harness.run.draws import draw_seeds, model_for_draw
from harness.run.record import describe_error

Answers = tuple[list[Sample], list[dict[str, Prediction]]]
"""Samples answered together and, per draw, their predictions by sample id."""


class Cache(Protocol):
    """The prediction cache as the predictor uses it (``PredictionCache`` or a worker's forwarder)."""

    def get(self, key: str, sample_id: str) -> Prediction | None:
        """A cached prediction, or None."""
        ...

    def put(self, key: str, pred: Prediction) -> bool:
        """Store a successful prediction."""
        ...


def batches(samples: Iterable[Sample], size: int) -> Iterator[list[Sample]]:
    """``samples`` in lists of ``size`` (the last one shorter)."""
    batch: list[Sample] = []
    for s in samples:
        batch.append(s)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class Predictor:
    """Answers samples with one model (one copy per draw), through the cache."""

    def __init__(self, task: Task, model: ModelAdapter, spec: RunSpec, *, cache: Cache | None = None,
                 batch_size: int | None = None):
        self.model = model
        self.batch_size = batch_size or int(getattr(model, "batch_size", 8) or 8)
        if self.batch_size < 1:
            raise UsageError(f"batch size must be at least 1, got {self.batch_size}")
        self.cache = cache
        self.seeds = draw_seeds(spec)
        self.draw_models = [model_for_draw(model, seed) for seed in self.seeds]  # refuses before any work
        self.model_fp = model.fingerprint()
        # the cache key needs only what shapes the model's input; scoring changes reuse predictions
        input_fp = getattr(task, "input_fingerprint", None)
        self.input_fp = input_fp() if callable(input_fp) else task.fingerprint()

    @property
    def streams(self) -> bool:
        """True when answers come one sample at a time (one draw, a model with ``predict_stream``)."""
        return len(self.seeds) == 1 and callable(getattr(self.draw_models[0], "predict_stream", None))

    def key(self, sample: Sample, draw: int = 0) -> str | None:
        """The cache key, or None when there is no cache or the sample has no input hash
        (never cache blind). A seeded draw adds its index and seed: each draw has its own entry."""
        if self.cache is None or not sample.input_hash:
            return None
        seed = self.seeds[draw]
        gen = getattr(self.draw_models[draw], "generation_config", None)
        return cache_key(self.model_fp, self.input_fp, sample.input_hash, gen,
                         draw=None if seed is None else (draw, seed))

    def _store(self, key: str | None, pred: Prediction, model: Any) -> None:
        if key is not None and self.cache is not None and pred.error is None and getattr(model, "cacheable", True):
            self.cache.put(key, pred)

    def _known(self, sample: Sample, draw: int = 0) -> Prediction | None:
        """The answer that needs no model: an input error, or a cache hit."""
        if sample.error is not None:
            return Prediction(sample_id=sample.id, error=f"input: {sample.error}")
        key = self.key(sample, draw)
        return self.cache.get(key, sample.id) if key is not None and self.cache is not None else None

    def predict(self, batch: Sequence[Sample], draw: int = 0) -> dict[str, Prediction]:
        """One draw's predictions of a batch, by sample id (cache hits first, one model call for the rest)."""
        preds: dict[str, Prediction] = {}
        todo: list[Sample] = []
        for s in batch:
            known = self._known(s, draw)
            if known is not None:
                preds[s.id] = known
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
            self._store(self.key(s, draw), p, model)
        return preds

    def answers(self, samples: Iterable[Sample]) -> Iterator[Answers]:
        """Every sample answered: streamed one at a time when :attr:`streams`, else in batches
        (every draw of a batch together)."""
        if self.streams:
            return self._streamed(iter(samples))
        return ((b, [self.predict(b, d) for d in range(len(self.seeds))]) for b in batches(samples, self.batch_size))

    def _streamed(self, source: Iterator[Sample]) -> Iterator[Answers]:
        """``(samples, [predictions])`` as each sample is answered by ``predict_stream``.

        Samples with input errors and cache hits are answered without the model and come out
        with the next answer; when ``batch_size`` of them wait, the model's stream is let
        finish and a new one begun, so they are never held for long. A failure of the stream
        itself fails the samples it holds; one of the task's own sample iterator is raised,
        as on the batch path.
        """
        model = self.draw_models[0]
        local: list[tuple[Sample, Prediction]] = []
        handed: dict[str, tuple[Sample, float]] = {}
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
                known = self._known(s)
                if known is not None:
                    local.append((s, known))
                    if len(local) >= self.batch_size:
                        return
                    continue
                handed[s.id] = (s, time.perf_counter())
                yield s

        def flush(preds: list[tuple[Sample, Prediction]]) -> Answers:
            out = [s for s, _ in preds], [{s.id: p for s, p in preds}]
            preds.clear()
            return out

        def fail(err: str) -> Answers:
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
                    self._store(self.key(s), p, model)
                    yield [s], [{s.id: p}]
                    if local:
                        yield flush(local)
            except UsageError:
                raise
            except Exception as exc:  # the stream broke: what it held fails, the run goes on
                if not state["pulled"]:  # it cannot stream at all: batches for the rest
                    yield from ((b, [self.predict(b)]) for b in batches(source, self.batch_size))
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
