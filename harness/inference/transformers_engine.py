"""The transformers engine: any ``AutoModelForImageTextToText`` checkpoint, optionally with a
peft LoRA, batched ``generate`` on one device.

Construction is cheap (nothing is imported or loaded until the first ``generate``), so
listing models stays fast. Failures belong to one request: an unreadable image, a prompt that
does not fit the context, or an error while generating alone become that request's
``GenerationResult.error``; a batch that fails as a whole (e.g. out of memory) is retried
one request at a time. Only a model that cannot be loaded at all raises (``UsageError``).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from harness.core.cpus import available_cpus
from harness.core.errors import UsageError
from harness.inference.base import ChatRequest, GenerationConfig, GenerationResult, engine_fingerprint
from harness.inference.hf_revisions import identify_weights
from harness.inference.images import fit_image, open_image

ENGINE = "transformers"
ENGINE_VERSION = 1
DTYPES = ("auto", "float32", "float16", "bfloat16")
DEVICES = ("auto", "cpu", "cuda")


@dataclass
class _Item:
    """One request ready for the processor: its position, conversation and result metadata."""

    index: int
    request: ChatRequest
    conversation: list[dict[str, Any]]
    meta: dict[str, Any] = field(default_factory=dict)


def _error_text(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {msg}"[:500]


def _count_new_tokens(row: list[int], stop_ids: set[int]) -> tuple[int, bool]:
    """Generated tokens up to and including the first end-of-sequence; whether one was hit."""
    for j, tok in enumerate(row):
        if tok in stop_ids:
            return j + 1, True
    return len(row), False


def _cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """``text`` up to the earliest stop string; whether one was found."""
    cuts = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    return (text[: min(cuts)], True) if cuts else (text, False)


def set_pixel_limits(processor: Any, max_pixels: int | None, min_pixels: int | None) -> None:
    """Apply ``max_pixels`` / ``min_pixels`` to a Qwen-style image processor's ``size`` (and its
    ``max_pixels`` / ``min_pixels`` attributes); other processors are left alone."""
    ip = getattr(processor, "image_processor", None)
    if (max_pixels is None and min_pixels is None) or not hasattr(ip, "merge_size"):
        return
    size = ip.size
    old = dict(size) if isinstance(size, dict) else {k: getattr(size, k, None)
                                                     for k in ("longest_edge", "shortest_edge")}
    new = {"longest_edge": max_pixels or old.get("longest_edge"),
           "shortest_edge": min_pixels or old.get("shortest_edge")}
    ip.size = new if isinstance(size, dict) else type(size)(**new)
    for attr, value in (("max_pixels", new["longest_edge"]), ("min_pixels", new["shortest_edge"])):
        if getattr(ip, attr, None) is not None:
            setattr(ip, attr, value)


def pixel_budget(processor: Any, max_pixels: int | None = None, min_pixels: int | None = None
                 ) -> tuple[int | None, int, int]:
    """``(max_pixels, min_pixels, factor)`` a processor accepts without resizing itself (also
    used by the trainer, so training images are fitted exactly as at inference)."""
    ip = getattr(processor, "image_processor", None)
    size = getattr(ip, "size", None) if hasattr(ip, "merge_size") else None  # Qwen-style budgets only
    edges = dict(size) if isinstance(size, dict) else {k: getattr(size, k, None) for k in ("longest_edge",
                                                                                           "shortest_edge")}
    max_px = edges.get("longest_edge") or max_pixels
    min_px = edges.get("shortest_edge") or min_pixels or 0
    factor = int(getattr(ip, "patch_size", 14) or 14) * int(getattr(ip, "merge_size", 2) or 2)
    return (int(max_px) if max_px else None), int(min_px), factor


class TransformersEngine:
    """Local Hugging Face VLM inference (see the module docstring for the error contract)."""

    name = ENGINE

    def __init__(
        self,
        model_id: str,
        *,
        revision: str | None = None,
        adapter_id: str | None = None,
        adapter_revision: str | None = None,
        merge_adapter: bool = False,
        dtype: str = "auto",
        device: str = "auto",
        max_pixels: int | None = None,
        min_pixels: int | None = None,
        trust_remote_code: bool = False,
        batch_size: int = 8,
    ):
        if dtype not in DTYPES:
            raise UsageError(f"dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
        if device not in DEVICES and not str(device).startswith("cuda:"):
            raise UsageError(f"device must be one of {', '.join(DEVICES)} or cuda:N, not {device!r}")
        if int(batch_size) < 1:
            raise UsageError(f"batch_size must be >= 1, not {batch_size}")
        self.model_id, self.revision = model_id, revision
        self.adapter_id, self.adapter_revision = adapter_id, adapter_revision
        self.merge_adapter = bool(merge_adapter)
        self.dtype, self.device = dtype, device
        self.max_pixels = int(max_pixels) if max_pixels is not None else None
        self.min_pixels = int(min_pixels) if min_pixels is not None else None
        self.trust_remote_code = bool(trust_remote_code)
        self.batch_size = int(batch_size)
        self._model: Any = None
        self._processor: Any = None
        self._identity: dict[str, Any] | None = None

    # ---- identity -------------------------------------------------------------------------
    def identity(self) -> dict[str, Any]:
        """Resolved ids of the weights and adapter (commit hash or content hash); cached."""
        if self._identity is None:
            self._identity = identify_weights(self.model_id, self.revision, self.adapter_id,
                                              self.adapter_revision)
        return self._identity

    def fingerprint(self) -> str:
        """Engine, weights + revision, adapter + revision, dtype, merge flag, pixel limits."""
        return engine_fingerprint(
            ENGINE, version=ENGINE_VERSION, **self.identity(), merge_adapter=self.merge_adapter,
            dtype=self.dtype, max_pixels=self.max_pixels, min_pixels=self.min_pixels,
        )

    def close(self) -> None:
        """Drop the weights (and free GPU memory) once the model has run all its tasks."""
        self._model = self._processor = None
        import gc

        gc.collect()
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def describe(self) -> dict[str, Any]:
        """Display/record metadata (no weights loaded)."""
        ident = self.identity()
        return {"engine": ENGINE, "model_id": self.model_id, "revision": ident["model"]["resolved"],
                "adapter_id": self.adapter_id,
                "adapter_revision": ident["adapter"]["resolved"] if ident["adapter"] else None,
                "merge_adapter": self.merge_adapter, "dtype": self.dtype, "device": self.device}

    # ---- loading --------------------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        """True once the weights are in memory."""
        return self._model is not None

    def _resolve_device(self) -> str:
        import torch

        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        return self.device

    def load(self) -> None:
        """Load processor, model and adapter (idempotent); raises ``UsageError`` on failure."""
        if self._model is not None:
            return
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        device = self._resolve_device()
        dtype = self.dtype if self.dtype == "auto" else getattr(torch, self.dtype)
        try:
            processor = AutoProcessor.from_pretrained(
                self.model_id, revision=self.revision, trust_remote_code=self.trust_remote_code)
            model = AutoModelForImageTextToText.from_pretrained(
                self.model_id, revision=self.revision, dtype=dtype, trust_remote_code=self.trust_remote_code,
                device_map=None if device == "cpu" else device)
            if self.adapter_id:
                from peft import PeftModel

                model = PeftModel.from_pretrained(model, self.adapter_id, revision=self.adapter_revision)
                if self.merge_adapter:
                    model = model.merge_and_unload()
        except Exception as exc:
            what = self.model_id + (f" + adapter {self.adapter_id}" if self.adapter_id else "")
            raise UsageError(f"cannot load {what} with transformers: {_error_text(exc)}") from exc
        if device == "cpu":
            model = model.to("cpu")
        self._set_pixel_limits(processor)
        tok = getattr(processor, "tokenizer", processor)
        tok.padding_side = "left"
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        self._processor, self._model = processor, model.eval()

    def _set_pixel_limits(self, processor: Any) -> None:
        set_pixel_limits(processor, self.max_pixels, self.min_pixels)

    # ---- limits ---------------------------------------------------------------------------
    def context_limit(self) -> int | None:
        """The longest prompt + completion the model takes (config and tokenizer limits)."""
        cfg = self._model.config
        text_cfg = getattr(cfg, "text_config", None) or cfg
        limits = [getattr(text_cfg, "max_position_embeddings", None), getattr(cfg, "max_position_embeddings", None),
                  getattr(getattr(self._processor, "tokenizer", None), "model_max_length", None)]
        limits = [int(x) for x in limits if isinstance(x, int) and 0 < x < 10**8]
        return min(limits) if limits else None

    def pixel_budget(self) -> tuple[int | None, int, int]:
        """``(max_pixels, min_pixels, factor)`` the processor accepts without resizing itself."""
        return pixel_budget(self._processor, self.max_pixels, self.min_pixels)

    # ---- generation -----------------------------------------------------------------------
    def _prepare(self, index: int, req: ChatRequest) -> _Item:
        meta: dict[str, Any] = {}
        user: list[dict[str, Any]] = []
        if req.image_png is not None:
            max_px, min_px, factor = self.pixel_budget()
            image, record = fit_image(open_image(req.image_png), max_px or 0, min_px, factor)
            if record["resized"]:
                meta["image"] = record
            user.append({"type": "image", "image": image.convert("RGB") if image.mode != "RGB" else image})
        user.insert(len(user) if not req.text_first else 0, {"type": "text", "text": req.prompt})
        conv = [{"role": "system", "content": [{"type": "text", "text": req.system}]}] if req.system else []
        conv.append({"role": "user", "content": user})
        return _Item(index, req, conv, meta)

    def _prepare_or_error(self, index: int, req: ChatRequest) -> tuple[_Item | None, str | None]:
        try:
            return self._prepare(index, req), None
        except Exception as exc:
            return None, f"bad request: {_error_text(exc)}"

    def _encode(self, items: Sequence[_Item]) -> Any:
        return self._processor.apply_chat_template(
            [it.conversation for it in items], add_generation_prompt=True, tokenize=True, return_dict=True,
            return_tensors="pt", processor_kwargs={"padding": True})

    def _hf_generation_config(self, config: GenerationConfig) -> Any:
        gc = copy.deepcopy(self._model.generation_config)
        tok = getattr(self._processor, "tokenizer", self._processor)
        sample = config.temperature > 0
        gc.max_new_tokens = config.max_new_tokens
        gc.do_sample = sample
        gc.temperature = config.temperature if sample else None
        gc.top_p = config.top_p if sample else None
        gc.top_k = None
        if gc.pad_token_id is None:
            gc.pad_token_id = tok.pad_token_id
        if gc.eos_token_id is None:
            gc.eos_token_id = tok.eos_token_id
        return gc

    def _stop_ids(self, gc: Any) -> set[int]:
        eos = gc.eos_token_id
        return set(eos if isinstance(eos, list) else [eos]) - {None}

    def _run_batch(self, items: Sequence[_Item], config: GenerationConfig) -> list[GenerationResult]:
        """Generate for ``items`` in one call; raises if the batch as a whole fails."""
        import torch

        t0 = time.perf_counter()
        enc = self._encode(items)
        lengths = enc["attention_mask"].sum(dim=1).tolist()
        limit = self.context_limit()
        over = [limit is not None and n + config.max_new_tokens > limit for n in lengths]
        out: dict[int, GenerationResult] = {}
        for it, n, bad in zip(items, lengths, over, strict=True):
            if bad:
                out[it.index] = GenerationResult(
                    it.request.request_id, meta=dict(it.meta), usage={"prompt_tokens": int(n)},
                    error=f"context length exceeded: prompt {n} + max_new_tokens {config.max_new_tokens} "
                          f"> model limit {limit}")
        keep = [it for it, bad in zip(items, over, strict=True) if not bad]
        if not keep:
            return [out[it.index] for it in items]
        if len(keep) < len(items):
            enc = self._encode(keep)
            lengths = enc["attention_mask"].sum(dim=1).tolist()
        gc = self._hf_generation_config(config)
        kwargs: dict[str, Any] = {}
        if config.stop:
            kwargs = {"stop_strings": list(config.stop), "tokenizer": getattr(self._processor, "tokenizer", None)}
        if config.seed is not None:
            from transformers import set_seed

            set_seed(config.seed)
        enc = enc.to(self._model.device, dtype=self._model.dtype)  # floating tensors only
        with torch.inference_mode():
            seqs = self._model.generate(**enc, generation_config=gc, **kwargs)
        new = seqs[:, enc["input_ids"].shape[1]:].tolist()
        per = (time.perf_counter() - t0) / len(keep)
        stop_ids = self._stop_ids(gc)
        for it, n, row in zip(keep, lengths, new, strict=True):
            count, ended = _count_new_tokens(row, stop_ids)
            text = self._processor.decode(row[:count], skip_special_tokens=True)
            text, stopped = _cut_at_stop(text, config.stop)
            meta = {**it.meta, "finish_reason": "stop" if ended or stopped else "length", "batch_size": len(keep)}
            out[it.index] = GenerationResult(
                it.request.request_id, text=text, latency_s=per, meta=meta,
                usage={"prompt_tokens": int(n), "completion_tokens": count})
        return [out[it.index] for it in items]

    def _run_chunk(self, items: Sequence[_Item], config: GenerationConfig) -> list[GenerationResult]:
        """One batch; if it fails as a whole, each request alone; errors stay per request."""
        try:
            return self._run_batch(items, config)
        except Exception as exc:
            first = exc
        self._free_memory()
        results = []
        for it in items:
            try:
                (res,) = self._run_batch([it], config)
            except Exception as exc:
                self._free_memory()
                res = GenerationResult(it.request.request_id, error=_error_text(exc), meta=dict(it.meta))
            if len(items) > 1:
                res.meta["retried_alone"] = _error_text(first)
            results.append(res)
        return results

    def _free_memory(self) -> None:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def generate(self, requests: Sequence[ChatRequest], config: GenerationConfig) -> list[GenerationResult]:
        """Answer every request in order, ``batch_size`` at a time (see the module docstring)."""
        self.load()
        results: list[GenerationResult | None] = [None] * len(requests)
        items: list[_Item] = []
        # PNG decoding and resizing release the GIL: prepare the batch's images in threads
        with ThreadPoolExecutor(max_workers=max(1, min(len(requests), available_cpus()))) as pool:
            prepared = list(pool.map(self._prepare_or_error, range(len(requests)), requests))
        for i, (item, error) in enumerate(prepared):
            if item is not None:
                items.append(item)
            else:
                results[i] = GenerationResult(requests[i].request_id, error=error)
        for start in range(0, len(items), self.batch_size):
            chunk = items[start : start + self.batch_size]
            for it, res in zip(chunk, self._run_chunk(chunk, config), strict=True):
                results[it.index] = res
        return [r for r in results if r is not None]
