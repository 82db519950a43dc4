"""An engine for any OpenAI-compatible chat-completions API (OpenAI, xAI, Gemini, OpenRouter, vLLM).

Each request is one chat completion: a user turn with the plot as a base64 PNG data URL and
the prompt (after an optional system turn). Retries are ours (``harness.inference.retry``);
the SDK's own retries are off. Keys and base URLs never enter the fingerprint or any record.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from harness.errors import UsageError
from harness.inference.api_base import ApiEngine, Reply
from harness.inference.base import ChatRequest, GenerationConfig, engine_fingerprint
from harness.inference.images import budget_png
from harness.inference.retry import Permanent, RetryPolicy, Transient

ENGINE_VERSION = 1


@dataclass(frozen=True)
class Provider:
    """Where a provider lives and which environment variable holds its key."""

    key_env: str | None
    base_url: str | None  # None: the SDK's default (OPENAI_BASE_URL, then api.openai.com)
    key_required: bool = True
    max_tokens_field: str = "max_tokens"


PROVIDERS: dict[str, Provider] = {
    "openai": Provider("OPENAI_API_KEY", None, max_tokens_field="max_completion_tokens"),
    "xai": Provider("XAI_API_KEY", "https://api.x.ai/v1"),
    "gemini": Provider("GEMINI_API_KEY", "https://generativelanguage.googleapis.com/v1beta/openai/"),
    "openrouter": Provider("OPENROUTER_API_KEY", "https://openrouter.ai/api/v1"),
    "vllm-serve": Provider("VLLM_API_KEY", None, key_required=False),
}
IMAGE_DETAILS = ("auto", "low", "high")


def png_data_url(png: bytes) -> str:
    """The PNG as a ``data:image/png;base64,...`` URL."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


class OpenAICompatEngine(ApiEngine):
    """Chat completions through the official ``openai`` SDK (``AsyncOpenAI``).

    ``provider`` picks the key variable and base URL (``openai``, ``xai``, ``gemini``,
    ``openrouter``, ``vllm-serve``); ``base_url`` / ``api_key`` / ``api_key_env`` override
    them. Construction is cheap and needs no key: a missing key is a :class:`UsageError` at
    the first :meth:`generate`, before anything is sent.
    """

    kind = "openai-compat"

    def __init__(self, model: str, *, base_url: str | None = None, api_key: str | None = None,
                 api_key_env: str | None = None, concurrency: int = 8, timeout_s: float = 120,
                 max_retries: int = 6, provider: str = "openai", extra_body: dict[str, Any] | None = None,
                 image_detail: str | None = None, max_pixels: int | None = None,
                 retry_policy: RetryPolicy | None = None):
        if provider not in PROVIDERS:
            raise UsageError(f"unknown provider {provider!r}; known: {', '.join(sorted(PROVIDERS))}")
        if image_detail is not None and image_detail not in IMAGE_DETAILS:
            raise UsageError(f"image_detail must be one of {IMAGE_DETAILS}, got {image_detail!r}")
        super().__init__(model, api_key=api_key, concurrency=concurrency, timeout_s=timeout_s,
                         max_retries=max_retries, retry_policy=retry_policy)
        preset = PROVIDERS[provider]
        self.provider = provider
        self.key_env = api_key_env or preset.key_env
        self.key_required = preset.key_required
        self._base_url = base_url or preset.base_url
        self._max_tokens_field = preset.max_tokens_field
        self.extra_body = dict(extra_body or {})
        self.image_detail = image_detail
        self.max_pixels = int(max_pixels) if max_pixels else None

    def fingerprint(self) -> str:
        """Provider + model + image settings + extra body (decoding is added by the adapter)."""
        return engine_fingerprint(self.kind, version=ENGINE_VERSION, provider=self.provider, model=self.model,
                                  image_detail=self.image_detail, max_pixels=self.max_pixels,
                                  extra_body=self.extra_body)

    def describe(self) -> dict[str, Any]:
        """Non-secret settings for display."""
        return {"engine": self.kind, "provider": self.provider, "model_id": self.model}

    # -- ApiEngine hooks ----------------------------------------------------------------
    def _make_client(self, api_key: str) -> Any:
        import openai

        if self.provider == "vllm-serve" and not self._base_url:
            raise UsageError(f"provider 'vllm-serve' needs base_url (model {self.model!r})")
        self._status_error = (openai.APIStatusError,)
        self._timeout_error = (openai.APITimeoutError,)
        self._connection_error = (openai.APIConnectionError,)
        return openai.AsyncOpenAI(api_key=api_key, base_url=self._base_url, timeout=self.timeout_s,
                                  max_retries=0)

    def _prepare(self, request: ChatRequest, config: GenerationConfig, meta: dict[str, Any]) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if request.image_png is not None:
            image: dict[str, Any] = {"url": png_data_url(budget_png(request.image_png, self.max_pixels, meta))}
            if self.image_detail:
                image["detail"] = self.image_detail
            content.append({"type": "image_url", "image_url": image})
        content.append({"type": "text", "text": request.prompt})
        messages: list[dict[str, Any]] = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        messages.append({"role": "user", "content": content})
        kwargs: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": config.temperature,
                                  self._max_tokens_field: config.max_new_tokens}
        if config.top_p != 1.0:
            kwargs["top_p"] = config.top_p
        if config.seed is not None:
            kwargs["seed"] = config.seed
        if config.stop:
            kwargs["stop"] = list(config.stop)
        if self.extra_body:
            kwargs["extra_body"] = self.extra_body
        return kwargs

    async def _attempt(self, client: Any, payload: dict[str, Any], meta: dict[str, Any]) -> Reply:
        resp = await client.chat.completions.create(**payload)
        choices = getattr(resp, "choices", None)
        if not choices:
            raise Transient("invalid reply: no choices")
        choice = choices[0]
        finish = getattr(choice, "finish_reason", None)
        message = getattr(choice, "message", None)
        text = getattr(message, "content", None)
        if not isinstance(text, str) or not text.strip():
            why = f"empty completion (finish_reason={finish})"
            if finish == "length":
                raise Permanent(why + ": max_new_tokens was used up before any answer")
            raise Transient(why)
        out_meta: dict[str, Any] = {"finish_reason": finish}
        served = getattr(resp, "model", None)
        if isinstance(served, str) and served:
            out_meta["served_model"] = served
        return Reply(text=text, usage=usage_dict(getattr(resp, "usage", None)), meta=out_meta)


def usage_dict(usage: Any) -> dict[str, int]:
    """Token counts of a chat completion (prompt, completion, total, reasoning when given)."""
    if usage is None:
        return {}
    out = {}
    for name in ("prompt_tokens", "completion_tokens", "total_tokens"):
        v = getattr(usage, name, None)
        if isinstance(v, int):
            out[name] = v
    details = getattr(usage, "completion_tokens_details", None)
    reasoning = getattr(details, "reasoning_tokens", None)
    if isinstance(reasoning, int) and reasoning:
        out["reasoning_tokens"] = reasoning
    return out
