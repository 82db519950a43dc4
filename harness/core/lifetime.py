"""Child processes that end with their parent.

A pool worker whose parent was killed (``kill -9``) would otherwise be re-parented and stay
blocked forever on its task queue. :func:`die_with_parent`, run first in the child (a pool
``initializer``), asks Linux to send it SIGKILL when the parent dies (``PR_SET_PDEATHSIG``,
through libc's ``prctl``), and exits at once, quietly, when the parent is already gone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal

PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int | None = None) -> bool:
    """In a child: be killed (SIGKILL) when the parent process dies; exit now (status 0,
    no traceback) if ``parent_pid`` is given and is no longer the parent. Returns whether
    the kernel took the request (False off Linux, where only the check runs)."""
    armed = False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        armed = libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        armed = False
    if parent_pid is not None and os.getppid() != parent_pid:  # died before the request took
        os._exit(0)
    return armed
