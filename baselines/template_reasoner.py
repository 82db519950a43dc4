"""A text-emitting reference model: a classical detector plus a fixed rationale template.

This is a HEURISTIC BASELINE, NOT A VLM. It never looks at the image or the prompt: it runs
a classical detector (default Sub-PCA, any registered score model via ``detector=``) on the
sample's series, thresholds the scores with :mod:`harness.scoring.thresholds`, and writes the answer
in an answer format of :mod:`harness.answers.formats` (``answer=``, default the paper's tags) with a
three-step rationale filled in from the series' own values:

* Step 1: the x-axis range (absolute indices of the window) and the y-axis range;
* Step 2: the usual level and spread, and each flagged region with the value it reaches;
* Step 3: why: how far that value is from the usual level, in robust spreads, and that the
  detector's score there is above its threshold.

``intervals`` chooses what is reported:

* ``"peak"`` (default): exactly one interval, :func:`harness.scoring.thresholds.peak_interval`, as
  the paper's classical rows do; the same interval the task's score path gives the detector
  itself, so this model's interval metrics equal its detector's on the same task;
* ``"peak-above"``: that interval only when the peak score is above the threshold
  (``mean + k*std``), else ``<anomaly>False</anomaly>``;
* ``"all"``: every run of scores above the threshold (at most ``max_intervals``, the
  highest-scoring first, then sorted by position), else ``<anomaly>False</anomaly>``.

Deterministic: the detector is seeded per series. It gives every text-model metric
(parsing, reasoning signals) a reproducible reference.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from baselines.catalog import TEMPLATE_REASONER_NOTE
from harness.answers.formats import DEFAULT_ANSWER_FORMAT, STEP_LABELS, answer_format
from harness.core.errors import UsageError
from harness.core.hashing import stable_hash
from harness.core.types import Interval, Prediction, Sample
from harness.registry.lazy import make_model
from harness.scoring.thresholds import (
    DEFAULT_K,
    binarize,
    binary_to_intervals,
    peak_interval,
    score_threshold,
)

TEMPLATE_VERSION = "1"
"""Bump when the wording or the numbers of the rationale change."""

STEP1 = (STEP_LABELS[0] + ": The x-axis represents the index, ranging from {start} to {end}. "
         "The y-axis represents the value, ranging from about {lo} to {hi}.")
STEP2_USUAL = STEP_LABELS[1] + ": Most values stay between {p05} and {p95}, around a typical level of {median}."
STEP2_REGION = (" One region stands out: around index {a} to {b}, the values reach {extreme}, "
                "compared with the typical level of {median}.")
STEP2_NORMAL = " No region departs clearly from this usual pattern."
STEP3_REGION = (STEP_LABELS[2] + ": The region from index {a} to {b} is identified as an anomaly because its values "
                "lie {dev} robust spreads (median absolute deviations) away from the typical level, and "
                "the {detector} anomaly score there reaches {score}, {relation} the threshold of {threshold} "
                "(mean plus {k} standard deviations of the scores).")
STEP3_NORMAL = (STEP_LABELS[2] + ": No anomaly is reported because no {detector} anomaly score rises above the "
                "threshold of mean plus {k} standard deviations of the scores.")
TEMPLATE_HASH = stable_hash([STEP1, STEP2_USUAL, STEP2_REGION, STEP2_NORMAL, STEP3_REGION, STEP3_NORMAL])
MODES = ("peak", "peak-above", "all")
NOTE = TEMPLATE_REASONER_NOTE


def fmt(x: float) -> str:
    """A value as the rationale writes it (4 significant digits)."""
    return f"{float(x):.4g}"


def flagged_intervals(scores: np.ndarray, offset: int, k: float, mode: str, max_intervals: int) -> list[Interval]:
    """The intervals ``mode`` reports (absolute, inclusive); see the module docstring."""
    if mode == "peak":
        return list(peak_interval(scores, index_offset=offset, k=k))
    if not np.max(scores) > score_threshold(scores, k):
        return []
    if mode == "peak-above":
        return list(peak_interval(scores, index_offset=offset, k=k))
    runs = binary_to_intervals(binarize(scores, k), index_offset=offset)
    ranked = sorted(runs, key=lambda iv: -float(np.max(scores[iv[0] - offset: iv[1] - offset + 1])))
    return sorted(ranked[:max_intervals])


def rationale(
    values: np.ndarray, offset: int, intervals: Sequence[Interval], detector: str, k: float,
    scores: np.ndarray | None = None,
) -> str:
    """The three steps, grounded in ``values`` (``values[0]`` is absolute index ``offset``) and,
    when given, in the detector's ``scores`` (same length)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        finite = np.zeros(1)
    median = float(np.median(finite))
    mad = float(np.median(np.abs(finite - median))) or float(np.std(finite)) or 1.0
    p05, p95 = np.percentile(finite, [5, 95])
    end = offset + values.size - 1
    s = np.zeros(values.size) if scores is None else np.asarray(scores, dtype=np.float64)
    threshold = score_threshold(s, k)
    text = [STEP1.format(start=offset, end=end, lo=fmt(finite.min()), hi=fmt(finite.max()))]
    step2 = STEP2_USUAL.format(p05=fmt(p05), p95=fmt(p95), median=fmt(median))
    step3 = []
    for a, b in intervals:
        part = values[a - offset: b - offset + 1]
        part = part[np.isfinite(part)] if np.isfinite(part).any() else np.array([median])
        extreme = float(part[np.argmax(np.abs(part - median))])
        step2 += STEP2_REGION.format(a=a, b=b, extreme=fmt(extreme), median=fmt(median))
        top = float(np.max(s[a - offset: b - offset + 1]))
        step3.append(STEP3_REGION.format(
            a=a, b=b, dev=f"{abs(extreme - median) / mad:.1f}", detector=detector, score=fmt(top),
            relation="above" if top > threshold else "at or below", threshold=fmt(threshold), k=fmt(k)))
    if not intervals:
        step2 += STEP2_NORMAL
        step3.append(STEP3_NORMAL.format(detector=detector, k=fmt(k)))
    text.append(step2)
    label = STEP_LABELS[2] + ": "
    text.append(" ".join(step3) if len(step3) == 1 else label + " ".join(x[len(label):] for x in step3))
    return "\n".join(text)


