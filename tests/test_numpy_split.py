"""The numpy 1 / numpy 2 split for real: one sweep across two real environments.

Runs in the numpy-2 environment (``.venv-np2``: ``make test-core-np2`` in CI) when this
checkout also has ``.venv`` (numpy 1.26 + tsb-ad, ``make setup``); skipped elsewhere, with the
reason. The driver is this interpreter (numpy 2, no tsb-ad): Sub-PCA needs tsb-ad, so it runs in
a worker of ``.venv``; an OpenAI-compatible model (a real HTTP server on 127.0.0.1) runs here.
Each record's ``env`` says which numpy and whether tsb-ad ran it."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from extras import requires

ROOT = Path(__file__).resolve().parent.parent
NP1 = ROOT / ".venv" / "bin" / "python"

# the OpenAI-compatible job runs in this interpreter: it needs the official client here
pytestmark = [pytest.mark.slow, requires("openai", extra="api")]


def _np1_ready() -> str | None:
    if not np.__version__.startswith("2."):
        return f"runs in the numpy-2 environment (.venv-np2); here numpy is {np.__version__}"
    if importlib.util.find_spec("TSB_AD") is not None:
        return "runs where tsb-ad is absent (.venv-np2)"
    if not NP1.exists():
        return f"{NP1} missing (make setup)"
    return None


def test_one_sweep_runs_in_the_numpy1_and_numpy2_environments(tmp_path: Path, srv, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture) -> None:
    why = _np1_ready()
    if why:
        pytest.skip(why)
    from harness.cli.main import main

    probe = subprocess.run([str(NP1), "-c", "import numpy, TSB_AD; print(numpy.__version__)"], capture_output=True,
                           text=True, timeout=600)
    assert probe.returncode == 0 and probe.stdout.startswith("1."), probe.stderr
    config = tmp_path / "envs.toml"
    config.write_text(f'[environments.np2]\npython = "{sys.executable}"\nprovides = ["data", "hf", "api"]\n'
                      'setup = "make setup-np2"\n'
                      f'[environments.np1]\npython = "{NP1}"\nprovides = ["detectors", "data", "hf", "api"]\n'
                      'setup = "make setup"\n')
    monkeypatch.setenv("VISANOM_ENVS", str(config))
    monkeypatch.delenv("VISANOM_ENV", raising=False)
    sweep = tmp_path / "split.yaml"
    sweep.write_text(json.dumps({"name": "numpy-split", "limit": 2, "groups": [{
        "name": "both", "tasks": ["visanombench-demo"],
        "models": ["Sub-PCA", {"name": "openai-compat",
                               "args": {"model": "fake-vlm", "base_url": srv.base_url, "api_key": "t"}}]}]}))
    out = tmp_path / "out"
    code = main(["sweep", str(sweep), "--output", str(out), "--no-cache", "--no-progress"])
    printed = capsys.readouterr()
    assert code == 0, printed.out + printed.err
    runs = {json.loads(p.read_text())["model"]["name"]: json.loads(p.read_text()) for p in out.glob("*/*/*/run.json")}
    assert sorted(runs) == ["Sub-PCA", "openai-compat"]
    for name, run in runs.items():
        print(name, json.dumps(run["env"], indent=1))
    np1, np2 = runs["Sub-PCA"]["env"], runs["openai-compat"]["env"]
    assert np1["environment"] == "np1" and np1["packages"]["numpy"].startswith("1.") and "TSB-AD" in np1["packages"]
    assert np2["environment"] == "np2" and np2["packages"]["numpy"].startswith("2.") and "TSB-AD" not in np2["packages"]
    assert all(r["counts"]["n_ok"] == 2 for r in runs.values())
