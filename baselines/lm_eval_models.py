"""lm-evaluation-harness model backends as one registered model: ``lm-eval``.

    visanom run --task visanombench-demo --model lm-eval \\
        --model-args lm_model=hf-multimodal pretrained=Qwen/Qwen2.5-VL-3B-Instruct

``lm_model`` names the backend in lm-eval's registry; every argument this adapter does not
know is passed on to the backend (as ``lm_eval --model_args`` would). Building the adapter
checks that lm-eval is installed and the backend exists; weights load at the first batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from baselines.vlm import VLMModel
from harness.inference.base import DEFAULT_MAX_NEW_TOKENS, GenerationConfig
from harness.inference.lm_eval_engine import LMEvalEngine


def make_lm_eval(
    lm_model: str,
    *,
    apply_chat_template: bool = True,
    batch_size: int = 8,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int | None = None,
    stop: str | Sequence[str] | None = None,
    system: str | None = None,
    **lm_args: Any,
) -> VLMModel:
    """Any lm-eval backend (``lm_model``) with its own arguments (``**lm_args``)."""
    engine = LMEvalEngine(str(lm_model), lm_args, apply_chat_template=bool(apply_chat_template),
                          batch_size=int(batch_size))
    generation = GenerationConfig.from_args(max_new_tokens, temperature, top_p, seed, stop)
    return VLMModel("lm-eval", engine, generation, system=system or None, batch_size=int(batch_size))
