"""Running sweeps: shard merging, skipping complete runs, recorded skips, kill and restart."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sweep_helpers import records_of, write_small_sweep

from harness.cli.main import main
from harness.sweep.executors import THREAD_VARS

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def sweep_cmd(sweep: Path, out: Path, cache: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "harness", "sweep", str(sweep), "--output", str(out), "--cache", str(cache),
            "--workers", "2", "--json", *extra]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


def summary(stdout: str) -> dict[str, Any]:
    events = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    (last,) = [e for e in events if e["event"] == "summary"]
    return last


def stable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The table without what differs between a first run and a resumed one."""
    keep = ("job", "n", "failed", "headline", "tokens", "cost_usd", "reason")
    return [{k: r[k] for k in keep} | {"state": "complete" if r["state"] in ("done", "cached") else r["state"]}
            for r in rows]


def test_sharded_sweep_equals_a_plain_run_and_second_run_is_served_from_records(tmp_path: Path) -> None:
    sweep = write_small_sweep(tmp_path)
    out, cache = tmp_path / "sweep", tmp_path / "c.sqlite"
    first = subprocess.run(sweep_cmd(sweep, out, cache), capture_output=True, text=True, env=env(), timeout=1800)
    assert first.returncode == 0, first.stderr[-3000:]
    assert [r["state"] for r in summary(first.stdout)["jobs"]] == ["done"] * 3
    # the same specs through `visanom run` (one process, whole tasks), with the workers' one
    # numeric-library thread (BLAS thread counts change the last bits of PCA scores)
    plain = tmp_path / "plain"
    one_thread = {**env(), **dict.fromkeys(THREAD_VARS, "1")}
    for task_name, models in [("tsb-ad-u-demo", "Sub-PCA,IForest"), ("visanombench-demo", "template-reasoner")]:
        subprocess.run([sys.executable, "-m", "harness", "run", "--task", task_name, "--model", models, "--limit", "6",
                        "--output", str(plain), "--no-cache", "--no-progress"], check=True, env=one_thread,
                       capture_output=True, timeout=1800)
    assert records_of(out) == records_of(plain)
    # every record written once, in task order, by the driver
    for samples in out.glob("*/*/*/samples.jsonl"):
        ids = [json.loads(x)["sample_id"] for x in samples.read_text().splitlines()]
        assert len(ids) == len(set(ids)) == 6
    second = subprocess.run(sweep_cmd(sweep, out, cache), capture_output=True, text=True, env=env(), timeout=600)
    assert second.returncode == 0
    rows = summary(second.stdout)["jobs"]
    assert [r["state"] for r in rows] == ["cached"] * 3 and all(r["new"] == 0 for r in rows)
    assert stable(rows) == stable(summary(first.stdout)["jobs"])


def test_killed_sweep_restarted_ends_with_the_same_table(tmp_path: Path) -> None:
    sweep = write_small_sweep(tmp_path)
    whole = subprocess.run(sweep_cmd(sweep, tmp_path / "whole", tmp_path / "whole.sqlite"),
                           capture_output=True, text=True, env=env(), timeout=1800)
    assert whole.returncode == 0, whole.stderr[-3000:]
    out, cache = tmp_path / "killed", tmp_path / "killed.sqlite"
    kill_after = random.Random().randint(1, 17)  # records written (of 18) when the kill comes
    proc = subprocess.Popen(sweep_cmd(sweep, out, cache), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=env(), start_new_session=True)
    deadline = time.monotonic() + 1800  # a hang guard only
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            written = sum(len(p.read_bytes().splitlines()) for p in out.glob("*/*/*/samples.jsonl"))
            if written >= kill_after:
                break
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the driver and its workers, at once
        proc.wait()
    restarted = subprocess.run(sweep_cmd(sweep, out, cache), capture_output=True, text=True, env=env(), timeout=1800)
    assert restarted.returncode == 0, restarted.stderr[-3000:]
    assert stable(summary(restarted.stdout)["jobs"]) == stable(summary(whole.stdout)["jobs"])
    assert records_of(out) == records_of(tmp_path / "whole")


def test_skipped_jobs_are_recorded_and_the_sweep_exits_non_zero(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    path = tmp_path / "s.yaml"
    path.write_text("pairs:\n  - {task: visanombench-demo, model: Claude-Sonnet-4.5}\n"
                    "  - {task: visanombench-demo, model: template-reasoner, limit: 3}\n")
    code = main(["sweep", str(path), "--output", str(tmp_path / "out"), "--no-cache", "--workers", "1", "--json"])
    captured = capsys.readouterr()
    assert code == 4
    rows = summary(captured.out)["jobs"]
    assert [(r["state"], r["reason"]) for r in rows] == [("skipped", "ANTHROPIC_API_KEY not set"), ("done", "")]
    assert "did not complete" in captured.err
    assert len(list((tmp_path / "out").glob("*/*/*/run.json"))) == 1


def test_a_sweep_lets_go_of_every_run_folder_it_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture) -> None:
    from harness.records import store
    from harness.sweep.driver import Driver

    original = Driver._summarise

    def failing_one(self: Driver, jr: Any, ordered: list[dict[str, Any]]) -> dict[str, Any]:
        if jr.pj.job.spec.task == "tsb-ad-u-demo-vlm":
            raise ValueError("no aggregate today")
        return original(self, jr, ordered)

    monkeypatch.setattr(Driver, "_summarise", failing_one)
    path = tmp_path / "s.yaml"
    path.write_text("pairs:\n  - {task: visanombench-demo, model: template-reasoner, limit: 2}\n"
                    "  - {task: tsb-ad-u-demo-vlm, model: template-reasoner, limit: 2}\n")
    args = ["sweep", str(path), "--output", str(tmp_path / "out"), "--no-cache", "--workers", "1", "--json"]
    held_before = dict(store._HELD)
    for state in ("done", "cached"):  # then again: the complete run is served from its records
        code = main(args)
        rows = {r["job"].split(" / ")[0]: r["state"] for r in summary(capsys.readouterr().out)["jobs"]}
        assert code != 0 and rows == {"visanombench-demo": state, "tsb-ad-u-demo-vlm": "failed"}
        assert held_before == store._HELD  # no folder of a done, served or failed job is still locked
