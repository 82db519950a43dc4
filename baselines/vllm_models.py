"""VLMs served by vLLM: the ``vllm-vlm`` (offline ``LLM``) and ``vllm-serve`` (``vllm serve``) adapters.

Named cards live in ``models.yaml``.

Building the model imports nothing heavy: vLLM starts on the first batch, so listing,
fingerprinting and resuming work anywhere; running needs an NVIDIA GPU and
``pip install 'visanom[vllm]'``.
"""

from __future__ import annotations

from collections.abc import Sequence

from baselines.hf_models import adapter_base
from baselines.vlm import VLMModel
from harness.core.errors import UsageError
from harness.inference.base import DEFAULT_MAX_NEW_TOKENS, GenerationConfig
from harness.inference.vllm_engine import VLLMEngine
from harness.inference.vllm_serve import VLLMServeEngine

DEFAULT_BATCH = 64  # vLLM schedules within the batch itself; bigger batches keep the GPU busy


def make_vllm_vlm(
    model_id: str | None = None,
    revision: str | None = None,
    adapter_id: str | None = None,
    adapter_revision: str | None = None,
    *,
    max_lora_rank: int = 64,
    tensor_parallel_size: int = 1,
    max_model_len: int | None = None,
    gpu_memory_utilization: float = 0.9,
    dtype: str = "auto",
    engine_seed: int = 0,
    enforce_eager: bool = False,
    max_pixels: int | None = None,
    min_pixels: int | None = None,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int | None = None,
    stop: Sequence[str] = (),
    system: str | None = None,
    batch_size: int = DEFAULT_BATCH,
    adapter: str | None = None,
) -> VLMModel:
    """A :class:`VLMModel` over a :class:`VLLMEngine` (one ``LLM`` per model instance).

    ``adapter=DIR`` serves a LoRA made by ``visanom train`` through vLLM's ``LoRARequest``
    (the base model is read from the adapter's config; ``max_lora_rank`` must be at least its rank)."""
    if adapter:
        if adapter_id and adapter_id != adapter:
            raise UsageError("give either adapter=DIR or adapter_id=..., not both")
        adapter_id = str(adapter)
        model_id = model_id or adapter_base(adapter_id)
    if not model_id:
        raise UsageError("vllm-vlm needs model_id=... (a hub id or a folder), or adapter=DIR of a trained LoRA")
    engine = VLLMEngine(
        model_id, revision=revision, adapter_id=adapter_id, adapter_revision=adapter_revision,
        max_lora_rank=max_lora_rank, tensor_parallel_size=tensor_parallel_size, max_model_len=max_model_len,
        gpu_memory_utilization=gpu_memory_utilization, dtype=dtype, seed=engine_seed,
        max_pixels=max_pixels, min_pixels=min_pixels, enforce_eager=bool(enforce_eager),
    )
    generation = GenerationConfig.from_args(max_new_tokens, temperature, top_p, seed, stop)
    return VLMModel("vllm-vlm", engine, generation, system=system, batch_size=batch_size)


def make_vllm_serve(
    model_id: str,
    revision: str | None = None,
    adapter_id: str | None = None,
    adapter_revision: str | None = None,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    max_lora_rank: int = 64,
    tensor_parallel_size: int = 1,
    max_model_len: int | None = None,
    gpu_memory_utilization: float = 0.9,
    dtype: str = "auto",
    engine_seed: int = 0,
    enforce_eager: bool = False,
    max_pixels: int | None = None,
    concurrency: int = 32,
    timeout_s: float = 600,
    startup_timeout_s: float = 1200,
    executable: str | None = None,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int | None = None,
    stop: Sequence[str] = (),
    system: str | None = None,
    batch_size: int = DEFAULT_BATCH,
) -> VLMModel:
    """A :class:`VLMModel` over a :class:`VLLMServeEngine` (one server per model instance)."""
    engine = VLLMServeEngine(
        model_id, base_url=base_url, revision=revision, adapter_id=adapter_id, adapter_revision=adapter_revision,
        max_lora_rank=max_lora_rank, tensor_parallel_size=tensor_parallel_size, max_model_len=max_model_len,
        gpu_memory_utilization=gpu_memory_utilization, dtype=dtype, seed=engine_seed,
        enforce_eager=bool(enforce_eager), max_pixels=max_pixels, concurrency=int(concurrency),
        timeout_s=float(timeout_s), api_key=api_key, executable=executable,
        startup_timeout_s=float(startup_timeout_s),
    )
    generation = GenerationConfig.from_args(max_new_tokens, temperature, top_p, seed, stop)
    return VLMModel("vllm-serve", engine, generation, system=system, batch_size=batch_size)
