"""The vLLM engine without a GPU: pure prompt/sampling builders, and the engine against a fake
``vllm`` module that records what ``LLM``, ``generate``, ``SamplingParams`` and ``LoRARequest`` get."""

from __future__ import annotations

import io
import json
import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import tinyvlm
from PIL import Image

from harness.inference import hf_revisions
from harness.inference.base import ChatRequest, GenerationConfig
from harness.inference.vllm_engine import (
    VLLMEngine,
    build_vllm_inputs,
    image_placeholder,
    image_tokens,
    lora_rank_for,
    sampling_kwargs,
)

PAD = "<|image_pad|>"


def png(width: int = 200, height: int = 100, color: tuple[int, int, int] = (10, 20, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return tinyvlm.build_tokenizer()


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fingerprints never ask the hub for a commit in these tests."""
    monkeypatch.setattr(hf_revisions, "hub_commit", lambda repo, rev: None)


# ---- a fake vllm ---------------------------------------------------------------------------
class FakeLLM:
    instances: list[FakeLLM] = []
    tokenizer: Any = None

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.calls: list[dict[str, Any]] = []
        FakeLLM.instances.append(self)

    def get_tokenizer(self) -> Any:
        return FakeLLM.tokenizer

    def generate(self, prompts: list[dict[str, Any]], params: Any, *, use_tqdm: bool = True,
                 lora_request: Any = None) -> list[Any]:
        self.calls.append({"prompts": list(prompts), "params": params, "lora_request": lora_request})
        if len(prompts) > 1 and any("BOOM" in p["prompt"] for p in prompts):
            raise ValueError("one bad prompt sinks the batch")
        if any("BOOM" in p["prompt"] for p in prompts):
            raise ValueError("bad prompt")
        outs = []
        for p in prompts:
            found = re.search(r"\bq\d*\b", p["prompt"])
            comp = types.SimpleNamespace(text=f"answer to {found.group() if found else '?'}", token_ids=[1, 2, 3],
                                         finish_reason="stop")
            outs.append(types.SimpleNamespace(prompt_token_ids=list(range(len(p["prompt"].split()))), outputs=[comp]))
        return outs


class FakeSamplingParams:
    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs


class FakeLoRARequest:
    def __init__(self, name: str, int_id: int, path: str) -> None:
        self.name, self.int_id, self.path = name, int_id, path


@pytest.fixture()
def fake_vllm(monkeypatch: pytest.MonkeyPatch, tokenizer: Any) -> type[FakeLLM]:
    FakeLLM.instances = []
    FakeLLM.tokenizer = tokenizer
    mod = types.ModuleType("vllm")
    mod.LLM = FakeLLM
    mod.SamplingParams = FakeSamplingParams
    lora = types.ModuleType("vllm.lora")
    request = types.ModuleType("vllm.lora.request")
    request.LoRARequest = FakeLoRARequest
    lora.request = request
    mod.lora = lora
    for name, m in (("vllm", mod), ("vllm.lora", lora), ("vllm.lora.request", request)):
        monkeypatch.setitem(sys.modules, name, m)
    monkeypatch.setattr(VLLMEngine, "load_processor", staticmethod(lambda model_id, revision: tokenizer))
    return FakeLLM


def requests(n: int, **kw: Any) -> list[ChatRequest]:
    return [ChatRequest(f"r{i}", f"question q{i} ?", image_png=png(), **kw) for i in range(n)]


# ---- pure functions ------------------------------------------------------------------------
def test_sampling_kwargs_map_the_generation_config() -> None:
    assert sampling_kwargs(GenerationConfig()) == {"n": 1, "temperature": 0.0, "top_p": 1.0, "max_tokens": 1024}
    kw = sampling_kwargs(GenerationConfig(max_new_tokens=64, temperature=0.7, top_p=0.9, seed=3, stop=("</s>",)))
    assert kw == {"n": 1, "temperature": 0.7, "top_p": 0.9, "max_tokens": 64, "seed": 3, "stop": ["</s>"]}


def test_inputs_use_the_chat_template_with_one_image_placeholder_each(tokenizer: Any) -> None:
    reqs = [ChatRequest("a", "Any anomalies?", image_png=png(200, 100), system="Be brief."),
            ChatRequest("b", "And here?", image_png=png(300, 150)),
            ChatRequest("c", "No image")]
    inputs = build_vllm_inputs(reqs, tokenizer)
    assert image_placeholder(tokenizer) == PAD
    assert [p["prompt"].count(PAD) for p in inputs] == [1, 1, 0]
    assert "Be brief." in inputs[0]["prompt"] and "Any anomalies?" in inputs[0]["prompt"]
    assert inputs[0]["prompt"].endswith("<|im_start|>assistant\n")
    images = [p["multi_modal_data"]["image"] for p in inputs[:2]]
    assert all(isinstance(im, Image.Image) and im.mode == "RGB" for im in images)
    assert [im.size for im in images] == [(200, 100), (300, 150)]
    assert "multi_modal_data" not in inputs[2]


def test_inputs_apply_the_pixel_budget(tokenizer: Any) -> None:
    (inp,) = build_vllm_inputs([ChatRequest("a", "q", image_png=png(1000, 500))], tokenizer, max_pixels=100_000)
    w, h = inp["multi_modal_data"]["image"].size
    assert w * h <= 100_000 and w % 28 == 0 and h % 28 == 0


def test_inputs_with_the_real_processor(tmp_path: Path) -> None:
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(str(tinyvlm.build_tiny_vlm(tmp_path / "tiny")))
    assert image_placeholder(processor) == PAD
    (inp,) = build_vllm_inputs([ChatRequest("a", "Any anomalies?", image_png=png())], processor)
    assert inp["prompt"].count(PAD) == 1 and inp["multi_modal_data"]["image"].size == (200, 100)


def test_image_tokens_and_lora_rank(tmp_path: Path) -> None:
    assert image_tokens(280, 140) == 50
    (tmp_path / "adapter_config.json").write_text(json.dumps({"r": 100}))
    assert lora_rank_for(str(tmp_path), 64) == 128
    assert lora_rank_for(str(tmp_path / "none"), 16) == 16


# ---- the engine against the fake vllm --------------------------------------------------------
def test_whole_batch_in_one_call_and_one_llm_per_engine(fake_vllm: type[FakeLLM]) -> None:
    engine = VLLMEngine("Qwen/Qwen2.5-VL-3B-Instruct", tensor_parallel_size=2, max_model_len=4096)
    assert engine.generate([], GenerationConfig()) == []
    assert not fake_vllm.instances  # lazy: nothing built yet
    config = GenerationConfig(max_new_tokens=32, seed=5)
    first = engine.generate(requests(5), config)
    second = engine.generate(requests(3), config)
    (llm,) = fake_vllm.instances
    assert [len(c["prompts"]) for c in llm.calls] == [5, 3]
    assert llm.kwargs["limit_mm_per_prompt"] == {"image": 1}
    assert llm.kwargs["tensor_parallel_size"] == 2 and llm.kwargs["max_model_len"] == 4096
    assert "enable_lora" not in llm.kwargs and llm.calls[0]["lora_request"] is None
    assert llm.calls[0]["params"].kwargs == sampling_kwargs(config)
    assert [r.request_id for r in first] == [f"r{i}" for i in range(5)]
    assert [r.text for r in first] == [f"answer to q{i}" for i in range(5)]
    assert all(r.error is None and r.usage["completion_tokens"] == 3 for r in first + second)
    assert first[0].usage["prompt_tokens"] > 0 and first[0].usage["total_tokens"] == first[0].usage["prompt_tokens"] + 3
    assert first[0].meta["finish_reason"] == "stop" and first[0].meta["image"]["to"] == [200, 100]


def test_local_lora_adapter(fake_vllm: type[FakeLLM], tmp_path: Path) -> None:
    adapter = tmp_path / "VisAnomReasoner-3B"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"r": 128}))
    engine = VLLMEngine("Qwen/Qwen2.5-VL-3B-Instruct", adapter_id=str(adapter))
    engine.generate(requests(2), GenerationConfig())
    (llm,) = fake_vllm.instances
    assert llm.kwargs["enable_lora"] is True and llm.kwargs["max_lora_rank"] == 128
    lora = llm.calls[0]["lora_request"]
    assert (lora.name, lora.int_id, lora.path) == ("VisAnomReasoner-3B", 1, str(adapter))


def test_hub_lora_adapter_is_downloaded_at_its_revision(fake_vllm: type[FakeLLM], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    seen = {}

    def snapshot_download(repo_id: str, revision: str | None = None) -> str:
        seen.update(repo_id=repo_id, revision=revision)
        return str(tmp_path)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    engine = VLLMEngine("Qwen/Qwen2.5-VL-7B-Instruct", adapter_id="PLAN-Lab/VisAnomReasoner-7B",
                        adapter_revision="abc")
    engine.generate(requests(1), GenerationConfig())
    assert seen == {"repo_id": "PLAN-Lab/VisAnomReasoner-7B", "revision": "abc"}
    lora = fake_vllm.instances[0].calls[0]["lora_request"]
    assert lora.path == str(tmp_path) and lora.name == "VisAnomReasoner-7B"
    assert fake_vllm.instances[0].kwargs["max_lora_rank"] == 64


def test_too_long_and_bad_image_are_per_request_errors(fake_vllm: type[FakeLLM]) -> None:
    engine = VLLMEngine("m", max_model_len=200)
    reqs = [ChatRequest("ok", "short q ?", image_png=png(56, 56)),
            ChatRequest("long", "big q ?", image_png=png(1400, 700)),  # 1250 image tokens
            ChatRequest("bad", "broken q ?", image_png=b"not a png")]
    out = engine.generate(reqs, GenerationConfig())
    assert out[0].error is None and out[0].text == "answer to q"
    assert out[1].error is not None and "prompt too long" in out[1].error and "200" in out[1].error
    assert out[2].error is not None and "unreadable image" in out[2].error
    assert [len(c["prompts"]) for c in fake_vllm.instances[0].calls] == [1]


def test_a_rejected_batch_is_retried_one_by_one(fake_vllm: type[FakeLLM]) -> None:
    reqs = requests(2) + [ChatRequest("boom", "BOOM q ?", image_png=png())]
    out = VLLMEngine("m").generate(reqs, GenerationConfig())
    assert [r.error is None for r in out] == [True, True, False]
    assert "bad prompt" in out[2].error
    assert [len(c["prompts"]) for c in fake_vllm.instances[0].calls] == [3, 1, 1, 1]


def test_no_vllm_means_errors_not_exceptions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ImportError
    engine = VLLMEngine("m")
    out = engine.generate(requests(2), GenerationConfig())
    assert all(r.error and "make setup-vllm-cpu" in r.error and "model m" in r.error for r in out)
    assert engine.generate(requests(1), GenerationConfig())[0].error == out[0].error


def test_fingerprint_covers_weights_adapter_parallelism_and_decoding() -> None:
    from baselines.vlm import VLMModel

    base = VLLMEngine("Qwen/Qwen2.5-VL-3B-Instruct")
    same = VLLMEngine("Qwen/Qwen2.5-VL-3B-Instruct")
    assert base.fingerprint() == same.fingerprint()
    variants = [
        VLLMEngine("Qwen/Qwen2.5-VL-7B-Instruct"),
        VLLMEngine("Qwen/Qwen2.5-VL-3B-Instruct", revision="v2"),
        VLLMEngine("Qwen/Qwen2.5-VL-3B-Instruct", adapter_id="PLAN-Lab/VisAnomReasoner-3B"),
        VLLMEngine("Qwen/Qwen2.5-VL-3B-Instruct", adapter_id="PLAN-Lab/VisAnomReasoner-3B", adapter_revision="x"),
        VLLMEngine("Qwen/Qwen2.5-VL-3B-Instruct", tensor_parallel_size=2),
        VLLMEngine("Qwen/Qwen2.5-VL-3B-Instruct", max_model_len=4096),
        VLLMEngine("Qwen/Qwen2.5-VL-3B-Instruct", max_pixels=100_000),
    ]
    prints = {base.fingerprint(), *(v.fingerprint() for v in variants)}
    assert len(prints) == len(variants) + 1
    greedy = VLMModel("m", base, GenerationConfig())
    sampled = VLMModel("m", base, GenerationConfig(temperature=0.7, seed=1))
    assert greedy.fingerprint() != sampled.fingerprint()


def test_registered_cards_build_without_importing_vllm(monkeypatch: pytest.MonkeyPatch) -> None:
    import baselines.vllm_models  # noqa: F401  (registers vllm-vlm)
    from harness import registry

    # hidden for this test only: a vllm imported again later would be a second copy, whose
    # logging config and submodules clash with the first (tests/test_vllm_real.py after this)
    monkeypatch.delitem(sys.modules, "vllm", raising=False)
    model = registry.make_model("VisAnomReasoner-3B-vllm")
    assert isinstance(model.engine, VLLMEngine)
    assert model.engine.model_id == "Qwen/Qwen2.5-VL-3B-Instruct"
    assert model.engine.adapter_id == "PLAN-Lab/VisAnomReasoner-3B" and model.engine.max_model_len == 8192
    assert model.name == "VisAnomReasoner-3B-vllm" and model.provides == frozenset({"text"})
    assert model.fingerprint() != registry.make_model("Qwen2.5-VL-3B-vllm").fingerprint()
    assert registry.make_model("vllm-vlm", model_id="x/y", temperature=0.5, seed=2).generation.seed == 2
    assert "vllm" not in sys.modules
    assert registry.describe_model("Qwen2.5-VL-7B-vllm")["engine"] == "vllm"


def test_kernel_scan_guard_hides_llvmlite_while_vllm_starts_and_restores_it() -> None:
    """vLLM's CPU platform calls ``vars(value).get`` on every module attribute; llvmlite's ffi.lib
    (loaded by numba, which our metrics import) breaks that scan unless hidden."""
    pytest.importorskip("numba")
    import llvmlite.binding.ffi as ffi

    from harness.inference.vllm_engine import kernel_scan_guard

    def scan() -> None:  # what vLLM's dispatcher does (vllm/triton_utils/dispatcher.py, 0.32)
        for module in list(sys.modules.values()):
            for value in list((getattr(module, "__dict__", None) or {}).values()):
                if hasattr(value, "__dict__"):
                    vars(value).get("kernel")

    with pytest.raises(AttributeError):
        scan()
    with kernel_scan_guard() as hidden:
        assert "llvmlite.binding.ffi" in hidden and "llvmlite.binding.ffi" not in sys.modules
        scan()
    assert sys.modules["llvmlite.binding.ffi"] is ffi
