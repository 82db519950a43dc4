"""AnomLLM (Zhou & Yu, "Can LLMs Understand Time Series Anomalies?", ICLR 2025; Rose-STL-Lab/AnomLLM).

The method asks a (V)LM for anomalous ranges of one whole series, zero-shot, either as a plot
(``variant=vision``, the method's better variant and our default) or as text (``variant=text``:
the values, rounded to two decimals, separated by spaces, after "assume there are up to 5
anomalies"). The answer is a JSON list ``[{"start": s, "end": e}, ...]`` in x-axis
coordinates (text: positions), ``[]`` for none; AnomLLM reads it from the first ``[`` to the
last ``]`` and scores ``start..end`` as a half-open range. What we follow and where we
depart: ``docs/recipes.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from baselines.recipes.base import DEFAULT_BACKBONE, Plan, Reading, Recipe, load_recipe_prompt
from harness.answers.recipes import parse_recipe_answer
from harness.core.errors import UsageError
from harness.core.types import Interval, Sample
from harness.inference.base import ChatRequest
from harness.render.plot import RenderSettings, render_series

VARIANTS = ("vision", "text")
PLOTS = ("anomllm", "task")
SCALES = ("none", "minmax")
ANOMLLM_PLOT = RenderSettings(width_in=10.0, height_in=1.5, auto_xticks=True, xtick_rotation=0.0,
                              left=0.06, right=0.99, bottom=0.3, top=0.95)
"""AnomLLM's figure (``src/prompt.py`` ``time_series_to_image``: 10 x 1.5 inches; ``src/utils.py``
``plot_series_and_predictions``: ``plt.ylim((-1, 1))``, matplotlib's default ticks, x from 0),
drawn by the one renderer."""
ANOMLLM_YLIM = (-1.0, 1.0)
ANOMLLM_DECODING = {"temperature": 0.4, "stop": ("’’’’", " – –", "<|endoftext|>", "<|eot_id|>")}
"""``src/prompt.py`` ``create_openai_request`` defaults (AnomLLM@bf7827d)."""


def minmax(values: np.ndarray) -> np.ndarray:
    """Values min-max scaled to [-1, 1] (NaN/inf as 0): the ``scale=minmax`` departure."""
    y = np.asarray(values, dtype=np.float64)
    finite = y[np.isfinite(y)]
    if finite.size == 0:
        raise ValueError("the series has no finite value")
    lo, hi = float(finite.min()), float(finite.max())
    scaled = np.zeros_like(y) if hi == lo else (y - lo) / (hi - lo) * 2.0 - 1.0
    return np.where(np.isfinite(scaled), scaled, 0.0)


def series_text(values: np.ndarray) -> str:
    """AnomLLM's ``time_series_to_str`` with its defaults: each value rounded to 2 decimals and
    written as numpy writes it (``0.5``, ``-1.0``), separated by spaces."""
    y = np.asarray(values, dtype=np.float64).ravel()
    if not np.isfinite(y).any():
        raise ValueError("the series has no finite value")
    return " ".join(str(v) for v in np.round(y, 2))


def half_open_to_inclusive(pairs: Sequence[Interval]) -> list[Interval]:
    """AnomLLM's ``start..end`` (end exclusive, as its scorer reads it) -> inclusive pairs; an
    empty range (end <= start) flags nothing, as in AnomLLM."""
    return [(a, b - 1) for a, b in pairs if b > a]


class AnomLLM(Recipe):
    """AnomLLM over any backbone: one request per sample (plot or text), JSON ranges back."""

    recipe = "AnomLLM"
    answer_format = "anomllm"

    original_decoding = ANOMLLM_DECODING

    def __init__(self, backbone: str = DEFAULT_BACKBONE, variant: str = "vision", plot: str = "anomllm",
                 scale: str = "none", backbone_args: Mapping[str, Any] | None = None,
                 temperature: float | None = None, max_new_tokens: int | None = None,
                 decoding: str = "original", **extra: Any):
        if variant not in VARIANTS:
            raise UsageError(f"AnomLLM: variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
        if plot not in PLOTS:
            raise UsageError(f"AnomLLM: plot must be one of {', '.join(PLOTS)}, got {plot!r}")
        if scale not in SCALES:
            raise UsageError(f"AnomLLM: scale must be one of {', '.join(SCALES)}, got {scale!r}")
        self.variant, self.plot, self.scale = variant, plot, scale
        self.needs_images = variant == "vision"
        self._prompt = load_recipe_prompt("anomllm")
        self._limit = load_recipe_prompt("anomllm-limit")
        super().__init__(backbone, backbone_args, temperature, max_new_tokens, extra, decoding)

    def params(self) -> dict[str, Any]:
        """Variant, plot source, value scaling and message order."""
        out: dict[str, Any] = {"variant": self.variant, "scale": self.scale}
        if self.variant == "vision":
            out["plot"] = self.plot
            out["order"] = "text-image"
            if self.plot == "anomllm":
                out["render"] = ANOMLLM_PLOT.fingerprint()
                out["ylim"] = list(ANOMLLM_YLIM)
        return out

    def prompts(self) -> dict[str, Any]:
        """AnomLLM's ``PROMPT`` (and ``LIMIT_PROMPT`` for the text variant)."""
        return {"ask": self._prompt, "limit": self._limit} if self.variant == "text" else {"ask": self._prompt}

    def values(self, sample: Sample) -> np.ndarray:
        """The values as AnomLLM receives them: as they are (``scale=none``), or scaled to [-1, 1]."""
        y = np.asarray(sample.series, dtype=np.float64)
        return minmax(y) if self.scale == "minmax" else y

    def prompt_text(self, sample: Sample) -> str:
        """The prompt of one sample: ``create_text_messages`` / ``create_vision_messages`` (zero-shot)."""
        if self.variant == "text":
            return series_text(self.values(sample)) + "\n\n" + self._limit.text + self._prompt.text
        return self._prompt.text

    def plan(self, sample: Sample) -> Plan:
        """One request: the prompt, then AnomLLM's plot (or the task's), or the series as text."""
        image = None
        if self.variant == "vision":
            if self.plot == "task":
                if sample.image is None:
                    return Plan(error="AnomLLM plot=task needs a task that gives a plot")
                image = sample.image
            else:
                image = render_series(self.values(sample), 0, ANOMLLM_PLOT, y_limits=ANOMLLM_YLIM)
        req = ChatRequest(request_id=f"{sample.id}#anomllm", prompt=self.prompt_text(sample), image_png=image,
                          system=getattr(self.backbone, "system", None), text_first=True)
        return Plan([req])

    def read(self, sample: Sample, plan: Plan, answers: Sequence[str]) -> Reading:
        """JSON ranges -> absolute inclusive pairs (positions shifted by the sample's offset)."""
        ans = parse_recipe_answer(answers[0], self.answer_format)
        pairs = half_open_to_inclusive(ans.pairs)
        offset, n = int(sample.index_offset), len(sample.series)
        issues = list(ans.issues)
        relative = not (self.variant == "vision" and self.plot == "task")
        if not relative and pairs and offset >= n and all(a >= 0 and b < n for a, b in pairs):
            relative = True  # the task's plot shows absolute ticks; positions were given instead
            issues.append("relative-shifted")
        if relative:
            pairs = [(a + offset, b + offset) for a, b in pairs]
        return Reading(pairs, ans.explanation, ans.failed, issues, {"stated": [list(p) for p in ans.pairs]})


def anomllm(backbone: str = DEFAULT_BACKBONE, **kwargs: Any) -> AnomLLM:
    """The AnomLLM recipe (``variant=vision|text``, ``plot=anomllm|task``) over ``backbone``."""
    return AnomLLM(backbone, **kwargs)
