"""The answer shapes of the LLM/VLM detector recipes (``baselines/recipes``), read strictly.

Each recipe asks for its original method's own JSON shape; :func:`parse_recipe_answer` reads
one answer in that shape only (no tags, no prose fallback) and returns what it states in the
recipe's own coordinates; the recipe maps them to absolute indices and
:func:`harness.answers.parse.normalize_intervals` clips them like ``parse_answer``. An answer
not in the shape is a parse failure whose ``issues`` name the shape expected
(``expected: {...}``). The shapes and their sources: ``docs/recipes.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from harness.answers.common import Acc, Pair, split_think
from harness.answers.json_reader import (
    DECODER,
    FENCE_RE,
    MAX_JSON_ATTEMPTS,
    MAX_JSON_ITEMS,
    json_int,
    json_truth,
)


@dataclass(frozen=True)
class RecipeFormat:
    """One recipe answer shape.

    ``shape`` is ``'range-list'`` (a JSON list of ``{start_key, end_key}`` objects: AnomLLM)
    or ``'object'`` (one JSON object). For objects: ``flag_key`` holds the yes/no answer (or
    None), ``items_key`` the list of answers, ``items`` is ``'points'`` (indices, or
    ``[index, value]`` pairs read as the index) or ``'pairs'`` (``[start, end]``);
    ``text_keys`` hold the explanation (a string, or an object of strings joined in order);
    ``extra_keys`` are kept as they are (confidence, anomaly type, alarm level). ``expected``
    is the shape as the method's prompt writes it, named in the issues of a failed answer.
    """

    name: str
    shape: str
    expected: str
    items_key: str = ""
    items: str = "pairs"
    flag_key: str | None = None
    start_key: str = "start"
    end_key: str = "end"
    text_keys: tuple[str, ...] = ()
    extra_keys: tuple[str, ...] = ()


RECIPE_FORMATS: dict[str, RecipeFormat] = {
    # AnomLLM src/prompt.py PROMPT, read as src/utils.py parse_output (Rose-STL-Lab/AnomLLM@bf7827d)
    "anomllm": RecipeFormat("anomllm", "range-list", '[{"start": ..., "end": ...}, ...]'),
    # LLMAD Prompt_template.py "Response Format", read as run.py get_gpt_response (LJunius/LLMAD@95cba6b)
    "llmad": RecipeFormat("llmad", "object",
                          '{"briefExplanation": {...}, "is_anomaly": false/true, "anomalies": [index1, ...], ...}',
                          items_key="anomalies", items="points", flag_key="is_anomaly",
                          text_keys=("briefExplanation",),
                          extra_keys=("anomaly_type", "alarm_level", "reason_for_anomaly_type",
                                      "reason_for_alarm_level")),
    # LLM-TSAD (Dong, Huang & Cao, arXiv 2408.03475, Appendix A.3 as issue 19 reads it)
    "llm-tsad": RecipeFormat("llm-tsad", "object", '{"anomaly": [indexes], "reason": "..."}',
                             items_key="anomaly", items="points", text_keys=("reason",)),
    # VLM4TS src/models/vlm4ts.py _query_vlm / verify_intervals (ZLHe0/VLM4TS@c2890c1)
    "vlm4ts": RecipeFormat("vlm4ts", "object",
                           '{"interval_index": [[start, end], ...], "confidence": [...], '
                           '"abnormal_description": "..."}',
                           items_key="interval_index", items="pairs",
                           text_keys=("abnormal_description",), extra_keys=("confidence",)),
}
"""The answer shapes of the detector recipes, by recipe name (see docs/recipes.md)."""


@dataclass(frozen=True)
class RecipeAnswer:
    """A recipe answer read in its own shape, in the recipe's coordinates (not mapped or clipped).

    ``pairs`` are the stated ranges/points as ``(a, b)`` (a point is ``(i, i)``), in the order
    written; ``anomaly`` the stated yes/no (None when the shape has none); ``failed`` marks an
    answer not in the shape (then ``pairs`` is empty); ``extra`` holds the kept extra keys.
    """

    pairs: tuple[Pair, ...] = ()
    anomaly: bool | None = None
    explanation: str = ""
    failed: bool = False
    issues: tuple[str, ...] = ()
    extra: dict[str, Any] | None = None


def _fail(acc: Acc, fmt: RecipeFormat, reason: str) -> RecipeAnswer:
    """A parse failure: the reason, then the shape the method expects."""
    acc.note(reason)
    acc.note(f"expected: {fmt.expected}")
    return RecipeAnswer(failed=True, issues=tuple(acc.issues))


def _first_json(body: str, opener: str) -> tuple[Any, str] | None:
    """The first JSON value starting at an ``opener`` character (fences tried first) and the text around it."""
    for m in FENCE_RE.finditer(body):
        inner = m.group(1).strip()
        if inner.startswith(opener):
            try:
                return json.loads(inner), body[: m.start()] + body[m.end():]
            except Exception:  # not JSON: look further
                pass
    attempts = 0
    pos = body.find(opener)
    while pos >= 0 and attempts < MAX_JSON_ATTEMPTS:
        attempts += 1
        try:
            v, end = DECODER.raw_decode(body, pos)
            return v, body[:pos] + body[end:]
        except Exception:  # JSONDecodeError, RecursionError, digit limits
            pos = body.find(opener, pos + 1)
    return None


def _text_of(v: Any) -> str:
    if isinstance(v, str):
        return v.strip()
    if isinstance(v, dict):
        return "\n".join(f"{k}: {_text_of(x)}" for k, x in v.items() if _text_of(x))
    if isinstance(v, list):
        return "\n".join(_text_of(x) for x in v if _text_of(x))
    return "" if v is None else str(v)


def _recipe_items(items: Any, kind: str, acc: Acc) -> list[Pair] | None:
    """Pairs from a list of points or ``[start, end]`` pairs; None when it is not such a list."""
    if not isinstance(items, list) or len(items) > MAX_JSON_ITEMS:
        return None
    out: list[Pair] = []
    for it in items:
        if kind == "points":
            if isinstance(it, list) and it:  # [index, value]
                it = it[0]
            p = json_int(it, acc)
            if p is None:
                acc.note("bad-item")
                continue
            out.append((p, p))
        else:
            if not (isinstance(it, list) and len(it) == 2):
                acc.note("bad-item")
                continue
            a, b = json_int(it[0], acc), json_int(it[1], acc)
            if a is None or b is None:
                acc.note("bad-item")
                continue
            out.append((a, b))
    return out


def _parse_range_list(body: str, fmt: RecipeFormat, acc: Acc) -> RecipeAnswer:
    start, end = body.find("["), body.rfind("]")
    if start < 0 or end < start:
        return _fail(acc, fmt, "no-json-list")
    try:
        v = json.loads(body[start : end + 1])
    except Exception:  # not JSON
        return _fail(acc, fmt, "bad-json")
    if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
        return _fail(acc, fmt, "not-a-list-of-objects")
    pairs: list[Pair] = []
    for item in v[:MAX_JSON_ITEMS]:
        if fmt.start_key not in item or fmt.end_key not in item:
            return _fail(acc, fmt, "missing-start-or-end")
        a, b = json_int(item[fmt.start_key], acc), json_int(item[fmt.end_key], acc)
        if a is None or b is None:
            acc.note("bad-item")
            continue
        pairs.append((a, b))
    rest = (body[:start] + body[end + 1 :]).strip()
    return RecipeAnswer(tuple(pairs), bool(pairs), rest, False, tuple(acc.issues), {})


def _parse_object(body: str, fmt: RecipeFormat, acc: Acc) -> RecipeAnswer:
    found = _first_json(body, "{")
    if found is None or not isinstance(found[0], dict):
        return _fail(acc, fmt, "no-json-object")
    obj, _ = found
    declared: bool | None = None
    if fmt.flag_key is not None:
        if fmt.flag_key not in obj:
            return _fail(acc, fmt, f"missing-{fmt.flag_key}")
        declared = json_truth(obj[fmt.flag_key])
        if declared is None:
            return _fail(acc, fmt, f"bad-{fmt.flag_key}")
    raw = obj.get(fmt.items_key, [] if declared is False else None)
    pairs = _recipe_items(raw, fmt.items, acc)
    if pairs is None:
        return _fail(acc, fmt, f"missing-{fmt.items_key}" if fmt.items_key not in obj else f"bad-{fmt.items_key}")
    if declared is False and pairs:
        acc.note("contradiction: anomaly False but indices given")
        pairs = []  # the original methods read the flag first
    if declared is True and not pairs:
        acc.note("contradiction: anomaly True but no index")
    explanation = "\n".join(t for t in (_text_of(obj.get(k)) for k in fmt.text_keys) if t)
    extra = {k: obj[k] for k in fmt.extra_keys if k in obj}
    anomaly = declared if declared is not None else bool(pairs)
    return RecipeAnswer(tuple(pairs), anomaly, explanation, False, tuple(acc.issues), extra)


def parse_recipe_answer(text: str | None, recipe: str) -> RecipeAnswer:
    """Read ``text`` strictly in the answer shape of ``recipe`` (a key of :data:`RECIPE_FORMATS`).

    Never raises for any text; an unknown recipe name is a ``ValueError``. ``<think>`` blocks
    are skipped like in :func:`parse_answer`. An answer not in the shape (no JSON, wrong
    keys, wrong types) is ``failed`` with the reason in ``issues``.
    """
    if recipe not in RECIPE_FORMATS:
        raise ValueError(f"unknown recipe answer format {recipe!r}; known: {', '.join(sorted(RECIPE_FORMATS))}")
    fmt = RECIPE_FORMATS[recipe]
    acc = Acc()
    try:
        if isinstance(text, (bytes, bytearray)):
            text = bytes(text).decode("utf-8", errors="replace")
        if text is None or not str(text).strip():
            return _fail(acc, fmt, "empty")
        _, body = split_think(str(text), acc)
        if fmt.shape == "range-list":
            return _parse_range_list(body, fmt, acc)
        return _parse_object(body, fmt, acc)
    except Exception as exc:  # the contract is to never raise
        return RecipeAnswer(failed=True, issues=(*acc.issues, f"internal-error: {type(exc).__name__}"))


