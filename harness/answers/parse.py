"""The answer parser's entry point: a model's free text -> anomaly intervals in absolute, inclusive indices.

One entry point, :func:`parse_answer`, which never raises. It reads, by default in this
order of precedence (the first shape found is the answer; the others are ignored); an answer
format (:mod:`harness.answers.formats`, chosen by the task) may pick other readers or another order:

1. ``tags`` (:mod:`.tags`): the paper's format, ``<anomaly>True|False</anomaly>`` and one
   ``<index>(start, end)</index>`` per interval, followed by a step-by-step rationale;
2. ``json`` (:mod:`.json_reader`): a JSON value (fenced or bare) holding ``[[s, e], ...]``,
   ``{"start": s, "end": e}`` objects or ``{"anomalies": [...]}``-like wrappers;
3. ``prose`` (:mod:`.prose`): pairs and index phrases in free text ("from index 120 to 180",
   "(120, 180)", "at index 250") or an explicit normal answer ("no anomalies").

``<think>...</think>`` blocks are never read for the answer; they are kept in the rationale.
The detector recipes' shapes are read by :mod:`.recipes`, judge replies by :mod:`.judge`;
this module re-exports their public names so ``harness.answers.parse`` stays the one door.
Rules and the vocabulary of ``issues`` are documented in ``docs/parsing.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.answers.common import HUGE, Acc, Pair, finish, join_rationale, read_window, split_think
from harness.answers.json_reader import format_json_answer, read_json
from harness.answers.judge import JUDGE_KEYS, Judgement, parse_judge_reply
from harness.answers.prose import (
    NEG_RE,
    axis_range_in_text,
    intervals_in_text,
    prose_declared,
    prose_intervals,
)
from harness.answers.recipes import RECIPE_FORMATS, RecipeAnswer, RecipeFormat, parse_recipe_answer
from harness.answers.tags import ANOMALY_TAG, INDEX_TAG, format_answer, has_tags, read_tags, tagged

__all__ = [
    "HUGE",
    "JUDGE_KEYS",
    "Judgement",
    "parse_judge_reply",
    "RECIPE_FORMATS",
    "ParsedAnswer",
    "RecipeAnswer",
    "RecipeFormat",
    "normalize_intervals",
    "parse_recipe_answer",
    "ANOMALY_TAG",
    "INDEX_TAG",
    "READERS",
    "axis_range_in_text",
    "check_readers",
    "format_answer",
    "format_json_answer",
    "intervals_in_text",
    "parse_answer",
    "tagged",
]

READERS = ("tags", "json", "prose")
"""The shapes :func:`parse_answer` can read, in its default order of precedence."""


@dataclass(frozen=True)
class ParsedAnswer:
    """The parsed answer of one model output.

    ``intervals`` are sorted, merged (overlapping or touching) and inside the window;
    ``anomaly`` is what the answer declared (explicitly, or implicitly by giving intervals);
    ``failed`` marks an unparsable answer (then ``intervals`` is empty); ``issues`` records
    every repair or oddity; ``format`` is ``'tags'``, ``'json'``, ``'prose'`` or ``'none'``.
    """

    intervals: tuple[Pair, ...] = ()
    anomaly: bool | None = None
    rationale: str = ""
    failed: bool = False
    issues: tuple[str, ...] = ()
    format: str = "none"


# --------------------------------------------------------------------------- entry points


def check_readers(readers: Iterable[str]) -> tuple[str, ...]:
    """``readers`` as a tuple, or ``ValueError`` naming an unknown one (an empty list too)."""
    out = tuple(readers)
    unknown = [r for r in out if r not in READERS]
    if unknown or not out:
        raise ValueError(f"unknown answer reader(s) {unknown or '(none given)'}; known: {', '.join(READERS)}")
    return out


def parse_answer(
    text: str | None, window: tuple[int, int] | None = None, *, map_relative: bool = True,
    readers: Sequence[str] = READERS,
) -> ParsedAnswer:
    """Parse one model output; ``window`` is the shown index range ``(start, end)``, inclusive.

    Never raises (an unknown reader name is a ``ValueError`` before any parsing). ``readers``
    are the shapes tried, in order (``tags``, ``json``, ``prose``); an answer format
    (:mod:`harness.answers.formats`) chooses them. With ``map_relative`` (default), an answer whose
    numbers all lie in ``[0, length)`` while the window starts at or after ``length`` is
    shifted by the window start ('relative-shifted'); pass ``False`` to clip such answers
    away instead.
    """
    order = readers if readers is READERS else check_readers(readers)
    try:
        return _parse(text, window, map_relative, order)
    except Exception as exc:  # the contract is to never raise
        return ParsedAnswer(failed=True, issues=(f"internal-error: {type(exc).__name__}",))


def _parse(text: Any, window: Any, map_relative: bool, readers: Sequence[str]) -> ParsedAnswer:
    acc = Acc()
    win = read_window(window, acc)
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", errors="replace")
    elif text is not None and not isinstance(text, str):
        text = str(text)
    if text is None or not text.strip():
        acc.note("empty")
        return ParsedAnswer(failed=True, issues=tuple(acc.issues))

    thinks, body = split_think(text, acc)
    declared: bool | None = None
    raw: list[Pair] = []
    rest, fmt = body, "none"
    index_unreadable = False
    negated = False
    for reader in readers:
        if reader == "tags":
            if has_tags(body):
                fmt = "tags"
                raw, declared, rest, index_unreadable = read_tags(body, acc)
                break
            acc.note("no-tags")
        elif reader == "json":
            js = read_json(body, acc)
            if js is not None:
                fmt = "json"
                raw, declared, rest = js
                break
        else:  # prose: the last resort, whatever it finds
            raw = prose_intervals(body, acc)
            declared = prose_declared(body)
            negated = not raw and declared is None and NEG_RE.search(body) is not None
            fmt = "prose" if raw or declared is not None or negated else "none"
            break
    rationale = join_rationale(thinks, rest)

    anomaly = declared
    if anomaly is None:
        anomaly = True if raw else (False if negated else None)
    if declared is True and not raw:
        acc.note("contradiction: anomaly True but no index")
    if declared is False and raw:
        acc.note("contradiction: anomaly False but index given")
    failed = not raw and (anomaly is None or (anomaly is True and index_unreadable))
    intervals = () if failed else finish(raw, win, map_relative, acc)
    return ParsedAnswer(intervals, anomaly, rationale, failed, tuple(acc.issues), fmt)


def normalize_intervals(
    pairs: Iterable[tuple[int, int]], window: tuple[int, int] | None = None
) -> tuple[tuple[Pair, ...], tuple[str, ...]]:
    """Absolute pairs -> sorted, merged intervals inside ``window`` (inclusive), with the issues
    (``reversed``, ``clipped``, ``out-of-window``, ``merged``) :func:`parse_answer` would note."""
    acc = Acc()
    win = read_window(window, acc)
    out = finish([(int(a), int(b)) for a, b in pairs], win, False, acc)
    return out, tuple(acc.issues)


