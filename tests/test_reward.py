"""The composite reward: golden ranking of hand-written rationales, weights, judge replies, selection."""

from __future__ import annotations

import pytest

from harness.answers.judge import parse_judge_reply
from harness.core.errors import UsageError
from harness.curate.reward import RewardWeights, score_candidate
from harness.curate.selection import Candidate, select, sensitivity

WINDOW = (146534, 153264)
TRUTH = [(150800, 151200)]
TAGS = "<anomaly>True</anomaly>\n<index>(150800, 151200)</index>\n"
STEP3 = ("Step 3: This region is identified as an anomaly because the amplitude triples and the regular "
         "oscillation breaks down before returning to its usual range.")

GOOD = TAGS + ("Step 1: The x-axis represents the index, ranging from 146534 to 153264; the y-axis shows values "
               "between -2 and 2. Step 2: The series oscillates regularly; one region around index 150800 to "
               "151200 departs sharply from it. " + STEP3)
OUTSIDE = TAGS + ("Step 1: The x-axis represents the index, ranging from 146534 to 153264; the y-axis shows values "
                  "between -2 and 2. Step 2: One region around index 150800 to 151200 departs sharply, as do "
                  "index 190000 to 195000 and index 12 to 40. " + STEP3)
WRONG_AXIS = TAGS + ("Step 1: The x-axis represents the index, ranging from 0 to 1000; the y-axis shows values "
                     "between -2 and 2. Step 2: The series oscillates regularly; one region around index 150800 to "
                     "151200 departs sharply from it. " + STEP3)
CONTRADICTS = TAGS + ("Step 1: The x-axis represents the index, ranging from 146534 to 153264; the y-axis shows "
                      "values between -2 and 2. Step 2: The series oscillates regularly; one region around index "
                      "147000 to 147300 departs sharply from it. " + STEP3)
EMPTY = ""


def _score(text: str, **kw):
    return score_candidate(text, WINDOW, TRUTH, **kw)


def test_golden_ranking_as_a_person_would() -> None:
    s = {name: _score(t) for name, t in [("good", GOOD), ("outside", OUTSIDE), ("wrong_axis", WRONG_AXIS),
                                          ("contradicts", CONTRADICTS), ("empty", EMPTY)]}
    assert s["good"].eligible and s["good"].reward > 0.95
    for bad in ("outside", "wrong_axis", "contradicts"):
        assert s[bad].eligible and s["empty"].reward < s[bad].reward < s["good"].reward, bad
        # the tags are right in all of them: localisation accuracy is not what separates them
        assert s[bad].terms["accuracy"] == s["good"].terms["accuracy"] == 1.0
    # each flaw lowers its own term
    assert s["outside"].terms["grounded"] == pytest.approx(1 / 3)
    assert s["wrong_axis"].terms["axis"] == pytest.approx(0.2) and s["good"].terms["axis"] == 1.0
    assert s["contradicts"].terms["clarity"] < s["good"].terms["clarity"]
    assert not s["empty"].eligible and s["empty"].reward == 0 and s["empty"].reason == "empty answer"
    order = sorted(s, key=lambda k: -s[k].reward)
    assert order[0] == "good" and order[-1] == "empty"


def test_ineligible_answers_say_why() -> None:
    assert _score("I cannot tell.").reason.startswith("answer could not be parsed")
    assert _score(TAGS).reason == "no rationale besides the answer tags"
    assert _score(GOOD, error="HTTP 500").reason == "model failed: HTTP 500"


def test_wrong_localisation_loses_accuracy() -> None:
    wrong = GOOD.replace("<index>(150800, 151200)</index>", "<index>(147000, 147300)</index>")
    assert _score(wrong).terms["accuracy"] == 0.0 and _score(wrong).reward < _score(GOOD).reward


