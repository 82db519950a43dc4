"""Rendering many windows in worker processes (:func:`render_many`, :func:`render_each`).

:mod:`harness.render.plot` draws one window; this module fans windows out to worker processes,
each keeping one figure for its lifetime (it imports the renderer, never the reverse).

The pool is kept between calls (one pool per process, for the latest settings and worker
count) so repeated batches do not pay for starting interpreters; ``shutdown_pool`` ends it
and runs at interpreter exit. Workers are started with "spawn": they never inherit the
parent's threads, locks or pyplot state (scripts calling this need an
``if __name__ == "__main__":`` guard).

Failures stay with their item: :func:`render_ordered` yields the exception a window raised in
place of its PNG. When the pool breaks (a worker died), the windows in flight report
``BrokenProcessPool`` (one of them may have killed the worker, so none is retried here) and
the rest are rendered in this process; windows cancelled before they ran are rendered here.
"""

from __future__ import annotations

import atexit
import multiprocessing as mp
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from harness.core.cpus import available_cpus
from harness.render.plot import DEFAULT_SETTINGS, RenderSettings, SeriesRenderer, render_series

_IN_FLIGHT_PER_WORKER = 4
_WORKER: SeriesRenderer | None = None  # set in each worker process
_POOL: tuple[RenderSettings, int, ProcessPoolExecutor] | None = None
_POOL_LOCK = threading.Lock()


def _init(settings: RenderSettings) -> None:
    global _WORKER
    _WORKER = SeriesRenderer(settings)


def _render(values: np.ndarray, index_offset: int) -> bytes:
    assert _WORKER is not None, "worker not initialised"
    return _WORKER.render(np.asarray(values), int(index_offset))


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


def render_ordered(
    items: Iterable[tuple[np.ndarray, int]], settings: RenderSettings, workers: int | None
) -> Iterator[bytes | Exception]:
    """Yield each item's PNG, or the exception rendering it raised, in input order.

    ``workers<=1`` renders in this process; otherwise in the kept pool, falling back to this
    process for the rest when the pool breaks or is shut down.
    """
    n = available_cpus() if workers is None else int(workers)
    if n <= 1:
        return (_render_here(values, offset, settings) for values, offset in items)
    return _pooled(items, settings, n)


def _render_here(values: np.ndarray, offset: int, settings: RenderSettings) -> bytes | Exception:
    try:
        return render_series(values, offset, settings)
    except Exception as exc:  # one bad window must not end the others
        return exc


_InFlight = tuple[Future[bytes], np.ndarray, int]


def _outcome(job: _InFlight, settings: RenderSettings) -> bytes | Exception:
    fut, values, offset = job
    try:
        return fut.result()
    except CancelledError:  # never ran: the pool was shut down for another call's settings
        return _render_here(values, offset, settings)
    except Exception as exc:  # the window's own error, or BrokenProcessPool
        return exc


def _pooled(
    items: Iterable[tuple[np.ndarray, int]], settings: RenderSettings, n: int
) -> Iterator[bytes | Exception]:
    pool: ProcessPoolExecutor | None = _pool(settings, n)
    pending: deque[_InFlight] = deque()

    def drain(keep: int) -> Iterator[bytes | Exception]:
        """Outcomes of the oldest jobs until ``keep`` are left in flight."""
        nonlocal pool
        while len(pending) > keep:
            out = _outcome(pending.popleft(), settings)
            if isinstance(out, BrokenProcessPool) and pool is not None:  # a worker died
                _forget(pool)  # the next call starts a fresh pool; this one renders the rest here
                pool = None
            yield out

    try:
        for values, offset in items:
            if pool is not None:
                try:
                    pending.append((pool.submit(_render, values, offset), values, offset))
                except Exception:  # broken, shut down by another call, or workers cannot start
                    _forget(pool)
                    pool = None
            if pool is None:  # no usable pool: finish what is in flight, then render here
                yield from drain(0)
                yield _render_here(values, offset, settings)
            else:
                yield from drain(n * _IN_FLIGHT_PER_WORKER - 1)
        yield from drain(0)
    finally:
        for fut, _, _ in pending:  # the consumer stopped early
            fut.cancel()


def render_each(
    items: Iterable[tuple[np.ndarray, int]],
    settings: RenderSettings = DEFAULT_SETTINGS,
    workers: int | None = None,
) -> Iterator[bytes | Exception]:
    """Render ``(values, index_offset)`` pairs in worker processes; yields, in input order, each
    PNG or the exception that item raised (the other items still render).

    ``workers=None`` uses one process per CPU; ``workers<=1`` renders in this process. The
    worker pool is kept for later calls; if it breaks, the items in flight yield
    ``BrokenProcessPool`` and the rest are rendered in this process (see :func:`render_ordered`).
    """
    return render_ordered(items, settings, workers)


def render_many(
    items: Iterable[tuple[np.ndarray, int]],
    settings: RenderSettings = DEFAULT_SETTINGS,
    workers: int | None = None,
) -> Iterator[bytes]:
    """Like :func:`render_each`, but the first item that fails raises its exception."""
    for out in render_each(items, settings, workers):
        if isinstance(out, Exception):
            raise out
        yield out
