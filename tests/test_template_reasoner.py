"""The template reasoner: grounded, parseable, deterministic answers; end to end on the demo benchmark."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import toy  # noqa: F401  (registers toy-deviation, a fast score model)

import baselines.template_reasoner  # noqa: F401  (registers template-reasoner)
import tasks.visanombench.task  # noqa: F401  (registers visanombench, visanombench-demo)
from baselines.template_reasoner import TemplateReasoner, rationale
from harness import registry
from harness.answers.parse import axis_range_in_text, intervals_in_text, parse_answer
from harness.cli.main import main
from harness.core.spec import slug
from harness.core.types import Sample
from tasks.visanombench.reasoning import KIND_TERMS, kind_signal, reasoning_signals, values_signal
from tasks.visanombench.reasoning import value_claims as reasoning_values


def _spiky(offset: int = 146534) -> Sample:
    x = np.sin(np.arange(600) / 7.0)
    x[400:410] += 6.0
    return Sample(id="s", series=x, index_offset=offset)


def test_answer_is_in_the_paper_format_and_grounded_in_the_values() -> None:
    model = TemplateReasoner(detector="toy-deviation")
    s = _spiky()
    (pred,) = model.predict([s])
    parsed = parse_answer(pred.text, window=(146534, 147133))
    assert pred.text.startswith("<anomaly>True</anomaly>\n<index>(")
    assert parsed.format == "tags" and not parsed.failed and len(parsed.intervals) == 1
    (a, b), = parsed.intervals
    assert a <= 146534 + 400 and b >= 146534 + 409
    steps = parsed.rationale.splitlines()
    assert [line[:7] for line in steps] == ["Step 1:", "Step 2:", "Step 3:"]
    assert axis_range_in_text(parsed.rationale) == (146534.0, 147133.0)
    assert f"{s.series.max():.4g}" in steps[0] and f"{s.series.max():.4g}" in steps[1]  # y range, peak value
    assert (a, b) in intervals_in_text(steps[1])
    signals = reasoning_signals(parsed.rationale, parsed.intervals, (146534, 147133))
    assert (signals.axis, signals.in_window, signals.consistent) == (1.0, 1.0, 1.0)
    assert model.predict([s])[0].text == pred.text  # deterministic


def test_flat_scores_give_a_normal_answer_unless_peak_mode() -> None:
    flat = Sample(id="c", series=np.ones(50), index_offset=7)
    text = TemplateReasoner(detector="toy-deviation", intervals="peak-above").predict([flat])[0].text
    parsed = parse_answer(text, window=(7, 56))
    assert parsed.anomaly is False and parsed.intervals == () and "No anomaly is reported" in text
    # "peak" always answers one interval, as the paper's classical rows (and the score path) do
    text = TemplateReasoner(detector="toy-deviation").predict([flat])[0].text
    assert parse_answer(text, window=(7, 56)).intervals == ((7, 7),) and "at or below the threshold" in text


def test_peak_mode_equals_the_score_path_of_its_detector() -> None:
    from harness.scoring.thresholds import peak_interval

    s = _spiky(1000)
    scores = registry.make_model("toy-deviation").predict([s])[0].scores
    text = TemplateReasoner(detector="toy-deviation").predict([s])[0].text
    assert parse_answer(text, window=(1000, 1599)).intervals == peak_interval(scores, index_offset=1000)


def test_all_mode_reports_several_regions() -> None:
    x = np.sin(np.arange(800) / 7.0)
    x[100:105] += 6.0
    x[600:610] -= 6.0
    s = Sample(id="two", series=x, index_offset=0)
    text = TemplateReasoner(detector="toy-deviation", intervals="all", k=4).predict([s])[0].text
    parsed = parse_answer(text, window=(0, 799))
    assert len(parsed.intervals) == 2 and parsed.rationale.count("One region stands out") == 2
    assert reasoning_signals(parsed.rationale, parsed.intervals, (0, 799)).consistent == 1.0


def test_rationale_numbers_come_from_the_series() -> None:
    values = np.array([1.0, 2.0, 3.0, 50.0, 2.0, 1.0])
    text = rationale(values, 10, [(13, 13)], "X", 3.0)
    assert "ranging from 10 to 15" in text and "from about 1 to 50" in text
    assert "around index 13 to 13, the values reach 50" in text


def test_fingerprint_covers_detector_threshold_and_template() -> None:
    base = TemplateReasoner(detector="toy-deviation").fingerprint()
    assert TemplateReasoner(detector="toy-deviation").fingerprint() == base
    assert TemplateReasoner(detector="toy-deviation", k=4).fingerprint() != base
    assert TemplateReasoner(detector="toy-deviation", intervals="all").fingerprint() != base
    assert TemplateReasoner(detector="toy-deviation", delay=0.001).fingerprint() == base  # toy ignores delay
    assert TemplateReasoner(detector="toy-crash").fingerprint() != base
    display = registry.describe_model("template-reasoner")
    assert display["group"] == "heuristic baseline" and "NOT a VLM" in display["note"]


@pytest.mark.detectors
def test_end_to_end_on_the_demo_benchmark_through_the_cli(tmp_path: Path) -> None:
    args = ["run", "--task", "visanombench-demo", "--task-args", f"data_dir={tmp_path / 'bench'}",
            "--model", "template-reasoner", "--limit", "6", "--output", str(tmp_path / "out"),
            "--no-cache", "--no-progress"]
    assert main(args) == 0
    run_json = next((tmp_path / "out").glob(f"{slug('visanombench-demo')}/{slug('template-reasoner')}/*/run.json"))
    run = json.loads(run_json.read_text())
    assert run["headline"] == "F1" and run["model"]["display"]["group"] == "heuristic baseline"
    for key in ("P", "R", "F1", "Overlap", "Point-F1", "Affiliation-F1", "reason-axis"):
        assert key in run["metrics"]
    c = run["interval_counts"]
    lines = [json.loads(x) for x in (run_json.parent / "samples.jsonl").read_text().splitlines()]
    assert len(lines) == 6 and run["counts"]["n_failed"] == 0 and run["counts"]["n_parse_failed"] == 0
    assert c["TP"] == sum(r["metrics"]["TP"] for r in lines) and c["FP"] == sum(r["metrics"]["FP"] for r in lines)
    assert c["TP"] + c["FN"] == sum(r["metrics"]["n_true"] for r in lines)
    p = c["TP"] / (c["TP"] + c["FP"]) if c["TP"] + c["FP"] else None
    assert run["metrics"]["P"]["value"] == pytest.approx(p)
    assert run["metrics"]["reason-axis"]["value"] == 1.0  # it always states the shown range
    assert all(r["text"].startswith("<anomaly>") for r in lines)
    assert main(args) == 0  # repeating the command resumes the complete run


def _template_signals(sample: Sample) -> tuple[str, object]:
    (pred,) = TemplateReasoner(detector="toy-deviation").predict([sample])
    window = (sample.index_offset, sample.index_offset + len(sample.series) - 1)
    parsed = parse_answer(pred.text, window=window)
    return parsed.rationale, reasoning_signals(parsed.rationale, parsed.intervals, window, series=sample.series)


def test_reason_values_holds_where_the_template_cites_the_series_values() -> None:
    """What the template writes: "around index A to B, the values reach V" with V taken from the
    series (4 significant digits), so on an ordinary series reason-values is 1.0."""
    rationale_text, signals = _template_signals(_spiky())
    assert "the values reach" in rationale_text
    assert (signals.axis, signals.in_window, signals.consistent, signals.values) == (1.0, 1.0, 1.0, 1.0)


def test_template_does_not_meet_reason_values_when_its_cited_values_are_not_the_series() -> None:
    """Issue 19: reason-axis/in-window/consistent are met by the template whatever it says; on a
    series at 10,000 +- 2 its 4-significant-digit value ("1e+04") is not the series' value."""
    rng = np.random.default_rng(0)
    x = 10000.0 + 0.05 * rng.normal(size=600)
    x[400:410] += 2.0
    rationale_text, signals = _template_signals(Sample(id="big", series=x, index_offset=0))
    claims = reasoning_values(rationale_text)
    assert claims and all(v == 10000.0 for _a, _b, v in claims)  # what the template actually wrote
    assert (signals.axis, signals.in_window, signals.consistent) == (1.0, 1.0, 1.0)
    assert signals.values == 0.0  # the series reaches ~10,002 there, not 10,000


