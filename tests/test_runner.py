"""Runner: records, resume after SIGKILL, cache hits, per-sample failures, CLI errors."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import toy  # noqa: F401  (registers the toy task and models)

from harness import registry
from harness.cli.main import main
from harness.core.types import Prediction, Sample
from harness.run.cache import PredictionCache
from harness.run.runner import Runner

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent


def _run(tmp: Path, cache: PredictionCache | None, **model_args) -> Runner:
    task = registry.make_task("toy", n=12)
    model = registry.make_model("toy-deviation", **model_args)
    return Runner(task, model, tmp, cache=cache, progress=False, batch_size=4)


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_run_writes_records_and_metrics(tmp_path: Path, cache_path: Path) -> None:
    res = _run(tmp_path, PredictionCache(cache_path)).run()
    run = json.loads((res.path / "run.json").read_text())
    lines = _lines(res.path / "samples.jsonl")
    assert [r["sample_id"] for r in lines] == [f"s{i:03d}" for i in range(12)]
    assert run["counts"] == {"n": 12, "n_ok": 12, "n_failed": 0, "n_cached": 0, "n_parse_failed": 0,
                             "n_undefined": 0, "n_degenerate": 0}
    hits = [r["metrics"]["hit"] for r in lines]
    assert run["metrics"]["hit"]["value"] == pytest.approx(np.mean(hits))
    assert run["metrics"]["hit"]["n"] == 12
    lo, hi = run["metrics"]["hit"]["ci95"]
    assert lo <= run["metrics"]["hit"]["value"] <= hi
    assert set(run["groups"]["group"]) == {"even", "odd"}
    # scores saved per sample and equal to what the model produced
    first = lines[0]
    scores = np.load(res.path / first["scores_file"])
    x = next(registry.make_task("toy", n=1).samples()).series
    np.testing.assert_array_equal(scores, np.abs(x - np.median(x)))
    assert run["env"]["packages"]["numpy"] == np.__version__


def test_resume_skips_done_and_second_run_hits_cache(tmp_path: Path, cache_path: Path) -> None:
    calls = tmp_path / "calls.txt"
    cache = PredictionCache(cache_path)
    first = _run(tmp_path / "a", cache, calls_file=str(calls)).run()
    assert len(calls.read_text().splitlines()) == 12
    again = _run(tmp_path / "a", cache, calls_file=str(calls)).run()  # same command: nothing to do
    assert len(calls.read_text().splitlines()) == 12
    assert again.run["metrics"] == first.run["metrics"]
    other = _run(tmp_path / "b", cache, calls_file=str(calls)).run()  # identical run elsewhere
    assert len(calls.read_text().splitlines()) == 12, "cache must serve every sample"
    assert other.run["counts"]["n_cached"] == other.run["counts"]["n"] == 12
    assert other.run["metrics"] == first.run["metrics"]


def test_errors_are_recorded_and_never_cached(tmp_path: Path, cache_path: Path) -> None:
    calls = tmp_path / "calls.txt"
    cache = PredictionCache(cache_path)
    res = _run(tmp_path / "a", cache, fail="s003", calls_file=str(calls)).run()
    assert res.run["counts"]["n_failed"] == 1
    assert res.run["failures"] == [{"sample_id": "s003", "error": "detector returned a string"}]
    assert res.run["metrics"]["hit"]["n"] == 11
    assert res.run["metrics_fail_as_zero"]["hit"] <= res.run["metrics"]["hit"]["value"]
    assert len(cache) == 11
    _run(tmp_path / "b", cache, fail="s003", calls_file=str(calls)).run()
    assert calls.read_text().splitlines()[-1].startswith("s003"), "a failed sample is asked again"


def test_model_crash_and_bad_input_are_per_sample(tmp_path: Path) -> None:
    task = registry.make_task("toy", n=6, bad="2")
    res = Runner(task, registry.make_model("toy-crash"), tmp_path, cache=None, progress=False).run()
    errors = {r["sample_id"]: r["error"] for r in _lines(res.path / "samples.jsonl")}
    assert errors["s002"] == "input: s002.csv: Label column missing"
    assert all(e.startswith("model: RuntimeError: CUDA out of memory") for k, e in errors.items() if k != "s002")
    assert res.run["metrics"] == {} and res.run["counts"]["n_failed"] == 6


def test_torn_last_line_is_dropped_on_resume(tmp_path: Path) -> None:
    res = _run(tmp_path, None).run()
    path = res.path / "samples.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:5]) + "\n" + lines[5][: len(lines[5]) // 2])
    again = _run(tmp_path, None).run()
    ids = [r["sample_id"] for r in _lines(path)]
    assert sorted(ids) == [f"s{i:03d}" for i in range(12)] and len(ids) == 12
    assert again.run["metrics"] == res.run["metrics"]


SCRIPT = (
    "import sys; sys.path.insert(0, {tests!r}); import toy; from harness.cli.main import main; "
    "sys.exit(main(sys.argv[1:]))"
)


def _cli(args: list[str], **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT.format(tests=str(TESTS)), *args], cwd=REPO, **kw,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_sigkill_midway_then_resume_loses_nothing(tmp_path: Path) -> None:
    common = ["run", "--model", "toy-deviation", "--task", "toy", "--task-args", "n=30", "--batch-size", "1",
              "--no-progress", "--cache", str(tmp_path / "c.sqlite")]
    # the model blocks after 8 samples, so the kill lands at a known point however slow the machine
    proc = _cli([*common, "--output", str(tmp_path / "killed")], env={**os.environ, "VISANOM_TOY_STALL_AFTER": "8"})
    samples = None
    deadline = time.monotonic() + 120  # a hang guard, not a verdict
    while time.monotonic() < deadline and proc.poll() is None:
        found = list((tmp_path / "killed").glob("*/*/*/samples.jsonl"))
        if found and len(found[0].read_text().splitlines()) >= 8:
            samples = found[0]
            break
        time.sleep(0.05)
    assert samples is not None, f"the run never got going: {proc.poll()=}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (samples.parent / "run.json").exists()
    assert len(samples.read_text().splitlines()) == 8
    resumed = _cli([*common, "--output", str(tmp_path / "killed")])
    assert resumed.wait(300) == 0, resumed.stderr.read()
    ids = [r["sample_id"] for r in _lines(samples)]
    assert len(ids) == len(set(ids)) == 30
    clean = _cli([*common, "--output", str(tmp_path / "clean"), "--no-cache"])
    assert clean.wait(300) == 0
    killed_run = json.loads((samples.parent / "run.json").read_text())
    clean_run = json.loads(next((tmp_path / "clean").glob("*/*/*/run.json")).read_text())
    assert killed_run["metrics"] == clean_run["metrics"]
    assert killed_run["counts"]["n"] == 30


def _hammer(path: str, worker: int) -> int:
    cache = PredictionCache(path)
    for i in range(200):
        cache.put(f"k{worker}-{i}", Prediction(sample_id="x", scores=np.arange(5.0) + i))
        got = cache.get(f"k{worker}-{i}", "x")
        assert got is not None and got.scores[0] == i
    return worker


def test_two_processes_share_one_cache(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.sqlite")
    PredictionCache(path)
    with mp.get_context("spawn").Pool(2) as pool:
        assert sorted(pool.starmap(_hammer, [(path, 0), (path, 1)])) == [0, 1]
    assert len(PredictionCache(path)) == 400
    mode = PredictionCache(path)._conn().execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_cli_unknown_model_lists_known(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--model", "no-such-model", "--task", "toy", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert "unknown model 'no-such-model'" in err and "toy-deviation" in err


def test_cli_unwritable_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code = main(["run", "--model", "toy-deviation", "--task", "toy", "--output", str(blocker / "out"),
                 "--no-cache", "--no-progress"])
    assert code == 3
    assert "cannot write to output folder" in capsys.readouterr().err
    assert not list(tmp_path.glob("**/run.json"))


def test_cli_exit_code_reports_sample_failures(tmp_path: Path) -> None:
    args = ["run", "--model", "toy-deviation", "--task", "toy", "--output", str(tmp_path), "--no-cache",
            "--no-progress", "--task-args", "n=4"]
    assert main(args) == 0
    assert main([*args, "--model-args", "fail=s001", "--rerun"]) == 4


def test_bad_model_args_are_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--model", "toy-deviation", "--task", "toy", "--model-args", "nonsense"]) == 2
    assert "expected key=value" in capsys.readouterr().err
    assert main(["run", "--model", "toy-deviation", "--task", "toy", "--model-args", "colour=red",
                 "--no-cache", "--no-progress"]) == 2


def test_startup_error_from_model_stops_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--model", "toy-needs-key", "--task", "toy", "--output", str(tmp_path), "--no-cache",
                 "--no-progress"])
    assert code == 2
    assert "set TOY_API_KEY" in capsys.readouterr().err
    assert not list(tmp_path.glob("**/run.json"))


def test_resume_asks_failed_samples_again_without_duplicates(tmp_path: Path) -> None:
    calls = tmp_path / "calls.txt"
    runner = _run(tmp_path, None, fail="s003;s007", calls_file=str(calls))
    first = runner.run()
    assert first.run["counts"]["n_failed"] == 2
    # the same spec again, the transient failure gone (``fail`` is a test knob, not a setting)
    again = _run(tmp_path, None, calls_file=str(calls))
    second = Runner(again.task, again.model, tmp_path, spec=runner.spec, cache=None, progress=False,
                    batch_size=4).run()
    assert second.path == first.path
    asked_again = calls.read_text().splitlines()[12:]
    assert sorted(line.split()[0] for line in asked_again) == ["s003", "s007"]
    ids = [r["sample_id"] for r in _lines(second.path / "samples.jsonl")]
    assert sorted(ids) == [f"s{i:03d}" for i in range(12)]
    assert second.run["counts"]["n_failed"] == 0
    clean = _run(tmp_path / "clean", None).run()
    assert second.run["metrics"] == clean.run["metrics"]


def test_nan_in_model_meta_or_metrics_never_stops_the_sweep(tmp_path: Path, cache_path: Path) -> None:
    class OddModel(toy.DeviationModel):
        def predict(self, batch):
            out = super().predict(batch)
            for p in out:
                p.meta = {"ratio": float("nan"), "shape": np.int64(3), "obj": object()}
                p.usage = {"prompt_tokens": np.int32(5), "cost": float("inf")}
            return out

    cache = PredictionCache(cache_path)
    task = registry.make_task("toy", n=4)
    res = Runner(task, OddModel(), tmp_path, cache=cache, progress=False).run()
    recs = _lines(res.path / "samples.jsonl")
    assert all(r["error"] is None for r in recs)
    assert recs[0]["pred_meta"]["ratio"] is None and recs[0]["pred_meta"]["shape"] == 3
    assert recs[0]["usage"] == {"prompt_tokens": 5, "cost": None}
    again = Runner(task, OddModel(), tmp_path / "b", cache=cache, progress=False).run()  # from the cache
    assert again.run["counts"]["n_cached"] == 4 and again.run["metrics"] == res.run["metrics"]


def test_sample_without_input_hash_is_never_cached(tmp_path: Path, cache_path: Path) -> None:
    class NoHashTask(toy.ToyTask):
        def samples(self, limit=None):
            for s in super().samples(limit):
                yield Sample(id=s.id, series=s.series, meta=s.meta)  # input_hash left empty

    cache = PredictionCache(cache_path)
    Runner(NoHashTask(n=3), registry.make_model("toy-deviation"), tmp_path, cache=cache, progress=False).run()
    assert len(cache) == 0


def test_sweep_builds_each_model_once_and_closes_it(tmp_path: Path) -> None:
    from harness.run.orchestrate import matrix_specs, run_specs

    toy.ClosableModel.built = toy.ClosableModel.closed = 0
    specs = matrix_specs(["toy-closable"], ["toy", "toy-b"], task_args={"n": 3})
    results = run_specs(specs, output=tmp_path, cache=None, progress=False, echo=None)
    assert [r.run["task"]["name"] for r in results] == ["toy", "toy-b"]
    assert toy.ClosableModel.built == 1 and toy.ClosableModel.closed == 1
