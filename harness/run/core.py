"""The one execution core: a spec's pending samples answered (batched or streamed, through the
cache) and recorded, group by group. ``visanom run`` (:class:`harness.run.runner.Runner`)
and a sweep worker (:func:`harness.sweep.worker.run_part`) both drive an :class:`Execution`;
they differ only in where the records, score files and inputs go (a run folder here, the
driver's messages there) and in who writes ``run.json`` (:func:`harness.run.summarise.summarise`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from harness.core.spec import RunSpec
from harness.core.types import ModelAdapter, Task
from harness.records.store import InputStore
from harness.run.pairs import bind
from harness.run.predict import Cache, Predictor
from harness.run.record import Recorder, ScoreSink
from harness.run.samples import Pending, task_samples
from harness.run.summarise import ModelFacts, run_id_for


class Execution:
    """One spec with its task and model built: answers its pending samples and records them."""

    def __init__(self, spec: RunSpec, task: Task, model: ModelAdapter, *, cache: Cache | None = None,
                 batch_size: int | None = None):
        """Refuses (before any work) a batch size under 1 and draws the model cannot re-seed."""
        model = bind(model, task)  # a model that draws on the task (a recipe's train-split examples)
        self.spec, self.task, self.model = spec, task, model
        self.predictor = Predictor(task, model, spec, cache=cache, batch_size=batch_size)
        self.facts = ModelFacts.of(model, spec)
        self.task_fp = task.fingerprint()
        self.run_id = run_id_for(spec, self.task_fp, self.facts.fingerprint)
        self.order: list[str] = []
        """Every sample id of the last :meth:`records` call, done ones included, in task order."""

    @property
    def batch_size(self) -> int:
        """Samples per model call on the batch path."""
        return self.predictor.batch_size

    def records(self, done: frozenset[str] | set[str], *, scores: ScoreSink, inputs: InputStore,
                shard: tuple[int, int] | None = None, on_first: Callable[[], Any] | None = None,
                on_done: Callable[[], Any] | None = None) -> Iterator[list[dict[str, Any]]]:
        """The records of every sample not in ``done`` (of the shard), a group at a time: a
        batch, or one sample as soon as a streaming model answers it. ``scores`` and ``inputs``
        receive the score arrays and what the model saw; ``on_first`` runs before the first
        sample to answer, ``on_done`` for each sample skipped as done."""
        recorder = Recorder(self.task, self.spec, self.predictor.seeds, scores, inputs)
        pending = Pending(task_samples(self.task, self.spec.limit, skip=frozenset(done), shard=shard), done,
                          on_first=on_first, on_done=on_done)
        self.order = pending.order
        for batch, per_draw in self.predictor.answers(pending):
            yield [recorder.record(s, [p[s.id] for p in per_draw]) for s in batch]
