"""A judge model for rationales: the jinja2 prompt, the robust reply parser, and judging in batches.

Any registered text model can judge (the paper used Qwen2.5-VL-72B). It sees the plot the
answer was given for and the prompt rendered from ``harness/scoring/templates/judge.j2`` (or a
``.j2`` file given by path), and replies with three grades from 0 to 10: ``grounded``,
``axis``, ``clarity`` (:data:`JUDGE_KEYS`). :func:`harness.answers.judge.parse_judge_reply` reads a JSON object
anywhere in the reply, else ``name: value`` / ``name = value/10`` lines; grades are clipped
to ``[0, 10]`` and divided by 10. A reply missing a grade is UNPARSABLE: the candidate keeps its
rule-based reward and the reply is recorded with the reason (:class:`Judgement`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from harness.answers.judge import JUDGE_KEYS, Judgement, parse_judge_reply  # noqa: F401 (the one parser)
from harness.core.errors import UsageError
from harness.core.types import Sample

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
DEFAULT_JUDGE_TEMPLATE = "judge"


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
