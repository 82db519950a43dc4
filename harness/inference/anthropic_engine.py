"""An engine for Anthropic's Messages API through the official ``anthropic`` SDK.

Each request is one message: a user turn with a base64 PNG image block and the prompt, the
system prompt as ``system``. Same retry policy, slots, key handling and request building as
the OpenAI-compatible engine (see ``harness.inference.api_base``): the JSON body is built
here and sent with the SDK's ``client.post`` to ``/v1/messages``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

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


class AnthropicEngine(ApiEngine):
    """Claude models. The key comes from ``api_key`` or ``ANTHROPIC_API_KEY`` (checked at first use).

    The SDK has no sampling arguments, so ``temperature`` (and ``top_p`` when not 1) travel in
    the request body; Anthropic has no ``seed``, so sampled runs are not reproducible.
    """

    kind = "anthropic"
    key_env = "ANTHROPIC_API_KEY"

    def __init__(self, model: str, *, api_key: str | None = None, base_url: str | None = None,
                 concurrency: int = 8, timeout_s: float = 120, max_retries: int = 6,
                 extra_body: dict[str, Any] | None = None, max_pixels: int | None = None,
                 retry_policy: RetryPolicy | None = None, http_backend: str = "auto"):
        super().__init__(model, api_key=api_key, concurrency=concurrency, timeout_s=timeout_s,
                         max_retries=max_retries, retry_policy=retry_policy, http_backend=http_backend)
        self._base_url = base_url
        self.extra_body = dict(extra_body or {})
        self.max_pixels = int(max_pixels) if max_pixels else None

    def fingerprint(self) -> str:
        """Model + image settings + extra body (decoding is added by the adapter)."""
        return engine_fingerprint(self.kind, version=ENGINE_VERSION, model=self.model,
                                  max_pixels=self.max_pixels, extra_body=self.extra_body)

    def describe(self) -> dict[str, Any]:
        """Non-secret settings for display."""
        return {"engine": self.kind, "provider": "anthropic", "model_id": self.model}

    def _provider_key(self) -> Hashable:
        return (self.kind, self._base_url)

    def _make_client(self, api_key: str) -> Any:
        import anthropic

        self._status_error = (anthropic.APIStatusError,)
        self._timeout_error = (anthropic.APITimeoutError,)
        self._connection_error = (anthropic.APIConnectionError,)
        return anthropic.AsyncAnthropic(api_key=api_key, base_url=self._base_url, timeout=self.timeout_s,
                                        max_retries=0, http_client=self._http_client(anthropic))

    def _prepare(self, request: ChatRequest, config: GenerationConfig, meta: dict[str, Any]) -> bytes:
        content: list[dict[str, Any]] = []
        b64 = None
        if request.image_png is not None:
            b64 = encoded_image(request.image_png, self.max_pixels, meta)
            content.append({"type": "image", "source": {
                "type": "base64", "media_type": "image/png", "data": image_slot()}})
        content.insert(len(content) if not request.text_first else 0, {"type": "text", "text": request.prompt})
        body: dict[str, Any] = {"model": self.model, "max_tokens": config.max_new_tokens,
                                "messages": [{"role": "user", "content": content}],
                                "temperature": config.temperature}
        if request.system:
            body["system"] = request.system
        if config.stop:
            body["stop_sequences"] = list(config.stop)
        if config.top_p != 1.0:
            body["top_p"] = config.top_p
        body.update(self.extra_body)
        return json_body(body, b64)

    async def _attempt(self, client: Any, payload: bytes, meta: dict[str, Any]) -> Reply:
        raw = await client.post("/v1/messages", cast_to=bytes, content=payload)
        return message_reply(reply_json(raw))


def message_reply(msg: Mapping[str, Any]) -> Reply:
    """The :class:`Reply` of a Messages API JSON object (raises :class:`Transient` /
    :class:`Permanent` for replies without an answer)."""
    blocks = msg.get("content")
    if not isinstance(blocks, list):
        raise Transient("invalid reply: no content")
    text = "".join(str(b.get("text") or "") for b in blocks if isinstance(b, Mapping) and b.get("type") == "text")
    stop = msg.get("stop_reason")
    return answer_reply(text, stop, "stop_reason", stop == "max_tokens", _usage(msg.get("usage")), msg.get("model"))


def _usage(usage: Any) -> dict[str, int]:
    """Anthropic token counts under the common names (plus cache counts when non-zero)."""
    if not isinstance(usage, Mapping):
        return {}
    out: dict[str, int] = {}
    names = {"input_tokens": "prompt_tokens", "output_tokens": "completion_tokens",
             "cache_read_input_tokens": "cache_read_tokens", "cache_creation_input_tokens": "cache_write_tokens"}
    for src, dst in names.items():
        v = usage.get(src)
        if isinstance(v, int) and (v or dst in ("prompt_tokens", "completion_tokens")):
            out[dst] = v
    if "prompt_tokens" in out and "completion_tokens" in out:
        out["total_tokens"] = out["prompt_tokens"] + out["completion_tokens"]
    return out
