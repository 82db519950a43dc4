"""The parser on a hand-labelled corpus of realistic answers, and a property: no interval the text does not state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.answers.parse import parse_answer

CORPUS: list[dict[str, Any]] = yaml.safe_load(
    (Path(__file__).parent / "data" / "parser_corpus.yaml").read_text(encoding="utf-8"))
DEFAULT_WINDOW = (20000, 24999)


def test_corpus_is_big_varied_and_named_uniquely() -> None:
    ids = [c["id"] for c in CORPUS]
    assert len(ids) >= 200 and len(set(ids)) == len(ids)
    kinds = {c["kind"] for c in CORPUS}
    assert {"negation", "axis", "whole", "separator", "words", "zh", "mixed", "tags", "json"} <= kinds
    assert sum(c["kind"] == "negation" for c in CORPUS) >= 30


def _params() -> list[Any]:
    out = []
    for c in CORPUS:
        marks = [pytest.mark.xfail(strict=True, reason=c["known_miss"])] if c.get("known_miss") else []
        out.append(pytest.param(c, id=c["id"], marks=marks))
    return out


@pytest.mark.parametrize("case", _params())
def test_corpus(case: dict[str, Any]) -> None:
    window = tuple(case.get("window") or DEFAULT_WINDOW)
    r = parse_answer(case["text"], window)
    if r.failed:
        assert r.intervals == ()
        assert case.get("failed") or case.get("failure_ok"), f"unexpected parse failure: {r.issues}"
        return
    assert not case.get("failed"), f"expected a recorded failure, got {r.intervals} {r.anomaly} {r.issues}"
    assert r.intervals == tuple(tuple(iv) for iv in case["intervals"])
    assert r.anomaly is case["anomaly"]


# --------------------------------------------------------------------------- the issue's examples


@pytest.mark.parametrize("text", [
    "I see no anomaly; the series is stable from index 20000 to 24999.",
    "No anomalies are present. The data between 20000 and 24999 is periodic.",
    "No. The series looks normal from 20000 to 24999.",
    "Anomaly: none. Indices 20000-24999 look regular.",
])
def test_a_declared_normal_answer_naming_the_window_is_not_a_detection(text: str) -> None:
    r = parse_answer(text, (20000, 24999))
    assert (r.intervals, r.anomaly, r.failed) == ((), False, False)


def test_a_space_separator_is_read_not_shifted() -> None:
    r = parse_answer("(21 500, 21 800)", (20000, 24999))
    assert r.intervals == ((21500, 21800),) and "relative-shifted" not in r.issues


def test_chinese_range() -> None:
    r = parse_answer("存在异常，位于索引21500至21800之间。", (20000, 24999))
    assert (r.intervals, r.anomaly) == (((21500, 21800),), True)


def test_unparsable_is_a_failure_with_its_reason() -> None:
    r = parse_answer("Anomaly between indices 21.500 and 21.800.", (0, 99999))
    assert r.failed and r.intervals == () and "ambiguous-separator" in r.issues
    r = parse_answer("The plot covers indices 20000 to 24999.", (20000, 24999))
    assert r.failed and "extent-description" in r.issues


def test_stated_intervals_are_not_merged_unless_asked() -> None:
    text = "<anomaly>True</anomaly><index>(100, 200)</index><index>(201, 300)</index>"
    assert parse_answer(text, (0, 999)).intervals == ((100, 200), (201, 300))
    assert parse_answer(text, (0, 999), merge=True).intervals == ((100, 300),)


# --------------------------------------------------------------------------- property

NEGATIONS = ["No anomalies", "I see no anomaly", "There are no anomalies", "The series looks normal",
             "I don't see any anomalous behaviour", "Anomaly: none", "没有异常", "Nothing unusual",
             "The data is free of anomalies"]
NOISE = ["the series", "Step 2:", "values", "a spike", "the anomaly", "normal", "index", "between", "from",
         "the x-axis", "level shift", "y-axis from -2 to 3", "(", ")", "and", "至", "anomaly"]


def _fmt(n: int, style: int) -> tuple[str, set[int]]:
    """``n`` written in one of several styles, and the values a reader may take it for."""
    if n < 1000 or style == 0:
        return str(n), {n}
    hi, lo = divmod(n, 1000)
    if style == 1:
        return f"{hi:,}".replace(",", " ") + f" {lo:03d}" if hi >= 1000 else f"{hi} {lo:03d}", {n}
    if style == 2:
        return f"{n:,}", {n}
    if style == 3:
        return f"{hi}'{lo:03d}" if hi < 1000 else str(n), {n}
    if hi < 1000:  # "21.500": 21500 or 21.5 (rounded), whichever the window allows
        return f"{hi}.{lo:03d}", {n, int(n / 1000 + 0.5)}
    return str(n), {n}


@st.composite
def answers(draw: st.DrawFn) -> tuple[str, tuple[int, int], set[int]]:
    lo = draw(st.sampled_from([0, 1000, 20000, 146534]))
    hi = lo + draw(st.sampled_from([999, 4999]))
    numbers = st.integers(max(0, lo - 2000), hi + 2000)
    stated: set[int] = set()
    parts: list[str] = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.integers(0, 7))
        a, b = draw(numbers), draw(numbers)
        sa, va = _fmt(a, draw(st.integers(0, 4)))
        sb, vb = _fmt(b, draw(st.integers(0, 4)))
        if kind == 0:
            parts.append(draw(st.sampled_from(NEGATIONS)))
            continue
        if kind == 1:
            parts.append(draw(st.sampled_from(NOISE)))
            continue
        if kind == 2:  # the plot's extent
            parts.append(draw(st.sampled_from(["The x-axis spans {} to {}", "The series from {} to {}",
                                               "Indices {}-{} look regular", "横轴范围从{}到{}"])).format(lo, hi))
            stated |= {lo, hi}
            continue
        template = draw(st.sampled_from([
            "between {} and {}", "from index {} to {}", "({}, {})", "indices {}-{}", "an anomaly at {}–{}",
            "索引{}至{}", "at index {} and {}", "<anomaly>True</anomaly><index>({}, {})</index>",
            '{{"anomaly": true, "intervals": [[{}, {}]]}}', "<index>{} to {}</index>"]))
        if template.startswith('{{"'):
            sa, va, sb, vb = str(a), {a}, str(b), {b}
        parts.append(template.format(sa, sb))
        stated |= va | vb
    sep = draw(st.sampled_from([". ", "\n", "; "]))
    return sep.join(parts), (lo, hi), stated


@settings(max_examples=400, deadline=None, database=None, derandomize=True)
@given(answers())
def test_no_interval_the_text_does_not_state(case: tuple[str, tuple[int, int], set[int]]) -> None:
    text, (lo, hi), stated = case
    r = parse_answer(text, (lo, hi))
    clipped = "clipped" in r.issues
    for a, b in r.intervals:
        assert a in stated or (clipped and a == lo), (text, r)
        assert b in stated or (clipped and b == hi), (text, r)
        if (b - a + 1) >= 0.9 * (hi - lo + 1):  # the whole window only from an explicit structured yes
            assert r.format in ("tags", "json") and r.anomaly is True, (text, r)


@settings(max_examples=200, deadline=None, database=None, derandomize=True)
@given(st.lists(st.sampled_from([*NEGATIONS, "The x-axis spans {lo} to {hi}", "The series from {lo} to {hi} is stable",
                                 "Indices {lo}-{hi} look regular", "The data between {lo} and {hi}",
                                 "the series", "values between -1 and 1"]), min_size=1, max_size=5),
       st.sampled_from([(0, 999), (20000, 24999)]))
def test_negations_and_axis_descriptions_never_detect(parts: list[str], window: tuple[int, int]) -> None:
    text = ". ".join(p.format(lo=window[0], hi=window[1]) for p in parts)
    r = parse_answer(text, window)
    assert r.intervals == () and r.anomaly is not True, (text, r)
