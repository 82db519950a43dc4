"""End to end on the demo data: elicit from three models (tiny Qwen2.5-VL, template reasoner, a
scripted API model on a local server) -> reward (with a judge) -> select -> export -> train a few
steps (loss falls) -> evaluate the adapter on visanombench-demo -> it is on the leaderboard."""

from __future__ import annotations

import base64
import itertools
import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("torchvision")
pytest.importorskip("peft")
pytest.importorskip("datasets")

from tinyvlm import build_tiny_vlm  # noqa: E402

from harness import registry  # noqa: E402
from harness.cli.main import main  # noqa: E402
from harness.core.errors import EXIT_OK, EXIT_SAMPLE_FAILURES  # noqa: E402

N = 3  # train segments elicited


def _good(start: int, end: int, intervals) -> str:
    tags = "".join(f"<index>({a}, {b})</index>\n" for a, b in intervals)
    cites = " and ".join(f"around index {a} to {b}" for a, b in intervals)
    return (f"<anomaly>True</anomaly>\n{tags}Step 1: The x-axis represents the index, ranging from {start} to "
            f"{end}; the y-axis shows the values. Step 2: the pattern changes {cites}. Step 3: these regions "
            "are anomalies because their shape departs clearly from the regular pattern around them.")


@pytest.fixture(scope="module")
def segments():
    """The first N train segments of the demo: plot (base64), window and truth."""
    task = registry.make_task("visanombench-demo", split="train")
    out = []
    for s in itertools.islice(task.samples(N), N):
        window = (s.index_offset, s.index_offset + len(s.series) - 1)
        out.append((base64.b64encode(s.image).decode(), window, task.target(s.id).intervals, s.id))
    return out


