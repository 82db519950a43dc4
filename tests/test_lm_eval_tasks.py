"""Our tasks inside lm-evaluation-harness: the same answers give the same metrics as ``visanom run``.

A fake OpenAI-compatible server on 127.0.0.1 answers each plot with a scripted answer chosen
by the plot's PIXELS (lm-eval re-encodes the PNG, so bytes differ; pixels do not): exact
hits, shifted and partial intervals, a normal verdict, an answer outside the window and an
unparsable one. ``visanom run`` (openai-compat against the server) and ``lm_eval`` (its
``local-chat-completions`` backend, run as the README's command in a subprocess) must report
the same P/R/F1/Overlap.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("lm_eval")

from fake_chat_server import FAST_RETRIES, FakeChatServer  # noqa: E402

from harness.registry.lazy import make_model, make_task  # noqa: E402
from harness.run.runner import Runner  # noqa: E402
from tasks.lm_eval_tasks import INCLUDE_PATH  # noqa: E402

LIMIT = 10
ROOT = Path(__file__).resolve().parent.parent


def pixel_key(png: bytes) -> str:
    """A hash of an image's RGB pixels (independent of how the PNG was encoded)."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as img:
        rgb = img.convert("RGB")
        return hashlib.sha256(repr(rgb.size).encode() + rgb.tobytes()).hexdigest()


def scripted(i: int, start: int, end: int, intervals: list[tuple[int, int]]) -> str:
    """The i-th sample's answer, one of several kinds (hits, misses, parse failures)."""
    kind = i % 6
    if kind == 0 and intervals:  # exact
        a, b = intervals[0]
        return f"<anomaly>True</anomaly>\n<index>({a}, {b})</index>\nStep 1: the x-axis runs {start} to {end}."
    if kind == 1:  # shifted / partial
        a, b = intervals[0] if intervals else (start + 10, start + 40)
        return f"<anomaly>True</anomaly>\n<index>({a + 5}, {b + 30})</index>\nStep 1: something odd."
    if kind == 2:
        return "<anomaly>False</anomaly>\nStep 1: the pattern repeats; nothing departs from it."
    if kind == 3:
        return "The plot is pretty."  # no interval in any format: a parse failure
    if kind == 4:  # a prose answer with two intervals
        return (f"<anomaly>True</anomaly>\n<index>({start + 100}, {start + 150}), ({start + 400}, {start + 420})"
                "</index>")
    return f"<anomaly>True</anomaly>\n<index>({end + 500}, {end + 600})</index>"  # outside the window


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("vab-demo")


@pytest.fixture(scope="module")
def server(bench: Path):
    task = make_task("visanombench-demo", data_dir=str(bench), workers=1)
    table = {}
    for i, s in enumerate(task.samples(limit=LIMIT)):
        target = task.target(s.id)
        table[pixel_key(s.image)] = scripted(i, s.index_offset, s.index_offset + len(s.series) - 1,
                                             list(target.intervals))
    assert len(table) == LIMIT

    def answer(image_b64: str, prompt: str) -> str:
        return table.get(pixel_key(base64.b64decode(image_b64)), "no such plot") if image_b64 else "no image"

    with FakeChatServer(answer=answer) as srv:
        yield srv


def visanom_run(server: FakeChatServer, bench: Path, out: Path, adapter: str = "openai-compat",
                **model_args) -> dict:
    task = make_task("visanombench-demo", data_dir=str(bench), workers=1)
    if adapter == "openai-compat":
        model_args = {"model": "fake-vlm", "base_url": server.base_url, "api_key": "k", "concurrency": 2,
                      **model_args}
    vlm = make_model(adapter, **model_args)
    if hasattr(vlm.engine, "retry_policy"):
        vlm.engine.retry_policy = FAST_RETRIES
    result = Runner(task, vlm, out, cache=None, limit=LIMIT, progress=False).run()
    return result.run


