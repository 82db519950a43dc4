"""The VisAnomBench task: samples, hand-checked scoring of varied answers, parse failures,
reasoning signals, fingerprints, lazy rendering on resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from vab_tiny import ScriptedModel, build_bench

import tasks.visanombench.lazy_render as lazy_render
from harness.core.types import Prediction, Sample
from harness.render.plot import DEFAULT_SETTINGS, render_series
from harness.run.runner import Runner
from harness.scoring.metrics import affiliation_prf, intervals_to_labels
from tasks.visanombench.reasoning import (
    axis_signal,
    axis_tolerance,
    consistency_signal,
    in_window_signal,
    reasoning_signals,
)
from tasks.visanombench.task import VisAnomBenchTask

TEXT_A = """<anomaly>True</anomaly>
<index>(1095, 1110)</index>
<index>(1200, 1210)</index>
Step 1: The x-axis represents the index, ranging from 1000 to 1299. The y-axis shows the value, from about -1 to 5.
Step 2: The series oscillates regularly. One region stands out around index 1095 to 1110, and there is a small bump near index 1205.
Step 3: The values there are far above the usual level."""
TEXT_B = "Looking at the plot, the anomaly is between index 290 and 345."
TEXT_C = """<anomaly>False</anomaly>
Step 1: The x-axis ranges from 5000 to 5299.
Step 2: The pattern repeats regularly.
Step 3: Nothing departs from it, so the series is normal."""
TEXT_D = "The plot is pretty."
TEXTS = {"kpi-a": TEXT_A, "gt-b": TEXT_B, "ucr-c": TEXT_C, "ucr-d": TEXT_D}


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_bench(tmp_path_factory.mktemp("vab"))


def _task(bench: Path, **kw) -> VisAnomBenchTask:
    return VisAnomBenchTask(data_dir=bench, workers=1, **kw)


def _records(path: Path) -> dict[str, dict]:
    return {r["sample_id"]: r for r in map(json.loads, (path / "samples.jsonl").read_text().splitlines())}


def test_samples_show_the_rendered_window_and_the_prompt_but_no_labels(bench: Path) -> None:
    task = _task(bench)
    samples = list(task.samples())
    assert [s.id for s in samples] == ["kpi-a", "gt-b", "ucr-c", "ucr-d"]  # manifest order, test split only
    a = samples[0]
    assert a.index_offset == 1000 and a.series.size == 300
    assert a.image == render_series(a.series, 1000, task.settings)
    assert a.prompt.startswith("Do you see any anomalies on this plot?")
    assert "<anomaly>True</anomaly>" in a.prompt and "<index>(start, end)</index>" in a.prompt
    assert a.meta == {"source": "KPI", "domain": "AIOps", "series": "kpi-a-series", "start": 1000, "end": 1299,
                      "length": 300, "file": "segments/kpi-a.csv"}
    assert len({s.input_hash for s in samples}) == 4
    where = next(_task(bench, prompt="paper-where").samples(limit=1))
    assert where.prompt.startswith("Can you determine whether anomalies are present")
    assert where.input_hash != a.input_hash and where.image == a.image
    assert [s.id for s in _task(bench, split="train").samples()] == ["kpi-train"]
    assert task.count() == 4 and task.count(limit=2) == 2


def test_varied_answers_are_scored_as_computed_by_hand(bench: Path, tmp_path: Path) -> None:
    res = Runner(_task(bench), ScriptedModel(TEXTS), tmp_path, cache=None, progress=False, batch_size=3).run()
    recs = _records(res.path)
    a, b, c, d = (recs[k]["metrics"] for k in ("kpi-a", "gt-b", "ucr-c", "ucr-d"))
    # A: tags, two intervals, one hits (1100..1119); 11 shared points of 16 + 11 predicted and 20 true
    assert recs["kpi-a"]["intervals"] == [[1095, 1110], [1200, 1210]]
    assert (a["TP"], a["FP"], a["FN"]) == (1, 1, 0)
    assert a["IoU"] == pytest.approx(11 / 36)
    assert (a["Point-P"], a["Point-R"], a["Point-F1"]) == pytest.approx((11 / 27, 11 / 20, 22 / 47))
    pred = intervals_to_labels([(1095, 1110), (1200, 1210)], 300, offset=1000)
    truth = intervals_to_labels([(1100, 1119)], 300, offset=1000)
    assert (a["Affiliation-P"], a["Affiliation-R"], a["Affiliation-F1"]) == pytest.approx(affiliation_prf(pred, truth))
    assert (a["reason-axis"], a["reason-in-window"], a["reason-consistent"]) == (1.0, 1.0, 0.5)
    # B: prose; (290, 345) hits the second of two true intervals
    assert recs["gt-b"]["intervals"] == [[290, 345]]
    assert recs["gt-b"]["pred_meta"]["parse_format"] == "prose"
    assert (b["TP"], b["FP"], b["FN"]) == (1, 0, 1)
    assert b["IoU"] == pytest.approx(40 / 66)
    assert (b["Point-P"], b["Point-R"], b["Point-F1"]) == pytest.approx((40 / 56, 40 / 50, 80 / 106))
    assert (b["reason-axis"], b["reason-in-window"], b["reason-consistent"]) == (0.0, 1.0, 1.0)
    # C: a correct "normal" answer: nothing to count, IoU and point metrics undefined
    assert recs["ucr-c"]["intervals"] == [] and not recs["ucr-c"]["parse_failed"]
    assert (c["TP"], c["FP"], c["FN"], c["IoU"], c["Point-F1"], c["Affiliation-F1"]) == (0, 0, 0, None, None, None)
    assert (c["reason-axis"], c["reason-in-window"], c["reason-consistent"]) == (1.0, None, None)
    # D: unparsable: an empty prediction (FN for its interval) and a counted parse failure
    assert recs["ucr-d"]["parse_failed"] and recs["ucr-d"]["intervals"] == [] and recs["ucr-d"]["error"] is None
    assert (d["TP"], d["FP"], d["FN"], d["IoU"], d["Point-R"], d["Point-F1"]) == (0, 0, 1, 0.0, 0.0, 0.0)
    assert d["Point-P"] is None and d["anomaly_kinds"] == ["spike"]

    run = res.run
    assert run["headline"] == "F1"
    assert run["interval_counts"] == {"TP": 2, "FP": 1, "FN": 2}
    m = {k: v["value"] for k, v in run["metrics"].items()}
    assert (m["P"], m["R"], m["F1"]) == pytest.approx((2 / 3, 1 / 2, 4 / 7))
    assert m["Overlap"] == pytest.approx((11 / 36 + 40 / 66 + 0.0) / 3)
    assert m["Point-F1"] == pytest.approx((22 / 47 + 80 / 106 + 0.0) / 3)
    assert m["reason-axis"] == 0.5 and m["reason-in-window"] == 1.0 and m["reason-consistent"] == 0.75
    assert run["counts"]["n_parse_failed"] == 1 and run["counts"]["n_undefined"] == 1
    assert run["metrics_fail_as_zero"]["F1"] == pytest.approx(4 / 7)
    src = run["groups"]["source"]
    assert (src["KPI"]["TP"], src["KPI"]["FP"], src["KPI"]["FN"]) == (1, 1, 0)
    assert src["KPI"]["F1"] == pytest.approx(2 / 3) and src["UCR-TSAD"]["F1"] == 0.0
    kinds = run["groups"]["anomaly_kind"]
    assert set(kinds) == {"spike", "extremum", "variance", "normal"}
    assert (kinds["spike"]["TP"], kinds["spike"]["FP"], kinds["spike"]["FN"]) == (1, 1, 1)
    assert kinds["normal"]["n"] == 1 and set(run["groups"]["domain"]) == {"AIOps", "Sine", "Medical"}


class _FailsOn(ScriptedModel):
    def predict(self, batch):
        return [Prediction(sample_id=p.sample_id, error="api: 500") if p.sample_id == "ucr-d" else p
                for p in super().predict(batch)]


def test_each_answer_is_parsed_once(bench: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import harness.answers.formats as answers

    calls: list[str] = []
    real = answers.parse_answer
    monkeypatch.setattr(answers, "parse_answer", lambda text, **kw: calls.append(text) or real(text, **kw))
    recs = _records(Runner(_task(bench), ScriptedModel(TEXTS), tmp_path, cache=None, progress=False).run().path)
    assert sorted(calls) == sorted(TEXTS.values())
    assert recs["kpi-a"]["metrics"]["reason-consistent"] == 0.5  # the kept parse still feeds the reasoning signals


def test_failed_sample_is_left_out_and_counted_empty_in_fail_as_zero(bench: Path, tmp_path: Path) -> None:
    run = Runner(_task(bench), _FailsOn(TEXTS), tmp_path, cache=None, progress=False).run().run
    assert run["counts"]["n_failed"] == 1
    assert run["interval_counts"] == {"TP": 2, "FP": 1, "FN": 1}
    assert run["metrics"]["F1"]["value"] == pytest.approx(4 / 6)
    assert run["metrics_fail_as_zero"]["F1"] == pytest.approx(4 / 7)


class _Scores:
    name = "deviation"
    provides = frozenset({"scores"})

    def fingerprint(self) -> str:
        return "deviation"

    def predict(self, batch):
        return [Prediction(sample_id=s.id, scores=np.abs(s.series - np.median(s.series))) for s in batch]


def test_score_models_get_one_peak_interval_per_segment(bench: Path, tmp_path: Path) -> None:
    res = Runner(_task(bench), _Scores(), tmp_path, cache=None, progress=False).run()
    recs = _records(res.path)
    assert all(len(r["intervals"]) == 1 for r in recs.values())
    lo, hi = recs["kpi-a"]["intervals"][0]
    assert 1100 <= lo <= hi <= 1119 and recs["kpi-a"]["metrics"]["TP"] == 1
    assert recs["kpi-a"]["metrics"]["reason-axis"] is None  # no rationale, no reasoning signal
    assert res.run["interval_counts"]["TP"] + res.run["interval_counts"]["FP"] == 4


def test_corrupt_segment_fails_alone(bench: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "bench"
    shutil.copytree(bench, copy)
    (copy / "segments" / "gt-b.csv").write_text("index,value,label\n0,1.0,0\n")
    run = Runner(_task(copy), ScriptedModel(TEXTS), tmp_path / "out", cache=None, progress=False).run().run
    assert run["counts"]["n_failed"] == 1 and run["failures"][0]["sample_id"] == "gt-b"
    assert "sha256" in run["failures"][0]["error"]


def test_a_window_that_fails_to_render_fails_alone(bench: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import harness.render.pool as render_worker

    real = render_worker.render_series

    def fails_at_0(values, index_offset, settings):
        if index_offset == 0:  # gt-b
            raise ValueError("Axis limits cannot be NaN or Inf")
        return real(values, index_offset, settings)

    monkeypatch.setattr(render_worker, "render_series", fails_at_0)
    samples = {s.id: s for s in _task(bench).samples()}
    bad = samples.pop("gt-b")
    assert bad.error == "render: ValueError: Axis limits cannot be NaN or Inf" and bad.image is None
    assert bad.meta["source"] == "GutenTAG"
    assert all(s.error is None and s.image is not None for s in samples.values())
    model = ScriptedModel(TEXTS)
    run = Runner(_task(bench), model, tmp_path, cache=None, progress=False, batch_size=2).run().run
    assert run["status"] == "complete" and run["counts"]["n"] == 4 and run["counts"]["n_failed"] == 1
    assert run["failures"] == [{"sample_id": "gt-b", "error": "input: render: ValueError: Axis limits cannot be NaN or Inf"}]
    assert [s.id for s in model.seen] == ["kpi-a", "ucr-c", "ucr-d"]


def test_render_stream_pairs_failures_with_their_entries() -> None:
    entries = [lazy_render.Pending("a", 0, values=np.arange(5.0)), lazy_render.Pending("b", error="unreadable"),
               lazy_render.Pending("c", 3, values=np.zeros((2, 2))), lazy_render.Pending("d", skipped=True),
               lazy_render.Pending("e", 9, values=np.ones(4))]
    out = list(lazy_render.render_stream(entries, DEFAULT_SETTINGS, workers=1))
    assert [e.key for e, _ in out] == ["a", "b", "c", "d", "e"]
    assert [png is not None for _, png in out] == [True, False, False, False, True]
    assert out[1][0].error == "unreadable" and out[2][0].error.startswith("render: ValueError: values must be 1-D")


def test_resume_renders_nothing_already_done(bench: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rendered: list[int] = []
    real = lazy_render.render_each

    def counting(items, settings, workers=None):
        return real(((rendered.append(o) or (v, o)) for v, o in items), settings, workers)

    monkeypatch.setattr(lazy_render, "render_each", counting)
    Runner(_task(bench), ScriptedModel(TEXTS), tmp_path, cache=None, progress=False, limit=2).run()
    assert rendered == [1000, 0]
    rendered.clear()
    model = ScriptedModel(TEXTS)
    run = Runner(_task(bench), model, tmp_path, cache=None, progress=False, limit=2).run().run
    assert rendered == [] and model.seen == [] and run["counts"]["n"] == 2
    stubs = list(_task(bench).samples(skip={"kpi-a"}))
    assert stubs[0].image is None and stubs[1].image is not None


def test_template_text_is_part_of_the_fingerprint(bench: Path, tmp_path: Path) -> None:
    base = _task(bench).fingerprint()
    assert _task(bench).fingerprint() == base
    assert _task(bench, prompt="paper-where").fingerprint() != base
    assert _task(bench, dpi=80).fingerprint() != base
    assert _task(bench, split="train").fingerprint() != base
    (tmp_path / "_format.j2").write_text("Answer with tags.\n")  # a prompt folder's own part wins
    mine = tmp_path / "mine.j2"
    mine.write_text('Anything odd here?\n{% include "_format.j2" %}\n')
    first = _task(bench, prompt=str(mine))
    assert next(first.samples(limit=1)).prompt == "Anything odd here?\nAnswer with tags."
    mine.write_text('Anything odd here? \n{% include "_format.j2" %}\n')  # one space more
    second = _task(bench, prompt=str(mine))
    (tmp_path / "_format.j2").write_text("Answer with the tags.\n")  # an included part changes
    third = _task(bench, prompt=str(mine))
    assert len({first.fingerprint(), second.fingerprint(), third.fingerprint(), base}) == 4


def test_the_task_chooses_its_answer_format(bench: Path, tmp_path: Path) -> None:
    """The paper's tags are one answer format: with ``answer=json`` the prompt asks for JSON and
    answers are read as JSON (then prose), never as tags."""
    from harness.core.errors import UsageError

    task = _task(bench, answer="json")
    sample = next(task.samples(limit=1))
    paper = next(_task(bench).samples(limit=1))
    assert "<anomaly>" not in sample.prompt and '{"anomaly": true, "intervals": [[start, end]]}' in sample.prompt
    assert sample.prompt.startswith("Do you see any anomalies on this plot?") and sample.input_hash != paper.input_hash
    assert task.fingerprint() != _task(bench).fingerprint() and task.describe()["answer_format"] == "json"
    texts = {"kpi-a": 'Step 1: ...\n{"anomaly": true, "intervals": [[1095, 1110]]}',
             "gt-b": "<anomaly>True</anomaly>\n<index>(290, 345)</index>",  # tags are not read in this format
             "ucr-c": '{"anomaly": false, "intervals": []}', "ucr-d": TEXT_D}
    recs = _records(Runner(task, ScriptedModel(texts), tmp_path, cache=None, progress=False).run().path)
    assert recs["kpi-a"]["intervals"] == [[1095, 1110]] and recs["kpi-a"]["pred_meta"]["parse_format"] == "json"
    assert recs["gt-b"]["pred_meta"]["parse_format"] != "tags"
    assert recs["ucr-c"]["intervals"] == [] and not recs["ucr-c"]["parse_failed"]
    with pytest.raises(UsageError, match="unknown answer format 'xml'; known answer formats: json, paper-tags"):
        _task(bench, answer="xml")


def test_reasoning_signals_on_hand_written_rationales() -> None:
    window = (146534, 153264)
    tol = axis_tolerance(window)  # half of one tick spacing: 6730 / 19 / 2
    assert tol == pytest.approx(6730 / 19 / 2)
    good = "Step 1: The x-axis represents the index, ranging from 146534 to 153264. The y-axis ..."
    assert axis_signal(good, window) == 1.0
    assert axis_signal("The x-axis spans 146700 to 153100.", window) == 1.0  # within half a tick
    assert axis_signal("The x-axis ranges from 0 to 6730.", window) == 0.0  # relative, not what is shown
    assert axis_signal("The series has a spike.", window) == 0.0
    assert in_window_signal([(150800, 151200), (10, 20)], window) == 0.5
    assert in_window_signal([], window) is None
    assert consistency_signal([(150800, 151200)], [(150790, 151210)]) == 1.0  # IoU 401/421
    assert consistency_signal([(150800, 151200)], [(150800, 150900)]) == 0.0  # IoU 101/401 < 0.5
    assert consistency_signal([], [(1, 2)]) is None
    text = ("Step 1: The x-axis represents the index, ranging from 146534 to 153264.\n"
            "Step 2: One region stands out around index 150800 to 151200, where the values reach 3.5.\n"
            "Step 3: Values there are far above the usual level of 0.2.")
    s = reasoning_signals(text, [(150800, 151200)], window)
    assert (s.axis, s.in_window, s.consistent) == (1.0, 1.0, 1.0)
    assert s.values is None  # no series given: the value claim cannot be checked
    assert reasoning_signals("   ", [(1, 2)], window).as_metrics() == dict.fromkeys(
        ("reason-axis", "reason-in-window", "reason-consistent", "reason-values", "reason-kind"))


def test_data_dir_is_required_and_hf_is_a_clear_hook(bench: Path) -> None:
    from harness.core.errors import UsageError

    with pytest.raises(UsageError, match="data_dir"):
        VisAnomBenchTask().items  # noqa: B018
    with pytest.raises(UsageError, match="PLAN-Lab/VisAnomBench"):
        VisAnomBenchTask(data_dir="hf").items  # noqa: B018
    with pytest.raises(UsageError, match="unknown prompt"):
        VisAnomBenchTask(data_dir=bench, prompt="nope")


def test_sample_without_text_or_scores_is_an_error(bench: Path) -> None:
    task = _task(bench)
    sample = Sample(id="kpi-a", series=np.zeros(300), index_offset=1000)
    assert task.postprocess(Prediction(sample_id="kpi-a"), sample).error == "model returned neither text nor scores"


def test_worker_processes_render_the_same_bytes(bench: Path) -> None:
    pooled = [s.image for s in VisAnomBenchTask(data_dir=bench, workers=2).samples()]
    assert pooled == [s.image for s in _task(bench).samples()]
