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
from tasks.visanombench.reasoning import reasoning_signals


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
