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

from harness.answers.common import (
    HUGE,
    Acc,
    Pair,
    covers_window,
    finish,
    join_rationale,
    read_window,
    split_think,
)
from harness.answers.json_reader import format_json_answer, read_json
from harness.answers.judge import JUDGE_KEYS, Judgement, parse_judge_reply
from harness.answers.prose import (
    ProseStance,
    axis_range_in_text,
    intervals_in_text,
    prose_declared,
    prose_intervals,
    prose_stance,
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
    "PARSER_VERSION",
    "READERS",
    "axis_range_in_text",
    "check_readers",
    "format_answer",
    "format_json_answer",
    "intervals_in_text",
    "parse_answer",
    "tagged",
]

PARSER_VERSION = "2"
"""The version of the reading rules (docs/parsing.md); part of every text task's fingerprint, so scores
cached under other rules are not reused. 2: no invented detections (issue 19), no merging or shifting by default."""
READERS = ("tags", "json", "prose")
"""The shapes :func:`parse_answer` can read, in its default order of precedence."""


@dataclass(frozen=True)
class ParsedAnswer:
    """The parsed answer of one model output.

    ``intervals`` are sorted and inside the window, as stated (merged only when asked: ``merge=True``);
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
    text: str | None, window: tuple[int, int] | None = None, *, map_relative: bool = False,
    readers: Sequence[str] = READERS, merge: bool = False,
) -> ParsedAnswer:
    """Parse one model output; ``window`` is the shown index range ``(start, end)``, inclusive.

    Never raises (an unknown reader name is a ``ValueError`` before any parsing). ``readers``
    are the shapes tried, in order (``tags``, ``json``, ``prose``); an answer format
    (:mod:`harness.answers.formats`) chooses them. ``merge`` merges overlapping or touching
    intervals (off by default: each stated interval is counted, as in the paper).
    ``map_relative`` (off by default) shifts an answer whose numbers all lie in ``[0, length)``
    by the window start when the window starts at or after ``length`` ('relative-shifted').
    """
    order = readers if readers is READERS else check_readers(readers)
    try:
        return _parse(text, window, map_relative, order, merge)
    except Exception as exc:  # the contract is to never raise
        return ParsedAnswer(failed=True, issues=(f"internal-error: {type(exc).__name__}",))


def _read(body: str, readers: Sequence[str], acc: Acc) -> tuple[str, list[Pair], bool | None, str, bool,
                                                                  ProseStance | None]:
    """The first reader that finds an answer: (format, raw pairs, declared, rest, index unreadable, stance)."""
    for reader in readers:
        if reader == "tags":
            if has_tags(body):
                raw, declared, rest, unreadable = read_tags(body, acc)
                return "tags", raw, declared, rest, unreadable, None
            acc.note("no-tags")
        elif reader == "json":
            js = read_json(body, acc)
            if js is not None:
                return "json", js[0], js[1], js[2], False, None
        else:  # prose: the last resort, whatever it finds
            raw = prose_intervals(body, acc)
            declared = prose_declared(body)
            stance = prose_stance(body)
            found = raw or declared is not None or stance.negated
            return ("prose" if found else "none"), raw, declared, body, False, stance
    return "none", [], None, body, False, None


def _parse(text: Any, window: Any, map_relative: bool, readers: Sequence[str], merge: bool) -> ParsedAnswer:
    acc = Acc()
    win = read_window(window, acc)
    acc.window = win
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", errors="replace")
    elif text is not None and not isinstance(text, str):
        text = str(text)
    if text is None or not text.strip():
        acc.note("empty")
        return ParsedAnswer(failed=True, issues=tuple(acc.issues))

    thinks, body = split_think(text, acc)
    fmt, raw, declared, rest, index_unreadable, stance = _read(body, readers, acc)
    rationale = join_rationale(thinks, rest)
    intervals = finish(raw, win, acc, map_relative=map_relative, merge=merge)
    says_no = declared is False or (stance is not None and declared is None and stance.negated)
    # a range that covers (nearly) the whole window describes the plot, not an anomaly
    whole_ok = declared is True if stance is None else (stance.whole and not says_no)
    n_stated = len(intervals)
    if any(covers_window(iv, win) for iv in intervals):
        acc.note("whole-window")
        if not whole_ok:
            intervals = tuple(iv for iv in intervals if not covers_window(iv, win))
    if stance is not None and says_no and intervals:
        if stance.positive or stance.exception:
            acc.note("mixed-declarations")
        else:
            acc.note("negation-wins")
            intervals = ()
    dropped = len(intervals) < n_stated
    anomaly = declared
    if anomaly is None and stance is not None and stance.negated:
        anomaly = bool(intervals)
    if anomaly is None and (intervals or (raw and not dropped)):
        anomaly = True  # stated intervals (possibly all outside the window)
    if declared is True and not raw:
        acc.note("contradiction: anomaly True but no index")
    if declared is False and intervals:
        acc.note("contradiction: anomaly False but index given")
    failed = not intervals and (anomaly is None or (anomaly is True and index_unreadable))
    if failed:
        intervals = ()
        if dropped:
            acc.note("only-plot-ranges")
    return ParsedAnswer(intervals, anomaly, rationale, failed, tuple(acc.issues), fmt)


def normalize_intervals(
    pairs: Iterable[tuple[int, int]], window: tuple[int, int] | None = None, *, merge: bool = False,
) -> tuple[tuple[Pair, ...], tuple[str, ...]]:
    """Absolute pairs -> sorted intervals inside ``window`` (inclusive; merged only with ``merge``), with the
    issues (``reversed``, ``clipped``, ``out-of-window``, ``merged``/``overlapping``) :func:`parse_answer` notes."""
    acc = Acc()
    win = read_window(window, acc)
    out = finish([(int(a), int(b)) for a, b in pairs], win, acc, merge=merge)
    return out, tuple(acc.issues)