@pytest.mark.detectors  # the template reasoner runs Sub-PCA (tsb-ad)
def test_pipeline_end_to_end(tmp_path: Path, srv, segments, capsys, monkeypatch) -> None:
    base = build_tiny_vlm(tmp_path / "base")
    script = {}
    for i, (b64, (start, end), truth, _sid) in enumerate(segments):
        # segment 0: a good answer; 1: the API model fails (empty completion); 2: a mediocre one
        script[b64] = (_good(start, end, truth) if i == 0 else "" if i == 1
                       else f"<anomaly>True</anomaly>\n<index>({start + 10}, {start + 40})</index>\nStep 1: odd.")

    def responder(image: str, prompt: str) -> str:
        if prompt.startswith("You are grading"):
            return "no idea" if "Step 1: odd." in prompt else '{"grounded": 8, "axis": 9, "clarity": 7}'
        return script.get(image, "I cannot tell.")

    monkeypatch.setattr(srv, "answer", responder)
    elicit_dir, cache = tmp_path / "elicit", tmp_path / "cache.sqlite"
    api = [f"openai-compat:{k}" for k in (f"base_url={srv.base_url}", "api_key=test", "model=scripted",
                                          "max_retries=0")]
    rc = main(["bench", "elicit", "--bench", "demo", "--split", "train", "--limit", str(N), "--no-progress",
               "--models", "hf-vlm,template-reasoner,openai-compat", "--out", str(elicit_dir), "--cache", str(cache),
               "--model-args", f"hf-vlm:model_id={base}", "hf-vlm:max_new_tokens=16", "hf-vlm:device=cpu", *api])
    assert rc == 0
    shown = capsys.readouterr().out
    assert "tok in" in shown and "openai-compat" in shown  # the cost table
    info = json.loads((elicit_dir / "elicit.json").read_text())
    assert [r["model"] for r in info["runs"]] == ["hf-vlm", "template-reasoner", "openai-compat"]
    api_cost = info["runs"][2]["cost"]
    assert api_cost["candidates"] == N and api_cost["failed"] == 1 and api_cost["tokens_in"] > 0

    # resumable: the same command again asks only the segment that failed
    n_requests = len(srv.requests)
    assert main(["bench", "elicit", "--bench", "demo", "--split", "train", "--limit", str(N), "--no-progress",
                 "--models", "hf-vlm,template-reasoner,openai-compat", "--out", str(elicit_dir), "--cache", str(cache),
                 "--model-args", f"hf-vlm:model_id={base}", "hf-vlm:max_new_tokens=16", "hf-vlm:device=cpu",
                 *api]) == 0
    assert len(srv.requests) == n_requests + 1

    # reward with the scripted API model as judge (one reply unparsable)
    assert main(["bench", "reward", str(elicit_dir), "--judge", "openai-compat", "--judge-args",
                 f"base_url={srv.base_url}", "api_key=test", "model=judge", "max_retries=0"]) == 0
    rows = [json.loads(x) for x in (elicit_dir / "rewards.jsonl").read_text().splitlines()]
    header, cands = rows[0]["header"], rows[1:]
    assert header["judge"]["model"] == "openai-compat" and len(cands) == 3 * N
    failed = [c for c in cands if c["model"] == "openai-compat" and not c["eligible"]]
    assert len(failed) == 1 and failed[0]["reason"].startswith("model failed")
    mediocre = [c for c in cands if c["judge_reply"] and c["judge_reply"]["error"]]
    assert mediocre and all(c["judge"] is None for c in mediocre)  # keeps its rule-based reward
    assert all(c["reward"] == 0 for c in cands if not c["eligible"])

    assert main(["bench", "select", str(elicit_dir)]) == 0
    out = capsys.readouterr().out
    assert "sensitivity" in out
    sel = json.loads((elicit_dir / "selection.json").read_text())
    first = segments[0][3]
    chosen = {s["sample_id"]: s for s in sel["selected"]}
    assert chosen[first]["model"] == "openai-compat"  # the good scripted answer wins its segment
    assert len(sel["selected"]) + len(sel["dropped"]) == N
    assert {r["term"] for r in sel["sensitivity"]} == {"accuracy", "grounded", "axis", "clarity"}

    ds_dir = tmp_path / "ds"
    assert main(["bench", "export", str(elicit_dir), "--out", str(ds_dir)]) == 0
    before = sorted(p.name for p in ds_dir.iterdir())
    assert main(["bench", "export", str(elicit_dir), "--out", str(ds_dir)]) != 0  # exists: refused
    assert "--overwrite" in capsys.readouterr().err
    assert sorted(p.name for p in ds_dir.iterdir()) == before

    from datasets import load_from_disk

    ds = load_from_disk(str(ds_dir))
    assert len(ds) == len(sel["selected"])
    row = ds[[r["sample_id"] for r in ds].index(first)] if len(ds) > 1 else ds[0]
    assert row["messages"][1]["content"][0]["text"].startswith("<anomaly>True</anomaly>")
    assert row["provenance"]["model"] == "openai-compat" and row["image"].size[0] > 100

    train_dir = tmp_path / "train"
    assert main(["train", "--config", "tiny", "--base", str(base), "--data", str(ds_dir), "--out",
                 str(train_dir)]) == 0
    losses = [json.loads(x)["loss"] for x in (train_dir / "train_log.jsonl").read_text().splitlines()]
    assert len(losses) == 10 and sum(losses[-2:]) < sum(losses[:2])
    adapter = train_dir / "adapter"
    assert (adapter / "adapter_config.json").is_file() and (train_dir / "checkpoint-10").is_dir()

    results, site = tmp_path / "results", tmp_path / "site"
    assert main(["run", "--task", "visanombench-demo", "--model", "hf-vlm", "--limit", "2", "--no-progress",
                 "--output", str(results), "--cache", str(cache), "--model-args", f"adapter={adapter}",
                 "max_new_tokens=24", "device=cpu", "max_pixels=50176"]) in (EXIT_OK, EXIT_SAMPLE_FAILURES)
    run_json = next(results.rglob("run.json"))
    run = json.loads(run_json.read_text())
    assert run["model"]["name"] == "hf-vlm" and str(adapter) in json.dumps(run)
    assert main(["leaderboard", "build", str(results), "--out", str(site)]) == 0
    summary = (site / "summary.json").read_text()
    assert str(adapter) in summary or f"adapter={adapter}" in summary
