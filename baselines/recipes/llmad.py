"""LLMAD (Liu et al., "Large Language Models can Deliver Accurate and Interpretable Time Series
Anomaly Detection", arXiv 2405.15370).

Per sample, as LLMAD's published scripts run it (``script/wsd.sh``, ``script/kpi.sh``;
LJunius/LLMAD@95cba6b): zero values are deleted (``DELETE_ZERO=1``), the values rescaled as
LLMAD does (shift by the 0.1th percentile, divide by the 95th percentile of the shifted values,
times 1000, as integers) and cut into non-overlapping windows of ``window`` points (400; the
last one may be shorter). Each window is one text request, LLMAD's own template
(``template=wsd|kpi``) filled with one retrieved normal sequence and two retrieved anomalous
sequences (``RETRIEVE_POSITIVE_NUM=2``; in-context examples from the TRAIN split, nearest by
DTW), then the window as ``index value`` lines (1-based). The answer is one JSON
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
from baselines.recipes.examples import Example, ExamplePool, nearest, normal_from_prefix
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


TEMPLATES = {"wsd": "llmad-wsd", "kpi": "llmad-kpi"}
"""LLMAD's ``Prompt_template.py`` templates: ``prompt_template_WSD`` (``prompt_mode 1``,
``script/wsd.sh``) and ``prompt_template_KPI`` (``prompt_mode 2``, ``script/kpi.sh``)."""
LLMAD_DECODING = {"temperature": 0.7, "max_new_tokens": 2000}
"""``run.py`` ``get_gpt_response``: temperature 0.7, max_tokens 2000 (LLMAD@95cba6b)."""


def kept_points(values: np.ndarray, delete_zero: bool) -> np.ndarray:
    """Indices of the points LLMAD keeps: missing values read as 0 (``fillna(0)``), then with
    ``delete_zero`` every 0 dropped (``all_datas[all_datas['value'] != 0]``)."""
    x = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    return np.flatnonzero(x != 0) if delete_zero else np.arange(x.size)


class LLMAD(Recipe):
    """LLMAD over any text/VLM backbone: one text request per window, JSON point indices back."""

    recipe = "LLMAD"
    answer_format = "llmad"
    uses_examples = True
    original_decoding = LLMAD_DECODING

    def __init__(self, backbone: str = DEFAULT_BACKBONE, window: int = 400, examples: str = "train",
                 template: str = "wsd", positives: int = 2, negatives: int = 1, negative_len: int = 800,
                 pad: int = 20, delete_zero: bool | str = True, max_examples: int = 64,
                 backbone_args: Mapping[str, Any] | None = None, temperature: float | None = None,
                 max_new_tokens: int | None = None, decoding: str = "original", **extra: Any):
        if int(window) < 2:
            raise UsageError(f"LLMAD: window must be at least 2, got {window}")
        if examples not in EXAMPLES:
            raise UsageError(f"LLMAD: examples must be one of {', '.join(EXAMPLES)}, got {examples!r}")
        if template not in TEMPLATES:
            raise UsageError(f"LLMAD: template must be one of {', '.join(TEMPLATES)}, got {template!r}")
        self.window, self.examples, self.template = int(window), str(examples), str(template)
        self.positives, self.negatives = int(positives), int(negatives)
        self.negative_len, self.pad, self.max_examples = int(negative_len), int(pad), int(max_examples)
        self.delete_zero = _flag(delete_zero, "delete_zero")
        self._prompt = load_recipe_prompt(TEMPLATES[self.template])
        super().__init__(backbone, backbone_args, temperature, max_new_tokens, extra, decoding)

    def params(self) -> dict[str, Any]:
        """Template, window, example source, retrieval settings and zero handling."""
        return {"template": self.template, "window": self.window, "examples": self.examples,
                "positives": self.positives, "negatives": self.negatives, "negative_len": self.negative_len,
                "pad": self.pad, "max_examples": self.max_examples, "delete_zero": self.delete_zero,
                "transform": "affine(0.1%, 95%)*1000"}

    def prompts(self) -> dict[str, Any]:
        """The AnoCoT prompt (the chosen template of ``Prompt_template.py``)."""
        return {"ask": self._prompt}

    def _candidates(self) -> tuple[list[Any], list[Any]]:
        """The pool's normal and anomalous segments, zeros deleted as set, LLMAD-scaled (once per pool)."""
        cached = getattr(self, "_cands", None)
        if cached is None or cached[0] is not self.pool:
            pool = self.pool
            if self.delete_zero:
                kept = [(e, kept_points(e.values, True)) for e in pool.examples]
                pool = ExamplePool([Example(e.values[k], e.labels[k], e.origin) for e, k in kept if k.size],
                                   pool.source)
            normal = [_scaled(s) for s in pool.normal_segments(self.negative_len)]
            anomal = [_scaled(s) for s in pool.anomaly_segments(self.pad, 200)]
            cached = self._cands = (self.pool, normal, anomal)
        return cached[1], cached[2]

    def _demos(self, sample: Sample, window_values: np.ndarray) -> tuple[str, str]:
        """``normal_data`` and ``anomaly_data`` for one window, written as ``run.py`` and
        ``Prompt_template.get_template_*`` write them."""
        if self.examples == "none":
            return "", ""
        normal, anomal = self._candidates()
        prefix = sample.series[: sample.train_end] if sample.train_end else np.zeros(0)
        prefix_kept = np.asarray(prefix, np.float64)[kept_points(prefix, self.delete_zero)] if len(prefix) else prefix
        normal = normal + [_scaled(s) for s in normal_from_prefix(prefix_kept, len(prefix_kept) or None,
                                                                   self.negative_len)]
        q = window_values.astype(np.float64)
        near = nearest(q, normal, self.negatives)
        if len(near) == 1:
            norm_txt = ",".join(str(int(v)) for v in near[0].values)
        else:
            norm_txt = "".join(f"series_{i + 1}:" + ",".join(str(int(v)) for v in s.values) + "\n"
                               for i, s in enumerate(near))
        anom_txt = "".join(f"sequence {i + 1}: {marked(s.values, s.labels)}\n"
                           for i, s in enumerate(nearest(q, anomal, self.positives)))
        return norm_txt, anom_txt

    def plan(self, sample: Sample) -> Plan:
        """One request per window of the rescaled series (zeros deleted first, as set)."""
        kept = kept_points(sample.series, self.delete_zero)
        if kept.size == 0:
            return Plan(error="LLMAD: every value is 0 or missing (delete_zero leaves nothing to read)")
        values = affine_transform(np.asarray(sample.series, np.float64)[kept])
        reqs, starts = [], window_starts(values.size, self.window, self.window)
        for s in starts:
            w = values[s : s + self.window]
            normal, anomal = self._demos(sample, w)
            data = "\n".join(f"{i + 1} {int(v)}" for i, v in enumerate(w))
            prompt = self._prompt.fill(normal_data=normal, data=data, data_len=str(int(w.size)), anomaly_data=anomal)
            reqs.append(ChatRequest(request_id=f"{sample.id}#llmad@{s}", prompt=prompt,
                                    system=getattr(self.backbone, "system", None)))
        return Plan(reqs, {"starts": starts, "kept": kept})

    def read(self, sample: Sample, plan: Plan, answers: Sequence[str]) -> Reading:
        """1-based indices of each window -> the sample's points (through the kept points) -> runs."""
        offset, kept = int(sample.index_offset), plan.context["kept"]
        points: list[int] = []
        failed, issues, explanations, extras = False, [], [], []
        for start, text in zip(plan.context["starts"], answers, strict=True):
            ans = parse_recipe_answer(text, self.answer_format)
            failed |= ans.failed
            issues += [f"window@{start}: {i}" for i in ans.issues]
            n = min(self.window, kept.size - start)
            for a, _ in ans.pairs:
                if 1 <= a <= n:
                    points.append(offset + int(kept[start + a - 1]))
                else:
                    issues.append(f"window@{start}: index {a} outside 1..{n}")
            if ans.explanation:
                explanations.append(ans.explanation)
            extras.append(ans.extra or {})
        return Reading(points_to_pairs(points), "\n\n".join(explanations), failed, issues,
                       {"windows": plan.context["starts"], "fields": extras,
                        "deleted_zeros": int(len(sample.series) - kept.size)})


def _flag(value: Any, name: str) -> bool:
    """A yes/no argument (``1``/``0``, ``true``/``false``, as ``--model-args`` gives them)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise UsageError(f"LLMAD: {name} must be 1/0 or true/false, got {value!r}")


def _scaled(seg: Any) -> Any:
    """A segment with LLMAD-scaled values (retrieval compares scaled values, as LLMAD does)."""
    from baselines.recipes.examples import Segment

    return Segment(affine_transform(seg.values).astype(np.float64), seg.labels, seg.origin)


def llmad(backbone: str = DEFAULT_BACKBONE, **kwargs: Any) -> LLMAD:
    """The LLMAD recipe over ``backbone`` (``window``, ``examples=train|none``, retrieval settings)."""
    return LLMAD(backbone, **kwargs)