def lm_eval_cli(server: FakeChatServer, bench: Path, out: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    meta = json.dumps({"visanom_task_args": {"data_dir": str(bench), "workers": 1}})
    cmd = [sys.executable, "-m", "lm_eval", "run", "--model", "local-chat-completions",
           "--model_args", f"model=fake-vlm,base_url={server.base_url}/chat/completions,max_retries=1",
           "--tasks", "visanombench-demo", "--include_path", str(INCLUDE_PATH), "--apply_chat_template",
           "--limit", str(LIMIT), "--metadata", meta, "--output_path", str(out)]
    env = {**os.environ, "OPENAI_API_KEY": "k", "HF_DATASETS_OFFLINE": "1", **(env or {})}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900, cwd=out.parent)


def lm_eval_results(out: Path) -> dict:
    files = sorted(out.rglob("results_*.json"))
    assert files, f"no results under {out}"
    return json.loads(files[-1].read_text())["results"]["visanombench-demo"]


def test_lm_eval_and_visanom_run_agree_on_the_same_answers(server: FakeChatServer, bench: Path,
                                                           tmp_path: Path) -> None:
    run = visanom_run(server, bench, tmp_path / "visanom")
    assert run["counts"]["n_ok"] == LIMIT
    ours = {k: v["value"] for k, v in run["metrics"].items()}
    assert 0 < ours["F1"] < 1 and ours["P"] is not None and ours["Overlap"] is not None  # a mixed set

    proc = lm_eval_cli(server, bench, tmp_path / "lm-eval")
    assert proc.returncode == 0, proc.stderr[-3000:]
    theirs = lm_eval_results(tmp_path / "lm-eval")
    print("\nvisanom run:", {k: ours[k] for k in ("P", "R", "F1", "Overlap")})
    print("lm_eval:    ", {k: theirs[f"{k},none"] for k in ("P", "R", "F1", "Overlap", "n_parse_failed")})
    for name in ("P", "R", "F1", "Overlap", "Point-F1", "Affiliation-F1"):
        assert theirs[f"{name},none"] == pytest.approx(ours[name], abs=1e-12), name
    records = [json.loads(line) for line in (Path(run_path(tmp_path / "visanom")) / "samples.jsonl").open()]
    assert theirs["n_parse_failed,none"] == sum(r["parse_failed"] for r in records) > 0
    assert theirs["n_failed,none"] == 0


def run_path(out: Path) -> Path:
    (path,) = {p.parent for p in out.rglob("run.json")}
    return path


def test_lm_eval_backend_as_our_model_gives_the_same_records(server: FakeChatServer, bench: Path,
                                                             tmp_path: Path) -> None:
    """``--model lm-eval lm_model=local-chat-completions`` through our runner: same answers, same metrics."""
    ours = visanom_run(server, bench, tmp_path / "direct")
    via = visanom_run(server, bench, tmp_path / "via", adapter="lm-eval", lm_model="local-chat-completions",
                      model="fake-vlm", base_url=f"{server.base_url}/chat/completions", max_retries=1)
    assert via["counts"]["n_ok"] == LIMIT
    assert via["model"]["name"] == "lm-eval"
    a = {r["sample_id"]: r for r in map(json.loads, (run_path(tmp_path / "direct") / "samples.jsonl").open())}
    b = {r["sample_id"]: r for r in map(json.loads, (run_path(tmp_path / "via") / "samples.jsonl").open())}
    assert a.keys() == b.keys() and all(a[k]["text"] == b[k]["text"] for k in a)
    assert {k: v["value"] for k, v in via["metrics"].items()} == {k: v["value"] for k, v in ours["metrics"].items()}


def test_unknown_lm_eval_backend_is_a_clear_error() -> None:
    from harness.core.errors import UsageError

    with pytest.raises(UsageError, match="unknown lm-eval model 'no-such-backend'.*hf-multimodal"):
        make_model("lm-eval", lm_model="no-such-backend")


