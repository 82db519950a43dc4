"""Lazy, ordered rendering of the windows a run still needs (shared by the VLM views).

A task turns its windows into :class:`Pending` entries (values loaded, or an error, or
``skipped`` because the run already has that sample) and pulls them through
:func:`render_stream`, which renders only the loaded ones with
:func:`harness.render.pool.render_each` and keeps the input order. Entries are pulled only as
far as the renderer's in-flight window needs, so worker processes render ahead while the
model works on earlier batches, and nothing is rendered for skipped samples. A window that
fails to draw (or is lost with a broken worker pool) becomes an entry with ``error``, so the
task yields it as an input-error sample and the sweep goes on.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.core.cpus import available_cpus
from harness.render.plot import RenderSettings
from harness.render.pool import render_each

AUTO_POOL_MIN = 48
"""With ``workers=None``, render in worker processes only when at least this many plots are
due (starting a pool costs a few seconds; one plot about 50-150 ms)."""
MAX_AUTO_WORKERS = 8


@dataclass
class Pending:
    """A window on its way to becoming a sample: ``values`` when loaded (to be drawn), else
    ``error`` or ``skipped``. A window whose drawing fails keeps its values and gets ``error``."""

    key: Any
    start: int = 0
    values: np.ndarray | None = None
    error: str | None = None
    skipped: bool = False


def pick_workers(workers: int | None, due: int) -> int:
    """Render processes for ``due`` plots: ``workers`` if given, else 1 for few plots, else one per CPU (<= 8)."""
    if workers is not None:
        return max(1, int(workers))
    if due < AUTO_POOL_MIN:
        return 1
    return max(1, min(MAX_AUTO_WORKERS, available_cpus()))


def render_error(exc: BaseException) -> str:
    """The ``error`` of a window that could not be drawn: ``render: <type>: <first line>``."""
    lines = str(exc).strip().splitlines()
    return f"render: {type(exc).__name__}" + (f": {lines[0]}" if lines else "")


def render_stream(
    entries: Iterable[Pending], settings: RenderSettings, workers: int
) -> Iterator[tuple[Pending, bytes | None]]:
    """Pair each entry with its PNG, in input order. The PNG is None for an entry without
    values, and for one whose drawing failed: that entry gets ``error`` (see
    :func:`render_error`) and the others still render."""
    queue: deque[Pending] = deque()

    def feed() -> Iterator[tuple[np.ndarray, int]]:
        for e in entries:
            queue.append(e)
            if e.values is not None:
                yield e.values, e.start

    for out in render_each(feed(), settings, workers=workers):
        while queue[0].values is None:
            yield queue.popleft(), None
        entry = queue.popleft()
        if isinstance(out, Exception):
            entry.error = render_error(out)
            yield entry, None
        else:
            yield entry, out
    while queue:
        yield queue.popleft(), None
