"""Where a run came from: package versions, git commit, interpreter."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import datetime, timezone
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import harness

TRACKED_PACKAGES = (
    "visanom", "numpy", "pandas", "scikit-learn", "TSB-AD", "torch", "transformers", "peft",
    "vllm", "openai", "anthropic", "timeeval-gutentag", "matplotlib",
)


def utc_now() -> str:
    """The current time as ISO-8601 UTC with seconds."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The commit of the visanom checkout, if it is one (None for an installed wheel)."""
    root = Path(harness.__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def environment_name() -> str | None:
    """The named Python environment this process runs in (``docs/environments.md``): the one a
    worker was started in (``$VISANOM_ENV``), else the configured one of this interpreter."""
    if os.environ.get("VISANOM_ENV"):
        return os.environ["VISANOM_ENV"]
    from harness.core.errors import UsageError
    from harness.environments.config import current_environment

    try:
        env = current_environment()
    except UsageError:  # a broken config is reported where environments are used
        return None
    return env.name if env is not None else None


def environment() -> dict[str, Any]:
    """Versions of visanom, Python and the packages that change results, and the named
    environment this process runs in (looked up on each call: a test or a worker may set it)."""
    return {**_versions(), "environment": environment_name()}


@lru_cache(maxsize=1)
def _versions() -> dict[str, Any]:
    packages = {}
    for name in TRACKED_PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {
        "visanom": harness.__version__,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "packages": packages,
    }
