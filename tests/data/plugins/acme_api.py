"""A plugin adding a hosted VLM with its own wire protocol (docs/adding-a-model.md, example 1).

One file: the engine's facts (``register_engine``), the engine (plots and prompts in, text
out, over plain HTTP+JSON) and the registered adapter. Its key is read from ``ACME_API_KEY``;
the server from ``ACME_URL``.
"""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.request
from collections.abc import Sequence

from baselines.vlm import VLMModel
from harness.inference.base import ChatRequest, GenerationConfig, GenerationResult, engine_fingerprint
from harness.inference.engines import EngineSpec, register_engine
from harness.registry import register_model

register_engine(EngineSpec("acme", "api", frozenset({"api"}), key_env="ACME_API_KEY", provider="acme",
                           check="harness.inference.availability:api_key_check"))


class AcmeEngine:
    """POST {model, prompt, image_b64} to $ACME_URL/answer; the reply is {"text": ...}."""

    def __init__(self, model: str):
        self.model = model

    def fingerprint(self) -> str:
        return engine_fingerprint("acme", model_id=self.model)

    def generate(self, requests: Sequence[ChatRequest], config: GenerationConfig) -> list[GenerationResult]:
        out = []
        for r in requests:
            body = json.dumps({"model": self.model, "prompt": r.prompt,
                               "image_b64": base64.b64encode(r.image_png or b"").decode("ascii"),
                               "max_tokens": config.max_new_tokens}).encode()
            req = urllib.request.Request(os.environ["ACME_URL"] + "/answer", data=body, method="POST", headers={
                "Authorization": f"Bearer {os.environ['ACME_API_KEY']}", "Content-Type": "application/json"})
            t0 = time.perf_counter()
            try:
                with urllib.request.urlopen(req, timeout=60) as resp:
                    text = json.loads(resp.read())["text"]
                out.append(GenerationResult(r.request_id, text=text, latency_s=time.perf_counter() - t0))
            except Exception as exc:  # one failed request is that sample's failure, never the run's
                out.append(GenerationResult(r.request_id, error=f"acme: {exc}"))
        return out


@register_model("acme-vl", engine="acme", provides=["text"], group="large VLM")
def acme_vl(model: str = "acme-vl-1", max_new_tokens: int = 512) -> VLMModel:
    """Acme's VLM behind its own API."""
    return VLMModel("acme-vl", AcmeEngine(model), GenerationConfig.from_args(max_new_tokens))
