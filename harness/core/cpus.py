"""How many CPUs this process may use: the one count every worker pool sizes itself by."""

from __future__ import annotations

import os


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one, else the CPU count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


WORKER_MEMORY_GIB = 1.0
"""Memory budgeted per worker process when capping a worker count (a detector worker with its
libraries loaded takes about this much)."""


def available_memory_gib() -> float | None:
    """Memory this machine has available now (``MemAvailable``), or None where it cannot be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / (1024 * 1024)
    except (OSError, ValueError, IndexError):
        return None
    return None


def max_workers() -> int:
    """The most worker processes worth starting here: one per CPU, and no more than memory holds."""
    cap = available_cpus()
    mem = available_memory_gib()
    if mem is not None:
        cap = min(cap, max(1, int(mem // WORKER_MEMORY_GIB)))
    return max(1, cap)


def cap_workers(requested: int, what: str = "--workers") -> tuple[int, str | None]:
    """``(workers to start, note)``: ``requested`` capped at :func:`max_workers`; the note says why
    when it was capped (print it), else None."""
    cap = max_workers()
    if requested <= cap:
        return requested, None
    return cap, (f"{what} {requested} is more than this machine can run at once ({available_cpus()} CPU(s), "
                 f"about {available_memory_gib() or 0:.0f} GiB free at {WORKER_MEMORY_GIB:g} GiB a worker); "
                 f"starting {cap}")
