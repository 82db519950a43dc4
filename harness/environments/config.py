"""Named Python environments: which interpreter runs which engine.

tsb-ad's detectors need numpy<2 and every current vLLM needs numpy 2, so one environment
cannot hold both (docs/environments.md). The harness spans several: each
:class:`Environment` is a name, an interpreter and the set of capabilities (package extras)
installed in it. :func:`environment_for_model` says which one a model needs;
:func:`check_environment` runs that interpreter once to prove it can (imports, numpy major),
and raises a :class:`~harness.core.errors.UsageError` naming the environment and the command
that creates it otherwise. There is never a silent fallback to another environment.

Executors (``harness/sweep/executors.py``, via ``harness/environments/jobs.py``) start worker processes with ``env.python`` and
:func:`worker_env` (``PYTHONPATH`` = this checkout, so every environment runs the same
harness code), or hand ``env.python`` to Ray as ``runtime_env={"py_executable": ...}``.

Configuration, first found wins: ``$VISANOM_ENVS`` (a file), ``visanom-envs.toml`` in the
repository root, ``~/.config/visanom/envs.toml``, else :data:`DEFAULT_CONFIG`::

    [environments.gpu]
    python = ".venv-gpu/bin/python"      # relative to the config file's folder
    provides = ["vllm", "hf", "api"]
    setup = "make setup-gpu"             # the command that creates it (quoted in errors)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.errors import UsageError
from harness.core.procs import run_bounded

ROOT = Path(__file__).resolve().parents[2]
CONFIG_ENV_VAR = "VISANOM_ENVS"
REPO_CONFIG = ROOT / "visanom-envs.toml"
USER_CONFIG = Path("~/.config/visanom/envs.toml")
TIMEOUT_ENV = "VISANOM_ENV_TIMEOUT"
DEFAULT_CHECK_TIMEOUT_S = 600.0


def check_timeout_s() -> float:
    """Seconds an environment probe may take: ``$VISANOM_ENV_TIMEOUT`` (a positive number) or 600;
    a bad value is a :class:`UsageError` naming the variable (read when needed, not at import)."""
    raw = os.environ.get(TIMEOUT_ENV)
    if not raw:
        return DEFAULT_CHECK_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise UsageError(f"${TIMEOUT_ENV} must be a positive number of seconds, got {raw!r}")
    return value
"""How long an environment's interpreter may take to answer a probe (importing vLLM on a cold
disk can take minutes); past it the environment is reported as broken, by name."""

CAPABILITIES: dict[str, tuple[str, ...]] = {
    "detectors": ("TSB_AD",),
    "data": ("gutenTAG", "aeon", "sktime"),
    "hf": ("transformers", "peft", "torch"),
    "vllm": ("vllm",),
    "api": ("openai", "anthropic"),
    "ray": ("ray",),
}
"""Each capability (a package extra of ``pyproject.toml``) and the modules that prove it."""

NUMPY_MAJOR: dict[str, tuple[int, str]] = {"detectors": (1, "numpy<2"), "vllm": (2, "numpy>=2")}
"""Capabilities that fix numpy's major version (tsb-ad 1.5: numpy<2; current vLLM: numpy 2)."""

DEFAULT_CONFIG: dict[str, dict[str, Any]] = {
    "default": {"python": ".venv/bin/python", "provides": ["detectors", "data", "hf", "api"],
                "setup": "make setup", "description": "tsb-ad detectors, transformers, APIs (numpy 1.26)"},
    "gpu": {"python": ".venv-gpu/bin/python", "provides": ["vllm", "hf", "api"],
            "setup": "make setup-gpu", "description": "vLLM (offline LLM and `vllm serve`), numpy 2"},
    "core-np2": {"python": ".venv-np2/bin/python", "provides": ["data", "hf", "api"],
                 "setup": "make setup-np2", "description": "the core without tsb-ad, numpy 2 (CI)"},
    "vllm-cpu": {"python": ".venv-vllm-cpu/bin/python", "provides": ["vllm", "hf", "api"],
                 "setup": "make setup-vllm-cpu",
                 "description": "vLLM's CPU build (vllm-cpu 0.32, torch 2.13 CPU), numpy 2 (CI, no GPU)"},
}
"""The environments used when no configuration file exists (paths relative to the repository)."""


