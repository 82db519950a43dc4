"""A judge model for rationales: the jinja2 prompt, the robust reply parser, and judging in batches.

Any registered text model can judge (the paper used Qwen2.5-VL-72B). It sees the plot the
answer was given for and the prompt rendered from ``harness/templates/judge.j2`` (or a
``.j2`` file given by path), and replies with three grades from 0 to 10: ``grounded``,
``axis``, ``clarity`` (:data:`JUDGE_KEYS`). :func:`parse_judge_reply` reads a JSON object
anywhere in the reply, else ``name: value`` / ``name = value/10`` lines; grades are clipped
to ``[0, 10]`` and divided by 10. A reply missing a grade is UNPARSABLE: the candidate keeps its
rule-based reward and the reply is recorded with the reason (:class:`Judgement`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from harness.errors import UsageError
from harness.types import Sample

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
DEFAULT_JUDGE_TEMPLATE = "judge"
JUDGE_KEYS = ("grounded", "axis", "clarity")
_ALIASES = {"grounded": "grounded", "groundedness": "grounded", "visual_groundedness": "grounded",
            "visual groundedness": "grounded", "axis": "axis", "axis_awareness": "axis",
            "axis awareness": "axis", "clarity": "clarity"}
_LINE_RE = re.compile(
    r"(visual[ _]groundedness|groundedness|grounded|axis[ _]awareness|axis|clarity)\W{0,4}?\s*[:=\-]?\s*"
    r"(-?\d+(?:\.\d+)?)\s*(?:/\s*(10|1)\b)?", re.I)


@dataclass(frozen=True)
class JudgeTemplate:
    """The loaded judge prompt: name, jinja2 template and the hash of its source."""

    name: str
    template: jinja2.Template
    source_hash: str

    def render(self, *, question: str, answer: str, start: int, end: int) -> str:
        """The judge prompt for one candidate."""
        return self.template.render(question=question, answer=answer, start=start, end=end).strip()


def load_judge_template(name: str = DEFAULT_JUDGE_TEMPLATE) -> JudgeTemplate:
    """A built-in template by stem (``judge``) or a ``.j2`` file by path."""
    path = Path(name).expanduser()
    if path.suffix != ".j2":
        path = TEMPLATES_DIR / f"{name}.j2"
    if not path.is_file():
        raise UsageError(f"judge template {name!r} not found (built-in: judge; or a path to a .j2 file)")
    source = path.read_text(encoding="utf-8")
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)
    try:
        template = env.from_string(source)
    except jinja2.TemplateError as exc:
        raise UsageError(f"judge template {path}: {exc}") from exc
    return JudgeTemplate(path.stem, template, hashlib.sha256(source.encode()).hexdigest()[:16])


@dataclass
class Judgement:
    """One judge reply: the grades in [0, 1] (None when unparsable), the reply, the reason."""

    grades: dict[str, float] | None
    reply: str | None
    error: str | None = None

    def as_record(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"grades": self.grades, "reply": self.reply, "error": self.error}


def _grade(value: Any, scale: float = 10.0) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    if x != x:  # NaN
        return None
    return min(max(x, 0.0), scale) / scale


def _from_json(text: str) -> dict[str, float] | None:
    for m in re.finditer(r"\{[^{}]*\}", text, re.S):
        try:
            obj = json.loads(m.group(0))
        except ValueError:
            continue
        if not isinstance(obj, dict):
            continue
        out = {}
        for k, v in obj.items():
            key = _ALIASES.get(str(k).strip().lower())
            g = _grade(v)
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
    found = _from_json(text)
    if found is None:
        out: dict[str, float] = {}
        for m in _LINE_RE.finditer(text):
            key = _ALIASES.get(m.group(1).lower().replace("_", " "), _ALIASES.get(m.group(1).lower()))
            scale = float(m.group(3)) if m.group(3) else 10.0
            g = _grade(m.group(2), scale)
            if key and g is not None and key not in out:
                out[key] = g
        found = out if all(k in out for k in JUDGE_KEYS) else None
    if found is None:
        return Judgement(None, text, f"unparsable judge reply: expected grades for {', '.join(JUDGE_KEYS)}")
    return Judgement({k: round(found[k], 6) for k in JUDGE_KEYS}, text)


@dataclass(frozen=True)
class JudgeItem:
    """One candidate to judge: a key, the plot (PNG bytes), the question, the answer, the window."""

    key: str
    image: bytes | None
    question: str
    answer: str
    start: int
    end: int


def judge_items(model: Any, items: Sequence[JudgeItem], template: JudgeTemplate,
                batch_size: int | None = None) -> dict[str, Judgement]:
    """Ask ``model`` (a registered text model) about every item, in batches; a failed or
    unparsable reply is a :class:`Judgement` with ``error`` (never raised)."""
    size = int(batch_size or getattr(model, "batch_size", 8) or 8)
    out: dict[str, Judgement] = {}
    for i in range(0, len(items), size):
        chunk = items[i:i + size]
        samples = [Sample(id=it.key, series=np.empty(0), index_offset=it.start, image=it.image,
                          prompt=template.render(question=it.question, answer=it.answer, start=it.start, end=it.end))
                   for it in chunk]
        try:
            preds = model.predict(samples)
        except Exception as exc:  # the judge failing must not lose the candidates
            for it in chunk:
                out[it.key] = Judgement(None, None, f"judge failed: {type(exc).__name__}: {exc}")
            continue
        by_id = {p.sample_id: p for p in preds}
        for it in chunk:
            p = by_id.get(it.key)
            if p is None:
                out[it.key] = Judgement(None, None, "judge returned no reply")
            elif p.error:
                out[it.key] = Judgement(None, p.text, f"judge failed: {p.error}")
            else:
                out[it.key] = parse_judge_reply(p.text)
    return out


def model_name(model: Any) -> str:
    """The registered name of a judge model."""
    return str(getattr(model, "registered_name", None) or getattr(model, "name", "?"))