def test_weights_parse_and_validate() -> None:
    w = RewardWeights.parse("accuracy=1,axis=0")
    assert w.accuracy == 1.0 and w.axis == 0.0 and w.grounded == 0.2
    for bad in ("speed=1", "accuracy=x", "accuracy=-1", "accuracy=0,grounded=0,axis=0,clarity=0", "judge_share=2"):
        with pytest.raises(UsageError):
            RewardWeights.parse(bad)
    # only accuracy counts: the wrong-axis text is as good as the good one
    assert _score(WRONG_AXIS, weights=RewardWeights.parse("accuracy=1,grounded=0,axis=0,clarity=0")).reward == 1.0


def test_judge_blends_into_soft_terms_only() -> None:
    judged = _score(WRONG_AXIS, judge={"grounded": 0.0, "axis": 0.0, "clarity": 0.0})
    assert judged.terms["accuracy"] == 1.0 and judged.terms["axis"] == 0.0
    half = _score(WRONG_AXIS, judge={"grounded": 1.0, "axis": 1.0, "clarity": 1.0},
                  weights=RewardWeights(judge_share=0.5))
    assert half.terms["axis"] == pytest.approx(0.6)


@pytest.mark.parametrize("reply,grades", [
    ('{"grounded": 7, "axis": 9, "clarity": 6}', {"grounded": 0.7, "axis": 0.9, "clarity": 0.6}),
    ('Sure.\n```json\n{"groundedness": "8", "axis_awareness": 12, "clarity": -1}\n```',
     {"grounded": 0.8, "axis": 1.0, "clarity": 0.0}),
    ("Groundedness: 8/10\nAxis awareness: 10/10\nClarity = 4", {"grounded": 0.8, "axis": 1.0, "clarity": 0.4}),
])
def test_judge_reply_parsed(reply: str, grades: dict) -> None:
    j = parse_judge_reply(reply)
    assert j.error is None and j.grades == pytest.approx(grades)


@pytest.mark.parametrize("reply", ["I like it", "", None, "grounded: 7", '{"grounded": "high"}'])
def test_unparsable_judge_reply_recorded(reply) -> None:
    j = parse_judge_reply(reply)
    assert j.grades is None and j.error and j.reply == reply


def _cand(sid: str, model: str, text: str, error: str | None = None, draw: int = 0) -> Candidate:
    c = Candidate(key=f"{sid}|{model}|{draw}", sample_id=sid, model=model, label=model, spec_id="x", run="r",
                  draw=draw, text=text, error=error, parse_failed=False, window=WINDOW, truth=TRUTH, image=None,
                  prompt="q")
    c.scored = score_candidate(text, WINDOW, TRUTH, error=error)
    return c


def test_selection_deterministic_ties_and_all_failing_segment_dropped() -> None:
    cands = [_cand("a", "m2", GOOD), _cand("a", "m1", GOOD), _cand("a", "m1", GOOD, draw=1),
             _cand("a", "m3", WRONG_AXIS),
             _cand("b", "m1", "", error="timeout"), _cand("b", "m2", "I cannot tell."), _cand("b", "m3", TAGS)]
    chosen, dropped = select(cands)
    assert chosen["a"].model == "m1" and chosen["a"].draw == 0  # tie: model name, then draw
    assert chosen == select(list(reversed(cands)))[0]
    assert list(dropped) == ["b"] and len(dropped["b"]) == 3
    assert {w["reason"].split(":")[0] for w in dropped["b"]} == {
        "model failed", "answer could not be parsed", "no rationale besides the answer tags"}


def test_sensitivity_reports_changes() -> None:
    cands = [_cand("a", "m1", GOOD.replace("<index>(150800, 151200)</index>", "<index>(150800, 150900)</index>")
                   .replace("150800 to 151200", "150800 to 150900")), _cand("a", "m2", WRONG_AXIS)]
    rows = sensitivity(cands, RewardWeights())
    by = {(r["term"], r["factor"]): r for r in rows}
    base = select(cands)[0]["a"].model
    # with no weight on the axis term the wrong-axis candidate (exact interval) wins; doubling it keeps the base
    assert base == "m1" and by[("axis", 0.0)]["changed"] == 1 and by[("axis", 2.0)]["changed"] == 0