@dataclass(frozen=True)
class Environment:
    """One Python environment: its name, interpreter and what is installed in it."""

    name: str
    python: Path
    provides: frozenset[str]
    setup: str = "make setup"
    description: str = ""
    source: str = "built-in defaults"  # the config file it came from

    def can_run(self, needs: Iterable[str]) -> bool:
        """True when every capability in ``needs`` is provided here."""
        return set(needs) <= self.provides

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly description."""
        return {"name": self.name, "python": str(self.python), "provides": sorted(self.provides),
                "setup": self.setup, "description": self.description, "source": self.source}


@dataclass
class EnvironmentReport:
    """What :func:`check_environment` found: versions of Python, numpy and each module."""

    env: Environment
    python_version: str
    numpy: str | None
    modules: dict[str, str] = field(default_factory=dict)  # module -> version (or "?")
    harness: str | None = None  # where ``import harness`` came from


def _load_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        return tomllib.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"environment config {path}: {exc}") from exc


def config_path() -> Path | None:
    """The configuration file in effect (``None``: the built-in defaults)."""
    explicit = os.environ.get(CONFIG_ENV_VAR)
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise UsageError(f"${CONFIG_ENV_VAR} names {path}, which is not a file")
        return path
    for path in (REPO_CONFIG, USER_CONFIG.expanduser()):
        if path.is_file():
            return path
    return None


def parse_environments(raw: Mapping[str, Any], base: Path, source: str) -> dict[str, Environment]:
    """Environments from a parsed config (``{name: {python, provides, setup?, description?}}``)."""
    if not isinstance(raw, Mapping) or not raw:
        raise UsageError(f"{source}: no [environments.NAME] tables")
    envs: dict[str, Environment] = {}
    for name, table in raw.items():
        where = f"{source}: environment {name!r}"
        if not isinstance(table, Mapping):
            raise UsageError(f"{where} must be a table")
        unknown = set(table) - {"python", "provides", "setup", "description"}
        if unknown:
            raise UsageError(f"{where}: unknown keys {sorted(unknown)}")
        python = table.get("python")
        if not isinstance(python, str) or not python:
            raise UsageError(f"{where} needs python = \"path/to/bin/python\"")
        provides = table.get("provides", [])
        if not isinstance(provides, list) or not all(isinstance(p, str) for p in provides):
            raise UsageError(f"{where}: provides must be a list of names")
        bad = sorted(set(provides) - set(CAPABILITIES))
        if bad:
            raise UsageError(f"{where}: unknown capabilities {bad}; known: {sorted(CAPABILITIES)}")
        majors = {NUMPY_MAJOR[p][0] for p in provides if p in NUMPY_MAJOR}
        if len(majors) > 1:
            raise UsageError(f"{where} cannot provide both detectors (numpy<2) and vllm (numpy>=2)")
        path = Path(python).expanduser()
        envs[name] = Environment(name, path if path.is_absolute() else base / path, frozenset(provides),
                                 str(table.get("setup") or "make setup"), str(table.get("description") or ""),
                                 source)
    return envs


def load_environments(path: Path | None = None) -> dict[str, Environment]:
    """The configured environments, in configuration order (see the module docstring)."""
    path = path if path is not None else config_path()
    if path is None:
        return parse_environments(DEFAULT_CONFIG, ROOT, "built-in defaults")
    raw = _load_toml(path).get("environments")
    return parse_environments(raw or {}, path.resolve().parent, str(path))


def requirements_for_model(model_name: str, model_args: Mapping[str, Any] | None = None) -> frozenset[str]:
    """Capabilities the registered model (or card) ``model_name`` needs to run (its typed card's,
    from its engine's spec in ``harness.inference.engines`` unless the registration declares them)."""
    from harness.registry.lazy import model_card

    return model_card(model_name).capabilities(model_args)


def current_environment(envs: Mapping[str, Environment] | None = None) -> Environment | None:
    """The configured environment this process runs in (by interpreter prefix), if any."""
    envs = load_environments() if envs is None else envs
    here = Path(sys.prefix).resolve()
    for env in envs.values():
        if env.python.exists() and env.python.parent.parent.resolve() == here:
            return env
    return None


def environment_for_needs(needs: Iterable[str], envs: Mapping[str, Environment] | None = None, *,
                          prefer_current: bool = True, what: str = "this job") -> Environment:
    """The environment that provides ``needs``: the current one if it does, else the first
    configured one whose interpreter exists, else the first configured (whose check then says
    how to create it). Several may provide vLLM (``gpu``, ``vllm-cpu``): the one set up wins."""
    needs = frozenset(needs)
    envs = load_environments() if envs is None else envs
    current = current_environment(envs) if prefer_current else None
    if current is not None and current.can_run(needs):
        return current
    able = [env for env in envs.values() if env.can_run(needs)]
    if able:
        return next((env for env in able if env.python.exists()), able[0])
    listing = "; ".join(f"{e.name}: {', '.join(sorted(e.provides)) or 'core'}" for e in envs.values())
    source = next(iter(envs.values())).source if envs else "built-in defaults"
    raise UsageError(f"no configured environment can run {what} (needs {', '.join(sorted(needs))}); "
                     f"configured ({source}): {listing}. See docs/environments.md")


def environment_for_model(model_name: str, model_args: Mapping[str, Any] | None = None,
                          envs: Mapping[str, Environment] | None = None, *,
                          prefer_current: bool = True) -> Environment:
    """Which environment runs ``model_name`` (tsb-ad detectors need ``detectors``, vLLM needs ``vllm``).

    Raises :class:`UsageError` when no configured environment provides what it needs. The
    environment is not started or checked here: call :func:`check_environment` before work.
    """
    needs = requirements_for_model(model_name, model_args)
    return environment_for_needs(needs, envs, prefer_current=prefer_current, what=f"model {model_name!r}")


def server_environment(model_name: str, model_args: Mapping[str, Any] | None = None,
                       envs: Mapping[str, Environment] | None = None) -> Environment | None:
    """The environment that runs the server a model starts (``vllm serve``; ``None``: it starts none).

    Check it with ``check_environment(env, needs)`` before work, like the job's own environment."""
    from harness.registry.lazy import model_card

    needs = model_card(model_name).server_capabilities(model_args)
    if not needs:
        return None
    return environment_for_needs(needs, envs, what=f"the `vllm serve` of model {model_name!r}")


def worker_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Process environment for a worker in another interpreter: this checkout first on ``PYTHONPATH``."""
    env = dict(os.environ if base is None else base)
    parts = [str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != str(ROOT)]
    env["PYTHONPATH"] = os.pathsep.join(parts)
    return env


_PROBE = r"""
import importlib, importlib.metadata as md, importlib.util, json, sys
out = {"python": sys.version.split()[0], "modules": {}, "errors": {}}
for mod in json.loads(sys.argv[1]):
    try:
        if mod in ("aeon", "sktime"):  # data carriers: found, never imported (slow)
            if importlib.util.find_spec(mod) is None:
                raise ImportError(f"No module named {mod!r}")
            m = None
        else:
            m = importlib.import_module(mod)
        version = getattr(m, "__version__", None)
        if not isinstance(version, str):
            dists = md.packages_distributions().get(mod) or [mod]
            try:
                version = md.version(dists[0])
            except md.PackageNotFoundError:
                version = "?"
        out["modules"][mod] = version
    except BaseException as exc:
        out["errors"][mod] = f"{type(exc).__name__}: {exc}"[:300]
try:
    import numpy
    out["numpy"] = numpy.__version__
except BaseException as exc:
    out["numpy"] = None
    out["errors"]["numpy"] = f"{type(exc).__name__}: {exc}"[:300]
if "vllm" in out["modules"]:  # `vllm serve` reads the version of 'vllm'; vllm-cpu needs an alias
    try:
        md.version("vllm")
    except md.PackageNotFoundError:
        try:
            md.version("vllm-cpu")
            out["errors"]["vllm"] = ("no distribution metadata for 'vllm' (vllm-cpu installs as 'vllm-cpu'; "
                                     "`vllm serve` needs the alias the set-up command writes)")
        except md.PackageNotFoundError:
            pass
try:
    import harness
    out["harness"] = harness.__file__
except BaseException as exc:
    out["errors"]["harness"] = f"{type(exc).__name__}: {exc}"[:300]
print("VISANOM-PROBE " + json.dumps(out))
"""

_checked: dict[tuple[str, frozenset[str]], EnvironmentReport] = {}


def _broken(env: Environment, why: str) -> UsageError:
    return UsageError(f"environment {env.name!r} ({env.python}) {why}; create or repair it with "
                      f"`{env.setup}` (config: {env.source}; see docs/environments.md)")


def check_environment(env: Environment, needs: Iterable[str] | None = None, *,
                      timeout_s: float | None = None, refresh: bool = False) -> EnvironmentReport:
    """Run ``env.python`` once: every module of ``needs`` (default: all it provides) imports,
    numpy has the major version those need, and this checkout's ``harness`` imports.

    Raises :class:`UsageError` naming the environment and its set-up command when the
    interpreter is missing, an import fails or numpy is the wrong major. Results are
    remembered per process (``refresh=True`` runs the check again).
    """
    needs = frozenset(env.provides if needs is None else needs)
    missing = needs - env.provides
    if missing:
        raise _broken(env, f"does not provide {', '.join(sorted(missing))} (it provides "
                           f"{', '.join(sorted(env.provides)) or 'the core only'})")
    key = (str(env.python), needs)
    if not refresh and key in _checked:
        return _checked[key]
    if not env.python.exists():
        raise _broken(env, "does not exist")
    modules = [m for cap in sorted(needs) for m in CAPABILITIES[cap]]
    timeout_s = check_timeout_s() if timeout_s is None else timeout_s
    try:
        proc = run_bounded([str(env.python), "-c", _PROBE, json.dumps(modules)], timeout_s,
                           env=worker_env(), cwd=str(ROOT))
    except subprocess.TimeoutExpired:
        raise _broken(env, f"did not answer within {timeout_s:.0f} s (importing {', '.join(modules)}; "
                           f"${TIMEOUT_ENV} sets the limit)") from None
    except OSError as exc:
        raise _broken(env, f"cannot be started ({exc})") from exc
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("VISANOM-PROBE ")), None)
    if line is None:
        tail = " ".join((proc.stderr or proc.stdout).split())[-300:]
        raise _broken(env, f"failed to start Python (exit {proc.returncode}): {tail}")
    found = json.loads(line.split(" ", 1)[1])
    if found["errors"]:
        errors = "; ".join(f"{m}: {e}" for m, e in found["errors"].items())
        raise _broken(env, f"cannot import what it should provide ({errors})")
    major = int(str(found["numpy"]).split(".")[0])
    for cap in sorted(needs & set(NUMPY_MAJOR)):
        want, spec = NUMPY_MAJOR[cap]
        if major != want:
            raise _broken(env, f"has numpy {found['numpy']}, but {cap} needs {spec}")
    report = EnvironmentReport(env, found["python"], found["numpy"], found["modules"], found.get("harness"))
    _checked[key] = report
    return report


def describe_environments(envs: Mapping[str, Environment], model_names: Iterable[str]) -> list[dict[str, Any]]:
    """Per environment: its settings, whether the interpreter exists, and the models it can run."""
    from harness.registry.lazy import model_entry

    needs = {}
    for name in model_names:
        if model_entry(name).adapter is None:  # adapters only: cards follow their adapter
            needs[name] = requirements_for_model(name)
    rows = []
    for env in envs.values():
        runs = sorted(n for n, need in needs.items() if env.can_run(need))
        rows.append({**env.to_dict(), "exists": env.python.exists(), "can_run": runs})
    return rows
