"""A small task and models registered for runner tests (not part of the package)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from harness.core.hashing import array_hash, stable_hash
from harness.core.types import Prediction, Sample, Target
from harness.registry.lazy import register_model, register_task
from harness.scoring.run_metrics import aggregate_means


def _series(i: int, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(i)
    x = np.sin(np.arange(n) / 5.0) + 0.1 * rng.standard_normal(n)
    labels = np.zeros(n, dtype=np.int8)
    at = 50 + (i * 7) % 100
    x[at : at + 3] += 4.0
    labels[at : at + 3] = 1
    return x, labels


@register_task("toy", description="synthetic spikes for runner tests")
class ToyTask:
    """``n`` sine series with one spike each; metric 'hit' = 1 if the score peak is on the spike."""

    name = "toy"
    version = "1"

    def __init__(self, n: int = 20, bad: str = ""):
        self.n = int(n)
        self.bad = {int(b) for b in str(bad).split(";") if b.strip()}

    def count(self, limit: int | None = None) -> int:
        return self.n if limit is None else min(limit, self.n)

    def samples(self, limit: int | None = None) -> Iterator[Sample]:
        for i in range(self.count(limit)):
            x, _ = _series(i)
            if i in self.bad:
                yield Sample(id=f"s{i:03d}", series=np.empty(0), error=f"s{i:03d}.csv: Label column missing")
                continue
            yield Sample(id=f"s{i:03d}", series=x, meta={"group": "even" if i % 2 == 0 else "odd"},
                         input_hash=array_hash(x))

    def target(self, sample_id: str) -> Target:
        _, labels = _series(int(sample_id[1:]))
        return Target(labels=labels)

    def postprocess(self, prediction: Prediction, sample: Sample) -> Prediction:
        return prediction

    def score_sample(self, prediction: Prediction, sample: Sample) -> dict[str, Any]:
        labels = self.target(sample.id).labels
        return {"hit": float(labels[int(np.argmax(prediction.scores))])}

    def aggregate(self, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        return aggregate_means(records, headline="hit", group_keys=("group",))

    def fingerprint(self) -> str:
        return stable_hash([self.name, self.version, self.n])

    def describe(self) -> dict[str, Any]:
        return {"title": "Toy"}


@register_model("toy-deviation", group="test")
class DeviationModel:
    """Scores = |x - median|; ``delay`` seconds per sample; fails on sample ids in ``fail``."""

    provides = frozenset({"scores"})

    def __init__(self, delay: float = 0.0, fail: str = "", calls_file: str = ""):
        self.name = "toy-deviation"
        self.delay = float(delay)
        self.fail = {f for f in str(fail).split(";") if f}
        self.calls_file = calls_file

    def fingerprint(self) -> str:
        return stable_hash(["toy-deviation", 1])

    def _stall_if_asked(self) -> None:
        """With ``VISANOM_TOY_STALL_AFTER=N`` in the environment, block forever (until killed)
        once N samples were predicted in this process: a test kills a run at a known point."""
        self.n_predicted = getattr(self, "n_predicted", 0) + 1
        stall = os.environ.get("VISANOM_TOY_STALL_AFTER")
        if stall and self.n_predicted > int(stall):
            threading.Event().wait()

    def predict(self, batch: Sequence[Sample]) -> list[Prediction]:
        out = []
        for s in batch:
            self._stall_if_asked()
            if self.calls_file:
                with open(self.calls_file, "a") as fh:
                    fh.write(f"{s.id} {os.getpid()}\n")
            time.sleep(self.delay)
            if s.id in self.fail:
                out.append(Prediction(sample_id=s.id, error="detector returned a string"))
                continue
            out.append(Prediction(sample_id=s.id, scores=np.abs(s.series - np.median(s.series))))
        return out


@register_model("toy-crash", group="test")
class CrashModel:
    """Raises from ``predict``: the runner must record it per sample."""

    name = "toy-crash"
    provides = frozenset({"scores"})

    def fingerprint(self) -> str:
        return "crash"

    def predict(self, batch: Sequence[Sample]) -> list[Prediction]:
        raise RuntimeError("CUDA out of memory")


@register_model("toy-needs-key", group="test")
class NeedsKeyModel:
    """Raises a start-up UsageError from ``predict``, as an API model without its key does."""

    name = "toy-needs-key"
    provides = frozenset({"scores"})

    def fingerprint(self) -> str:
        return "needs-key"

    def predict(self, batch: Sequence[Sample]) -> list[Prediction]:
        from harness.core.errors import UsageError

        raise UsageError("set TOY_API_KEY to use this model")


@register_task("toy-b", description="a second toy task, for sweeps over several tasks")
class ToyTaskB(ToyTask):
    name = "toy-b"


@register_model("toy-closable", group="test")
class ClosableModel(DeviationModel):
    """Counts how often it is built and closed (class attributes), to test sweep reuse."""

    built = 0
    closed = 0

    def __init__(self, **kw):
        super().__init__(**kw)
        self.name = "toy-closable"
        type(self).built += 1

    def close(self) -> None:
        type(self).closed += 1
