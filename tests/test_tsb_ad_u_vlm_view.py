"""The TSB-AD-U VLM view: windows as samples, stitching back onto whole series, hand-checked
point and affiliation metrics, failures, limits, registration beside the score view."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from vab_tiny import ScriptedModel

from harness import registry
from harness.core.types import Prediction
from harness.run.runner import Runner
from harness.scoring.metrics import affiliation_prf, intervals_to_labels
from tasks.tsb_ad_u.vlm_view import TSBADUVLMTask, window_starts

S1 = "001_Toy_id_1_Synthetic_tr_100_1st_250"  # 500 points, anomalies 250..259 and 420..429
S2 = "002_Toy_id_2_Synthetic_tr_100_1st_150"  # 300 points, anomaly 150..169
ANSWERS = {
    f"{S1}@0": "<anomaly>False</anomaly>\nStep 1: The x-axis ranges from 0 to 199.",
    f"{S1}@200": "<anomaly>True</anomaly>\n<index>(245, 259)</index>\nStep 2: a bump around index 245 to 259.",
    f"{S1}@300": "<anomaly>True</anomaly>\n<index>(380, 385)</index>\n<index>(425, 434)</index>",
    f"{S2}@0": "<anomaly>True</anomaly>\n<index>(150, 160)</index>",
    f"{S2}@100": "The anomaly lies from index 155 to 175.",
}


def _write(path: Path, n: int, intervals: list[tuple[int, int]], seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = intervals_to_labels(intervals, n)
    data = np.sin(np.arange(n) / 5.0) + 0.1 * rng.standard_normal(n) + 3.0 * labels
    pd.DataFrame({"Data": data, "Label": labels}).to_csv(path, index=False)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tsbvlm")
    _write(root / f"{S1}.csv", 500, [(250, 259), (420, 429)], 1)
    _write(root / f"{S2}.csv", 300, [(150, 169)], 2)
    (root / "mylist.csv").write_text(f"file_name\n{S1}.csv\n{S2}.csv\n")
    return root


def _task(data: Path, **kw) -> TSBADUVLMTask:
    return TSBADUVLMTask(data_dir=data, file_list="mylist", window=200, stride=200, workers=1, **kw)


def test_window_starts_cover_the_series() -> None:
    assert window_starts(500, 200, 200) == [0, 200, 300]
    assert window_starts(300, 200, 200) == [0, 100]
    assert window_starts(150, 200, 200) == [0]
    assert window_starts(400, 200, 100) == [0, 100, 200]


def test_each_window_is_a_sample_with_absolute_ticks(data: Path) -> None:
    task = _task(data)
    samples = list(task.samples())
    assert [s.id for s in samples] == [f"{S1}@0", f"{S1}@200", f"{S1}@300", f"{S2}@0", f"{S2}@100"]
    w = samples[2]
    assert w.index_offset == 300 and w.series.size == 200 and w.image[:4] == b"\x89PNG"
    assert w.prompt.startswith("Do you see any anomalies on this plot?")
    assert w.meta["series"] == S1 and w.meta["series_length"] == 500 and w.train_end is None
    assert samples[0].train_end == 100  # the window overlaps the training prefix
    assert task.count() == 5 and task.count(limit=1) == 3  # limit counts series
    assert [s.id for s in task.samples(limit=1)] == [f"{S1}@0", f"{S1}@200", f"{S1}@300"]
    assert task.target(f"{S1}@300").intervals == ((420, 429),)


def test_stitched_windows_are_scored_per_series_as_computed_by_hand(data: Path, tmp_path: Path) -> None:
    res = Runner(_task(data), ScriptedModel(ANSWERS), tmp_path, cache=None, progress=False, batch_size=2).run()
    run = res.run
    series = {r["sample_id"]: r for r in _task(data).stitch(
        [json.loads(x) for x in (res.path / "samples.jsonl").read_text().splitlines()])}
    s1, s2 = series[S1]["metrics"], series[S2]["metrics"]
    # S1: union 245..259, 380..385, 425..434 (31 points) against 250..259, 420..429 (20): 15 shared
    assert (s1["Point-P"], s1["Point-R"], s1["Point-F1"]) == pytest.approx((15 / 31, 15 / 20, 30 / 51))
    pred = intervals_to_labels([(245, 259), (380, 385), (425, 434)], 500)
    truth = intervals_to_labels([(250, 259), (420, 429)], 500)
    assert (s1["Affiliation-P"], s1["Affiliation-R"], s1["Affiliation-F1"]) == pytest.approx(
        affiliation_prf(pred, truth))
    assert (s1["TP"], s1["FP"], s1["FN"]) == (2, 1, 0)
    # S2: windows 0..199 and 100..299 overlap; union 150..175 against 150..169.
    # Affiliation by hand: one event J = [150, 170) in zone [0, 300). Recall 1 (J fully covered).
    # Precision: 20 points inside J count 1; x in [170, 176) at distance d = x - 170 counts
    # P(d(X, J) >= d) = (280 - 2d) / 300, integrated over d in [0, 6): (1680 - 36) / 300 = 5.48.
    assert (s2["Point-P"], s2["Point-R"], s2["Point-F1"]) == pytest.approx((20 / 26, 1.0, 40 / 46))
    p = (20 + 5.48) / 26
    assert (s2["Affiliation-P"], s2["Affiliation-R"]) == pytest.approx((p, 1.0))
    assert s2["Affiliation-F1"] == pytest.approx(2 * p / (p + 1))
    assert run["headline"] == "Point-F1"
    assert run["metrics"]["Point-F1"]["value"] == pytest.approx((30 / 51 + 40 / 46) / 2)
    assert run["metrics"]["Point-F1"]["n"] == 2
    assert run["interval_counts"] == {"TP": 3, "FP": 1, "FN": 0}
    assert run["series_counts"] == {"n_series": 2, "n_scored": 2, "n_failed": 0}
    assert run["counts"]["n"] == 5 and set(run["groups"]["dataset"]) == {"Toy"}
    # windows with a rationale: S1@0 states the axis range (1), S1@200 and S2@100 do not (0);
    # S1@300 and S2@0 answer with tags only (no rationale: undefined)
    assert run["metrics"]["reason-axis"]["value"] == pytest.approx(1 / 3)
    assert run["metrics"]["reason-axis"]["n"] == 3


class _FailsOn(ScriptedModel):
    def predict(self, batch):
        return [Prediction(sample_id=p.sample_id, error="api: 500") if p.sample_id == f"{S2}@100" else p
                for p in super().predict(batch)]


def test_a_failed_window_fails_its_series_only(data: Path, tmp_path: Path) -> None:
    run = Runner(_task(data), _FailsOn(ANSWERS), tmp_path, cache=None, progress=False).run().run
    assert run["series_counts"] == {"n_series": 2, "n_scored": 1, "n_failed": 1}
    assert run["metrics"]["Point-F1"]["value"] == pytest.approx(30 / 51)
    assert run["metrics_fail_as_zero"]["Point-F1"] == pytest.approx(30 / 51 / 2)


def test_limited_run_scores_whole_series_and_score_models_get_one_interval_per_window(
    data: Path, tmp_path: Path
) -> None:
    class Deviation:
        name, provides = "deviation", frozenset({"scores"})

        def fingerprint(self) -> str:
            return "deviation"

        def predict(self, batch):
            return [Prediction(sample_id=s.id, scores=np.abs(s.series - np.median(s.series))) for s in batch]

    res = Runner(_task(data), Deviation(), tmp_path, cache=None, progress=False, limit=1).run()
    recs = [json.loads(x) for x in (res.path / "samples.jsonl").read_text().splitlines()]
    assert len(recs) == 3 and all(len(r["intervals"]) == 1 for r in recs)
    assert res.run["series_counts"]["n_series"] == 1 and res.run["metrics"]["Point-F1"]["n"] == 1


def test_fingerprint_covers_windowing_and_prompt(data: Path) -> None:
    base = _task(data).fingerprint()
    assert _task(data).fingerprint() == base
    assert TSBADUVLMTask(data_dir=data, file_list="mylist", window=200, stride=100).fingerprint() != base
    assert TSBADUVLMTask(data_dir=data, file_list="mylist", window=300).fingerprint() != base
    assert _task(data, prompt="paper-where").fingerprint() != base


def test_registered_beside_the_score_view(tmp_path: Path) -> None:
    import tasks.tsb_ad_u.vlm_view  # noqa: F401  (registers the VLM view)

    assert {"tsb-ad-u", "tsb-ad-u-vlm", "tsb-ad-u-demo", "tsb-ad-u-demo-vlm"} <= set(registry.task_names())
    demo = registry.make_task("tsb-ad-u-demo-vlm", data_dir=str(tmp_path / "embedded"), workers=1)
    assert demo.name == "tsb-ad-u-demo-vlm" and demo.describe()["companion"].startswith("tsb-ad-u")
    first = next(demo.samples(limit=1))
    assert first.id.endswith("@0") and first.image is not None


def test_resume_reads_each_file_once_and_renders_nothing_done(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tasks.tsb_ad_u.task as score_view
    import tasks.visanombench.lazy_render as lazy_render

    Runner(_task(data), ScriptedModel(ANSWERS), tmp_path, cache=None, progress=False).run()
    rendered: list[int] = []
    real = lazy_render.render_each
    monkeypatch.setattr(lazy_render, "render_each", lambda items, settings, workers=None: real(
        ((rendered.append(o) or (v, o)) for v, o in items), settings, workers))
    reads: list[str] = []
    real_load = score_view.load_series
    monkeypatch.setattr(score_view, "load_series", lambda path, **kw: reads.append(Path(path).stem) or real_load(
        path, **kw))
    model = ScriptedModel(ANSWERS)
    run = Runner(_task(data), model, tmp_path, cache=None, progress=False).run().run
    assert rendered == [] and model.seen == [] and run["series_counts"]["n_scored"] == 2
    assert sorted(reads) == [S1, S2]  # counted once; neither skipping nor scoring reads again


def test_a_window_that_fails_to_render_fails_its_series_only(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import harness.render.pool as render_worker

    real = render_worker.render_series

    def fails_at_200(values, index_offset, settings):
        if index_offset == 200:  # S1@200
            raise RuntimeError("boom")
        return real(values, index_offset, settings)

    monkeypatch.setattr(render_worker, "render_series", fails_at_200)
    bad = next(s for s in _task(data).samples() if s.id == f"{S1}@200")
    assert bad.error == "render: RuntimeError: boom" and bad.meta["dataset"] == "Toy"
    run = Runner(_task(data), ScriptedModel(ANSWERS), tmp_path, cache=None, progress=False).run().run
    assert run["counts"]["n"] == 5 and run["counts"]["n_failed"] == 1
    assert run["failures"] == [{"sample_id": f"{S1}@200", "error": "input: render: RuntimeError: boom"}]
    assert run["series_counts"] == {"n_series": 2, "n_scored": 1, "n_failed": 1}


def test_input_hash_covers_the_training_prefix(data: Path, tmp_path: Path) -> None:
    import shutil

    other = tmp_path / "other"
    other.mkdir()
    moved = S1.replace("_tr_100_", "_tr_300_")
    shutil.copy(data / f"{S1}.csv", other / f"{moved}.csv")
    (other / "mylist.csv").write_text(f"file_name\n{moved}.csv\n")
    before = {s.index_offset: s for s in _task(data).samples(limit=1)}
    after = {s.index_offset: s for s in _task(other).samples(limit=1)}
    assert before[200].image == after[200].image and before[200].train_end != after[200].train_end
    assert before[200].input_hash != after[200].input_hash
