"""The built-in models, a visanom plugin: adapters, recipes, foundation models, the tsb-ad
catalogue, named model cards (``models.yaml``) and named sweeps (``sweeps/``).

The registry loads this module as a plugin (entry point ``visanom.plugins``, the same route a
third-party package takes); nothing here imports a model until its name is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

Row = tuple[str, dict[str, Any]]

TEMPLATE_REASONER_NOTE = (
    "heuristic baseline, NOT a VLM: a classical detector (default Sub-PCA) thresholded to intervals, "
    "answered in the paper's format with a rationale filled in from the series' values"
)

RECIPE_DISPLAY: dict[str, Any] = {
    "group": "LLM/VLM detector", "provides": ["text"], "recipe": True,
    "note": "a recipe over any registered text/VLM model: --model-args backbone=NAME (default GPT-4o)",
}

MODELS: dict[str, Row] = {
    "template-reasoner": (
        "baselines.template_reasoner:template_reasoner",
        {"group": "heuristic baseline", "provides": ["text"], "needs": ["detectors"], "note": TEMPLATE_REASONER_NOTE},
    ),
    "hf-vlm": (
        "baselines.hf_models:hf_vlm",
        {"group": "VLM", "engine": "transformers", "open": True},
    ),
    "vllm-vlm": (
        "baselines.vllm_models:make_vllm_vlm",
        {"group": "VLM", "engine": "vllm", "provides": ["text"], "open": True,
         "requires": "NVIDIA GPU + pip install visanom[vllm]",
         "note": "any vLLM-supported VLM (optionally with a LoRA adapter); pass model_id=..."},
    ),
    "vllm-serve": (
        "baselines.vllm_models:make_vllm_serve",
        {"group": "VLM", "engine": "vllm-serve", "provides": ["text"], "open": True,
         "requires": "NVIDIA GPU + the vllm environment (make setup-gpu), or base_url=... of a running server",
         "note": "a VLM (optionally with a LoRA adapter) behind `vllm serve`, started from the GPU "
                 "environment and stopped at the end; base_url=... uses a running server instead"},
    ),
    "openai-compat": (
        "baselines.api_models:make_openai_compat",
        {"group": "large VLM", "engine": "openai-compat", "provides": ["text"], "open": False},
    ),
    "anthropic": (
        "baselines.api_models:make_anthropic",
        {"group": "large VLM", "engine": "anthropic", "provides": ["text"], "open": False,
         "requires": "ANTHROPIC_API_KEY"},
    ),
    # the paper's LLM/VLM-detector rows as recipes over any text/VLM backbone (docs/recipes.md);
    # the named cards (AnomLLM, LLMAD, LLM-TSAD, VLM4TS) are in baselines/models.yaml
    "anomllm": ("baselines.recipes.anomllm:anomllm", {**RECIPE_DISPLAY, "method": "AnomLLM"}),
    "llmad": ("baselines.recipes.llmad:llmad", {**RECIPE_DISPLAY, "method": "LLMAD"}),
    "llm-tsad": ("baselines.recipes.llm_tsad:llm_tsad", {**RECIPE_DISPLAY, "method": "LLM-TSAD"}),
    "vlm4ts": ("baselines.recipes.vlm4ts:vlm4ts",
               {**RECIPE_DISPLAY, "method": "VLM4TS", "requires": "pip install visanom[recipes]"}),
}


def _foundation(tsb_name: str, package: str, module: str, extra: str, weights: str, win_size: int
                ) -> dict[str, Any]:
    return {"group": "foundation", "supervision": "unsupervised", "provides": ["scores"], "source": package,
            "tsb_ad_name": tsb_name, "hyperparameters": {"win_size": win_size}, "weights": weights,
            "requires": [module], "install": f"pip install 'visanom[{extra}]'", "on_tsb_ad_u_leaderboard": True,
            "note": "tsb-ad's one-step forecasting protocol over the current package (docs/detectors.md)"}


MODELS.update({
    "lm-eval": (
        "baselines.lm_eval_models:make_lm_eval",
        {"group": "VLM", "engine": "lm-eval", "provides": ["text"], "requires": ["lm_eval"], "install": "pip install 'visanom[lm-eval]'",
         "note": "any lm-evaluation-harness backend: lm_model=hf-multimodal|vllm-vlm|local-chat-completions|..."},
    ),
    # tsb-ad's own wrappers need AutoGluon / the timesfm 1.x API (baselines.tsbad.catalog.REPLACED)
    "Chronos": ("baselines.foundation:make_chronos",
                _foundation("Chronos", "chronos-forecasting", "chronos", "chronos", "amazon/chronos-t5-base", 50)),
    "TimesFM": ("baselines.foundation:make_timesfm",
                _foundation("TimesFM", "timesfm", "timesfm", "timesfm", "google/timesfm-2.5-200m-pytorch", 96)),
})

MODEL_TABLES: tuple[str, ...] = ("baselines.tsbad.catalog:registry_rows",)
"""``"module:function"`` references; each function returns more built-in model rows (cheaply)."""

MODEL_CARD_FILES: tuple[Path, ...] = (Path(__file__).resolve().parent / "models.yaml",)
"""Named model cards (``name: {adapter, args, display}``) this plugin provides."""

SWEEP_DIRS: tuple[Path, ...] = (Path(__file__).resolve().parent / "sweeps",)
"""Folders of named sweep files (``visanom sweep NAME``) this plugin provides."""
