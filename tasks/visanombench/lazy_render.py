"""Lazy, ordered rendering of the windows a run still needs (shared by the VLM views).

A task turns its windows into :class:`Pending` entries (values loaded, or an error, or
``skipped`` because the run already has that sample) and pulls them through
:func:`render_stream`, which renders only the loaded ones with
:func:`harness.render.render_many` and keeps the input order. Entries are pulled only as
far as the renderer's in-flight window needs, so worker processes render ahead while the
model works on earlier batches, and nothing is rendered for skipped samples.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.render import RenderSettings, render_many

AUTO_POOL_MIN = 48
"""With ``workers=None``, render in worker processes only when at least this many plots are
due (starting a pool costs a few seconds; one plot about 50-150 ms)."""
MAX_AUTO_WORKERS = 8


@dataclass
class Pending:
    """A window on its way to becoming a sample: ``values`` when loaded, else ``error`` or ``skipped``."""

    key: Any
    start: int = 0
    values: np.ndarray | None = None
    error: str | None = None
    skipped: bool = False

    @property
    def renderable(self) -> bool:
        """True when the window has values to draw."""
        return self.values is not None


def pick_workers(workers: int | None, due: int) -> int:
    """Render processes for ``due`` plots: ``workers`` if given, else 1 for few plots, else one per CPU (<= 8)."""
    if workers is not None:
        return max(1, int(workers))
    if due < AUTO_POOL_MIN:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(MAX_AUTO_WORKERS, cpus))


def render_stream(
    entries: Iterable[Pending], settings: RenderSettings, workers: int
) -> Iterator[tuple[Pending, bytes | None]]:
    """Pair each entry with its PNG (None when not renderable), in input order."""
    queue: deque[Pending] = deque()

    def feed() -> Iterator[tuple[np.ndarray, int]]:
        for e in entries:
            queue.append(e)
            if e.values is not None:
                yield e.values, e.start

    for png in render_many(feed(), settings, workers=workers):
        while not queue[0].renderable:
            yield queue.popleft(), None
        yield queue.popleft(), png
    while queue:
        yield queue.popleft(), None
