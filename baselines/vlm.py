"""The model adapter for every text-emitting VLM: samples -> chat requests -> an engine.

Engines live in ``harness/inference``; this adapter owns only the mapping between the
runner's samples and the engine's requests, and the fingerprint of the pair.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from harness.core.errors import UsageError
from harness.core.hashing import stable_hash
from harness.core.types import Prediction, Sample
from harness.inference.base import ChatRequest, Engine, GenerationConfig, GenerationResult

ADAPTER_VERSION = 1


def prediction_from_result(sample_id: str, result: GenerationResult) -> Prediction:
    """A runner prediction from an engine result; an empty completion is an error."""
    error = result.error
    if error is None and (result.text is None or not result.text.strip()):
        error = "empty completion"
    return Prediction(
        sample_id=sample_id, text=result.text, error=error, usage=dict(result.usage),
        latency_s=result.latency_s, meta=dict(result.meta),
    )


class VLMModel:
    """A VLM behind any engine. ``provides = {"text"}``; needs samples with image + prompt."""

    provides = frozenset({"text"})

    def __init__(self, name: str, engine: Engine, generation: GenerationConfig | None = None,
                 system: str | None = None, batch_size: int = 8):
        self.name = name
        self.engine = engine
        self.generation = generation or GenerationConfig()
        self.system = system
        self.batch_size = batch_size

    @property
    def generation_config(self) -> dict[str, Any]:
        """Decoding settings, part of the cache key."""
        return self.generation.as_dict()

    @property
    def cacheable(self) -> bool:
        """Sampled generations without a seed are never cached."""
        return self.generation.deterministic

    def with_generation(self, overrides: Mapping[str, Any]) -> VLMModel:
        """A copy decoding with ``overrides`` (``max_new_tokens``, ``temperature``, ``top_p``,
        ``seed``, ``stop``) on the same engine; unknown or ill-typed values are a usage error."""
        known = {f.name for f in dataclasses.fields(GenerationConfig)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise UsageError(f"unknown generation setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        merged = {**self.generation.as_dict(), **overrides}
        try:
            generation = GenerationConfig.from_args(**merged)
        except (TypeError, ValueError, UsageError) as exc:
            raise UsageError(f"bad generation settings {dict(overrides)}: {exc}") from exc
        return self._with(generation)

    def with_draw(self, seed: int) -> VLMModel:
        """The draw hook (``harness.run.draws``): a copy sampling with ``seed`` on the same engine."""
        return self._with(dataclasses.replace(self.generation, seed=int(seed)))

    def _with(self, generation: GenerationConfig) -> VLMModel:
        twin = copy.copy(self)
        twin.generation = generation
        display = getattr(self, "display", None)
        if isinstance(display, dict) and "generation" in display:
            twin.display = {**display, "generation": generation.as_dict()}
        return twin

    def describe(self) -> dict[str, Any]:
        """Engine metadata (model id, revisions, adapter, provider) and decoding, for run records."""
        engine = self.engine.describe() if callable(getattr(self.engine, "describe", None)) else {}
        return {**engine, "generation": self.generation.as_dict()}

    def close(self) -> None:
        """Release the engine (GPU memory, HTTP clients) once the model has run all its tasks."""
        close = getattr(self.engine, "close", None)
        if callable(close):
            close()

    def fingerprint(self) -> str:
        """Engine fingerprint (weights, adapters, engine) + decoding + system prompt."""
        return stable_hash(["vlm", ADAPTER_VERSION, self.engine.fingerprint(), self.generation.as_dict(),
                            self.system])

    def predict(self, batch: Sequence[Sample]) -> list[Prediction]:
        """Ask the engine about every sample of the batch at once."""
        out: dict[str, Prediction] = {}
        requests = []
        for s in batch:
            if s.prompt is None:
                out[s.id] = Prediction(sample_id=s.id, error="this model needs a task that gives a prompt")
                continue
            requests.append(ChatRequest(request_id=s.id, prompt=s.prompt, image_png=s.image, system=self.system))
        if requests:
            results = self.engine.generate(requests, self.generation)
            for req, res in zip(requests, results, strict=True):
                out[req.request_id] = prediction_from_result(req.request_id, res)
        return [out[s.id] for s in batch]

    def predict_stream(self, samples: Iterable[Sample]) -> Iterator[Prediction]:
        """Predict every sample, yielding each prediction as soon as it is ready.

        With an engine that streams (``generate_stream``: the API engines) each sample is sent
        as soon as a slot is free and comes back in completion order; ``samples`` is read
        lazily, a small window ahead. Other engines get ``batch_size`` samples at a time.
        """
        stream = getattr(self.engine, "generate_stream", None)
        if not callable(stream):
            batch: list[Sample] = []
            for s in samples:
                batch.append(s)
                if len(batch) >= self.batch_size:
                    yield from self.predict(batch)
                    batch = []
            if batch:
                yield from self.predict(batch)
            return
        unanswerable: list[Prediction] = []

        def requests() -> Iterator[ChatRequest]:
            for s in samples:
                if s.prompt is None:
                    unanswerable.append(Prediction(sample_id=s.id,
                                                   error="this model needs a task that gives a prompt"))
                    continue
                yield ChatRequest(request_id=s.id, prompt=s.prompt, image_png=s.image, system=self.system)

        for res in stream(requests(), self.generation):
            yield from _drain(unanswerable)
            yield prediction_from_result(res.request_id, res)
        yield from _drain(unanswerable)


def _drain(items: list[Prediction]) -> list[Prediction]:
    out = list(items)
    items.clear()
    return out
