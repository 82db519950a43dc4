"""VLMs behind hosted APIs: the generic ``openai-compat`` and ``anthropic`` adapters.

Named cards (GPT-4o, Grok-4-Fast, Llama-4-Maverick, Gemini, Claude) live in
``baselines/models.yaml``. Building a model sends nothing and needs no key: the key is
checked at the first batch (a missing one stops the run with the variable's name).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from baselines.vlm import VLMModel
from harness.inference.anthropic_engine import AnthropicEngine
from harness.inference.base import DEFAULT_MAX_NEW_TOKENS, GenerationConfig
from harness.inference.openai_engine import OpenAICompatEngine

BATCHES_PER_SLOT = 4  # batch size per slot when a runner batches (the streaming path does not)


def make_openai_compat(
    model: str,
    provider: str = "openai",
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    api_key_env: str | None = None,
    concurrency: int = 8,
    timeout_s: float = 120,
    max_retries: int = 6,
    extra_body: Mapping[str, Any] | None = None,
    image_detail: str | None = None,
    max_pixels: int | None = None,
    http_backend: str = "auto",
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int | None = None,
    stop: Sequence[str] = (),
    system: str | None = None,
    batch_size: int | None = None,
) -> VLMModel:
    """Any OpenAI-compatible chat API (``provider``: openai, xai, gemini, openrouter, vllm-serve)."""
    engine = OpenAICompatEngine(
        model, base_url=base_url, api_key=api_key, api_key_env=api_key_env, concurrency=int(concurrency),
        timeout_s=float(timeout_s), max_retries=int(max_retries), provider=provider,
        extra_body=dict(extra_body or {}), image_detail=image_detail, max_pixels=max_pixels,
        http_backend=http_backend,
    )
    return VLMModel("openai-compat", engine, GenerationConfig.from_args(max_new_tokens, temperature, top_p, seed, stop),
                    system=system, batch_size=int(batch_size or BATCHES_PER_SLOT * engine.concurrency))


def make_anthropic(
    model: str,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    concurrency: int = 8,
    timeout_s: float = 120,
    max_retries: int = 6,
    extra_body: Mapping[str, Any] | None = None,
    max_pixels: int | None = None,
    http_backend: str = "auto",
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int | None = None,
    stop: Sequence[str] = (),
    system: str | None = None,
    batch_size: int | None = None,
) -> VLMModel:
    """Claude models through Anthropic's Messages API."""
    engine = AnthropicEngine(
        model, api_key=api_key, base_url=base_url, concurrency=int(concurrency), timeout_s=float(timeout_s),
        max_retries=int(max_retries), extra_body=dict(extra_body or {}), max_pixels=max_pixels,
        http_backend=http_backend,
    )
    return VLMModel("anthropic", engine, GenerationConfig.from_args(max_new_tokens, temperature, top_p, seed, stop),
                    system=system, batch_size=int(batch_size or BATCHES_PER_SLOT * engine.concurrency))
