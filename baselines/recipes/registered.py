"""Registers the detector recipes as model adapters (``anomllm``, ``llmad``, ``llm-tsad``,
``vlm4ts``); the paper's rows are named cards over them in ``baselines/models.yaml``."""

from __future__ import annotations

from typing import Any

from harness.registry import register_model

_COMMON = {"group": "LLM/VLM detector", "provides": ["text"], "recipe": True,
           "note": "a recipe over any registered text/VLM model: --model-args backbone=NAME (default GPT-4o)"}


@register_model("anomllm", **_COMMON, method="AnomLLM", images="vision variant")
def anomllm(**kwargs: Any) -> Any:
    """AnomLLM (plot or text prompt, JSON ranges)."""
    from baselines.recipes.anomllm import anomllm as make

    return make(**kwargs)


@register_model("llmad", **_COMMON, method="LLMAD")
def llmad(**kwargs: Any) -> Any:
    """LLMAD (text windows, AnoCoT JSON, retrieved train examples)."""
    from baselines.recipes.llmad import llmad as make

    return make(**kwargs)


@register_model("llm-tsad", **_COMMON, method="LLM-TSAD")
def llm_tsad(**kwargs: Any) -> Any:
    """LLM-TSAD (text windows, chain-of-thought + one train demonstration, JSON indices)."""
    from baselines.recipes.llm_tsad import llm_tsad as make

    return make(**kwargs)


@register_model("vlm4ts", **_COMMON, method="VLM4TS", requires="pip install 'visanom[recipes]'")
def vlm4ts(**kwargs: Any) -> Any:
    """VLM4TS (EfficientNet-Lite0 screening, VLM verification)."""
    from baselines.recipes.vlm4ts import vlm4ts as make

    return make(**kwargs)
