"""An engine for any OpenAI-compatible chat-completions API (OpenAI, xAI, Gemini, OpenRouter, vLLM).

Each request is one chat completion: a user turn with the plot as a base64 PNG data URL and
the prompt (after an optional system turn). The body is built here as JSON bytes and sent
with the SDK's ``client.post`` (the SDK still owns the base URL, auth, headers, timeouts and
its error types): its ``chat.completions.create`` would re-walk the whole nested payload,
image string included, through its type-driven transform on every call. Retries are ours
(``harness.inference.retry``); the SDK's own retries are off. Keys and base URLs never
enter the fingerprint or any record.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.core.errors import UsageError
from harness.inference.api_base import (
    ApiEngine,
    Reply,
    answer_reply,
    encoded_image,
    image_slot,
    json_body,
    reply_json,
)
from harness.inference.base import ChatRequest, GenerationConfig, engine_fingerprint
from harness.inference.retry import RetryPolicy, Transient

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
                 retry_policy: RetryPolicy | None = None, http_backend: str = "auto"):
        if provider not in PROVIDERS:
            raise UsageError(f"unknown provider {provider!r}; known: {', '.join(sorted(PROVIDERS))}")
        if image_detail is not None and image_detail not in IMAGE_DETAILS:
            raise UsageError(f"image_detail must be one of {IMAGE_DETAILS}, got {image_detail!r}")
        super().__init__(model, api_key=api_key, concurrency=concurrency, timeout_s=timeout_s,
                         max_retries=max_retries, retry_policy=retry_policy, http_backend=http_backend)
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
    def _provider_key(self) -> Hashable:
        return (self.kind, self.provider, self._base_url)

    def _make_client(self, api_key: str) -> Any:
        import openai

        if self.provider == "vllm-serve" and not self._base_url:
            raise UsageError(f"provider 'vllm-serve' needs base_url (model {self.model!r})")
        self._status_error = (openai.APIStatusError,)
        self._timeout_error = (openai.APITimeoutError,)
        self._connection_error = (openai.APIConnectionError,)
        return openai.AsyncOpenAI(api_key=api_key, base_url=self._base_url, timeout=self.timeout_s,
                                  max_retries=0, http_client=self._http_client(openai))

    def _prepare(self, request: ChatRequest, config: GenerationConfig, meta: dict[str, Any]) -> bytes:
        content: list[dict[str, Any]] = []
        b64 = None
        if request.image_png is not None:
            b64 = encoded_image(request.image_png, self.max_pixels, meta)
            image: dict[str, Any] = {"url": image_slot()}
            if self.image_detail:
                image["detail"] = self.image_detail
            content.append({"type": "image_url", "image_url": image})
        content.insert(len(content) if not request.text_first else 0, {"type": "text", "text": request.prompt})
        messages: list[dict[str, Any]] = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        messages.append({"role": "user", "content": content})
        body: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": config.temperature,
                                self._max_tokens_field: config.max_new_tokens}
        if config.top_p != 1.0:
            body["top_p"] = config.top_p
        if config.seed is not None:
            body["seed"] = config.seed
        if config.stop:
            body["stop"] = list(config.stop)
        body.update(self.extra_body)  # provider fields go in the body as is (the SDK's extra_body)
        return json_body(body, b64, b"data:image/png;base64,")

    async def _attempt(self, client: Any, payload: bytes, meta: dict[str, Any]) -> Reply:
        raw = await client.post("/chat/completions", cast_to=bytes, content=payload)
        return completion_reply(reply_json(raw))


def completion_reply(resp: Mapping[str, Any]) -> Reply:
    """The :class:`Reply` of a chat-completion JSON object (raises :class:`Transient` /
    :class:`Permanent` for replies without an answer)."""
    choices = resp.get("choices")
    if not choices or not isinstance(choices, list) or not isinstance(choices[0], Mapping):
        raise Transient("invalid reply: no choices")
    choice = choices[0]
    finish = choice.get("finish_reason")
    message = choice.get("message")
    text = message.get("content") if isinstance(message, Mapping) else None
    return answer_reply(text, finish, "finish_reason", finish == "length", usage_dict(resp.get("usage")),
                        resp.get("model"))


def usage_dict(usage: Any) -> dict[str, int]:
    """Token counts of a chat completion (prompt, completion, total, reasoning when given)."""
    if not isinstance(usage, Mapping):
        return {}
    out = {}
    for name in ("prompt_tokens", "completion_tokens", "total_tokens"):
        v = usage.get(name)
        if isinstance(v, int) and not isinstance(v, bool):
            out[name] = v
    details = usage.get("completion_tokens_details")
    reasoning = details.get("reasoning_tokens") if isinstance(details, Mapping) else None
    if isinstance(reasoning, int) and reasoning:
        out["reasoning_tokens"] = reasoning
    return out