def test_reason_values_reads_claims_and_checks_them_against_the_series() -> None:
    x = np.zeros(100)
    x[40:45] = 5.0
    good = "Step 2: around index 140 to 144, the values reach 5.0, compared with the typical level of 0."
    bad = "Step 2: Indices 140-144: values rise to 9.5. Then index 10 to 20 where the value is 0.0."
    assert values_signal(good, x, (100, 199)) == 1.0
    assert values_signal(bad, x, (100, 199)) == 0.0  # 9.5 is not there; 10..20 is outside the window
    assert values_signal("no numbers about values here", x, (100, 199)) is None
    assert values_signal(good, None, (100, 199)) is None


def test_reason_kind_needs_the_true_kind_which_the_template_never_names() -> None:
    assert kind_signal("Step 3: a sharp spike at index 410.", ["extremum"]) == 1.0
    assert kind_signal("Step 3: the level shifts up: a level shift from 400 on.", ["mean"]) == 1.0
    assert kind_signal("Step 3: a sharp spike at index 410.", ["variance"]) == 0.0
    assert kind_signal("Step 3: anything", ["real"]) is None and kind_signal("x", []) is None
    # the template's wording names no kind, whatever it detects and whatever the true kind is
    for x in (_spiky().series, np.sin(np.arange(600) / 7.0)):
        (pred,) = TemplateReasoner(detector="toy-deviation", intervals="peak-above").predict(
            [Sample(id="s", series=x, index_offset=0)])
        text = parse_answer(pred.text, window=(0, 599)).rationale
        assert all(kind_signal(text, [k]) == 0.0 for k in KIND_TERMS), text
