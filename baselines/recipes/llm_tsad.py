"""LLM-TSAD: the text-prompted LLM detector of Dong, Huang & Cao, "Can LLMs Serve As Time Series
Anomaly Detectors?" (arXiv 2408.03475), the paper's LLM-TSAD row as we read its citation.

That study prompts GPT-4 with the series as text and finds that two prompt strategies make
it competitive: in-context learning (a worked example) and chain-of-thought (reason step by
step over five anomaly kinds: global point, local point, seasonal, trend, shape), answering
whether the series is anomalous, the anomalous indices and why. No prompt text of theirs is
published in a form we could follow word for word, so ours states those strategies in our
own words. Per sample: the values are z-standardised (two decimals) and cut into
non-overlapping windows of ``window`` points (the study found GPT-4 weaker on long inputs);
each window is one request with one demonstration (``examples=train``: the first anomalous
stretch of the TRAIN split, with its correct answer); the answer is one JSON object
``{"reasoning", "has_anomaly", "anomaly_indices"}`` with 0-based indices. Every choice is
listed in ``docs/recipes.md``.
"""

from __future__ import annotations

import json
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
from baselines.recipes.examples import runs
from harness.answers.recipes import parse_recipe_answer
from harness.core.errors import UsageError
from harness.core.types import Sample
from harness.inference.base import ChatRequest

EXAMPLES = ("train", "none")


def standardise(values: np.ndarray) -> np.ndarray:
    """z-scores (0 where the series is flat; NaN/inf read as the mean), rounded to 2 decimals."""
    x = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(x)
    if not finite.any():
        raise ValueError("the series has no finite value")
    mu, sd = float(x[finite].mean()), float(x[finite].std())
    z = np.where(finite, (x - mu) / sd if sd > 0 else 0.0, 0.0)
    return np.round(z, 2) + 0.0


def lines(values: np.ndarray) -> str:
    """``index: value`` lines, 0-based."""
    return "\n".join(f"{i}: {v:.2f}" for i, v in enumerate(values))


class LLMTSAD(Recipe):
    """LLM-TSAD over any text/VLM backbone: windows as text, CoT + one demonstration, JSON indices."""

    recipe = "LLM-TSAD"
    answer_format = "llm-tsad"
    uses_examples = True

    def __init__(self, backbone: str = DEFAULT_BACKBONE, window: int = 200, examples: str = "train",
                 max_examples: int = 64, backbone_args: Mapping[str, Any] | None = None,
                 temperature: float | None = None, max_new_tokens: int | None = None, **extra: Any):
        if int(window) < 2:
            raise UsageError(f"LLM-TSAD: window must be at least 2, got {window}")
        if examples not in EXAMPLES:
            raise UsageError(f"LLM-TSAD: examples must be one of {', '.join(EXAMPLES)}, got {examples!r}")
        self.window, self.examples, self.max_examples = int(window), str(examples), int(max_examples)
        self._prompt = load_recipe_prompt("llm-tsad")
        super().__init__(backbone, backbone_args, temperature, max_new_tokens, extra)

    def params(self) -> dict[str, Any]:
        """Window and example source."""
        return {"window": self.window, "examples": self.examples, "max_examples": self.max_examples,
                "values": "z-score, 2 decimals", "index": "0-based"}

    def prompts(self) -> dict[str, Any]:
        """The CoT prompt."""
        return {"ask": self._prompt}

    def demonstration(self) -> dict[str, str] | None:
        """The worked example: the first anomalous train stretch (``window`` points around its
        first anomaly) and the correct answer in the recipe's format."""
        if self.examples == "none":
            return None
        for ex in self.pool.examples:
            found = runs(ex.labels)
            if not found:
                continue
            a, b = found[0]
            lo = max(0, min((a + b) // 2 - self.window // 2, len(ex.values) - self.window))
            vals, labs = ex.values[lo : lo + self.window], ex.labels[lo : lo + self.window]
            idx = [int(i) for i in np.flatnonzero(labs)]
            answer = {"reasoning": f"The series follows a regular pattern; the values at indices {idx[0]} to "
                                   f"{idx[-1]} depart from it.", "has_anomaly": True, "anomaly_indices": idx}
            return {"data": lines(standardise(vals)), "answer": json.dumps(answer)}
        return None

    def plan(self, sample: Sample) -> Plan:
        """One request per window of the standardised series."""
        z = standardise(sample.series)
        demo = self.demonstration()
        starts = window_starts(z.size, self.window, self.window)
        reqs = [ChatRequest(request_id=f"{sample.id}#llm-tsad@{s}",
                            prompt=self._prompt.render(example=demo, data=lines(z[s : s + self.window]),
                                                       data_len=int(z[s : s + self.window].size)),
                            system=getattr(self.backbone, "system", None)) for s in starts]
        return Plan(reqs, {"starts": starts})

    def read(self, sample: Sample, plan: Plan, answers: Sequence[str]) -> Reading:
        """0-based indices of each window -> absolute points -> runs."""
        offset = int(sample.index_offset)
        points: list[int] = []
        failed, issues, explanations = False, [], []
        for start, text in zip(plan.context["starts"], answers, strict=True):
            ans = parse_recipe_answer(text, self.answer_format)
            failed |= ans.failed
            issues += [f"window@{start}: {i}" for i in ans.issues]
            n = min(self.window, len(sample.series) - start)
            for a, _ in ans.pairs:
                if 0 <= a < n:
                    points.append(offset + start + a)
                else:
                    issues.append(f"window@{start}: index {a} outside 0..{n - 1}")
            if ans.explanation:
                explanations.append(ans.explanation)
        return Reading(points_to_pairs(points), "\n\n".join(explanations), failed, issues,
                       {"windows": plan.context["starts"]})


def llm_tsad(backbone: str = DEFAULT_BACKBONE, **kwargs: Any) -> LLMTSAD:
    """The LLM-TSAD recipe over ``backbone`` (``window``, ``examples=train|none``)."""
    return LLMTSAD(backbone, **kwargs)
