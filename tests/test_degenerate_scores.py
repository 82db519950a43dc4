"""Degenerate score vectors keep TSB-AD's value but are flagged per sample and counted per run
(issue 10, item 8)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import toy  # noqa: F401  (registers the toy task)

from harness import registry
from harness.core.types import Prediction, Sample
from harness.run.runner import Runner
from harness.scoring.metrics import degenerate_scores


def test_constant_and_rounding_noise_are_degenerate() -> None:
    assert degenerate_scores(np.zeros(50)).startswith("constant scores")
    assert degenerate_scores(np.full(7, 3.5)).startswith("constant scores")
    assert degenerate_scores(np.array([1.0])).startswith("constant scores")  # one point
    base = np.full(100, 1e6)
    base[40] = np.nextafter(1e6, 2e6)  # one ulp apart: ranks by rounding alone
    assert degenerate_scores(base).startswith("scores vary only by float rounding")
    assert degenerate_scores(np.array([np.nan, np.inf])) == "no finite score"


def test_informative_scores_are_not_degenerate() -> None:
    assert degenerate_scores(np.array([0.0, 0.0, 1e-12, 0.0])) is None  # tiny, but far above rounding
    assert degenerate_scores(np.array([1e6, 1e6 + 1e-3])) is None
    assert degenerate_scores(np.array([-1e308, 1e308])) is None  # a spread that overflows is not constant
    assert degenerate_scores(np.sin(np.arange(100))) is None


class _Scripted:
    """Constant scores for s001, rounding-noise scores for s002, informative ones otherwise."""

    name = "scripted"
    provides = frozenset({"scores"})

    def fingerprint(self) -> str:
        return "scripted-1"

    def predict(self, batch: Sequence[Sample]) -> list[Prediction]:
        out = []
        for s in batch:
            if s.id == "s001":
                scores = np.zeros(s.series.size)
            elif s.id == "s002":
                scores = np.full(s.series.size, 1e6)
                scores[int(np.argmax(s.series))] = np.nextafter(1e6, 2e6)
            else:
                scores = np.abs(s.series - np.median(s.series))
            out.append(Prediction(sample_id=s.id, scores=scores))
        return out


def test_runner_flags_and_counts_degenerate_samples_and_keeps_their_value(tmp_path: Path) -> None:
    task = registry.make_task("toy", n=5)
    res = Runner(task, _Scripted(), tmp_path, cache=None, progress=False, batch_size=2).run()
    records = {json.loads(line)["sample_id"]: json.loads(line)
               for line in (res.path / "samples.jsonl").read_text().splitlines()}
    assert records["s001"]["degenerate_scores"].startswith("constant scores")
    assert records["s002"]["degenerate_scores"].startswith("scores vary only by float rounding")
    assert all(records[i]["degenerate_scores"] is False for i in ("s000", "s003", "s004"))
    run = json.loads((res.path / "run.json").read_text())
    assert run["counts"]["n_degenerate"] == 2
    assert run["degenerate"] == ["s001", "s002"]
    # TSB-AD's value convention: the degenerate samples are scored and in the mean
    assert records["s001"]["metrics"] is not None and run["metrics"]["hit"]["n"] == 5


def _series_file(folder: Path, name: str, values: np.ndarray, labels: np.ndarray) -> str:
    (folder / name).write_text("Data,Label\n" + "".join(f"{v!r},{int(y)}\n" for v, y in zip(values, labels, strict=True)))
    return name


@pytest.mark.detectors
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # 1e308 overflows inside tsb-ad's window search
@pytest.mark.parametrize("detector", ["IForest", "LOF"])
def test_real_detectors_on_huge_values_and_a_two_point_series(tmp_path: Path, detector: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    x = np.sin(np.arange(300) / 5.0)
    x[150] = 1e308
    labels = np.zeros(300, dtype=int)
    labels[150] = 1
    names = [_series_file(data, "001_Big_id_1_X_tr_100_1st_150.csv", x, labels),
             _series_file(data, "002_Tiny_id_2_X_tr_1_1st_1.csv", np.array([0.0, 5.0]), np.array([0, 1])),
             _series_file(data, "003_Sine_id_3_X_tr_100_1st_200.csv", np.sin(np.arange(300) / 5.0)
                          + np.where(np.arange(300) == 200, 3.0, 0.0), (np.arange(300) == 200).astype(int))]
    (data / "mylist.csv").write_text("file_name\n" + "\n".join(names) + "\n")
    task = registry.make_task("tsb-ad-u", data_dir=str(data), file_list="mylist")
    res = Runner(task, registry.make_model(detector), tmp_path / "out", cache=None, progress=False).run()
    records = {json.loads(line)["sample_id"]: json.loads(line)
               for line in (res.path / "samples.jsonl").read_text().splitlines()}
    big = records["001_Big_id_1_X_tr_100_1st_150"]
    assert big["error"] is None and big["degenerate_scores"].startswith("constant scores")
    assert isinstance(big["metrics"]["VUS-PR"], float)  # the value is kept, as TSB-AD computes it
    assert records["003_Sine_id_3_X_tr_100_1st_200"]["degenerate_scores"] is False
    tiny = records["002_Tiny_id_2_X_tr_1_1st_1"]
    flagged = [i for i, r in records.items() if r["degenerate_scores"]]
    if tiny["error"] is None:  # LOF scores two points (constant); IForest's window does not fit
        assert tiny["degenerate_scores"].startswith("constant scores")
    run = json.loads((res.path / "run.json").read_text())
    assert run["counts"]["n_degenerate"] == len(flagged) >= 1
    assert sorted(run["degenerate"]) == sorted(flagged)
