"""The worker protocol and the local executor, without running a detector."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.core.types import Prediction
from harness.environments.jobs import JobEnv, current_env
from harness.records.store import InputStore, RunDir
from harness.run.cache import PredictionCache
from harness.sweep.executors import LocalExecutor, Unit
from harness.sweep.worker import (
    ForwardingCache,
    MemoryInputStore,
    MemoryRunDir,
    decode_array,
    decode_prediction,
    encode_array,
    encode_prediction,
)

REPO = Path(__file__).resolve().parent.parent


def test_arrays_and_predictions_round_trip() -> None:
    arr = np.linspace(0, 1, 7)
    assert np.array_equal(decode_array(encode_array(arr)), arr)
    pred = Prediction(sample_id="s/1", text="t", scores=arr, intervals=((1, 2),), usage={"prompt_tokens": 3},
                      meta={"k": [1]}, latency_s=0.5)
    back = decode_prediction(encode_prediction(pred))
    assert back.text == "t" and back.intervals == ((1, 2),) and back.usage == {"prompt_tokens": 3}
    assert np.array_equal(back.scores, arr)


def test_memory_stores_name_files_like_the_real_ones(tmp_path: Path) -> None:
    mem, real = MemoryRunDir(), RunDir(tmp_path / "run")
    sid = "../../etc/passwd weird id"
    for draw in (0, 2):
        assert mem.write_scores(sid, np.ones(3), draw=draw) == real.write_scores(sid, np.ones(3), draw=draw)
    assert [(s, d) for s, d, _ in mem.take()] == [(sid, 0), (sid, 2)] and mem.take() == []
    assert not list(tmp_path.glob("*.npy"))
    mem_in, real_in = MemoryInputStore("visanombench-demo"), InputStore(tmp_path / "out", "visanombench-demo")
    assert mem_in.put_image("ab" * 16, b"png") == real_in.put_image("ab" * 16, b"png")
    assert mem_in.put_series("not hex!", np.zeros(2)) == real_in.put_series("not hex!", np.zeros(2))
    assert len(mem_in.take()) == 2 and not Path("visanombench-demo").exists()


def test_forwarding_cache_reads_but_never_writes(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    cache = PredictionCache(path)
    cache.put("k1", Prediction(sample_id="a", text="old"))
    cache.close()
    before = path.read_bytes()
    fwd = ForwardingCache(str(path))
    assert fwd.get("k1", "a").text == "old" and fwd.get("k2", "a") is None
    assert fwd.put("k2", Prediction(sample_id="b", text="new"))
    assert not fwd.put("k3", Prediction(sample_id="c", error="boom"))  # errors are never cached
    assert [k for k, _ in fwd.take()] == ["k2"] and fwd.take() == []
    assert path.read_bytes() == before
    assert ForwardingCache(str(tmp_path / "missing.sqlite")).get("k1", "a") is None


@pytest.mark.detectors  # probes Sub-PCA, a tsb-ad detector
def test_probe_answers_in_its_environment() -> None:
    from harness.core.spec import RunSpec

    def job(model: str, **args: object) -> dict:
        return {"spec": RunSpec("visanombench-demo", model, model_args=args, limit=2).to_record(),
                "model_args": args}

    jobs = [job("template-reasoner"), job("GPT-4o"), job("IForest", no_such=1)]
    out = subprocess.run([sys.executable, "-m", "harness.sweep.worker", "--probe"], input=json.dumps(jobs),
                         capture_output=True, text=True, check=True, timeout=600,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HOME": str(Path.home())})
    ok, nokey, bad = json.loads(out.stdout)
    assert ok["ok"] and ok["count"] == 2 and ok["folder"].startswith("visanombench-demo-")
    assert not nokey["ok"] and nokey["reason"] == "OPENAI_API_KEY not set"
    assert bad["error"] and "no_such" in bad["error"]


def test_a_worker_that_dies_fails_its_unit_and_the_rest_go_on() -> None:
    dead = JobEnv("broken", "/bin/false")
    units = [Unit("u1", [{"spec": {}}, {"spec": {}}], [0, 1], "cpu", dead), Unit("u2", [{"spec": {}}], [2], "cpu", dead)]
    seen: list[tuple[str, dict]] = []
    LocalExecutor({"cpu": 1}).execute(units, lambda unit, msg: seen.append((unit.id, msg)))
    errors = [(u, m["part"]) for u, m in seen if m["type"] == "error"]
    assert sorted(errors) == [("u1", 0), ("u1", 1), ("u2", 0)]
    assert [u for u, m in seen if m["type"] == "end"] == ["u1", "u2"]
    assert all(m["message"].startswith("worker process") for _, m in seen if m["type"] == "error")


def test_a_worker_dying_after_a_part_finished_fails_only_the_other_parts(tmp_path: Path) -> None:
    fake = tmp_path / "python"  # answers one part, then dies before the unit's end
    fake.write_text('#!/bin/sh\nread line\necho \'{"type": "order", "part": 0, "ids": ["a"]}\'\nexit 3\n')
    fake.chmod(0o755)
    unit = Unit("u", [{"spec": {}}, {"spec": {}}], [0, 1], "cpu", JobEnv("dying", str(fake)))
    seen: list[dict] = []
    LocalExecutor({"cpu": 1}).execute([unit], lambda _unit, msg: seen.append(msg))
    assert [(m["type"], m.get("part")) for m in seen] == [("order", 0), ("error", 1), ("end", None)]
    assert "exited with code 3" in seen[1]["message"]


def test_current_env_is_this_interpreter() -> None:
    env = current_env()
    assert env.is_current and env.ok and env.name == "current"
    assert JobEnv("same-venv", str(Path(sys.prefix) / "bin" / "python")).is_current
    assert not JobEnv("other", "/nonexistent/bin/python").is_current


@pytest.mark.detectors  # runs Sub-PCA, a tsb-ad detector
def test_a_job_runs_in_its_own_environment(tmp_path: Path, monkeypatch) -> None:
    """A job whose model lives in another environment is probed and run by that environment's
    interpreter (here a wrapper script that logs each start) and summarised by the driver
    (no process started just to write run.json); one results folder."""
    import harness.sweep.plan as plan
    from harness.sweep.driver import run_sweep
    from harness.sweep.file import load_sweep

    log = tmp_path / "alt-env.log"
    script = tmp_path / "alt" / "bin" / "python"
    script.parent.mkdir(parents=True)
    script.write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {sys.executable} "$@"\n')
    script.chmod(0o755)
    real = plan.env_for_model
    monkeypatch.setattr(plan, "env_for_model",
                        lambda model, args=None: JobEnv("alt", str(script)) if model == "template-reasoner" else real(model))
    sweep_file = tmp_path / "mixed.yaml"
    sweep_file.write_text("pairs:\n  - {task: visanombench-demo, model: template-reasoner, limit: 3}\n"
                          "  - {task: visanombench-demo, model: Sub-PCA, limit: 3}\n")
    result = run_sweep(load_sweep(str(sweep_file)), output=tmp_path / "out", workers=1, progress=False,
                       print_fn=lambda s: None)
    here = real("Sub-PCA")  # this interpreter: "current", or its configured name (e.g. "default" for .venv)
    assert here.is_current
    assert [(j.pj.env.name, j.state) for j in result.jobs] == [("alt", "done"), (here.name, "done")]
    starts = log.read_text().splitlines()
    assert starts.count("-m harness.sweep.worker --probe") == 1 and starts.count("-m harness.sweep.worker") == 1  # run only
    runs = {json.loads(p.read_text())["model"]["name"]: json.loads(p.read_text())
            for p in (tmp_path / "out").glob("*/*/*/run.json")}
    assert sorted(runs) == ["Sub-PCA", "template-reasoner"]
    assert runs["template-reasoner"]["env"]["environment"] == "alt"  # the facts came from the worker's environment


def test_api_units_run_concurrently_up_to_the_provider_limit(monkeypatch) -> None:
    """5 units of one provider with a limit of 2: two at a time, never more (no timing: each
    unit waits until a second one runs beside it, or until every unit has started)."""
    import threading

    cond = threading.Condition()
    state = {"running": 0, "peak": 0, "started": 0}
    total = 5

    def fake_run_one(self, unit, proc, out) -> None:
        with cond:
            state["running"] += 1
            state["started"] += 1
            state["peak"] = max(state["peak"], state["running"])
            cond.notify_all()
            cond.wait_for(lambda: state["running"] >= 2 or state["started"] == total, timeout=120)  # hang guard
            state["running"] -= 1
        out.put((unit, None, {"type": "end"}))

    monkeypatch.setattr(LocalExecutor, "_run_one", fake_run_one)
    monkeypatch.setattr(LocalExecutor, "_spawn", lambda self, env: None)
    env = current_env()
    units = [Unit(f"u{i}", [{}], [i], "api:openai", env) for i in range(total)]
    ended: list[str] = []
    LocalExecutor({"cpu": 1, "api:openai": 2}).execute(units, lambda unit, msg: ended.append(unit.id))
    assert sorted(ended) == [f"u{i}" for i in range(total)]
    assert state["peak"] == 2


def test_units_by_kind() -> None:
    """CPU jobs on a shardable task split by series; a weight-loading model's jobs share one
    unit (loaded once, serves all its tasks); one unit per API job, on its provider's slots."""
    from harness.core.spec import RunSpec
    from harness.sweep.driver import JobRun, make_units
    from harness.sweep.file import Job
    from harness.sweep.plan import PlannedJob

    class Shardable:
        shardable = True

    def planned(i: int, task: str, model: str, kind: str, provider: str | None = None, count: int = 10) -> JobRun:
        pj = PlannedJob(i, Job(RunSpec(task, model), "f.yaml:1", "g"), kind=kind, provider=provider,
                        env=current_env(), count=count, task=Shardable() if kind == "cpu" else object())
        return JobRun(pj)

    jobs = [planned(0, "tsb-ad-u", "Sub-PCA", "cpu"), planned(1, "visanombench", "Qwen2.5-VL-7B", "model"),
            planned(2, "tsb-ad-u-vlm", "Qwen2.5-VL-7B", "model"), planned(3, "visanombench", "GPT-4o", "api", "openai")]
    units = make_units(jobs, workers=2, gpus=1, cache=None)
    by_resource = {}
    for u in units:
        by_resource.setdefault(u.resource, []).append(u)
    assert [u.parts[0]["shard"] for u in by_resource["cpu"]] == [[0, 4], [1, 4], [2, 4], [3, 4]]
    (gpu,) = by_resource["gpu"]
    assert gpu.jobs == [1, 2] and [p["spec"]["task"] for p in gpu.parts] == ["visanombench", "tsb-ad-u-vlm"]
    (api,) = by_resource["api:openai"]
    assert api.jobs == [3]
    assert units.index(gpu) < units.index(by_resource["cpu"][0])  # long units start first


