"""The Ray executor gives the same records as the local one, and workers never get the
results folder (they return records through the object store; the driver writes)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sweep_helpers import records_of, write_small_sweep

from harness.sweep.driver import run_sweep
from harness.sweep.executors import Unit
from harness.sweep.file import load_sweep

ray = pytest.importorskip("ray", reason="ray is not installed here (pip install 'visanom[ray]')")
# one xdist worker runs them all, one after another: a second Ray instance on the machine would be
# found by ray.init() (it joins the latest cluster started here) and the tests would share it
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]


def test_local_and_ray_executors_give_identical_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sweep = load_sweep(str(write_small_sweep(tmp_path)))
    local = run_sweep(sweep, output=tmp_path / "local", executor="local", workers=2, progress=False,
                      print_fn=lambda s: None)
    assert local.ok
    payloads: list[str] = []
    original = Unit.payload

    def spy(self: Unit, with_cache: bool = True) -> dict:
        data = original(self, with_cache)
        payloads.append(json.dumps(data))
        return data

    monkeypatch.setattr(Unit, "payload", spy)
    try:
        remote = run_sweep(sweep, output=tmp_path / "ray", executor="ray", workers=2, progress=False,
                           print_fn=lambda s: None)
    finally:
        ray.shutdown()
    assert remote.ok and [j.state for j in remote.jobs] == ["done"] * 3
    assert records_of(tmp_path / "ray") == records_of(tmp_path / "local")
    assert payloads and not any(str(tmp_path) in p for p in payloads)  # no path of this machine's folders


def _two_node_cluster() -> Any:
    """A head and a worker node (1 CPU each) on this machine (Ray's own test cluster)."""
    from ray.cluster_utils import Cluster

    cluster = Cluster()
    try:
        cluster.add_node(num_cpus=1, include_dashboard=False)  # the head
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
    except Exception as exc:  # Ray waits 30 s (hard-coded) for a raylet: an overloaded machine misses it
        cluster.shutdown()  # no GCS or raylet left behind
        if "timed out during startup" in str(exc):
            pytest.skip(f"Ray could not start a node on this machine in its fixed 30 s: {exc}")
        raise
    return cluster


def test_two_node_cluster_runs_jobs_in_another_environment_and_reads_the_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A head and a worker node (1 CPU each) on this machine; both jobs run in `det`, a venv that
    is not the driver's and has no visanom installed (its harness comes from the PYTHONPATH the
    executor passes); the workers read the prediction cache a local run filled."""
    from test_env_dispatch import _config, _venv

    from harness.run.cache import PredictionCache

    python = _venv(tmp_path / "det", None)
    probe = subprocess.run([str(python), "-c", "import harness"], capture_output=True, text=True, timeout=300,
                           cwd=tmp_path,
                           env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert probe.returncode != 0  # without the PYTHONPATH the executor passes, `det` has no harness
    monkeypatch.setenv("VISANOM_ENVS", str(_config(tmp_path, python)))
    monkeypatch.delenv("VISANOM_ENV", raising=False)
    sweep_file = tmp_path / "two.yaml"
    sweep_file.write_text("groups:\n  - {name: d, tasks: [tsb-ad-u-demo], models: [Sub-PCA, IForest], limit: 2}\n")
    sweep = load_sweep(str(sweep_file))
    cache = PredictionCache(tmp_path / "cache.sqlite")
    local = run_sweep(sweep, output=tmp_path / "local", executor="local", workers=2, progress=False,
                      cache=cache, print_fn=lambda s: None)
    assert local.ok and len(cache) == 4
    cluster = _two_node_cluster()
    try:
        lines: list[str] = []
        remote = run_sweep(sweep, output=tmp_path / "ray", executor="ray", ray_address=cluster.address,
                           workers=2, progress=False, cache=cache, print_fn=lines.append)
        nodes = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    finally:
        ray.shutdown()
        cluster.shutdown()
    print("\n".join(lines))
    assert remote.ok and [j.state for j in remote.jobs] == ["done", "done"], lines
    assert len(nodes) == 2 and set(remote.nodes) == nodes  # one unit on each node
    runs = {json.loads(p.read_text())["model"]["name"]: json.loads(p.read_text())
            for p in (tmp_path / "ray").glob("*/*/*/run.json")}
    assert {r["env"]["environment"] for r in runs.values()} == {"det"}
    assert all(r["counts"]["n_cached"] == 2 for r in runs.values())  # served from the cache by the workers
    assert records_of(tmp_path / "ray") == records_of(tmp_path / "local")
