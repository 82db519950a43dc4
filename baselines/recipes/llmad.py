"""LLMAD (Liu et al., "Large Language Models can Deliver Accurate and Interpretable Time Series
Anomaly Detection", arXiv 2405.15370).

Per sample: the values are rescaled as LLMAD does (shift by the 0.1th percentile, divide by
the 95th percentile of the shifted values, times 1000, as integers) and cut into
non-overlapping windows of ``window`` points (LLMAD: 400; the last one may be shorter). Each
window is one text request: the rules and anomaly types of AnoCoT, one retrieved normal
sequence and one retrieved anomalous sequence (in-context examples from the TRAIN split,
nearest by DTW), then the window as ``index value`` lines (1-based). The answer is one JSON
object with a three-step ``briefExplanation``, ``is_anomaly`` and ``anomalies`` (the 1-based
indices of anomalous points), plus anomaly type and alarm level. Follows and departures:
``docs/recipes.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from baselines.recipes.base import (
    DEFAULT_BACKBONE,
    Plan,
    Reading,
    Recipe,
    load_recipe_prompt,
    points_to_pairs,
    window_starts,
)
from baselines.recipes.examples import nearest, normal_from_prefix
from harness.answers.recipes import parse_recipe_answer
from harness.core.errors import UsageError
from harness.core.types import Sample
from harness.inference.base import ChatRequest

EXAMPLES = ("train", "none")


def affine_transform(values: np.ndarray, alpha: float = 95.0, beta: float = 0.0) -> np.ndarray:
    """LLMAD's value transform: ``(x - b) / a * 1000`` as integers, ``b`` the 0.1th percentile
    (minus ``beta`` times the 0.1-99th percentile range), ``a`` the ``alpha``-th percentile of
    ``x - b``; zeros stay zero, as in LLMAD. NaN/inf become 0 first (LLMAD fills gaps with 0)."""
    x = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = np.percentile(x, 0.1), np.percentile(x, 99)
    b = lo - beta * (hi - lo)
    shifted = x - b
    a = float(np.percentile(shifted, alpha))
    if np.all(np.abs(shifted) < 1e-3):
        a = min(a, 0.01)
    if not np.isfinite(a) or a == 0.0:
        a = float(np.max(np.abs(shifted))) or 1.0
    out = shifted / a
    out[x == 0] = 0.0
    return (np.clip(out * 1000, -1e12, 1e12)).astype(np.int64)


def marked(values: np.ndarray, labels: np.ndarray) -> str:
    """An anomalous example: comma-separated integers, anomalous points written ``*v*``."""
    return ",".join(f"*{int(v)}*" if lab else str(int(v)) for v, lab in zip(values, labels, strict=True))


class LLMAD(Recipe):
    """LLMAD over any text/VLM backbone: one text request per window, JSON point indices back."""

    recipe = "LLMAD"
    answer_format = "llmad"
    uses_examples = True

    def __init__(self, backbone: str = DEFAULT_BACKBONE, window: int = 400, examples: str = "train",
                 positives: int = 1, negatives: int = 1, negative_len: int = 800, pad: int = 20,
                 max_examples: int = 64, backbone_args: Mapping[str, Any] | None = None,
                 temperature: float | None = None, max_new_tokens: int | None = None, **extra: Any):
        if int(window) < 2:
            raise UsageError(f"LLMAD: window must be at least 2, got {window}")
        if examples not in EXAMPLES:
            raise UsageError(f"LLMAD: examples must be one of {', '.join(EXAMPLES)}, got {examples!r}")
        self.window, self.examples = int(window), str(examples)
        self.positives, self.negatives = int(positives), int(negatives)
        self.negative_len, self.pad, self.max_examples = int(negative_len), int(pad), int(max_examples)
        self._prompt = load_recipe_prompt("llmad")
        super().__init__(backbone, backbone_args, temperature, max_new_tokens, extra)

    def params(self) -> dict[str, Any]:
        """Window, example source and retrieval settings."""
        return {"window": self.window, "examples": self.examples, "positives": self.positives,
                "negatives": self.negatives, "negative_len": self.negative_len, "pad": self.pad,
                "max_examples": self.max_examples, "transform": "affine(0.1%, 95%)*1000"}

    def prompts(self) -> dict[str, Any]:
        """The AnoCoT prompt."""
        return {"ask": self._prompt}

    def _candidates(self) -> tuple[list[Any], list[Any]]:
        """The pool's normal and anomalous segments, LLMAD-scaled (computed once per pool)."""
        cached = getattr(self, "_cands", None)
        if cached is None or cached[0] is not self.pool:
            normal = [_scaled(s) for s in self.pool.normal_segments(self.negative_len)]
            anomal = [_scaled(s) for s in self.pool.anomaly_segments(self.pad, 200)]
            cached = self._cands = (self.pool, normal, anomal)
        return cached[1], cached[2]

    def _demos(self, sample: Sample, window_values: np.ndarray) -> tuple[str, list[str]]:
        """The nearest normal sequence(s) and anomalous sequence(s) for one window."""
        if self.examples == "none":
            return "", []
        normal, anomal = self._candidates()
        normal = normal + [_scaled(s) for s in normal_from_prefix(sample.series, sample.train_end,
                                                                   self.negative_len)]
        q = window_values.astype(np.float64)
        norm_txt = "\n".join(",".join(str(int(v)) for v in s.values) for s in nearest(q, normal, self.negatives))
        anom_txt = [marked(s.values, s.labels) for s in nearest(q, anomal, self.positives)]
        return norm_txt, anom_txt

    def plan(self, sample: Sample) -> Plan:
        """One request per window of the rescaled series."""
        values = affine_transform(sample.series)
        reqs, starts = [], window_starts(values.size, self.window, self.window)
        for s in starts:
            w = values[s : s + self.window]
            normal, anomal = self._demos(sample, w)
            data = "\n".join(f"{i + 1} {int(v)}" for i, v in enumerate(w))
            prompt = self._prompt.render(normal_data=normal, anomaly_data=anomal, data_len=int(w.size), data=data)
            reqs.append(ChatRequest(request_id=f"{sample.id}#llmad@{s}", prompt=prompt,
                                    system=getattr(self.backbone, "system", None)))
        return Plan(reqs, {"starts": starts})

    def read(self, sample: Sample, plan: Plan, answers: Sequence[str]) -> Reading:
        """1-based indices of each window -> absolute points -> runs."""
        offset = int(sample.index_offset)
        points: list[int] = []
        failed, issues, explanations, extras = False, [], [], []
        for start, text in zip(plan.context["starts"], answers, strict=True):
            ans = parse_recipe_answer(text, self.answer_format)
            failed |= ans.failed
            issues += [f"window@{start}: {i}" for i in ans.issues]
            n = min(self.window, len(sample.series) - start)
            for a, _ in ans.pairs:
                if 1 <= a <= n:
                    points.append(offset + start + a - 1)
                else:
                    issues.append(f"window@{start}: index {a} outside 1..{n}")
            if ans.explanation:
                explanations.append(ans.explanation)
            extras.append(ans.extra or {})
        return Reading(points_to_pairs(points), "\n\n".join(explanations), failed, issues,
                       {"windows": plan.context["starts"], "fields": extras})


def _scaled(seg: Any) -> Any:
    """A segment with LLMAD-scaled values (retrieval compares scaled values, as LLMAD does)."""
    from baselines.recipes.examples import Segment

    return Segment(affine_transform(seg.values).astype(np.float64), seg.labels, seg.origin)


def llmad(backbone: str = DEFAULT_BACKBONE, **kwargs: Any) -> LLMAD:
    """The LLMAD recipe over ``backbone`` (``window``, ``examples=train|none``, retrieval settings)."""
    return LLMAD(backbone, **kwargs)
