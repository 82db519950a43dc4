"""The paper's LLM/VLM-detector rows as recipes over any registered text/VLM model.

``AnomLLM``, ``LLMAD``, ``LLM-TSAD`` and ``VLM4TS`` are model adapters that wrap a backbone
(``--model-args backbone=GPT-4o``, the paper's choice and the default) and turn its answers,
written in each method's own format, into intervals. See ``docs/recipes.md``.
"""

RECIPES = {  # registered in baselines/catalog.py (MODELS)
    "AnomLLM": "baselines.recipes.anomllm:anomllm",
    "LLMAD": "baselines.recipes.llmad:llmad",
    "LLM-TSAD": "baselines.recipes.llm_tsad:llm_tsad",
    "VLM4TS": "baselines.recipes.vlm4ts:vlm4ts",
}
"""Registered name -> lazy ``module:factory`` reference."""
