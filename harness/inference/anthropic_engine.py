"""An engine for Anthropic's Messages API through the official ``anthropic`` SDK.

Each request is one message: a user turn with a base64 PNG image block and the prompt, the
system prompt as ``system``. Same retry policy, concurrency bound and key handling as the
OpenAI-compatible engine (see ``harness.inference.api_base``).
"""

from __future__ import annotations

import base64
from typing import Any

from harness.inference.api_base import ApiEngine, Reply
from harness.inference.base import ChatRequest, GenerationConfig, engine_fingerprint
from harness.inference.images import budget_png
from harness.inference.retry import Permanent, RetryPolicy, Transient

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
                 retry_policy: RetryPolicy | None = None):
        super().__init__(model, api_key=api_key, concurrency=concurrency, timeout_s=timeout_s,
                         max_retries=max_retries, retry_policy=retry_policy)
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

    def _make_client(self, api_key: str) -> Any:
        import anthropic

        self._status_error = (anthropic.APIStatusError,)
        self._timeout_error = (anthropic.APITimeoutError,)
        self._connection_error = (anthropic.APIConnectionError,)
        return anthropic.AsyncAnthropic(api_key=api_key, base_url=self._base_url, timeout=self.timeout_s,
                                        max_retries=0)

    def _prepare(self, request: ChatRequest, config: GenerationConfig, meta: dict[str, Any]) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if request.image_png is not None:
            png = budget_png(request.image_png, self.max_pixels, meta)
            content.append({"type": "image", "source": {
                "type": "base64", "media_type": "image/png", "data": base64.b64encode(png).decode("ascii")}})
        content.append({"type": "text", "text": request.prompt})
        body: dict[str, Any] = {"temperature": config.temperature}
        if config.top_p != 1.0:
            body["top_p"] = config.top_p
        body.update(self.extra_body)
        kwargs: dict[str, Any] = {"model": self.model, "max_tokens": config.max_new_tokens,
                                  "messages": [{"role": "user", "content": content}], "extra_body": body}
        if request.system:
            kwargs["system"] = request.system
        if config.stop:
            kwargs["stop_sequences"] = list(config.stop)
        return kwargs

    async def _attempt(self, client: Any, payload: dict[str, Any], meta: dict[str, Any]) -> Reply:
        msg = await client.messages.create(**payload)
        blocks = getattr(msg, "content", None)
        if blocks is None:
            raise Transient("invalid reply: no content")
        text = "".join(getattr(b, "text", "") or "" for b in blocks if getattr(b, "type", None) == "text")
        stop = getattr(msg, "stop_reason", None)
        if not text.strip():
            why = f"empty completion (stop_reason={stop})"
            if stop == "max_tokens":
                raise Permanent(why + ": max_new_tokens was used up before any answer")
            raise Transient(why)
        out_meta: dict[str, Any] = {"finish_reason": stop}
        served = getattr(msg, "model", None)
        if isinstance(served, str) and served:
            out_meta["served_model"] = served
        return Reply(text=text, usage=_usage(getattr(msg, "usage", None)), meta=out_meta)


def _usage(usage: Any) -> dict[str, int]:
    """Anthropic token counts under the common names (plus cache counts when non-zero)."""
    if usage is None:
        return {}
    out: dict[str, int] = {}
    names = {"input_tokens": "prompt_tokens", "output_tokens": "completion_tokens",
             "cache_read_input_tokens": "cache_read_tokens", "cache_creation_input_tokens": "cache_write_tokens"}
    for src, dst in names.items():
        v = getattr(usage, src, None)
        if isinstance(v, int) and (v or dst in ("prompt_tokens", "completion_tokens")):
            out[dst] = v
    if "prompt_tokens" in out and "completion_tokens" in out:
        out["total_tokens"] = out["prompt_tokens"] + out["completion_tokens"]
    return out
