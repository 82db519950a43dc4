"""VLM4TS (He et al., "Harnessing Vision-Language Models for Time Series Anomaly Detection",
arXiv 2506.06836; ZLHe0/VLM4TS): visual screening, then verification by a VLM.

Stage 1 (:mod:`baselines.recipes.screening`): ViT4TS-style screening with EfficientNet-Lite0
proposes candidate intervals and a score per point. Stage 2: the backbone VLM sees the plot
of the whole sample (the task's plot, absolute x ticks) and the candidates, and answers one
JSON object ``{"interval_timestamp": [[s, e], ...], "confidence": [...],
"abnormal_description": "..."}`` in x-axis index values. As in VLM4TS, a sample without
candidates is not sent to the VLM (empty answer). The screening scores are the prediction's
``scores``. Follows and departures: ``docs/recipes.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from baselines.recipes.base import DEFAULT_BACKBONE, Plan, Reading, Recipe, load_recipe_prompt
from baselines.recipes.screening import ScreenSettings, candidates, require_encoder, screen_scores
from harness.answers.recipes import parse_recipe_answer
from harness.core.errors import UsageError
from harness.core.types import Sample
from harness.inference.base import ChatRequest
from harness.render.plot import DEFAULT_SETTINGS, render_series


class VLM4TS(Recipe):
    """VLM4TS over any VLM backbone: EfficientNet-Lite0 screening, one verification request per sample."""

    recipe = "VLM4TS"
    answer_format = "vlm4ts"
    needs_images = True

    def __init__(self, backbone: str = DEFAULT_BACKBONE, window: int = 224, alpha: float = 0.01,
                 step_ratio: float = 4.0, agg_percent: float = 0.25, merge_gap: int = 28,
                 backbone_args: Mapping[str, Any] | None = None, temperature: float | None = None,
                 max_new_tokens: int | None = None, **extra: Any):
        require_encoder()
        if not 0.0 < float(alpha) < 1.0:
            raise UsageError(f"VLM4TS: alpha must be in (0, 1), got {alpha}")
        if int(window) < 8 or float(step_ratio) < 1.0:
            raise UsageError("VLM4TS: need window >= 8 and step_ratio >= 1")
        self.screen = ScreenSettings(window=int(window), step_ratio=float(step_ratio),
                                     agg_percent=float(agg_percent), alpha=float(alpha), merge_gap=int(merge_gap))
        self._prompt = load_recipe_prompt("vlm4ts")
        super().__init__(backbone, backbone_args, temperature, max_new_tokens, extra)

    def params(self) -> dict[str, Any]:
        """The screening settings (with the encoder)."""
        return {"screen": self.screen.fingerprint(), "window": self.screen.window, "alpha": self.screen.alpha}

    def prompts(self) -> dict[str, Any]:
        """The verification prompt."""
        return {"verify": self._prompt}

    def plan(self, sample: Sample) -> Plan:
        """Screen the series; one verification request when there are candidates."""
        values = np.asarray(sample.series, dtype=np.float64)
        scores = screen_scores(values, self.screen)
        offset = int(sample.index_offset)
        cands = [(a + offset, b + offset) for a, b in candidates(scores, self.screen.alpha, self.screen.merge_gap)]
        context = {"scores": scores, "candidates": cands}
        if not cands:
            return Plan([], context)
        image = sample.image if sample.image is not None else render_series(values, offset, DEFAULT_SETTINGS)
        prompt = self._prompt.render(candidates=str([[a, b] for a, b in cands]))
        req = ChatRequest(request_id=f"{sample.id}#vlm4ts", prompt=prompt, image_png=image,
                          system=getattr(self.backbone, "system", None))
        return Plan([req], context)

    def read(self, sample: Sample, plan: Plan, answers: Sequence[str]) -> Reading:
        """The VLM's intervals (x-axis values = absolute indices), or nothing without candidates."""
        cands = plan.context["candidates"]
        details: dict[str, Any] = {"candidates": [list(c) for c in cands], "verified": bool(answers)}
        if not answers:
            return Reading([], "", False, ["no-candidates"], details, scores=plan.context["scores"])
        ans = parse_recipe_answer(answers[0], self.answer_format)
        pairs, issues = list(ans.pairs), list(ans.issues)
        offset, n = int(sample.index_offset), len(sample.series)
        if pairs and offset >= n and all(a >= 0 and b < n for a, b in pairs):
            pairs = [(a + offset, b + offset) for a, b in pairs]
            issues.append("relative-shifted")
        details["confidence"] = (ans.extra or {}).get("confidence")
        return Reading(pairs, ans.explanation, ans.failed, issues, details, scores=plan.context["scores"])


def vlm4ts(backbone: str = DEFAULT_BACKBONE, **kwargs: Any) -> VLM4TS:
    """The VLM4TS recipe over ``backbone`` (screening ``window``, ``alpha``, ...)."""
    return VLM4TS(backbone, **kwargs)