class TemplateReasoner:
    """Classical detector + thresholds + a fixed rationale template (``provides = {"text"}``)."""

    provides = frozenset({"text"})
    batch_size = 8

    def __init__(
        self, detector: str = "Sub-PCA", k: float = DEFAULT_K, intervals: str = "peak", max_intervals: int = 3,
        *, answer: str = DEFAULT_ANSWER_FORMAT, **detector_args: Any,
    ) -> None:
        if intervals not in MODES:
            raise UsageError(f"template-reasoner: intervals must be one of {', '.join(MODES)}, got {intervals!r}")
        if isinstance(k, bool) or not isinstance(k, (int, float)) or not math.isfinite(k) or k < 0:
            raise UsageError(f"template-reasoner: k must be a finite number >= 0 (standard deviations), got {k!r}")
        if isinstance(max_intervals, bool) or not isinstance(max_intervals, int) or max_intervals < 1:
            raise UsageError(f"template-reasoner: max_intervals must be a whole number >= 1, got {max_intervals!r}")
        self.name = "template-reasoner"
        self.answer = answer_format(str(answer))
        self.detector_name = str(detector)
        self.detector = make_model(self.detector_name, **detector_args)
        if "scores" not in getattr(self.detector, "provides", ()):
            raise UsageError(f"detector {detector!r} does not produce anomaly scores")
        self.k, self.mode, self.max_intervals = float(k), intervals, max_intervals

    def fingerprint(self) -> str:
        """Template version and text, the detector's fingerprint, the thresholding settings."""
        return stable_hash({
            "adapter": "template-reasoner", "template_version": TEMPLATE_VERSION, "template": TEMPLATE_HASH,
            "detector": [self.detector_name, self.detector.fingerprint()], "k": self.k, "mode": self.mode,
            "max_intervals": self.max_intervals if self.mode == "all" else None,
            # the default format is left out, so answers cached before formats were chosen still match
            **({} if self.answer.name == DEFAULT_ANSWER_FORMAT else {"answer": self.answer.fingerprint()}),
        })

    def with_draw(self, seed: int) -> TemplateReasoner:
        """The draw hook (``harness.run.draws``): a copy over the detector re-seeded with ``seed``."""
        hook = getattr(self.detector, "with_draw", None)
        if not callable(hook):
            raise UsageError(f"detector {self.detector_name!r} cannot be re-seeded")
        twin = copy.copy(self)
        twin.detector = hook(seed)
        return twin

    def describe(self) -> dict[str, Any]:
        """Display metadata: a heuristic baseline, not a VLM."""
        return {"group": "heuristic baseline", "detector": self.detector_name, "intervals": self.mode,
                "note": NOTE}

    def predict(self, batch: Sequence[Sample]) -> list[Prediction]:
        """Run the detector on the batch, then write one answer per sample."""
        scored = {p.sample_id: p for p in self.detector.predict(batch)}
        return [self._answer(s, scored.get(s.id)) for s in batch]

    def _answer(self, sample: Sample, scored: Prediction | None) -> Prediction:
        if scored is None or scored.error is not None or scored.scores is None:
            why = "no prediction" if scored is None else scored.error or "no scores"
            return Prediction(sample.id, error=f"detector {self.detector_name}: {why}")
        values = np.asarray(sample.series, dtype=np.float64).ravel()
        scores = np.asarray(scored.scores, dtype=np.float64).ravel()
        offset = int(sample.index_offset)
        found = flagged_intervals(scores, offset, self.k, self.mode, self.max_intervals)
        text = self.answer.write(found, rationale(values, offset, found, self.detector_name, self.k, scores))
        return Prediction(sample.id, text=text, latency_s=scored.latency_s,
                          meta={"detector": self.detector_name})


def template_reasoner(detector: str = "Sub-PCA", k: float = DEFAULT_K, intervals: str = "peak",
                      max_intervals: int = 3, answer: str = DEFAULT_ANSWER_FORMAT,
                      **detector_args: Any) -> TemplateReasoner:
    """The template reasoner over ``detector`` (a registered score model), answering in ``answer``."""
    return TemplateReasoner(detector, k, intervals, max_intervals, answer=answer, **detector_args)
