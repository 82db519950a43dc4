"""The composite reward of a candidate rationale (the paper's rationale selection).

``R = (λ_acc·accuracy + λ_vis·grounded + λ_axis·axis + λ_clar·clarity) / Σλ``, each term in ``[0, 1]``:

``accuracy`` (anomaly localisation, from :mod:`harness.scoring.metrics`)
    Mean of the segment's interval F1 (the paper's TP/FP/FN counting) and IoU of the
    predicted and true anomalous index sets; 1.0 when the segment is normal and the answer
    says so (both undefined there), 0.0 when one side is empty and the other is not.
``grounded`` (visual groundedness)
    The fraction of indices the text cites that lie on the plot (``reason-in-window`` of
    :mod:`harness.scoring.reasoning`). A text that cites nothing scores 0.5 when it declares the
    series normal (nothing to point at) and 0.0 when it claims an anomaly without pointing at it.
``axis`` (axis awareness)
    0.8 × ``reason-axis`` (the stated x-axis range matches the plot within half a tick)
    + 0.2 when the y-axis / values are described.
``clarity``
    Mean of: the share of the three steps (``Step 1`` .. ``Step 3``) present; agreement of
    the text with its own tags (``reason-consistent``; 1.0 when the answer has no interval);
    a length term (1.0 for 15-400 words, less outside).

A candidate whose answer does not parse, whose model failed, or that carries no rationale
is NOT eligible (reward 0, with the reason): it is recorded but never selected.

With a judge (:mod:`harness.scoring.judge`), the soft terms (grounded, axis, clarity) become
``(1 - judge_share)·rule + judge_share·judge`` for candidates whose judge reply parsed; a
candidate whose judge reply could not be parsed keeps its rule-based terms (and the
reply is recorded). The paper scores the soft terms with a judge alone: ``judge_share=1``.

The paper does not publish its λ; the defaults here (:data:`DEFAULT_WEIGHTS`: 0.4, 0.2, 0.2,
0.2, i.e. localisation counts as much as the three soft terms together) are ours, and
:func:`sensitivity` reports how the selection moves when each weight does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from harness.answers.parse import ParsedAnswer, parse_answer
from harness.answers.prose import intervals_in_text
from harness.core.errors import UsageError
from harness.core.types import Interval
from harness.scoring.metrics import interval_counts, interval_iou, prf
from harness.scoring.reasoning import axis_signal, consistency_signal, in_window_signal

TERMS = ("accuracy", "grounded", "axis", "clarity")
SOFT_TERMS = ("grounded", "axis", "clarity")
REWARD_VERSION = "composite-reward/1"

_STEP_RE = re.compile(r"\bstep\s*([123])\b", re.I)
_Y_AXIS_RE = re.compile(r"\by[- ]?axis\b|\bvalues?\b.{0,40}\b(?:range|between|around|from)\b", re.I)
MIN_WORDS, MAX_WORDS = 15, 400


@dataclass(frozen=True)
class RewardWeights:
    """The λ of the four terms (non-negative, not all zero; normalised by their sum) and the
    share of the judge in the soft terms."""

    accuracy: float = 0.4
    grounded: float = 0.2
    axis: float = 0.2
    clarity: float = 0.2
    judge_share: float = 1.0

    def __post_init__(self) -> None:
        values = [getattr(self, t) for t in TERMS]
        if any(not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0 for v in values):
            raise UsageError(f"reward weights must be non-negative numbers, got {dict(zip(TERMS, values, strict=True))}")
        if sum(values) <= 0:
            raise UsageError("at least one reward weight must be positive")
        if not 0.0 <= float(self.judge_share) <= 1.0:
            raise UsageError(f"judge_share must lie in [0, 1], got {self.judge_share}")

    def as_dict(self) -> dict[str, float]:
        """The weights as a plain dict (for records)."""
        return {k: float(v) for k, v in asdict(self).items()}

    @classmethod
    def parse(cls, text: str | None) -> RewardWeights:
        """``"accuracy=0.5,axis=0.1"`` -> weights (others at their defaults); unknown names refused."""
        if not text:
            return cls()
        values: dict[str, float] = {}
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            key, sep, value = part.partition("=")
            key = key.strip()
            if not sep or key not in (*TERMS, "judge_share"):
                raise UsageError(f"bad reward weight {part!r}: expected NAME=NUMBER, NAME one of "
                                 f"{', '.join((*TERMS, 'judge_share'))}")
            try:
                values[key] = float(value)
            except ValueError as exc:
                raise UsageError(f"bad reward weight {part!r}: {value!r} is not a number") from exc
        return cls(**values)


DEFAULT_WEIGHTS = RewardWeights()


@dataclass
class Scored:
    """The reward of one candidate: eligibility, terms (rule-based and, if any, judged), total."""

    eligible: bool
    reason: str | None
    rule: dict[str, float] = field(default_factory=dict)
    judge: dict[str, float] | None = None
    terms: dict[str, float] = field(default_factory=dict)
    reward: float = 0.0

    def as_record(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"eligible": self.eligible, "reason": self.reason, "rule": self.rule, "judge": self.judge,
                "terms": self.terms, "reward": self.reward}


def accuracy_term(pred: Sequence[Interval], truth: Sequence[Interval]) -> float:
    """Mean of interval F1 and IoU; 1.0 for a normal segment answered as normal."""
    if not pred and not truth:
        return 1.0
    f1 = prf(*interval_counts(pred, truth))[2] or 0.0
    iou = interval_iou(pred, truth) or 0.0
    return (f1 + iou) / 2


def grounded_term(rationale: str, parsed: ParsedAnswer, window: Interval) -> float:
    """Share of cited indices on the plot (0.5 / 0.0 when nothing is cited, see module doc)."""
    inside = in_window_signal(intervals_in_text(rationale), window)
    if inside is not None:
        return inside
    return 0.0 if parsed.intervals else 0.5


def axis_term(rationale: str, window: Interval, n_xticks: int = 20) -> float:
    """0.8 for the right x-axis range plus 0.2 for describing the y-axis / values."""
    return 0.8 * axis_signal(rationale, window, n_xticks) + 0.2 * bool(_Y_AXIS_RE.search(rationale))


def clarity_term(rationale: str, parsed: ParsedAnswer) -> float:
    """Mean of step coverage, text/tag agreement and a length term."""
    steps = len({m.group(1) for m in _STEP_RE.finditer(rationale)}) / 3
    consistent = consistency_signal(list(parsed.intervals), intervals_in_text(rationale))
    consistent = 1.0 if consistent is None else consistent
    words = len(rationale.split())
    if words < MIN_WORDS:
        length = words / MIN_WORDS
    elif words > MAX_WORDS:
        length = max(0.0, 1.0 - (words - MAX_WORDS) / MAX_WORDS)
    else:
        length = 1.0
    return (steps + consistent + length) / 3


def rule_terms(text: str | None, window: Interval, truth: Sequence[Interval], n_xticks: int = 20
               ) -> tuple[dict[str, float], str | None]:
    """The four rule-based terms of a text answer and why it is not eligible (None if it is)."""
    zero = dict.fromkeys(TERMS, 0.0)
    if text is None or not text.strip():
        return zero, "empty answer"
    parsed = parse_answer(text, window)
    if parsed.failed:
        return zero, "answer could not be parsed: " + ("; ".join(parsed.issues) or "no answer found")
    rationale = parsed.rationale.strip()
    acc = accuracy_term(parsed.intervals, [tuple(t) for t in truth])
    if not rationale:
        return {**zero, "accuracy": acc}, "no rationale besides the answer tags"
    return {
        "accuracy": acc,
        "grounded": grounded_term(rationale, parsed, window),
        "axis": axis_term(rationale, window, n_xticks),
        "clarity": clarity_term(rationale, parsed),
    }, None


def combine(rule: Mapping[str, float], judge: Mapping[str, float] | None, weights: RewardWeights
            ) -> tuple[dict[str, float], float]:
    """The terms used (judge blended into the soft terms) and the weighted reward."""
    terms = dict(rule)
    if judge is not None:
        s = float(weights.judge_share)
        for k in SOFT_TERMS:
            if k in judge:
                terms[k] = (1 - s) * float(rule.get(k, 0.0)) + s * float(judge[k])
    total = sum(getattr(weights, k) for k in TERMS)
    reward = sum(getattr(weights, k) * terms.get(k, 0.0) for k in TERMS) / total
    return terms, round(reward, 9)


def score_candidate(text: str | None, window: Interval, truth: Sequence[Interval], *,
                    error: str | None = None, judge: Mapping[str, float] | None = None,
                    weights: RewardWeights = DEFAULT_WEIGHTS, n_xticks: int = 20) -> Scored:
    """Reward one candidate (``error``: the model failed on it; it is then not eligible)."""
    if error:
        return Scored(False, f"model failed: {error}", dict.fromkeys(TERMS, 0.0), None, dict.fromkeys(TERMS, 0.0))
    rule, reason = rule_terms(text, window, truth, n_xticks)
    if reason is not None:
        return Scored(False, reason, rule, None, dict(rule), 0.0)
    terms, reward = combine(rule, judge, weights)
    return Scored(True, None, rule, dict(judge) if judge is not None else None, terms, reward)


def rescore(scored: Scored, weights: RewardWeights) -> Scored:
    """The same candidate under other weights (no re-parsing, no re-judging)."""
    if not scored.eligible:
        return scored
    terms, reward = combine(scored.rule, scored.judge, weights)
    return replace(scored, terms=terms, reward=reward)
