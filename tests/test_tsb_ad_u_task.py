"""The TSB-AD-U task end to end: official protocol, agreement with tsb-ad, bad files, policies."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("TSB_AD", reason="tsb-ad not installed (the detectors extra; numpy<2 environment)")
from TSB_AD.evaluation.metrics import get_metrics
from TSB_AD.utils.slidingWindows import find_length_rank

from harness import registry
from harness.cli.main import main
from harness.core.spec import slug
from harness.run.cache import PredictionCache
from harness.run.runner import Runner
from tasks.tsb_ad_u.embedded import ensure_embedded


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_embedded(tmp_path_factory.mktemp("embedded"))


def _records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("detector", ["Sub-PCA", "IForest", "POLY"])
def test_vus_pr_matches_tsb_ad_get_metrics(detector: str, embedded: Path, tmp_path: Path) -> None:
    task = registry.make_task("tsb-ad-u-demo", data_dir=str(embedded))
    res = Runner(task, registry.make_model(detector), tmp_path, limit=2, cache=None, progress=False).run()
    reference = []
    for rec in _records(res.path):
        df = pd.read_csv(embedded / rec["meta"]["file"])
        data, labels = df["Data"].to_numpy(float), df["Label"].to_numpy(int)
        scores = np.load(res.path / rec["scores_file"])
        window = find_length_rank(data.reshape(-1, 1), rank=1)
        assert rec["metrics"]["sliding_window"] == window
        ref = get_metrics(scores, labels, slidingWindow=window)
        for key, value in ref.items():
            assert rec["metrics"][key] == pytest.approx(value, abs=1e-6), key
        assert abs(rec["metrics"]["VUS-PR"] - ref["VUS-PR"]) <= 1e-9
        reference.append(ref["VUS-PR"])
    assert abs(res.run["metrics"]["VUS-PR"]["value"] - float(np.mean(reference))) <= 1e-9
    assert res.run["headline"] == "VUS-PR"
    # one thresholded interval per series, in absolute indices
    assert all(len(r["intervals"]) == 1 for r in _records(res.path))


def _write(path: Path, data: np.ndarray, labels: np.ndarray) -> None:
    pd.DataFrame({"Data": data, "Label": labels}).to_csv(path, index=False)


def test_bad_files_fail_alone_and_undefined_policy(embedded: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    good = sorted(p.name for p in embedded.glob("0*_GutenTAG_*.csv"))[:2]
    for name in good:
        shutil.copy(embedded / name, data / name)
    (data / "900_Bad_id_1_X_tr_10_1st_20.csv").write_text("Data,Label\n1.0,0\nabc,0\n")
    (data / "901_Bad_id_2_X_tr_10_1st_20.csv").write_text("Data\n1.0\n2.0\n")
    rng = np.random.default_rng(0)
    _write(data / "902_Clean_id_3_X_tr_100_1st_300.csv", rng.standard_normal(600), np.zeros(600, dtype=int))
    names = [*good, "900_Bad_id_1_X_tr_10_1st_20.csv", "901_Bad_id_2_X_tr_10_1st_20.csv",
             "902_Clean_id_3_X_tr_100_1st_300.csv"]
    (data / "mylist.csv").write_text("file_name\n" + "\n".join(names) + "\n")
    code = main(["run", "--model", "Sub-PCA", "--task", "tsb-ad-u", "--task-args", f"data_dir={data}",
                 "file_list=mylist", "--output", str(tmp_path / "out"), "--no-cache", "--no-progress"])
    assert code == 4  # finished, with failed samples
    run_json = next((tmp_path / "out").glob(f"{slug('tsb-ad-u')}/{slug('Sub-PCA')}/*/run.json"))
    run = json.loads(run_json.read_text())
    assert run["counts"]["n"] == 5 and run["counts"]["n_failed"] == 2
    errors = {f["sample_id"]: f["error"] for f in run["failures"]}
    assert "900_Bad_id_1_X_tr_10_1st_20.csv" in errors["900_Bad_id_1_X_tr_10_1st_20"]
    assert "Label" in errors["901_Bad_id_2_X_tr_10_1st_20"]
    # the anomaly-free series is scored as undefined, kept out of the mean, and counted
    recs = {r["sample_id"]: r for r in _records(run_json.parent)}
    clean = recs["902_Clean_id_3_X_tr_100_1st_300"]
    assert clean["error"] is None and clean["metrics"]["VUS-PR"] is None
    assert clean["metrics"]["undefined"] == "labels all 0"
    assert run["counts"]["n_undefined"] == 1
    defined = [recs[n.removesuffix(".csv")]["metrics"]["VUS-PR"] for n in good]
    assert run["metrics"]["VUS-PR"]["value"] == pytest.approx(np.mean(defined), abs=1e-12)
    assert run["metrics"]["VUS-PR"]["n"] == 2


def test_missing_data_dir_is_a_clear_startup_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("VISANOM_TSB_AD_U_DIR", raising=False)
    code = main(["run", "--model", "IForest", "--task", "tsb-ad-u", "--output", str(tmp_path), "--no-progress"])
    assert code == 2
    assert "visanom data download tsb-ad-u" in capsys.readouterr().err


def test_second_identical_run_is_served_from_cache(embedded: Path, tmp_path: Path) -> None:
    cache = PredictionCache(tmp_path / "c.sqlite")
    task = registry.make_task("tsb-ad-u-demo", data_dir=str(embedded))
    first = Runner(task, registry.make_model("IForest"), tmp_path / "a", limit=3, cache=cache, progress=False).run()
    second = Runner(task, registry.make_model("IForest"), tmp_path / "b", limit=3, cache=cache,
                    progress=False).run()
    assert first.run["counts"]["n_cached"] == 0
    assert second.run["counts"]["n_cached"] == second.run["counts"]["n"] == 3
    assert second.run["metrics"] == first.run["metrics"]


def test_incompatible_model_is_refused_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--model", "template-reasoner", "--task", "tsb-ad-u-demo", "--output", str(tmp_path),
                 "--no-cache", "--no-progress"])
    assert code == 2
    assert "accepts scores output, but model 'template-reasoner' produces text" in capsys.readouterr().err
    assert not list(tmp_path.glob("**/samples.jsonl"))
