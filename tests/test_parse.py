"""Tests of the answer parser: golden outputs, round trips, helpers, fuzzing and speed."""

from __future__ import annotations

import dataclasses
import math
import random
import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.answers.common import HUGE
from harness.answers.parse import ParsedAnswer, parse_answer
from harness.answers.prose import axis_range_in_text, intervals_in_text
from harness.answers.tags import format_answer

GOLDEN_FILE = Path(__file__).parent / "data" / "parse_golden.yaml"
GOLDEN: list[dict[str, Any]] = yaml.safe_load(GOLDEN_FILE.read_text(encoding="utf-8"))
GOLDEN_TEXTS = [c["text"] for c in GOLDEN if c["text"]]
FORMATS = {"tags", "json", "prose", "none"}


def _window(case: dict[str, Any]) -> tuple[int, int] | None:
    w = case.get("window")
    return (w[0], w[1]) if w else None


def check_invariants(r: ParsedAnswer, window: tuple[int, int] | None, merged: bool = False) -> None:
    """What every parse must satisfy, whatever the input (``merged``: parsed with ``merge=True``)."""
    assert isinstance(r, ParsedAnswer)
    assert not any(i.startswith("internal-error") for i in r.issues), r.issues
    assert r.format in FORMATS
    assert r.anomaly in (True, False, None)
    assert isinstance(r.rationale, str)
    assert isinstance(r.intervals, tuple)
    if r.failed:
        assert r.intervals == ()
    lo, hi = (min(window), max(window)) if window else (0, None)
    prev_end: int | None = None
    prev_start: int | None = None
    for iv in r.intervals:
        assert isinstance(iv, tuple) and len(iv) == 2
        s, e = iv
        assert type(s) is int and type(e) is int
        assert lo <= s <= e
        if hi is not None:
            assert e <= hi
        if prev_end is not None and merged:
            assert s > prev_end + 1, "merged intervals must be sorted and non-touching"
        assert prev_start is None or s >= prev_start, "intervals must be sorted"
        prev_end, prev_start = e, s


# --------------------------------------------------------------------------- golden


def test_golden_file_is_big_and_named_uniquely() -> None:
    names = [c["name"] for c in GOLDEN]
    assert len(names) >= 30
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("case", GOLDEN, ids=[c["name"] for c in GOLDEN])
def test_golden(case: dict[str, Any]) -> None:
    window = _window(case)
    merge = case.get("merge", False)
    r = parse_answer(case["text"], window, map_relative=case.get("map_relative", False), merge=merge)
    check_invariants(r, window, merge)
    assert r.intervals == tuple(tuple(iv) for iv in case["intervals"])
    assert r.anomaly is case["anomaly"]
    assert r.failed is case["failed"]
    assert r.format == case["format"]
    assert set(r.issues) == set(case["issues"])
    assert len(set(r.issues)) == len(r.issues)
    if "rationale" in case:
        assert r.rationale == case["rationale"]
    if "rationale_contains" in case:
        assert case["rationale_contains"] in r.rationale


def test_parsed_answer_is_frozen() -> None:
    r = parse_answer("<anomaly>False</anomaly>")
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.failed = True  # type: ignore[misc]


# --------------------------------------------------------------------------- formatter


def test_format_answer_writes_the_paper_format() -> None:
    text = format_answer([(151200, 150800), (147000, 147010)], "Step 1: x.\nStep 2: y.")
    assert text == (
        "<anomaly>True</anomaly>\n<index>(147000, 147010)</index>\n<index>(150800, 151200)</index>\n"
        "Step 1: x.\nStep 2: y."
    )
    assert format_answer([], "") == "<anomaly>False</anomaly>"


def test_format_answer_removes_tags_from_the_rationale() -> None:
    text = format_answer([(1, 2)], "see <index>(5, 6)</index> and <<think>/think>")
    r = parse_answer(text)
    assert r.intervals == ((1, 2),)
    assert r.issues == ()
    assert r.rationale == "see (5, 6) and"


_pairs = st.lists(st.tuples(st.integers(0, 10**12), st.integers(0, 10**12)), max_size=8)


