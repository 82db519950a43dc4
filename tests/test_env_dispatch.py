"""Jobs run in the Python environment their model needs (`visanom run` and sweeps), and a
missing or broken environment is refused before any work, naming it and its set-up command.

The second environment is a virtual environment made here from this interpreter (its
packages through a ``.pth`` file, which also logs every start of that interpreter), so the
test needs nothing but the current environment."""

from __future__ import annotations

import json
import site
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli.main import main
from harness.core.spec import RunSpec

pytestmark = [pytest.mark.detectors, pytest.mark.slow]
SETUP = "make setup-det-test"


def _venv(folder: Path, log: Path | None, share_packages: bool = True) -> Path:
    """A venv whose interpreter is not this one; with ``share_packages`` it sees this
    environment's site-packages; each start of it appends its ``sys.prefix`` to ``log``."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=300)
    (purelib,) = (folder / "lib").glob("python3*/site-packages")
    lines = [*site.getsitepackages()] if share_packages else []
    if log is not None:
        lines.append(f"import sys; open({str(log)!r}, 'a').write(sys.prefix + '\\n')")
    (purelib / "visanom-test.pth").write_text("\n".join(lines) + "\n")
    return folder / "bin" / "python"


def _config(tmp_path: Path, det_python: Path, *, here: tuple[str, ...] = ("data", "api", "hf"),
            extra: str = "") -> Path:
    """``here`` (this interpreter, without the detectors) and ``det`` (the only one with them)."""
    path = tmp_path / "envs.toml"
    path.write_text(
        f'[environments.here]\npython = "{sys.executable}"\nprovides = {json.dumps(list(here))}\n'
        f'[environments.det]\npython = "{det_python}"\nprovides = ["detectors", "data"]\nsetup = "{SETUP}"\n'
        + extra)
    return path


@pytest.fixture()
def det_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A configured second environment (the only one providing detectors) and its start log."""
    log = tmp_path / "det-starts.log"
    python = _venv(tmp_path / "det", log)
    monkeypatch.setenv("VISANOM_ENVS", str(_config(tmp_path, python)))
    monkeypatch.delenv("VISANOM_ENV", raising=False)
    return python, log


def _runs(out: Path) -> dict[str, dict]:
    return {json.loads(p.read_text())["model"]["name"]: json.loads(p.read_text()) for p in out.glob("*/*/*/run.json")}


def test_visanom_run_starts_the_detector_in_its_environment(tmp_path: Path, det_env: tuple[Path, Path],
                                                            capsys: pytest.CaptureFixture) -> None:
    python, log = det_env
    out = tmp_path / "out"
    code = main(["run", "--task", "tsb-ad-u-demo", "--model", "Sub-PCA", "--limit", "2", "--output", str(out),
                 "--no-cache", "--no-progress"])
    assert code == 0, capsys.readouterr().err
    run = _runs(out)["Sub-PCA"]
    assert run["status"] == "complete" and run["counts"]["n_ok"] == 2
    assert run["env"]["environment"] == "det"
    starts = set(log.read_text().split())
    assert starts == {str(python.parent.parent)}  # that interpreter was started (check, probe, worker)
    assert "[environment det]" in capsys.readouterr().out


def test_a_mixed_run_writes_one_results_folder_and_one_cache(tmp_path: Path, det_env: tuple[Path, Path]) -> None:
    """A detector (only `det` has tsb-ad) and a transformers VLM (here) in one call: the VLM
    runs in this process, the detector in a worker of the other interpreter; this process
    writes every record and the one cache."""
    from tinyvlm import build_tiny_vlm

    from harness.run.cache import PredictionCache
    from harness.sweep.envrun import run_across_environments

    tiny = build_tiny_vlm(tmp_path / "tinyvlm")
    specs = [RunSpec("visanombench-demo", "Sub-PCA", limit=2),
             RunSpec("visanombench-demo", "hf-vlm", model_args={"model_id": str(tiny), "dtype": "float32"},
                     generation={"max_new_tokens": 8}, limit=2)]
    out = tmp_path / "out"
    cache = PredictionCache(tmp_path / "cache.sqlite")
    result = run_across_environments(specs, output=out, cache=cache, progress=False, echo=None)
    assert [r.run["model"]["name"] for r in result.here] == ["hf-vlm"]
    assert [(jr.pj.env.name, jr.state) for jr in result.elsewhere] == [("det", "done")]
    runs = _runs(out)
    assert sorted(runs) == ["Sub-PCA", "hf-vlm"] and {r["status"] for r in runs.values()} == {"complete"}
    assert runs["Sub-PCA"]["env"]["environment"] == "det" and runs["hf-vlm"]["env"]["environment"] == "here"
    assert len({p.parent.parent.parent for p in out.glob("*/*/*/run.json")}) == 1  # one task folder
    # the detector's two predictions came back from the worker in `det` and were written here
    # (the tiny VLM's 8 tokens decode to an empty answer: a recorded per-sample error, not cached)
    assert len(cache) == 2


@pytest.mark.parametrize("broken", ["missing", "import-error"])
def test_a_broken_environment_is_refused_before_any_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture, broken: str) -> None:
    python = (tmp_path / "gone" / "bin" / "python" if broken == "missing"
              else _venv(tmp_path / "bare", None, share_packages=False))  # no tsb-ad, no numpy
    monkeypatch.setenv("VISANOM_ENVS", str(_config(tmp_path, python)))
    out = tmp_path / "out"
    code = main(["run", "--task", "tsb-ad-u-demo", "--model", "Sub-PCA", "--limit", "2", "--output", str(out),
                 "--no-cache", "--no-progress"])
    err = capsys.readouterr().err
    assert code != 0
    assert "environment 'det'" in err and f"`{SETUP}`" in err
    assert ("does not exist" in err) if broken == "missing" else ("cannot import" in err and "TSB_AD" in err)
    assert not out.exists()  # nothing ran, nothing written
    sweep = tmp_path / "s.yaml"
    sweep.write_text("pairs:\n  - {task: tsb-ad-u-demo, model: Sub-PCA, limit: 2}\n")
    assert main(["sweep", str(sweep), "--output", str(out), "--no-cache", "--no-progress"]) == 4
    captured = capsys.readouterr()
    assert "skipped" in captured.out and "environment 'det'" in captured.out and SETUP in captured.out
    assert not list(out.glob("*/*/*/samples.jsonl"))


def test_vllm_serve_checks_the_environment_its_server_starts_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture) -> None:
    gpu = '[environments.gpu]\npython = "gpu/bin/python"\nprovides = ["vllm", "hf", "api"]\nsetup = "make setup-gpu"\n'
    monkeypatch.setenv("VISANOM_ENVS", str(_config(tmp_path, tmp_path / "det" / "bin" / "python", extra=gpu)))
    out = tmp_path / "out"
    code = main(["run", "--task", "visanombench-demo", "--model", "vllm-serve", "--model-args", "model_id=m",
                 "--limit", "1", "--output", str(out), "--no-cache", "--no-progress"])
    err = capsys.readouterr().err
    assert code != 0 and "environment 'gpu'" in err and "does not exist" in err and "`make setup-gpu`" in err
    assert not out.exists()
