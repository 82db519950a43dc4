"""Which Python environment runs a job (of ``visanom run`` or a sweep), and is it usable?

The environments are described by :mod:`harness.environments.config` (``visanom env``). This module
asks it for a model's environment, checks that environment once (:func:`check_environment`:
the interpreter exists, the modules of what the model needs import, numpy has the right
major version; for ``vllm-serve`` also the environment its server starts from) and turns the
answer into a :class:`JobEnv`. A missing or broken environment is never replaced by another
one: the job gets a reason naming the environment and the command that creates it.

The interpreter running ``visanom`` is used as it is (``current``) only when no
configuration file exists (the built-in defaults are in effect), this interpreter is not one
of the configured environments, and it can import what the job needs: a checkout run from
another virtual environment keeps working without a config file.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core.errors import UsageError
from harness.environments import config as envs_mod

CURRENT = "current"
ENV_NAME_VAR = "VISANOM_ENV"
"""Set in a worker's process environment to the name of the environment it runs in (recorded
in ``run.json`` under ``env.environment``)."""


@dataclass(frozen=True)
class JobEnv:
    """An environment as a job uses it: its name, interpreter and whether it can be used."""

    name: str
    python: str
    ok: bool = True
    reason: str = ""

    @property
    def is_current(self) -> bool:
        """True when it is the driver's own interpreter (or its environment's)."""
        return _same_python(self.python, sys.executable)

    def process_env(self, threads: Mapping[str, str] | None = None) -> dict[str, str]:
        """Process environment of a worker here: this checkout first on ``PYTHONPATH``
        (:func:`harness.environments.config.worker_env`), the environment's name, thread limits."""
        env = envs_mod.worker_env()
        env[ENV_NAME_VAR] = self.name
        env.update(threads or {})
        return env


def _same_python(a: str, b: str) -> bool:
    """Same interpreter, or the same environment (``<prefix>/bin/python`` of this process's prefix)."""
    if not a:
        return False
    try:
        if Path(a).absolute() == Path(b).absolute():
            return True
        return _same_path(b, sys.executable) and _same_path(str(Path(a).parent.parent), sys.prefix)
    except OSError:
        return a == b


def _same_path(a: str, b: str) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def current_env() -> JobEnv:
    """The driver's own interpreter (named after its configured environment, if any)."""
    return JobEnv(os.environ.get(ENV_NAME_VAR) or CURRENT, sys.executable)


def here_provides(needs: Iterable[str]) -> bool:
    """True when this interpreter can import every module of ``needs`` and numpy's major
    version suits them (found, not imported: cheap)."""
    needs = set(needs)
    for cap in needs:
        for module in envs_mod.CAPABILITIES[cap]:
            if importlib.util.find_spec(module) is None:
                return False
    import numpy

    major = int(numpy.__version__.split(".")[0])
    return all(major == envs_mod.NUMPY_MAJOR[c][0] for c in needs & set(envs_mod.NUMPY_MAJOR))


def resolve_environment(model: str, model_args: Mapping[str, Any] | None = None
                        ) -> envs_mod.Environment | None:
    """The configured environment that runs ``model`` (``None``: this interpreter, see the
    module docstring). Raises :class:`UsageError` when no configured environment can."""
    envs = envs_mod.load_environments()
    current = envs_mod.current_environment(envs)
    if current is None and envs_mod.config_path() is None \
            and here_provides(envs_mod.requirements_for_model(model, model_args)):
        return None
    return envs_mod.environment_for_model(model, model_args, envs)


def env_for_model(model: str, model_args: Mapping[str, Any] | None = None) -> JobEnv:
    """The environment that runs ``model``, checked; ``ok=False`` with the reason (naming the
    environment and its set-up command) when it is missing or broken."""
    args = dict(model_args or {})
    env: envs_mod.Environment | None = None
    try:
        env = resolve_environment(model, args)
        server = envs_mod.server_environment(model, args)
        if server is not None:  # vllm-serve: the server starts from the environment with vllm
            from harness.registry.lazy import model_card

            envs_mod.check_environment(server, model_card(model).server_capabilities(args))
    except UsageError as exc:
        return JobEnv(env.name if env else "?", str(env.python) if env else "", False, str(exc))
    if env is None:
        return current_env()
    job = JobEnv(env.name, str(env.python))
    if job.is_current:
        return job  # this very interpreter: the job's own checks (availability) run in-process
    try:
        envs_mod.check_environment(env, envs_mod.requirements_for_model(model, args))
    except UsageError as exc:
        return JobEnv(env.name, str(env.python), False, str(exc))
    return job