def _normalised(pairs: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    out: list[list[int]] = []
    for s, e in sorted((min(p), max(p)) for p in pairs):
        if out and s <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return tuple((s, e) for s, e in out)


@settings(max_examples=200, deadline=None, database=None, derandomize=True)
@given(pairs=_pairs, rationale=st.text(max_size=200))
def test_round_trip(pairs: list[tuple[int, int]], rationale: str) -> None:
    text = format_answer(pairs, rationale)
    r = parse_answer(text, (0, 10**12))
    expected = _normalised(pairs)
    assert r.intervals == expected
    assert r.anomaly is bool(expected)
    assert r.format == "tags" and not r.failed
    # an explicit <anomaly>True</anomaly> keeps a whole-window index, and says so
    assert set(r.issues) <= {"whole-window"}
    # the rationale comes back exactly, less any answer/think tags the formatter removed
    assert r.rationale == format_answer([], rationale).partition("\n")[2]


@settings(max_examples=200, deadline=None, database=None, derandomize=True)
@given(pairs=_pairs, rationale=st.text(alphabet=st.characters(blacklist_characters="<"), max_size=200))
def test_round_trip_plain_rationale(pairs: list[tuple[int, int]], rationale: str) -> None:
    r = parse_answer(format_answer(pairs, rationale), (0, 10**12))
    assert (r.intervals, r.rationale) == (_normalised(pairs), rationale.strip())


# --------------------------------------------------------------------------- helpers

PAPER_RATIONALE = (
    "Step 1: The x-axis represents the index, ranging from 146,534 to 153,264. The y-axis "
    "represents the value, ranging from -2 to 3.\n"
    "Step 2: The signal is periodic; one such region is around index 150800 to 151200, and a "
    "short spike at index 152000.\n"
    "Step 3: This region is identified as an anomaly because the values rise from 0.5 to 2.8."
)


def test_intervals_in_text_skips_axis_and_value_ranges() -> None:
    assert intervals_in_text(PAPER_RATIONALE) == [(150800, 151200), (152000, 152000)]
    assert intervals_in_text("between index 180 and 120") == [(120, 180)]
    assert intervals_in_text("") == [] and intervals_in_text(None) == []


def test_axis_range_in_text() -> None:
    assert axis_range_in_text(PAPER_RATIONALE) == (146534.0, 153264.0)
    assert axis_range_in_text("The X axis spans indices 0 to 999.") == (0.0, 999.0)
    assert axis_range_in_text("The x-axis (Index) goes from about 12.5 to 40") == (12.5, 40.0)
    assert axis_range_in_text("The y-axis ranges from -2 to 3.") is None
    assert axis_range_in_text("The x-axis shows the index. Values go from 1 to 2.") is None
    assert axis_range_in_text(None) is None


# --------------------------------------------------------------------------- odd inputs


@pytest.mark.parametrize(
    "text",
    [b"<anomaly>True</anomaly><index>(1, 2)</index>", 12345, ["[1, 2]"], "\x00\x01", "İ" * 50 + " index 5"],
)
def test_odd_input_types_never_raise(text: Any) -> None:
    check_invariants(parse_answer(text, (0, 100)), (0, 100))


@pytest.mark.parametrize("window", [(100, 0), ("a", "b"), (1,), 5, (0.0, 9.0)])
def test_odd_windows(window: Any) -> None:
    r = parse_answer("<anomaly>True</anomaly><index>(3, 7)</index>", window)
    assert not any(i.startswith("internal-error") for i in r.issues)
    if window == (100, 0):
        assert r.intervals == ((3, 7),) and "bad-window" in r.issues


def test_huge_values_are_clamped_without_window() -> None:
    r = parse_answer("[[5, 1e400]]")
    assert r.intervals == ((5, HUGE),) and "huge-number" in r.issues


PATHOLOGICAL = [
    "[" * 100_000,
    "{" * 50_000,
    "(1,234" * 20_000,
    "<think>" * 20_000,
    "</think>" * 20_000,
    "<index>" * 20_000,
    "1" * 100_000,
    "index 1, " * 20_000,
    "from 1 to " * 20_000,
    "start 1 " * 20_000,
    "```" * 30_001,
    "-" * 100_000 + "1",
    "[1," * 10_000,
    "no " * 50_000 + "anomaly",
    "x-axis " * 20_000,
]


@pytest.mark.parametrize("text", PATHOLOGICAL, ids=[f"{t[:8]!r}x{len(t)}" for t in PATHOLOGICAL])
def test_pathological_inputs_do_not_hang(text: str) -> None:
    """A guard against catastrophic regex backtracking (which takes minutes), not a speed test:
    parse speed is measured by benchmarks, and the bound is generous for a loaded CI machine."""
    t0 = time.perf_counter()
    r = parse_answer(text, (0, 10**6))
    check_invariants(r, (0, 10**6))
    axis_range_in_text(text)
    intervals_in_text(text)
    assert time.perf_counter() - t0 < 30.0


# --------------------------------------------------------------------------- fuzz

_TOKENS = [
    *"<>/()[]{},.-:;\"' \n\t0123456789eE",
    "<index>",
    "</index>",
    "<anomaly>",
    "</anomaly>",
    "<think>",
    "</think>",
    "```",
    "```json\n",
    "True",
    "False",
    "None",
    "index ",
    "indices ",
    "from ",
    " to ",
    "between ",
    " and ",
    "start",
    "end",
    "1,000",
    "-7",
    "1e400",
    "nan",
    "9" * 30,
    "0.5",
    "é",
    "İ",
    "\x00",
    "x-axis ranging ",
    "values ",
    "no anomalies",
    '{"start": ',
    '"end": ',
    "[[",
    "]]",
]
_OPS = ["truncate", "insert", "delete", "drop_tag", "duplicate", "swapcase", "renumber", "splice"]
_TAG_RE = re.compile(r"<[^<>]{0,12}>")
_NUMBER_RE = re.compile(r"-?\d[\d,.]*")


def mutate(rng: random.Random) -> str:
    """A golden answer with a few random edits (one time in ten, random text instead)."""
    if rng.random() < 0.1:
        return "".join(
            rng.choice(_TOKENS) if rng.random() < 0.5 else chr(rng.randrange(1, 0x2FFF))
            for _ in range(rng.randrange(0, 120))
        )
    s: str = rng.choice(GOLDEN_TEXTS)
    for _ in range(rng.randint(1, 4)):
        op = rng.choice(_OPS)
        i = rng.randint(0, len(s))
        if op == "truncate":
            s = s[:i]
        elif op == "insert":
            s = s[:i] + "".join(rng.choice(_TOKENS) for _ in range(rng.randint(1, 6))) + s[i:]
        elif op == "delete":
            s = s[:i] + s[i + rng.randint(1, 40) :]
        elif op == "drop_tag":
            tags = list(_TAG_RE.finditer(s))
            if tags:
                m = rng.choice(tags)
                s = s[: m.start()] + s[m.end() :]
        elif op == "duplicate":
            s = s[:i] + s[i : i + rng.randint(1, 80)] + s[i:]
        elif op == "swapcase":
            s = s.swapcase()
        elif op == "renumber":
            nums = list(_NUMBER_RE.finditer(s))
            if nums:
                m = rng.choice(nums)
                new = rng.choice(
                    [
                        rng.randint(-(10**30), 10**30),
                        rng.randint(-10, 10**6),
                        rng.uniform(-1e6, 1e6),
                        float("nan"),
                        float("inf"),
                    ]
                )
                s = s[: m.start()] + str(new) + s[m.end() :]
        else:  # splice two answers
            s = s[:i] + rng.choice(GOLDEN_TEXTS)
    return s


def random_window(rng: random.Random) -> tuple[int, int] | None:
    k = rng.randrange(4)
    if k == 0:
        return None
    if k == 1:
        a = rng.randint(0, 10**7)
        return (a, a + rng.randint(0, 10**5))
    return rng.choice([(0, 999), (146534, 153264), (5000, 5999), (1000, 1999)])


FUZZ_CHUNKS, FUZZ_PER_CHUNK = 100, 100  # 10,000 mutated answers in all


@settings(max_examples=FUZZ_CHUNKS, deadline=None, database=None, derandomize=True)
@given(seed=st.integers(0, 2**63))
def test_fuzz_10k_never_raises_and_stays_in_window(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(FUZZ_PER_CHUNK):
        text, window = mutate(rng), random_window(rng)
        try:
            check_invariants(parse_answer(text, window), window)
            assert all(type(a) is int and a <= b for a, b in intervals_in_text(text))
            rng_axis = axis_range_in_text(text)
            assert rng_axis is None or all(math.isfinite(v) for v in rng_axis)
        except AssertionError as exc:
            raise AssertionError(f"text={text!r} window={window!r}") from exc


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(rng=st.randoms(use_true_random=False), window=st.sampled_from([None, (0, 999), (5000, 5999)]))
def test_fuzz_shrinkable(rng: random.Random, window: tuple[int, int] | None) -> None:
    check_invariants(parse_answer(mutate(rng), window), window)


