"""VisAnomBench source loaders on small files in each real format (plus foreign/corrupt files)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from harness.core.errors import DataError
from tasks.visanombench.build import BuildSettings, build_benchmark
from tasks.visanombench.profiles import get_profile
from tasks.visanombench.segment import WholeSeries
from tasks.visanombench.sources import Skipped, SourceSeries, canonical, egi, gutentag, hf, kpi, ucr_tsad


def load_all(module, spec) -> tuple[list[SourceSeries], list[Skipped]]:
    out = [r for u in module.units(spec) for r in module.load(u)]
    return [r for r in out if isinstance(r, SourceSeries)], [r for r in out if isinstance(r, Skipped)]


def reasons(skipped: list[Skipped]) -> dict[str, str]:
    return {Path(s.path.split("#")[0]).name: s.reason for s in skipped}


# ---------------------------------------------------------------- UCR-TSAD

def test_ucr_tsad_files(tmp_path: Path) -> None:
    values = np.round(np.sin(np.arange(300) / 5), 4)
    (tmp_path / "135_UCR_Anomaly_InternalBleeding16_100_201_210.txt").write_text(
        "\n".join(f"{v:.4f}" for v in values) + "\n")
    # the archive also has files with every value on one line, separated by spaces
    (tmp_path / "204_UCR_Anomaly_DISTORTEDCIMIS44AirTemperature1_50_60_60.txt").write_text(
        "   " + "  ".join(f"{v:.3e}" for v in values[:120]) + "\n")
    (tmp_path / "001_UCR_Anomaly_Foo_10_1_1.txt").write_text("1\n2\n3\n")
    (tmp_path / "README.txt").write_text("the UCR anomaly archive\n")
    (tmp_path / "002_UCR_Anomaly_Bad_10_20_30.txt").write_text("1\n2\nabc\n")
    (tmp_path / "003_UCR_Anomaly_Short_10_20_30.txt").write_text("1\n2\n3\n")
    (tmp_path / "004_UCR_Anomaly_Bin_1_2_3.txt").write_bytes(b"\x00\x01\x02")
    (tmp_path / ".DS_Store").write_bytes(b"\x00")  # hidden: ignored
    series, skipped = load_all(ucr_tsad, tmp_path)
    by_name = {s.name: s for s in series}
    assert set(by_name) == {"135_InternalBleeding16", "204_DISTORTEDCIMIS44AirTemperature1", "001_Foo"}
    ib = by_name["135_InternalBleeding16"]
    assert ib.source == "UCR-TSAD" and ib.domain == "ABP" and ib.values.dtype == np.float64
    np.testing.assert_allclose(ib.values, values)
    # TSB-AD's reading (the default): begin 0-based, end exclusive -> [begin, end - 1]
    assert np.flatnonzero(ib.labels).tolist() == list(range(201, 210))
    air = by_name["204_DISTORTEDCIMIS44AirTemperature1"]
    assert air.domain == "AirTemperature" and air.values.size == 120
    assert np.flatnonzero(air.labels).tolist() == [60]  # begin == end: the one point
    assert np.flatnonzero(by_name["001_Foo"].labels).tolist() == [1] and by_name["001_Foo"].domain == "unknown"
    r = reasons(skipped)
    assert set(r) == {"README.txt", "002_UCR_Anomaly_Bad_10_20_30.txt", "003_UCR_Anomaly_Short_10_20_30.txt",
                      "004_UCR_Anomaly_Bin_1_2_3.txt"}
    assert "file name" in r["README.txt"]
    assert "non-numeric" in r["002_UCR_Anomaly_Bad_10_20_30.txt"]
    assert "outside" in r["003_UCR_Anomaly_Short_10_20_30.txt"]
    assert "binary" in r["004_UCR_Anomaly_Bin_1_2_3.txt"]


def test_ucr_135_reads_as_tsb_ad_and_aeon(tmp_path: Path) -> None:
    """Issue 19: series 135 (``..._1200_4187_4199``) is 4187..4198, as in aeon's copy (an
    independent conversion of the same archive file); the old 1-based reading gave 4186..4198."""
    aeon_dir = pytest.importorskip("aeon").__path__[0] + "/datasets/data/KDD-TSAD_135"
    with open(aeon_dir + "/135_UCR_Anomaly_InternalBleeding16_TEST.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    values = [r["value"] for r in rows]
    aeon_labels = [i for i, r in enumerate(rows) if r["is_anomaly"] == "1"]
    (tmp_path / "135_UCR_Anomaly_InternalBleeding16_1200_4187_4199.txt").write_text("\n".join(values) + "\n")
    (series,), _ = load_all(ucr_tsad, tmp_path)
    assert np.flatnonzero(series.labels).tolist() == aeon_labels == list(range(4187, 4199))
    (old,), _ = load_all(ucr_tsad, {"path": tmp_path, "reading": "one-based"})
    assert np.flatnonzero(old.labels).tolist() == list(range(4186, 4199))
    with pytest.raises(DataError, match="reading must be one of"):
        load_all(ucr_tsad, {"path": tmp_path, "reading": "matlab"})


def test_ucr_index_base_zero(tmp_path: Path) -> None:
    (tmp_path / "001_UCR_Anomaly_x_2_3_4.txt").write_text("\n".join(["1"] * 10))
    (series,), _ = load_all(ucr_tsad, {"path": tmp_path, "index_base": 0})
    assert np.flatnonzero(series.labels).tolist() == [3, 4]


@pytest.mark.parametrize(("name", "domain"), [
    ("DISTORTED1sddb40", "ECG"), ("NOISEInternalBleeding16", "ABP"), ("TkeepFifthMARS", "NASA"),
    ("Lab2Cmac011215EPG1", "EPG"), ("WalkingAceleration5", "Acceleration"), ("gaitHunt2", "Gait"),
    ("ItalianPowerDemand", "PowerDemand"), ("resperation1", "RESP"), ("sel840mECG1", "ECG"),
    ("SomethingNew", "unknown"),
])
def test_ucr_domains(name: str, domain: str) -> None:
    assert ucr_tsad.domain_of(name) == domain


def test_missing_folder_is_a_data_error(tmp_path: Path) -> None:
    for module in (ucr_tsad, kpi, egi):
        with pytest.raises(DataError, match="does not exist"):
            module.units(tmp_path / "nope")


# ---------------------------------------------------------------- KPI

def test_kpi_csv(tmp_path: Path) -> None:
    rows = ["timestamp,value,label,KPI ID"]
    # KPI a: rows out of order, a duplicate timestamp, a 2-step gap (-> one NaN point)
    rows += ["1476460860,1.5,0,a", "1476460800,1.0,0,a", "1476460920,2.0,1,a", "1476460920,9.0,0,a",
             "1476461040,3.0,1,a", "1476461100,3.5,0,a"]
    rows += [f"{1476460800 + 60 * i},{i}.0,{int(i == 2)},b" for i in range(5)]
    (tmp_path / "phase2_train.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "other.csv").write_text("time,x\n1,2\n")
    (tmp_path / "badlabel.csv").write_text("timestamp,value,label,KPI ID\n1,1.0,2,z\n")
    (tmp_path / "notes.md").write_text("# notes\n")
    series, skipped = load_all(kpi, tmp_path)
    by_name = {s.name: s for s in series}
    assert set(by_name) == {"phase2_train:a", "phase2_train:b"}
    a = by_name["phase2_train:a"]
    assert a.source == "KPI" and a.domain == "WebService" and a.group == "a"
    np.testing.assert_array_equal(a.values, [1.0, 1.5, 2.0, np.nan, 3.0, 3.5])
    assert a.labels.tolist() == [0, 0, 1, 0, 1, 0]
    assert by_name["phase2_train:b"].labels.tolist() == [0, 0, 1, 0, 0]
    r = reasons(skipped)
    assert set(r) == {"other.csv", "badlabel.csv", "notes.md"}
    assert "timestamp" in r["other.csv"] and "0/1" in r["badlabel.csv"] and "CSV" in r["notes.md"]


# ---------------------------------------------------------------- UCR-EGI

def test_egi_layout(tmp_path: Path) -> None:
    (tmp_path / "ECG").mkdir()
    (tmp_path / "ECG" / "s1.csv").write_text("timestamp,value,label\n0,1.0,0\n1,,0\n2,5.0,1\n")
    (tmp_path / "Gait").mkdir()
    (tmp_path / "Gait" / "g.csv").write_text("Data,Label\n0.5,0\n0.7,1\n")
    (tmp_path / "loose.csv").write_text("value,is_anomaly\n1,0\n")
    (tmp_path / "ECG" / "broken.csv").write_text("value,label\n1.0\n")
    (tmp_path / "ECG" / "nolabel.csv").write_text("value\n1.0\n")
    (tmp_path / "ECG" / "image.png").write_bytes(b"\x89PNG\x00")
    series, skipped = load_all(egi, tmp_path)
    by_name = {s.name: s for s in series}
    assert set(by_name) == {"ECG/s1", "Gait/g", "loose"}
    assert by_name["ECG/s1"].domain == "ECG" and by_name["Gait/g"].domain == "Gait"
    assert by_name["loose"].domain == "unknown" and by_name["ECG/s1"].source == "UCR-EGI"
    np.testing.assert_array_equal(by_name["ECG/s1"].values, [1.0, np.nan, 5.0])
    r = reasons(skipped)
    assert set(r) == {"broken.csv", "nolabel.csv", "image.png"}
    assert "label column" in r["nolabel.csv"]


# ---------------------------------------------------------------- GutenTAG

@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_gutentag_seeded_and_stable() -> None:
    spec = {"per_domain": 2, "length": 600, "seed": 3, "domains": ["sine", "ecg", "mls"]}
    units = gutentag.units(spec)
    assert [u.key for u in units] == ["sine/0", "sine/1", "ecg/0", "ecg/1", "mls/0", "mls/1"]
    a = gutentag.load(units[2])[0]
    assert isinstance(a, SourceSeries) and a.source == "GutenTAG" and a.domain == "ECG"
    assert a.values.size == 600 and 0 < a.labels.sum() < 600 and a.anomaly_kinds
    again = gutentag.load(gutentag.units({**spec, "per_domain": 1, "domains": ["ecg"]})[0])[0]
    np.testing.assert_array_equal(a.values, again.values)  # independent of how many are made
    other = gutentag.load(gutentag.units({**spec, "seed": 4})[2])[0]
    assert not np.array_equal(a.values, other.values)
    # every kind span lies inside the labels
    for first, last, kind in a.kind_spans:
        assert a.labels[first:last + 1].all() and kind in gutentag.ANOMALY_KINDS


def test_gutentag_settings() -> None:
    assert len(gutentag.units(None)) == 810
    counts = [u.params["domain"] for u in gutentag.units({"n_series": 13})]
    assert len(counts) == 13 and counts.count("sine") == 2 and counts.count("mls") == 1
    with pytest.raises(DataError, match="unknown GutenTAG domains"):
        gutentag.units({"domains": ["banana"]})


def test_source_names() -> None:
    assert canonical("UCR") == "ucr-tsad" and canonical("ucr-egi") == "egi"
    with pytest.raises(DataError, match="unknown VisAnomBench source"):
        canonical("yahoo-s5")


# ---------------------------------------------------------------- Hugging Face

@pytest.fixture()
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    cache = tmp_path / "hf-cache"
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(cache))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(cache / "datasets"))
    try:  # the libraries read these at import time: set their flags too if already imported
        import datasets.config
        import huggingface_hub.constants
    except ImportError:
        return tmp_path
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True, raising=False)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache / "datasets", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True, raising=False)
    return tmp_path


def test_hf_saved_dataset(offline: Path) -> None:
    datasets = pytest.importorskip("datasets")
    train = datasets.Dataset.from_dict({
        "series_id": ["k1", "k1", "g7"],
        "source": ["KPI", "KPI", "GutenTAG"],
        "domain": ["WebService", "WebService", "Sine"],
        "start": [1000, 1004, 0],
        "series": [[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0], [0.1, 0.2]],
        "intervals": [[[1001, 1002]], [], [[1, 1]]],
        "image": ["x", "y", "z"],
    })
    test = datasets.Dataset.from_dict({
        "series_id": ["u1"], "source": ["UCR-TSAD"], "domain": ["ECG"], "start": [50],
        "series": [[1.0, 2.0]], "intervals": [[[40, 60]]], "image": ["w"],
    })
    datasets.DatasetDict({"train": train, "test": test}).save_to_disk(str(offline / "vab"))
    series, skipped = load_all(hf, offline / "vab")
    assert not skipped
    by_name = {s.name: s for s in series}
    assert set(by_name) == {"k1@1000", "k1@1004", "g7@0", "u1@50"}
    k = by_name["k1@1000"]
    assert (k.source, k.domain, k.offset, k.split, k.group) == ("KPI", "WebService", 1000, "train", "k1")
    assert k.labels.tolist() == [0, 1, 1, 0]
    assert by_name["u1@50"].split == "test" and by_name["u1@50"].labels.tolist() == [1, 1]  # clipped


def test_hf_parquet_folder_with_labels(offline: Path) -> None:
    datasets = pytest.importorskip("datasets")
    folder = offline / "pq"
    folder.mkdir()
    datasets.Dataset.from_dict({"values": [[1.0, 2.0, 3.0], [4.0]], "labels": [[0, 1, 0], [0, 0]]}).to_parquet(
        str(folder / "train-00000.parquet"))
    series, skipped = load_all(hf, folder)
    assert [s.name for s in series] == ["row0@0"] and series[0].labels.tolist() == [0, 1, 0]
    assert len(skipped) == 1 and "2 labels for 1 values" in skipped[0].reason


def test_hf_missing_columns(offline: Path) -> None:
    datasets = pytest.importorskip("datasets")
    datasets.Dataset.from_dict({"image": ["a"], "answer": ["<anomaly>False</anomaly>"]}).save_to_disk(
        str(offline / "img"))
    with pytest.raises(DataError, match="lacks the columns.*values.*has image, answer"):
        load_all(hf, offline / "img")
    with pytest.raises(DataError, match="column 'nope'"):
        load_all(hf, {"path": offline / "img", "columns": {"values": "nope"}})


def test_hf_hub_dataset_offline_without_cache(offline: Path) -> None:
    pytest.importorskip("datasets")
    with pytest.raises(DataError, match="cannot load the Hugging Face dataset PLAN-Lab/VisAnomBench.*cache"):
        load_all(hf, None)


def test_published_rows_stay_whole_whatever_their_source_label(offline: Path) -> None:
    datasets = pytest.importorskip("datasets")
    assert get_profile("paper").rule_for("KPI", hf.SOURCE) == WholeSeries(min_length=1)
    assert get_profile("paper").rule_for("KPI") == kpi.PAPER_RULE
    values = np.sin(np.arange(3000) / 9.0).tolist()
    datasets.DatasetDict({"test": datasets.Dataset.from_dict({
        "series_id": ["k1"], "source": ["KPI"], "domain": ["WebService"], "start": [146_534],
        "series": [values], "intervals": [[[147_000, 147_099]]]})}).save_to_disk(str(offline / "vab"))
    build_benchmark({"hf": offline / "vab"}, offline / "b", BuildSettings(), workers=1, progress=False)
    d = json.loads((offline / "b" / "manifest.json").read_text())
    (item,) = d["items"]
    assert (item["source"], item["start"], item["length"], item["split"]) == ("KPI", 146_534, 3000, "test")
    assert item["intervals"] == [[147_000, 147_099]]
    assert d["sources"]["KPI"]["rule"] == {"rule": "whole", "min_length": 1}
