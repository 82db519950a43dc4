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
ANOMLLM_PLOT = RenderSettings(width_in=10.0, height_in=1.5, n_xticks=11, xtick_rotation=0.0,
                              left=0.06, right=0.99, bottom=0.3, top=0.95)
"""AnomLLM's figure (10 x 1.5 inches, x-axis from 0), drawn by the one renderer."""


def series_text(values: np.ndarray) -> str:
    """AnomLLM's text form: values scaled to [-1, 1] (min-max), rounded to 2 decimals, space-separated."""
    y = np.asarray(values, dtype=np.float64)
    finite = y[np.isfinite(y)]
    if finite.size == 0:
        raise ValueError("the series has no finite value")
    lo, hi = float(finite.min()), float(finite.max())
    scaled = np.zeros_like(y) if hi == lo else (y - lo) / (hi - lo) * 2.0 - 1.0
    scaled = np.where(np.isfinite(scaled), scaled, 0.0)
    return " ".join(f"{v:.2f}" for v in np.round(scaled, 2) + 0.0)


def half_open_to_inclusive(pairs: Sequence[Interval]) -> list[Interval]:
    """AnomLLM's ``start..end`` (end exclusive, as its scorer reads it) -> inclusive pairs; an
    empty range (end <= start) flags nothing, as in AnomLLM."""
    return [(a, b - 1) for a, b in pairs if b > a]


class AnomLLM(Recipe):
    """AnomLLM over any backbone: one request per sample (plot or text), JSON ranges back."""

    recipe = "AnomLLM"
    answer_format = "anomllm"

    def __init__(self, backbone: str = DEFAULT_BACKBONE, variant: str = "vision", plot: str = "anomllm",
                 max_anomalies: int = 5, backbone_args: Mapping[str, Any] | None = None,
                 temperature: float | None = None, max_new_tokens: int | None = None, **extra: Any):
        if variant not in VARIANTS:
            raise UsageError(f"AnomLLM: variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
        if plot not in PLOTS:
            raise UsageError(f"AnomLLM: plot must be one of {', '.join(PLOTS)}, got {plot!r}")
        self.variant, self.plot, self.max_anomalies = variant, plot, int(max_anomalies)
        self.needs_images = variant == "vision"
        self._prompt = load_recipe_prompt(f"anomllm-{variant}")
        super().__init__(backbone, backbone_args, temperature, max_new_tokens, extra)

    def params(self) -> dict[str, Any]:
        """Variant, plot source and the text variant's anomaly cap."""
        out: dict[str, Any] = {"variant": self.variant}
        if self.variant == "vision":
            out["plot"] = self.plot
            if self.plot == "anomllm":
                out["render"] = ANOMLLM_PLOT.fingerprint()
        else:
            out["max_anomalies"] = self.max_anomalies
        return out

    def prompts(self) -> dict[str, Any]:
        """The one prompt of the chosen variant."""
        return {"ask": self._prompt}

    def prompt_text(self, sample: Sample) -> str:
        """The prompt of one sample."""
        if self.variant == "text":
            return self._prompt.render(series=series_text(sample.series), max_anomalies=self.max_anomalies)
        return self._prompt.render()

    def plan(self, sample: Sample) -> Plan:
        """One request: the prompt with AnomLLM's plot (or the task's), or the series as text."""
        image = None
        if self.variant == "vision":
            if self.plot == "task":
                if sample.image is None:
                    return Plan(error="AnomLLM plot=task needs a task that gives a plot")
                image = sample.image
            else:
                image = render_series(np.asarray(sample.series, dtype=np.float64), 0, ANOMLLM_PLOT)
        req = ChatRequest(request_id=f"{sample.id}#anomllm", prompt=self.prompt_text(sample), image_png=image,
                          system=getattr(self.backbone, "system", None))
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
