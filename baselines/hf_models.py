"""VLMs run locally with transformers: the generic ``hf-vlm`` adapter.

Named models (VisAnomReasoner, Qwen2.5-VL, Idefics3, SmolVLM, LLaVA) are cards in
``baselines/models.yaml`` over ``hf-vlm``. Importing this module is cheap: torch and
transformers load only when a model first generates.

    visanom run --task visanombench --model hf-vlm \\
        --model-args model_id=Qwen/Qwen2.5-VL-3B-Instruct adapter_id=PLAN-Lab/VisAnomReasoner-3B
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from baselines.vlm import VLMModel
from harness.core.errors import UsageError
from harness.inference.base import DEFAULT_MAX_NEW_TOKENS, GenerationConfig
from harness.inference.transformers_engine import TransformersEngine


def adapter_base(adapter: str) -> str:
    """The base model a local peft adapter folder was trained on (its ``adapter_config.json``)."""
    config = Path(adapter).expanduser() / "adapter_config.json"
    try:
        base = json.loads(config.read_text(encoding="utf-8")).get("base_model_name_or_path")
    except (OSError, ValueError) as exc:
        raise UsageError(f"adapter={adapter}: cannot read {config} ({type(exc).__name__}); pass model_id=BASE "
                         "with adapter_id=... for a hub adapter") from exc
    if not base:
        raise UsageError(f"adapter={adapter}: {config} names no base model; pass model_id=BASE")
    return str(base)


def hf_vlm(
    model_id: str | None = None,
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
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int | None = None,
    stop: str | Sequence[str] | None = None,
    system: str | None = None,
    adapter: str | None = None,
) -> VLMModel:
    """Build the adapter; nothing is loaded until the first batch.

    ``adapter=DIR`` is the one-line way to evaluate a LoRA made by ``visanom train``: the base
    model is read from the adapter's config (``model_id`` may still override it)."""
    if adapter:
        if adapter_id and adapter_id != adapter:
            raise UsageError("give either adapter=DIR or adapter_id=..., not both")
        adapter_id = str(adapter)
        model_id = model_id or adapter_base(adapter_id)
    if not model_id:
        raise UsageError("hf-vlm needs model_id=... (a hub id or a folder), or adapter=DIR of a trained LoRA")
    engine = TransformersEngine(
        str(model_id), revision=None if revision is None else str(revision),
        adapter_id=adapter_id or None, adapter_revision=None if adapter_revision is None else str(adapter_revision),
        merge_adapter=bool(merge_adapter), dtype=str(dtype), device=str(device),
        max_pixels=max_pixels, min_pixels=min_pixels, trust_remote_code=bool(trust_remote_code),
        batch_size=int(batch_size),
    )
    generation = GenerationConfig.from_args(max_new_tokens, temperature, top_p, seed, stop)
    return VLMModel("hf-vlm", engine, generation, system=system or None, batch_size=int(batch_size))
