"""Plugins reach every process: a new API VLM (its own protocol) and a new detector, each added in
one file outside visanom, run through `visanom run` and through a sweep's worker processes."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

PLUGINS = Path(__file__).parent / "data" / "plugins"
ROOT = Path(__file__).resolve().parents[1]
ANSWER = "<anomaly>no</anomaly><rationale>The series stays within its usual range.</rationale>"


def _visanom(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=900)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "VISANOM_PLUGINS"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(extra)
    return env


@pytest.fixture()
def acme_server():
    """A real HTTP server on 127.0.0.1 speaking the plugin's protocol; records what it was sent."""
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append({**body, "auth": self.headers.get("Authorization")})
            reply = json.dumps({"text": ANSWER}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def _records(results: Path, model: str) -> list[dict]:
    files = list(results.glob(f"*/{model}-*/*/samples.jsonl"))
    assert len(files) == 1, files
    return [json.loads(line) for line in files[0].read_text().splitlines() if line.strip()]


def test_a_plugin_file_adds_an_api_vlm_with_its_own_protocol(tmp_path: Path, acme_server) -> None:
    url, seen = acme_server
    plugin = tmp_path / "acme_api.py"
    shutil.copy(PLUGINS / "acme_api.py", plugin)
    env = _env(tmp_path, ACME_URL=url)
    listed = _visanom("ls", "models", "--json", "--plugin", str(plugin), env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    row = next(r for r in json.loads(listed.stdout) if r["name"] == "acme-vl")
    assert (row["engine"], row["runs_here"], row["reason"]) == ("acme", False, "ACME_API_KEY not set")

    env["ACME_API_KEY"] = "secret-key"
    run = _visanom("run", "--plugin", str(plugin), "--model", "acme-vl", "--task", "visanombench-demo",
                   "--limit", "2", "--output", str(tmp_path / "results"), "--no-cache", "--no-progress",
                   env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    records = _records(tmp_path / "results", "acme-vl")
    assert [r["text"] for r in records] == [ANSWER, ANSWER]
    assert all(r["error"] is None and r["intervals"] == [] for r in records)  # read as "no anomaly"
    assert len(seen) == 2 and all(s["auth"] == "Bearer secret-key" for s in seen)
    assert all(base64.b64decode(s["image_b64"]).startswith(b"\x89PNG") for s in seen)  # the plot went out
    run_json = json.loads(next((tmp_path / "results").glob("*/acme-vl-*/*/run.json")).read_text())
    assert "secret-key" not in json.dumps(run_json)


def test_a_plugin_file_adds_a_detector_that_sweep_workers_load(tmp_path: Path) -> None:
    plugin = tmp_path / "zscore_detector.py"
    shutil.copy(PLUGINS / "zscore_detector.py", plugin)
    sweep = tmp_path / "mine.yaml"
    sweep.write_text("name: mine\nlimit: 3\npairs:\n  - {task: tsb-ad-u-demo, model: zscore}\n")
    env = _env(tmp_path)
    unknown = _visanom("sweep", str(sweep), "--dry-run", "--no-progress", env=env, cwd=tmp_path)
    assert unknown.returncode == 2 and "unknown model 'zscore'" in unknown.stderr, unknown.stderr  # without the plugin: an unknown name
    done = _visanom("sweep", str(sweep), "--plugin", str(plugin), "--workers", "1", "--no-cache", "--no-progress",
                    "--output", str(tmp_path / "results"), env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    records = _records(tmp_path / "results", "zscore")
    assert len(records) == 3 and all(r["error"] is None and r["scores_file"] for r in records)
    run_json = json.loads(next((tmp_path / "results").glob("*/zscore-*/*/run.json")).read_text())
    assert run_json["model"]["name"] == "zscore" and run_json["counts"]["n_ok"] == 3


def test_a_plugin_file_named_like_an_imported_module_is_refused(tmp_path: Path) -> None:
    import yaml

    from harness.registry.lazy import _import_plugin

    impostor = tmp_path / "yaml.py"
    impostor.write_text("TASKS = {}\n")
    with pytest.raises(ImportError, match="named like the module 'yaml' already imported here"):
        _import_plugin(str(impostor))
    assert sys.modules["yaml"] is yaml and hasattr(yaml, "safe_load")  # the real module is untouched