def test_tasks_without_visanom_importable_say_what_to_install(tmp_path: Path) -> None:
    """lm-eval loads utils.py by path; with visanom not importable it must say what to install."""
    script = f"""
import importlib.abc, importlib.util, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tasks", "harness", "baselines"):
            raise ImportError(f"No module named {{name!r}}")
sys.meta_path.insert(0, Block())
spec = importlib.util.spec_from_file_location("utils", {str(INCLUDE_PATH / "utils.py")!r})
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
try:
    mod.load_docs(visanom_task="visanombench-demo")
except ImportError as exc:
    print("MESSAGE:", exc)
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "MESSAGE: the visanom lm-eval tasks need the visanom package importable" in proc.stdout
    assert "pip install" in proc.stdout


def test_the_configs_name_our_tasks_and_metrics() -> None:
    import yaml

    from tasks.lm_eval_tasks import bridge

    names = sorted(p.stem for p in INCLUDE_PATH.glob("*.yaml"))
    assert names == ["tsb-ad-u-demo-vlm", "tsb-ad-u-vlm", "visanombench", "visanombench-demo"]
    for name in names:
        text = (INCLUDE_PATH / f"{name}.yaml").read_text().replace("!function ", "")
        cfg = yaml.safe_load(text)
        assert cfg["task"] == name == cfg["dataset_kwargs"]["visanom_task"]
        expected = bridge.TSB_AD_U_METRICS if name.startswith("tsb") else bridge.VISANOMBENCH_METRICS
        assert [m["metric"] for m in cfg["metric_list"]] == list(expected)


def test_an_unreadable_sample_is_a_recorded_failure_not_a_crash(bench: Path) -> None:
    from harness.core.types import Sample
    from tasks.lm_eval_tasks import bridge

    task = make_task("visanombench-demo", data_dir=str(bench), workers=1)
    good = next(iter(task.samples(limit=1)))
    args = {"data_dir": str(bench), "workers": 1}
    bad = bridge.sample_to_doc("visanombench-demo", args, Sample(id=good.id, series=good.series[:0],
                                                                  error="segment file is corrupt"))
    assert bridge.doc_to_image(bad)[0].size == (bridge.BLANK_SIDE, bridge.BLANK_SIDE)
    rec = bridge.process_results(bad, ["<anomaly>False</anomaly>"])["F1"]
    assert rec["error"] == "input not loaded: segment file is corrupt" and rec["metrics"] is None
    ok_doc = bridge.sample_to_doc("visanombench-demo", args, good)
    assert bridge.doc_to_sample(ok_doc).image == good.image  # the renderer's bytes, unchanged
    empty = bridge.process_results(ok_doc, [""])["F1"]
    assert empty["error"] == "empty completion"
    metrics = bridge.run_metrics([rec, empty, bridge.process_results(ok_doc, ["no idea"])["F1"]])
    assert metrics["n_failed"] == 2 and metrics["n_parse_failed"] == 1


def test_a_backend_failure_is_recorded_per_sample(server: FakeChatServer, bench: Path, tmp_path: Path) -> None:
    server.reset()
    server.push("400")  # lm-eval's API backend raises after max_retries=1 attempt
    try:
        task = make_task("visanombench-demo", data_dir=str(bench), workers=1)
        vlm = make_model("lm-eval", lm_model="local-chat-completions", model="fake-vlm",
                         base_url=f"{server.base_url}/chat/completions", max_retries=1, batch_size=2)
        run = Runner(task, vlm, tmp_path / "out", cache=None, limit=2, progress=False).run().run
    finally:
        server.reset()
    assert run["counts"]["n_failed"] == 2  # the batch's call failed: both samples recorded, no crash
    records = [json.loads(line) for line in (run_path(tmp_path / "out") / "samples.jsonl").open()]
    assert all(r["error"].startswith("lm-eval local-chat-completions:") for r in records)
    for name in ("samples.jsonl", "run.json"):  # the server's URL is a credential-like argument
        assert server.base_url not in (run_path(tmp_path / "out") / name).read_text()
