"""The one execution core: ``visanom run`` and a sweep write the same records, and a model
that streams is recorded sample by sample on both paths (a sweep worker included)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import toy

from harness import registry
from harness.cli.main import main
from harness.core.spec import RunSpec
from harness.core.types import Prediction, Sample
from harness.records.store import RunDir
from harness.run.orchestrate import run_spec
from harness.sweep.executors import THREAD_VARS
from harness.sweep.worker import run_unit

REPO = Path(__file__).resolve().parent.parent

TIMING = {"latency_s"}
"""The only fields allowed to differ between two runs of one spec (wall-clock measurements)."""
EVENTS: list[str] = []


@registry.register_model("toy-streaming", group="test")
class StreamingModel(toy.DeviationModel):
    """|x - median| answered one sample at a time by ``predict_stream`` (logs each answer)."""

    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self.name = "toy-streaming"

    def predict(self, batch: Sequence[Sample]) -> list[Prediction]:
        out = super().predict(batch)
        EVENTS.extend(f"answered {s.id}" for s in batch)
        return out

    def predict_stream(self, samples: Iterable[Sample]) -> Iterator[Prediction]:
        for s in samples:
            (pred,) = toy.DeviationModel.predict(self, [s])
            EVENTS.append(f"answered {s.id}")
            yield pred


def _records(folder: Path) -> dict[str, dict[str, Any]]:
    """Each run's samples.jsonl records without timing fields (and its score arrays), by run
    folder relative to the results folder."""
    out = {}
    for samples in sorted(folder.glob("*/*/*/samples.jsonl")):
        recs = []
        for line in samples.read_text().splitlines():
            rec = {k: v for k, v in json.loads(line).items() if k not in TIMING}
            rec["draws"] = [{k: v for k, v in d.items() if k not in TIMING} for d in rec["draws"]]
            if rec.get("scores_file"):
                rec["scores"] = np.load(samples.parent / rec["scores_file"]).tolist()
            recs.append(rec)
        out[str(samples.parent.relative_to(folder))] = {r["sample_id"]: r for r in recs}
    return out


@pytest.mark.detectors  # the sweep's Sub-PCA job needs tsb-ad
def test_visanom_run_and_sweep_demo_write_identical_records(tmp_path: Path) -> None:
    """The same specs, once as ``visanom sweep demo`` (worker processes, records returned to
    the driver) and once as ``visanom run`` (one process): the same run folders and, field by
    field, the same records (only wall-clock timing may differ). ``visanom run`` gets the
    workers' one numeric-library thread: BLAS thread counts change the last bits of PCA scores."""
    swept, ran = tmp_path / "sweep", tmp_path / "run"
    assert main(["sweep", "demo", "--only", "visanombench-demo / [St]*", "--limit", "3", "--output", str(swept),
                 "--no-cache", "--no-progress", "--workers", "2"]) == 0
    models = sorted({json.loads(p.read_text())["model"]["name"] for p in swept.glob("*/*/*/run.json")})
    assert models == ["Sub-PCA", "template-reasoner"]
    one_thread = {**os.environ, "PYTHONPATH": str(REPO), **dict.fromkeys(THREAD_VARS, "1")}
    subprocess.run([sys.executable, "-m", "harness", "run", "--task", "visanombench-demo", "--model",
                    ",".join(models), "--limit", "3", "--output", str(ran), "--no-cache", "--no-progress"],
                   check=True, env=one_thread, capture_output=True, timeout=600)
    a, b = _records(swept), _records(ran)
    assert sorted(a) == sorted(b) and len(a) == 2  # the same run folders (same run ids)
    for folder in a:
        assert sorted(a[folder]) == sorted(b[folder]) and len(a[folder]) == 3
        for sid, rec in a[folder].items():
            other = b[folder][sid]
            for field in sorted(set(rec) | set(other)):
                assert rec.get(field) == other.get(field), (folder, sid, field)
        run_a, run_b = (json.loads((root / folder / "run.json").read_text()) for root in (swept, ran))
        assert run_a["metrics"] == run_b["metrics"] and run_a["counts"] == run_b["counts"]
        assert run_a["model"] == run_b["model"] and run_a["task"] == run_b["task"]


