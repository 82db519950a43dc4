"""Which samples a run still has to answer: resume, skip and shard, with one rule for a stale record.

The rule (for ``visanom run`` and sweeps alike): a run folder's successful records are kept;
failed ones are asked again, so their lines are dropped. A ``run.json`` that no longer
describes the folder is marked ``status: "stale"`` before the folder changes, that is,
before lines are dropped or the first sample is (re)done; a run with nothing left to do
leaves it untouched (the new one is written over it, atomically).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from harness.core.errors import VisanomError
from harness.core.types import Sample, Task
from harness.records.store import RunDir


class Resume:
    """A run folder opened for (re)work: the records kept, and the stale mark set once."""

    def __init__(self, run_dir: RunDir, *, rerun: bool = False):
        """Open ``run_dir``: ``rerun`` forgets every record (``run.json`` kept, marked stale);
        otherwise failed records are dropped (after marking it stale)."""
        self.dir = run_dir
        self.marked = False
        if rerun:
            run_dir.reset()
            self.marked = True
        previous = run_dir.completed()
        if run_dir.duplicated:  # two writers once appended the same samples: one line each
            run_dir.rewrite(previous.values())
        self.done: dict[str, dict[str, Any]] = {k: r for k, r in previous.items() if r.get("error") is None}
        if len(self.done) < len(previous):
            self.begin_work()
            run_dir.rewrite(self.done.values())

    def begin_work(self) -> None:
        """Mark ``run.json`` stale (once) before the folder's records change."""
        if not self.marked:
            self.marked = True
            self.dir.mark_stale()


def task_samples(task: Task, limit: int | None, *, skip: frozenset[str] = frozenset(),
                 shard: tuple[int, int] | None = None) -> Iterator[Sample]:
    """The task's samples (every ``shard[1]``-th from ``shard[0]``); a task with
    ``accepts_skip`` need not load or render the ``skip`` ones, a task that is not
    ``shardable`` cannot be split."""
    kwargs: dict[str, Any] = {}
    if getattr(task, "accepts_skip", False):
        kwargs["skip"] = skip
    if shard is not None and shard[1] > 1:
        if not getattr(task, "shardable", False):
            raise VisanomError(f"task {task.name!r} cannot be split into shards")
        kwargs["shard"] = tuple(shard)
    return task.samples(limit, **kwargs)


class Pending:
    """The samples still to answer, in task order; :attr:`order` lists every sample id seen
    (done ones included), and ``on_first`` runs once, before the first sample to answer."""

    def __init__(self, samples: Iterator[Sample], done: frozenset[str] | set[str], *,
                 on_first: Any = None, on_done: Any = None):
        self.samples, self.done = samples, done
        self.on_first, self.on_done = on_first, on_done
        self.order: list[str] = []

    def __iter__(self) -> Iterator[Sample]:
        first = True
        for s in self.samples:
            self.order.append(s.id)
            if s.id in self.done:
                if self.on_done is not None:
                    self.on_done()
                continue
            if first and self.on_first is not None:
                first = False
                self.on_first()
            yield s
