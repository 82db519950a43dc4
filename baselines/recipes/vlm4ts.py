"""VLM4TS (He et al., "Harnessing Vision-Language Models for Time Series Anomaly Detection",
arXiv 2506.06836; ZLHe0/VLM4TS): visual screening, then verification by a VLM.

Stage 1 (:mod:`baselines.recipes.screening`): ViT4TS-style screening with EfficientNet-Lite0
proposes candidate intervals and a score per point. Stage 2 (ZLHe0/VLM4TS@c2890c1,
``src/models/vlm4ts.py``): the backbone VLM gets VLM4TS's own prompt with the candidates as
indices, then a plot of the values against their index from 0, and answers one JSON object
``{"interval_index": [[s, e], ...], "confidence": [...], "abnormal_description": "..."}``
(inclusive). As in VLM4TS, a sample without candidates is not sent (empty answer) and an
unreadable answer falls back to the candidates. The screening scores are the prediction's
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
from harness.render.plot import DEFAULT_SETTINGS, RenderSettings, render_series

PLOTS = ("vlm4ts", "task")
ON_FAILURE = ("candidates", "empty")
VLM4TS_PLOT = RenderSettings(width_in=12.0, height_in=3.425, auto_xticks=True, xtick_rotation=0.0,
                             left=0.07, right=0.99, bottom=0.15, top=0.95)
"""VLM4TS's verification plot (``_generate_full_plot``: 1200 x 342 px at dpi 100, the values
against their index from 0, matplotlib's ticks), drawn by the one renderer."""
VLM4TS_DECODING = {"temperature": 1.0}
"""VLM4TS sends no decoding settings (``client.responses.create(model, input)``); 1.0 is the
OpenAI API's default temperature."""


class VLM4TS(Recipe):
    """VLM4TS over any VLM backbone: EfficientNet-Lite0 screening, one verification request per sample."""

    recipe = "VLM4TS"
    answer_format = "vlm4ts"
    needs_images = True
    original_decoding = VLM4TS_DECODING

    def __init__(self, backbone: str = DEFAULT_BACKBONE, window: int = 224, alpha: float = 0.01,
                 step_ratio: float = 4.0, agg_percent: float = 0.25, merge_gap: int = 28,
                 plot: str = "vlm4ts", on_failure: str = "candidates",
                 backbone_args: Mapping[str, Any] | None = None, temperature: float | None = None,
                 max_new_tokens: int | None = None, decoding: str = "original", **extra: Any):
        require_encoder()
        if not 0.0 < float(alpha) < 1.0:
            raise UsageError(f"VLM4TS: alpha must be in (0, 1), got {alpha}")
        if int(window) < 8 or float(step_ratio) < 1.0:
            raise UsageError("VLM4TS: need window >= 8 and step_ratio >= 1")
        if plot not in PLOTS:
            raise UsageError(f"VLM4TS: plot must be one of {', '.join(PLOTS)}, got {plot!r}")
        if on_failure not in ON_FAILURE:
            raise UsageError(f"VLM4TS: on_failure must be one of {', '.join(ON_FAILURE)}, got {on_failure!r}")
        self.screen = ScreenSettings(window=int(window), step_ratio=float(step_ratio),
                                     agg_percent=float(agg_percent), alpha=float(alpha), merge_gap=int(merge_gap))
        self.plot, self.on_failure = plot, on_failure
        self._prompt = load_recipe_prompt("vlm4ts")
        super().__init__(backbone, backbone_args, temperature, max_new_tokens, extra, decoding)

    def params(self) -> dict[str, Any]:
        """The screening settings (with the encoder), plot, message order and failure rule."""
        out = {"screen": self.screen.fingerprint(), "window": self.screen.window, "alpha": self.screen.alpha,
               "plot": self.plot, "order": "text-image", "on_failure": self.on_failure}
        if self.plot == "vlm4ts":
            out["render"] = VLM4TS_PLOT.fingerprint()
        return out

    def prompts(self) -> dict[str, Any]:
        """The verification prompt (``base_prompt`` of ``_query_vlm``)."""
        return {"verify": self._prompt}

    def prompt_text(self, candidates: Sequence[tuple[int, int]]) -> str:
        """``base_prompt + "\\n" + vis_line`` as ``_query_vlm`` builds it."""
        detected = [[int(a), int(b)] for a, b in candidates]
        return self._prompt.text + "\n" + f"Vision-based model detected intervals (indices): {detected}"

    def plan(self, sample: Sample) -> Plan:
        """Screen the series; one verification request (text, then the plot) when there are candidates."""
        values = np.asarray(sample.series, dtype=np.float64)
        scores = screen_scores(values, self.screen)
        offset = int(sample.index_offset)
        local = candidates(scores, self.screen.alpha, self.screen.merge_gap)
        cands = [(a + offset, b + offset) for a, b in local]
        context = {"scores": scores, "candidates": cands}
        if not cands:
            return Plan([], context)
        if self.plot == "task":  # the task's plot: absolute ticks, so the candidates in absolute indices
            image = sample.image if sample.image is not None else render_series(values, offset, DEFAULT_SETTINGS)
            shown = cands
        else:  # VLM4TS: the values against their index from 0, the candidates as those indices
            image, shown = render_series(values, 0, VLM4TS_PLOT), local
        req = ChatRequest(request_id=f"{sample.id}#vlm4ts", prompt=self.prompt_text(shown), image_png=image,
                          system=getattr(self.backbone, "system", None), text_first=True)
        return Plan([req], context)

    def read(self, sample: Sample, plan: Plan, answers: Sequence[str]) -> Reading:
        """``interval_index`` pairs (inclusive, clamped to the series as VLM4TS does) -> absolute
        pairs; an answer without ``interval_index`` falls back to the screening candidates
        (``on_failure=candidates``, VLM4TS's rule) or to nothing (``on_failure=empty``)."""
        cands = plan.context["candidates"]
        details: dict[str, Any] = {"candidates": [list(c) for c in cands], "verified": bool(answers)}
        if not answers:
            return Reading([], "", False, ["no-candidates"], details, scores=plan.context["scores"])
        ans = parse_recipe_answer(answers[0], self.answer_format)
        issues = list(ans.issues)
        offset, n = int(sample.index_offset), len(sample.series)
        if ans.failed:
            fallback = list(cands) if self.on_failure == "candidates" else []
            issues.append(f"fallback: {'screening candidates' if fallback else 'empty'}")
            details["fallback"] = self.on_failure
            return Reading(fallback, "", True, issues, details, scores=plan.context["scores"])
        pairs = list(ans.pairs)
        if self.plot == "task":
            if pairs and offset >= n and all(a >= 0 and b < n for a, b in pairs):
                pairs = [(a + offset, b + offset) for a, b in pairs]
                issues.append("relative-shifted")
        else:
            clamp = [(max(0, min(n - 1, a)), max(0, min(n - 1, b))) for a, b in pairs]
            if clamp != pairs:
                issues.append("clamped")
            pairs = [(a + offset, b + offset) for a, b in clamp]
        details["confidence"] = (ans.extra or {}).get("confidence")
        return Reading(pairs, ans.explanation, False, issues, details, scores=plan.context["scores"])


def vlm4ts(backbone: str = DEFAULT_BACKBONE, **kwargs: Any) -> VLM4TS:
    """The VLM4TS recipe over ``backbone`` (screening ``window``, ``alpha``, ``plot``, ``on_failure``, ...)."""
    return VLM4TS(backbone, **kwargs)
