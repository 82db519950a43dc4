"""Worker processes for ``harness.render.render_many``: each keeps one figure for its lifetime.

The pool is kept between calls (one pool per process, for the latest settings and worker
count) so repeated batches do not pay for starting interpreters; ``shutdown_pool`` ends it
and runs at interpreter exit. Workers are started with "spawn": they never inherit the
parent's threads, locks or pyplot state (scripts calling this need an
``if __name__ == "__main__":`` guard).
"""

from __future__ import annotations

import atexit
import multiprocessing as mp
import os
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from harness.render import RenderSettings, SeriesRenderer, render_series

_IN_FLIGHT_PER_WORKER = 4
_WORKER: SeriesRenderer | None = None  # set in each worker process
_POOL: tuple[RenderSettings, int, ProcessPoolExecutor] | None = None
_POOL_LOCK = threading.Lock()


def _init(settings: RenderSettings) -> None:
    global _WORKER
    _WORKER = SeriesRenderer(settings)


def _render(values: np.ndarray, index_offset: int) -> bytes:
    assert _WORKER is not None, "worker not initialised"
    return _WORKER.render(values, index_offset)


def _pool(settings: RenderSettings, workers: int) -> ProcessPoolExecutor:
    """The kept pool for (settings, workers), replacing a pool kept for other arguments."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is not None and _POOL[:2] == (settings, workers):
            return _POOL[2]
        if _POOL is not None:
            _POOL[2].shutdown(wait=True, cancel_futures=True)
        ctx = mp.get_context("spawn")
        pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init, initargs=(settings,))
        _POOL = (settings, workers, pool)
        return pool


@atexit.register
def shutdown_pool() -> None:
    """Stop the kept worker pool, if any."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is not None:
            _POOL[2].shutdown(wait=True, cancel_futures=True)
            _POOL = None


def _forget(pool: ProcessPoolExecutor) -> None:
    global _POOL
    with _POOL_LOCK:
        if _POOL is not None and _POOL[2] is pool:
            _POOL = None


def _cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def render_ordered(
    items: Iterable[tuple[np.ndarray, int]], settings: RenderSettings, workers: int | None
) -> Iterator[bytes]:
    """Yield PNGs for ``items`` in input order; ``workers<=1`` renders in this process."""
    n = _cpus() if workers is None else int(workers)
    if n <= 1:
        return (render_series(values, offset, settings) for values, offset in items)
    return _pooled(items, _pool(settings, n), n)


def _pooled(items: Iterable[tuple[np.ndarray, int]], pool: ProcessPoolExecutor, n: int) -> Iterator[bytes]:
    pending: deque[Future[bytes]] = deque()
    try:
        for values, offset in items:
            pending.append(pool.submit(_render, np.asarray(values), int(offset)))
            if len(pending) >= n * _IN_FLIGHT_PER_WORKER:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    except BrokenProcessPool:
        _forget(pool)  # a worker died: start a fresh pool next time
        raise
    finally:
        for fut in pending:  # consumer stopped early or a render failed
            fut.cancel()