def _unit(spec: RunSpec, batch_size: int) -> dict[str, Any]:
    return {"unit": "0", "cache": None, "parts": [{"spec": spec.to_record(), "task_args": dict(spec.task_args),
                                                   "model_args": {}, "shard": None, "done": [],
                                                   "batch_size": batch_size}]}


def test_a_streaming_model_is_recorded_sample_by_sample_under_run_and_in_a_sweep_worker(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each answer is recorded before the next sample is asked, with ``visanom run``'s runner
    and with the sweep worker's code path (which once batched every model)."""
    spec = RunSpec("toy", "toy-streaming", task_args={"n": 5})
    expected = [e for i in range(5) for e in (f"answered s{i:03d}", f"recorded s{i:03d}")]

    EVENTS.clear()
    append = RunDir.append

    def logged_append(self: RunDir, records: Any) -> None:
        records = list(records)
        EVENTS.extend(f"recorded {r['sample_id']}" for r in records)
        append(self, records)

    monkeypatch.setattr(RunDir, "append", logged_append)
    res = run_spec(spec, output=tmp_path / "run", cache=None, batch_size=4, progress=False, echo=None)
    assert res.run["counts"]["n_ok"] == 5
    assert expected == EVENTS

    EVENTS.clear()
    messages = []
    for msg in run_unit(_unit(spec, batch_size=4)):
        if msg["type"] == "records":
            EVENTS.extend(f"recorded {r['sample_id']}" for r in msg["records"])
        messages.append(msg["type"])
    assert expected == EVENTS
    assert messages == ["records"] * 5 + ["order", "end"]


def test_a_batch_model_is_recorded_batch_by_batch_on_both_paths(tmp_path: Path) -> None:
    """The contrast: a model without ``predict_stream`` answers ``batch_size`` samples per call
    and its records come back a batch at a time, under both."""
    spec = RunSpec("toy", "toy-deviation", task_args={"n": 5})
    sizes = [len(m["records"]) for m in run_unit(_unit(spec, batch_size=2)) if m["type"] == "records"]
    assert sizes == [2, 2, 1]
    res = run_spec(spec, output=tmp_path, cache=None, batch_size=2, progress=False, echo=None)
    assert res.run["counts"]["n"] == 5


def test_the_worker_reports_the_facts_the_driver_summarises_with(tmp_path: Path) -> None:
    """run.json written from the worker's facts (no model built by the writer) equals the one
    ``visanom run`` writes, timing aside."""
    from harness.run.pairs import build_task
    from harness.run.summarise import ModelFacts, summarise

    spec = RunSpec("toy", "toy-deviation", task_args={"n": 4})
    msgs = list(run_unit(_unit(spec, batch_size=3)))
    records = [r for m in msgs if m["type"] == "records" for r in m["records"]]
    (order,) = [m for m in msgs if m["type"] == "order"]
    facts = ModelFacts.from_record(order["facts"])
    by_id = {r["sample_id"]: r for r in records}
    run = summarise(build_task(spec), spec, [by_id[i] for i in order["ids"]], facts, started="t", wall_s=1.0)
    direct = run_spec(spec, output=tmp_path, cache=None, progress=False, echo=None).run
    for key in ("run_id", "spec", "task", "model", "metrics", "counts", "draws", "env"):
        assert run[key] == direct[key], key


def test_a_judge_is_part_of_the_spec_and_its_id() -> None:
    plain = RunSpec("toy", "toy-deviation")
    judged = plain.with_(judge="openai-compat", judge_args={"model": "j", "api_key": "secret"})
    assert "judge" not in plain.to_record()  # specs without a judge keep the ids they had
    assert judged.id != plain.id and judged.label.endswith("judge=openai-compat)")
    assert judged.to_record()["judge"] == {"model": "openai-compat", "args": {"model": "j"}}  # no secrets
    back = RunSpec.from_record(judged.to_record())
    assert back.judge == "openai-compat" and back.id == judged.id
    assert RunSpec.from_record(plain.to_record()).id == plain.id


def _progress_steps(stdout: str) -> list[int]:
    events = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    done = [e["done"] for e in events if e["event"] == "progress"]
    return [b - a for a, b in zip(done, done[1:], strict=False)]


def test_an_api_job_streams_in_a_sweep_as_under_visanom_run(tmp_path: Path, srv,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """An API model (openai-compat against a real server on 127.0.0.1) in a sweep worker
    process: each answer reaches the driver on its own (one progress step per sample, where
    a batch would be one step of 4), and the records equal ``visanom run``'s."""
    model = {"name": "openai-compat", "args": {"base_url": srv.base_url, "api_key": "test", "model": "vlm",
                                               "max_retries": 0}}
    sweep = tmp_path / "api.yaml"
    pair = {"task": "visanombench-demo", "model": model["name"], "model_args": model["args"], "limit": 4}
    sweep.write_text("pairs:\n  - " + json.dumps(pair) + "\n")
    assert main(["sweep", str(sweep), "--output", str(tmp_path / "sweep"), "--no-cache", "--no-progress",
                 "--workers", "1", "--json"]) == 0
    assert _progress_steps(capsys.readouterr().out) == [1, 1, 1, 1]
    assert main(["run", "--task", "visanombench-demo", "--model", "openai-compat", "--limit", "4",
                 "--model-args", *(f"{k}={v}" for k, v in model["args"].items()),
                 "--output", str(tmp_path / "run"), "--no-cache", "--no-progress"]) == 0
    a, b = _records(tmp_path / "sweep"), _records(tmp_path / "run")
    assert sorted(a) == sorted(b) and len(a) == 1
    (folder,) = a
    assert a[folder] == b[folder] and len(a[folder]) == 4


def test_one_resume_rule_for_run_and_sweep(tmp_path: Path) -> None:
    """``Resume`` (used by the runner and by the sweep driver): nothing to redo leaves run.json
    as it is; a dropped failed record or the first sample to redo marks it stale, once."""
    from harness.records.store import read_run
    from harness.run.samples import Resume

    spec = RunSpec("toy", "toy-deviation", task_args={"n": 3})
    res = run_spec(spec, output=tmp_path, cache=None, progress=False, echo=None)
    run_dir = RunDir(res.path)
    before = (res.path / "run.json").read_bytes()
    resume = Resume(run_dir)
    assert sorted(resume.done) == ["s000", "s001", "s002"] and (res.path / "run.json").read_bytes() == before
    resume.begin_work()
    assert read_run(res.path / "run.json")["status"] == "stale"
    first = json.loads((res.path / "samples.jsonl").read_text().splitlines()[0])
    run_dir.append([{**first, "error": "model: boom"}])  # a later failed line for s000 wins
    (res.path / "run.json").write_bytes(before)
    again = Resume(run_dir)
    assert sorted(again.done) == ["s001", "s002"] and again.marked
    assert read_run(res.path / "run.json")["status"] == "stale"
    assert len((res.path / "samples.jsonl").read_text().splitlines()) == 2  # the failed line dropped


@registry.register_model("toy-task-bound", group="test")
class TaskBoundModel(toy.DeviationModel):
    """A model that draws on its task (like a recipe's train-split examples): binding changes
    its fingerprint."""

    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self.name, self.bound_to = "toy-task-bound", ""

    def for_task(self, task: Any) -> TaskBoundModel:
        twin = TaskBoundModel()
        twin.bound_to = str(task.fingerprint())
        return twin

    def fingerprint(self) -> str:
        return f"{super().fingerprint()}+{self.bound_to}"


def test_the_sweep_plans_the_folder_the_run_writes_for_a_model_bound_to_its_task(tmp_path: Path) -> None:
    from harness.sweep.file import Job, Sweep
    from harness.sweep.plan import plan_sweep

    spec = RunSpec("toy", "toy-task-bound", task_args={"n": 2})
    (pj,) = plan_sweep(Sweep("s", tmp_path / "s.yaml", jobs=[Job(spec, "s.yaml:1", "g")]), tmp_path)
    res = run_spec(spec, output=tmp_path, cache=None, progress=False, echo=None)
    assert pj.folder == res.path and res.run["model"]["fingerprint"].endswith("+" + res.run["task"]["fingerprint"])
