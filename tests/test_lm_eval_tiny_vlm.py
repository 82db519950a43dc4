"""lm-eval's hf-multimodal backend on the tiny local Qwen2.5-VL, both directions.

The weights are random, so the answers are gibberish: what is checked is that each path
runs end to end, records every sample, and scores what the model said with our parser
(a gibberish answer is a recorded parse failure, never a crash).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("lm_eval")
pytest.importorskip("transformers")

from tinyvlm import build_tiny_vlm  # noqa: E402

from harness.registry.lazy import make_model, make_task  # noqa: E402
from harness.run.runner import Runner  # noqa: E402

pytestmark = pytest.mark.slow
LIMIT = 2


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_vlm(tmp_path_factory.mktemp("tiny-qwen"))


def test_hf_multimodal_backend_runs_through_our_runner(tiny: Path, tmp_path: Path) -> None:
    task = make_task("tsb-ad-u-demo-vlm", data_dir=str(tmp_path / "data"), workers=1, width=3, height=2, dpi=50)
    model = make_model("lm-eval", lm_model="hf-multimodal", pretrained=str(tiny), device="cpu", dtype="float32",
                       max_new_tokens=8, batch_size=2, max_pixels=448 * 448)
    result = Runner(task, model, tmp_path / "out", cache=None, limit=1, progress=False).run()
    records = [json.loads(line) for line in (result.path / "samples.jsonl").open()]
    assert records and all(isinstance(r["text"], str) for r in records)  # the backend generated
    # random weights may emit only whitespace: recorded as an empty completion, never a crash
    assert all(r["error"] in (None, "empty completion") for r in records)
    assert result.run["model"]["name"] == "lm-eval"


def test_lm_eval_runs_our_task_on_the_tiny_vlm(tiny: Path, tmp_path: Path) -> None:
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    from tasks.lm_eval_tasks import INCLUDE_PATH

    args = {"data_dir": str(tmp_path / "data"), "workers": 1, "width": 3, "height": 2, "dpi": 50}
    manager = TaskManager(include_path=str(INCLUDE_PATH), metadata={"visanom_task_args": args})
    out = simple_evaluate(model="hf-multimodal", model_args={"pretrained": str(tiny), "device": "cpu",
                                                              "dtype": "float32", "max_pixels": 448 * 448},
                          tasks=["tsb-ad-u-demo-vlm"], task_manager=manager, limit=LIMIT, apply_chat_template=True,
                          gen_kwargs={"max_gen_toks": 8}, log_samples=True)
    res = out["results"]["tsb-ad-u-demo-vlm"]
    assert res["n_failed,none"] + res["n_parse_failed,none"] <= LIMIT
    samples = out["samples"]["tsb-ad-u-demo-vlm"]
    assert len(samples) == LIMIT and all(isinstance(s["resps"][0][0], str) for s in samples)
