"""Core data types and protocols shared by tasks, models, the runner and the leaderboard."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

Interval = tuple[int, int]
"""An anomaly interval ``(start, end)`` in absolute series indices, both ends INCLUSIVE."""


@dataclass(frozen=True)
class Sample:
    """What a model may see of one evaluation item (never the labels).

    ``series`` holds the values shown to the model; ``index_offset`` is the absolute index of
    ``series[0]`` in the original series; ``train_end`` is the length of the anomaly-free
    training prefix (semi-supervised detectors may fit on ``series[:train_end]``).
    """

    id: str
    series: np.ndarray
    index_offset: int = 0
    train_end: int | None = None
    image: bytes | None = None
    prompt: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    input_hash: str = ""
    error: str | None = None
    """Set when the sample's input could not be loaded (bad file): the runner records the
    failure for this sample and never calls the model on it."""


@dataclass(frozen=True)
class Target:
    """What only the scorer sees: point labels (0/1) and inclusive anomaly intervals."""

    labels: np.ndarray
    intervals: tuple[Interval, ...] = ()


@dataclass
class Prediction:
    """A model's answer for one sample: text and/or scores, parsed intervals, or an error."""

    sample_id: str
    text: str | None = None
    scores: np.ndarray | None = None
    intervals: tuple[Interval, ...] | None = None
    error: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    latency_s: float = 0.0
    cached: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the model produced an answer (it may still be unparsable)."""
        return self.error is None


@runtime_checkable
class Task(Protocol):
    """A benchmark: yields samples, knows their targets, parses and scores predictions."""

    name: str
    version: str
    accepts: frozenset[str]
    """What the task can score: ``{"scores"}``, ``{"text"}`` or both (checked before a run)."""

    def samples(self, limit: int | None = None) -> Iterator[Sample]:
        """Yield the evaluation samples in a fixed order."""
        ...

    def count(self, limit: int | None = None) -> int:
        """How many samples ``samples(limit)`` yields (for the progress bar)."""
        ...

    def target(self, sample_id: str) -> Target:
        """Return the ground truth of one sample."""
        ...

    def postprocess(self, prediction: Prediction, sample: Sample) -> Prediction:
        """Turn raw output into intervals in absolute indices (parse text, threshold scores)."""
        ...

    def score_sample(self, prediction: Prediction, sample: Sample) -> dict[str, Any]:
        """Per-sample metrics (JSON-serialisable); called only for predictions without error."""
        ...

    def aggregate(self, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Run-level metrics from the per-sample records of ``samples.jsonl``."""
        ...

    def fingerprint(self) -> str:
        """A hash of everything that changes what samples and scores the task produces.

        A task may also define ``input_fingerprint()``: the part that shapes model inputs,
        used in the cache key instead, so a scoring change does not re-run models."""
        ...

    def describe(self) -> dict[str, Any]:
        """Display metadata for ``visanom ls tasks`` and the leaderboard."""
        ...


@runtime_checkable
class ModelAdapter(Protocol):
    """A model: turns a batch of samples into predictions. Owns its own batching."""

    name: str
    provides: frozenset[str]

    def fingerprint(self) -> str:
        """A hash of weights id/revision, adapters, hyperparameters and generation config."""
        ...

    def predict(self, batch: Sequence[Sample]) -> list[Prediction]:
        """Predict every sample of the batch; failures are returned as ``Prediction.error``."""
        ...
