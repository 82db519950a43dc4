"""LLM-TSAD: the text-prompted LLM detector of Dong, Huang & Cao, "Can LLMs Serve As Time Series
Anomaly Detectors?" (arXiv 2408.03475), the paper's LLM-TSAD row as we read its citation.

Per sample (defaults): the whole series as a value list in one request, with 1-5 synthetic
in-context examples of distinct anomaly kinds and a chain-of-thought instruction; the answer is
``{"anomaly": [indexes], "reason": "..."}`` (indexes: positions in the value list, from 0),
asked again up to 5 times when it is not in that shape. The study's Appendix A.3 templates
could not be read here, so the wording is ours; what follows the study and what does not:
``docs/recipes.md``.
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

EXAMPLES = ("synthetic", "train", "none")
VALUES = ("raw", "zscore")
KINDS = ("global point", "local point", "seasonal", "trend", "shape")
"""The five anomaly kinds of the study, in the order the synthetic examples take them."""


def standardise(values: np.ndarray) -> np.ndarray:
    """z-scores (0 where the series is flat; NaN/inf read as the mean): the ``values=zscore`` option."""
    x = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(x)
    if not finite.any():
        raise ValueError("the series has no finite value")
    mu, sd = float(x[finite].mean()), float(x[finite].std())
    return np.where(finite, (x - mu) / sd if sd > 0 else 0.0, 0.0)


def value_list(values: np.ndarray) -> str:
    """The series as a value list ``[v0, v1, ...]`` (4 decimals; missing values as ``null``)."""
    return "[" + ", ".join("null" if not np.isfinite(v) else np.format_float_positional(round(float(v), 4), trim="-")
                           for v in values) + "]"


def synthetic_example(kind: str, n: int = 100, seed: int = 0) -> tuple[np.ndarray, list[int], str]:
    """One synthetic series (a noisy sine of period 20) with one anomaly of ``kind``, its anomalous
    indexes and a reason: our stand-in for the study's synthesized examples (their generator is
    not published in a form we could run)."""
    rng = np.random.default_rng(seed + KINDS.index(kind))
    t = np.arange(n, dtype=np.float64)
    y = np.sin(2 * np.pi * t / 20) + rng.normal(0, 0.05, n)
    a = n // 2
    if kind == "global point":
        idx = [a]
        y[a] = 4.0
        why = f"the value at index {a} lies far above the range of the rest of the series"
    elif kind == "local point":
        a = a + 5  # at a trough of the sine, a value that is normal elsewhere
        idx = [a]
        y[a] = 0.9
        why = f"the value at index {a} is high for its neighbourhood although inside the overall range"
    elif kind == "seasonal":
        idx = list(range(a, a + 20))
        y[a : a + 20] = np.sin(2 * np.pi * t[a : a + 20] / 5) + rng.normal(0, 0.05, 20)
        why = f"between indexes {a} and {a + 19} the period shrinks from 20 to 5 values"
    elif kind == "trend":
        idx = list(range(a, n))
        y[a:] += np.linspace(0.0, 3.0, n - a)
        why = f"from index {a} the series starts rising steadily, breaking its flat trend"
    else:
        idx = list(range(a, a + 10))
        y[a : a + 10] = np.where(np.arange(10) < 5, 1.0, -1.0)
        why = f"between indexes {a} and {a + 9} the smooth wave becomes a square step"
    return np.round(y, 4), idx, why


class LLMTSAD(Recipe):
    """LLM-TSAD over any text/VLM backbone: the series as a value list, in-context examples and
    chain-of-thought, ``{"anomaly": [indexes], "reason": ...}`` back, rerun on bad JSON."""

    recipe = "LLM-TSAD"
    answer_format = "llm-tsad"
    uses_examples = True

    def __init__(self, backbone: str = DEFAULT_BACKBONE, window: int = 0, examples: str = "synthetic",
                 n_examples: int = 5, values: str = "raw", reruns: int = 5, max_examples: int = 64,
                 backbone_args: Mapping[str, Any] | None = None, temperature: float | None = None,
                 max_new_tokens: int | None = None, decoding: str = "original", **extra: Any):
        if int(window) != 0 and int(window) < 2:
            raise UsageError(f"LLM-TSAD: window must be 0 (the whole series) or at least 2, got {window}")
        if examples not in EXAMPLES:
            raise UsageError(f"LLM-TSAD: examples must be one of {', '.join(EXAMPLES)}, got {examples!r}")
        if not 1 <= int(n_examples) <= len(KINDS):
            raise UsageError(f"LLM-TSAD: n_examples must be in 1..{len(KINDS)}, got {n_examples}")
        if values not in VALUES:
            raise UsageError(f"LLM-TSAD: values must be one of {', '.join(VALUES)}, got {values!r}")
        if int(reruns) < 0:
            raise UsageError(f"LLM-TSAD: reruns must be at least 0, got {reruns}")
        self.window, self.examples, self.max_examples = int(window), str(examples), int(max_examples)
        self.n_examples, self.values, self.reruns = int(n_examples), str(values), int(reruns)
        self._prompt = load_recipe_prompt("llm-tsad")
        super().__init__(backbone, backbone_args, temperature, max_new_tokens, extra, decoding)

    def params(self) -> dict[str, Any]:
        """Window, examples, value form and reruns."""
        return {"window": self.window, "examples": self.examples, "n_examples": self.n_examples,
                "max_examples": self.max_examples, "values": self.values, "reruns": self.reruns,
                "index": "0-based position in the value list"}

    def prompts(self) -> dict[str, Any]:
        """The prompt (our wording: the study's appendix text could not be consulted)."""
        return {"ask": self._prompt}

    def _shown(self, values: np.ndarray) -> np.ndarray:
        return standardise(values) if self.values == "zscore" else np.asarray(values, dtype=np.float64)

    def demonstrations(self) -> list[tuple[str, str]]:
        """``(value list, answer)`` of each in-context example: ``n_examples`` synthetic series of
        distinct kinds (``examples=synthetic``), or the first anomalous stretches of the task's
        train split (``examples=train``), or none."""
        if self.examples == "none":
            return []
        out: list[tuple[str, str]] = []
        if self.examples == "synthetic":
            for kind in KINDS[: self.n_examples]:
                y, idx, why = synthetic_example(kind)
                out.append((value_list(self._shown(y)), json.dumps({"anomaly": idx, "reason": why})))
            return out
        length = self.window or 200
        for ex in self.pool.examples:
            found = runs(ex.labels)
            if not found:
                continue
            a, b = found[0]
            lo = max(0, min((a + b) // 2 - length // 2, len(ex.values) - length))
            vals, labs = ex.values[lo : lo + length], ex.labels[lo : lo + length]
            idx = [int(i) for i in np.flatnonzero(labs)]
            why = f"the values at indexes {idx[0]} to {idx[-1]} depart from the pattern of the rest of the series"
            out.append((value_list(self._shown(vals)), json.dumps({"anomaly": idx, "reason": why})))
            if len(out) >= self.n_examples:
                break
        return out

    def prompt_text(self, values: np.ndarray) -> str:
        """The prompt for one value list (the examples, then the series)."""
        demos = "".join(f"\nExample {i + 1}:\nTime series: {data}\nAnswer: {answer}\n"
                        for i, (data, answer) in enumerate(self.demonstrations()))
        return self._prompt.fill(examples=demos, data_len=str(int(values.size)), data=value_list(values))

    def plan(self, sample: Sample) -> Plan:
        """One request for the whole series (or one per ``window`` points)."""
        z = self._shown(sample.series)
        if not np.isfinite(z).any():
            return Plan(error="LLM-TSAD: the series has no finite value")
        size = self.window or max(1, z.size)
        starts = window_starts(z.size, size, size)
        reqs = [ChatRequest(request_id=f"{sample.id}#llm-tsad@{s}", prompt=self.prompt_text(z[s : s + size]),
                            system=getattr(self.backbone, "system", None)) for s in starts]
        return Plan(reqs, {"starts": starts, "size": size})

    def read(self, sample: Sample, plan: Plan, answers: Sequence[str]) -> Reading:
        """0-based indexes of each value list -> absolute points -> runs."""
        offset, size = int(sample.index_offset), plan.context["size"]
        points: list[int] = []
        failed, issues, explanations = False, [], []
        for start, text in zip(plan.context["starts"], answers, strict=True):
            ans = parse_recipe_answer(text, self.answer_format)
            failed |= ans.failed
            issues += [f"window@{start}: {i}" for i in ans.issues]
            n = min(size, len(sample.series) - start)
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
    """The LLM-TSAD recipe over ``backbone`` (``window``, ``examples``, ``n_examples``, ``values``, ``reruns``)."""
    return LLMTSAD(backbone, **kwargs)
