"""Child processes that cannot outlive their time box or their parent."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
from collections.abc import Sequence
from typing import Any


def run_bounded(cmd: Sequence[str], timeout_s: float, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """``subprocess.run(cmd, capture_output=True, text=True)`` in a process group of its own; on
    timeout the whole group is killed, so a grandchild holding the pipes (an interpreter that is a
    shell script running ``sleep``) cannot keep the caller waiting. Raises ``TimeoutExpired``."""
    data = kwargs.pop("input", None)
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE if data is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            **kwargs)
    try:
        out, err = proc.communicate(data, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        proc.communicate()
        raise
    except BaseException:
        kill_group(proc)
        raise
    return subprocess.CompletedProcess(list(cmd), proc.returncode, out, err)


def kill_group(proc: subprocess.Popen[Any]) -> None:
    """SIGKILL the process group ``proc`` leads (it was started with ``start_new_session``)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int | None = None) -> bool:
    """In a child (first thing in a worker, or a pool ``initializer``): be killed (SIGKILL) when
    the parent process dies (Linux ``PR_SET_PDEATHSIG`` through libc's ``prctl``), so a worker never
    outlives a killed driver or build; exit now (status 0, no traceback) if ``parent_pid`` is given
    and is no longer the parent. Returns whether the kernel took the request (False off Linux)."""
    armed = False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        armed = libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        armed = False
    if parent_pid is not None and os.getppid() != parent_pid:  # died before the request took
        os._exit(0)
    return armed
