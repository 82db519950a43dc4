"""Which Python environment runs a sweep job, and is it there and working?

The environments themselves are described by ``harness.environments`` (``visanom env``).
This module asks it for a model's environment and turns the answer into an interpreter
path plus a reason when it cannot be used. Where ``harness.environments`` is not
installed, every job runs in the driver's own interpreter (``current``). A missing or
broken environment is never replaced by another one: the job is skipped, and the reason
names the environment and the command that creates it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CURRENT = "current"


@dataclass(frozen=True)
class JobEnv:
    """An environment as the sweep uses it."""

    name: str
    python: str
    ok: bool = True
    reason: str = ""

    @property
    def is_current(self) -> bool:
        """True when it is the driver's own interpreter."""
        return _same_python(self.python, sys.executable)


def _same_python(a: str, b: str) -> bool:
    """Same interpreter, or the same environment (``<prefix>/bin/python`` of this process's prefix)."""
    try:
        if Path(a).absolute() == Path(b).absolute():
            return True
        return _same_path(b, sys.executable) and _same_path(str(Path(a).parent.parent), sys.prefix)
    except OSError:
        return a == b


def _same_path(a: str, b: str) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def current_env() -> JobEnv:
    """The driver's own interpreter."""
    return JobEnv(CURRENT, sys.executable)


def _check(module: Any, env: Any) -> tuple[bool, str]:
    check = getattr(module, "check_environment", None)
    if check is None:
        return True, ""
    try:
        answer = check(env)
    except Exception as exc:  # the module reports a broken environment by raising
        return False, str(exc)
    if isinstance(answer, tuple):
        return bool(answer[0]), str(answer[1] if len(answer) > 1 else "")
    if isinstance(answer, str):
        return (False, answer) if answer else (True, "")
    if answer is None or answer is True:
        return True, ""
    return bool(answer), ""


def env_for_model(model: str, model_args: dict[str, Any] | None = None) -> JobEnv:
    """The environment that runs ``model`` (``current`` when no environments are configured)."""
    try:
        from harness import environments
    except ImportError:
        return current_env()
    try:
        env = environments.environment_for_model(model, model_args)
    except Exception as exc:
        return JobEnv("?", "", False, f"no environment for {model!r}: {exc}")
    if env is None:
        return current_env()
    name = str(getattr(env, "name", "?"))
    python = str(getattr(env, "python", "") or getattr(env, "interpreter", "") or "")
    ok, reason = _check(environments, env)
    if ok and (not python or not Path(python).exists()):
        create = getattr(env, "setup", None) or "see `visanom env`"
        ok, reason = False, f"environment {name!r} has no interpreter at {python or '(unset)'}; create it with {create}"
    if not ok and name not in reason:
        reason = f"environment {name!r}: {reason}"
    return JobEnv(name, python, ok, reason)