def test_a_run_folder_reported_by_another_environment_stays_in_the_results_folder(tmp_path: Path) -> None:
    from harness.core.errors import UsageError
    from harness.core.spec import RunSpec
    from harness.sweep.file import Job
    from harness.sweep.plan import PlannedJob, _foreign_folder

    pj = PlannedJob(0, Job(RunSpec(task="tsb-ad-u-demo", model="Sub-PCA"), where="s.yaml:3", group="g"),
                    env=JobEnv("det", "/nowhere/bin/python"))
    out = tmp_path / "results"
    assert _foreign_folder(out, "tsb-ad-u-demo/Sub-PCA/abc", pj) == out / "tsb-ad-u-demo/Sub-PCA/abc"
    for bad in ("../elsewhere", "/etc", "a/../../b"):
        with pytest.raises(UsageError, match=r"s\.yaml:3: environment 'det' reported a run folder outside"):
            _foreign_folder(out, bad, pj)


def test_the_driver_refuses_score_files_outside_the_run_folder(tmp_path: Path) -> None:
    from harness.core.errors import VisanomError
    from harness.core.spec import RunSpec
    from harness.sweep.driver import Driver, JobRun
    from harness.sweep.file import Job
    from harness.sweep.plan import PlannedJob

    jr = JobRun(PlannedJob(0, Job(RunSpec(task="tsb-ad-u-demo", model="Sub-PCA"), where="s.yaml:3", group="g")),
                run_dir=RunDir(tmp_path / "run"))
    Driver._check_score_files(jr, {"scores_file": "scores/a.npy", "draws": [{"scores_file": "scores/a.d1.npy"}]})
    Driver._check_score_files(jr, {"scores_file": None, "draws": [{"scores_file": None}]})
    for bad in ({"scores_file": "../../x.npy"}, {"scores_file": "scores/../../x.npy"},
                {"scores_file": "scores/a.npy", "draws": [{"scores_file": "/etc/passwd"}]}):
        with pytest.raises(VisanomError, match="outside"):
            Driver._check_score_files(jr, bad)
