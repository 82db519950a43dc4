"""The judge-reply reader: grades from an LLM judge's reply (:mod:`harness.scoring.judge` asks, this reads)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

JUDGE_KEYS = ("grounded", "axis", "clarity")
_JUDGE_ALIASES = {"grounded": "grounded", "groundedness": "grounded", "visual_groundedness": "grounded",
            "visual groundedness": "grounded", "axis": "axis", "axis_awareness": "axis",
            "axis awareness": "axis", "clarity": "clarity"}
_JUDGE_LINE_RE = re.compile(
    r"(visual[ _]groundedness|groundedness|grounded|axis[ _]awareness|axis|clarity)\W{0,4}?\s*[:=\-]?\s*"
    r"(-?\d+(?:\.\d+)?)\s*(?:/\s*(10|1)\b)?", re.I)


@dataclass
class Judgement:
    """One judge reply: the grades in [0, 1] (None when unparsable), the reply, the reason."""

    grades: dict[str, float] | None
    reply: str | None
    error: str | None = None

    def as_record(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"grades": self.grades, "reply": self.reply, "error": self.error}


def _judge_grade(value: Any, scale: float = 10.0) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    if x != x:  # NaN
        return None
    return min(max(x, 0.0), scale) / scale


def _judge_json(text: str) -> dict[str, float] | None:
    for m in re.finditer(r"\{[^{}]*\}", text, re.S):
        try:
            obj = json.loads(m.group(0))
        except ValueError:
            continue
        if not isinstance(obj, dict):
            continue
        out = {}
        for k, v in obj.items():
            key = _JUDGE_ALIASES.get(str(k).strip().lower())
            g = _judge_grade(v)
            if key and g is not None:
                out[key] = g
        if all(k in out for k in JUDGE_KEYS):
            return out
    return None


def parse_judge_reply(text: str | None) -> Judgement:
    """Grades from a judge reply (JSON object first, then ``name: value`` lines); never raises."""
    if text is None or not str(text).strip():
        return Judgement(None, text, "empty judge reply")
    text = str(text)
    found = _judge_json(text)
    if found is None:
        out: dict[str, float] = {}
        for m in _JUDGE_LINE_RE.finditer(text):
            key = _JUDGE_ALIASES.get(m.group(1).lower().replace("_", " "), _JUDGE_ALIASES.get(m.group(1).lower()))
            scale = float(m.group(3)) if m.group(3) else 10.0
            g = _judge_grade(m.group(2), scale)
            if key and g is not None and key not in out:
                out[key] = g
        found = out if all(k in out for k in JUDGE_KEYS) else None
    if found is None:
        return Judgement(None, text, f"unparsable judge reply: expected grades for {', '.join(JUDGE_KEYS)}")
    return Judgement({k: round(found[k], 6) for k in JUDGE_KEYS}, text)
