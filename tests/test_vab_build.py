"""VisAnomBench segmentation, split, manifest and the atomic, deterministic build."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from harness.core.errors import DataError, OutputError
from tasks.visanombench import build as vab_build
from tasks.visanombench.build import (
    BuildSettings,
    build_benchmark,
    ensure_embedded_bench,
    main,
    parse_sources,
)
from tasks.visanombench.manifest import SCHEMA, load_manifest, read_manifest, read_segment, verify
from tasks.visanombench.segment import SegmentSettings, segment_series, window_starts
from tasks.visanombench.sources import SourceSeries
from tasks.visanombench.split import split_groups

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def series(n: int, anomalies: list[tuple[int, int]] = (), offset: int = 0, **kw) -> SourceSeries:
    labels = np.zeros(n, dtype=np.int8)
    for a, b in anomalies:
        labels[a:b + 1] = 1
    return SourceSeries("S", "D", kw.pop("name", "s"), np.arange(n, dtype=float), labels, ("k",), "test",
                        offset=offset, **kw)


# ---------------------------------------------------------------- segmentation

def test_windows_keep_absolute_indices_and_clip_intervals() -> None:
    s = series(2500, [(950, 1049), (2400, 2400)], offset=10_000)
    segs, skipped = segment_series(s, SegmentSettings(window=1000, stride=1000, min_length=10))
    assert not skipped
    assert [(g.start, g.end) for g in segs] == [(10_000, 10_999), (11_000, 11_999), (11_500, 12_499)]
    assert segs[0].intervals == ((10_950, 10_999),)
    assert segs[1].intervals == ((11_000, 11_049),)
    assert segs[2].intervals == ((12_400, 12_400),)
    assert segs[1].index[0] == 11_000 and segs[1].values[0] == 1000.0 and segs[1].length == 1000


def test_short_series_and_normal_windows() -> None:
    st = SegmentSettings(window=1000, stride=500, min_length=50)
    segs, _ = segment_series(series(300, [(5, 6)]), st)
    assert [(g.start, g.end) for g in segs] == [(0, 299)]
    segs, skipped = segment_series(series(40), st)
    assert not segs and "fewer than the 50 the rule needs" in skipped[0].reason and skipped[0].kind == "too-short"
    assert window_starts(2000, st) == [0, 500, 1000]
    only = SegmentSettings(window=1000, stride=500, min_length=50, keep_normal=False)
    segs, _ = segment_series(series(2000, [(1600, 1610)]), only)
    assert [g.start for g in segs] == [1000]
    with pytest.raises(ValueError):
        SegmentSettings(window=10, min_length=20)


def test_nan_runs_kept_all_nan_segment_skipped() -> None:
    s = series(3000)
    values = s.values.copy()
    values[100:200] = np.nan
    values[1000:2000] = np.nan
    s = SourceSeries("S", "D", "nan", values, s.labels)
    segs, skipped = segment_series(s, SegmentSettings(window=1000, stride=1000, min_length=10))
    assert [g.start for g in segs] == [0, 2000]
    assert np.isnan(segs[0].values[100:200]).all() and np.isfinite(segs[0].values[:100]).all()
    assert skipped[0].path == "S:nan@1000-1999" and "all NaN" in skipped[0].reason and skipped[0].kind == "all-nan"


def test_kinds_per_segment() -> None:
    s = series(2000, [(100, 110), (1500, 1510)], kind_spans=((100, 110, "spike"), (1500, 1510, "mean")))
    segs, _ = segment_series(s, SegmentSettings())
    assert [g.anomaly_kinds for g in segs] == [("spike",), ("mean",)]


# ---------------------------------------------------------------- split

def test_split_stratified_seeded_order_free() -> None:
    keys = [(src, dom, f"{src}{dom}{i}") for src, dom, n in
            (("A", "x", 40), ("A", "y", 20), ("B", "z", 30), ("C", "w", 3)) for i in range(n)]
    a = split_groups(keys, 0.25, seed=1)
    assert a == split_groups(list(reversed(keys)), 0.25, seed=1)
    assert a != split_groups(keys, 0.25, seed=2)
    per = Counter((k[0], k[1]) for k, v in a.items() if v == "test")
    assert sum(per.values()) == round(93 * 0.25)
    assert per[("A", "x")] == 10 and per[("A", "y")] == 5 and per[("B", "z")] in (7, 8)
    pre = split_groups(keys, 0.25, seed=1, prescribed={keys[0]: "test", keys[1]: "test"})
    assert pre[keys[0]] == pre[keys[1]] == "test"


def test_paper_fraction() -> None:
    keys = [("S", "d", str(i)) for i in range(3316)]
    assert Counter(split_groups(keys, 740 / 3316, seed=0).values()) == {"train": 2576, "test": 740}


# ---------------------------------------------------------------- build

@pytest.fixture(scope="module")
def ucr_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ucr")
    rng = np.random.default_rng(0)
    for i, name in enumerate(["InternalBleeding5", "sddb40", "gaitHunt1", "TkeepFirstMARS", "resperation2"]):
        n = 1500 + 300 * i
        text = "\n".join(f"{v:.5f}" for v in rng.normal(size=n))
        (root / f"{i + 1:03d}_UCR_Anomaly_{name}_400_{700 + i}_{760 + i}.txt").write_text(text + "\n")
    (root / "notes.txt").write_text("not a series\n")
    return root


def sources(ucr: Path) -> dict:
    return {"gutentag": {"per_domain": 2, "length": 1200, "seed": 0, "domains": ["sine", "square", "ecg"]},
            "ucr-tsad": ucr}


SETTINGS = BuildSettings(window=500, stride=500, min_length=50, seed=0, test_fraction=0.3)


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_build_deterministic_across_workers_and_leak_free(tmp_path: Path, ucr_dir: Path) -> None:
    m1 = build_benchmark(sources(ucr_dir), tmp_path / "w1", SETTINGS, workers=1, progress=False)
    build_benchmark(sources(ucr_dir), tmp_path / "w2", SETTINGS, workers=2, progress=False)
    t1, t2 = tree(tmp_path / "w1"), tree(tmp_path / "w2")
    assert t1 == t2 and "manifest.json" in t1
    assert not verify(tmp_path / "w1")
    d = json.loads(t1["manifest.json"])
    assert d["schema"] == SCHEMA and d["split"]["seed"] == 0 and d["created_by"].startswith("visanom")
    assert d["sources"]["GutenTAG"]["series"] == 6 and d["sources"]["UCR-TSAD"]["series"] == 5
    assert [s["reason"] for s in d["skipped"] if s["path"].endswith("notes.txt")]
    splits: dict[tuple[str, str], set[str]] = {}
    for it in m1.items:
        splits.setdefault((it.source, it.series), set()).add(it.split)
        assert it.length == it.end - it.start + 1 and it.file == f"segments/{it.id}.csv"
    assert all(len(v) == 1 for v in splits.values())  # no series on both sides
    assert {s for v in splits.values() for s in v} == {"train", "test"}
    assert m1.split["test_series"] == round(11 * 0.3)
    assert set(d["items"][0]) >= {"id", "source", "domain", "series", "split", "start", "end", "length",
                                  "intervals", "anomaly_kinds", "file", "sha256"}


def test_read_segment_and_verify(tmp_path: Path, ucr_dir: Path) -> None:
    out = tmp_path / "b"
    build_benchmark({"ucr-tsad": ucr_dir}, out, SETTINGS, workers=1, progress=False)
    items = load_manifest(out)
    ib = next(it for it in items if it.series == "001_InternalBleeding5" and it.start == 500)
    assert ib.intervals == ((700, 759),) and ib.domain == "ABP"  # file 700_760: TSB-AD reading 700..759
    index, values, labels = read_segment(out, ib)
    assert index[0] == 500 and index[-1] == 999 and values.dtype == np.float64
    assert np.flatnonzero(labels).tolist() == list(range(200, 260))
    assert load_manifest(out, split="test") == [it for it in items if it.split == "test"]
    path = out / ib.file
    path.write_bytes(path.read_bytes().replace(b",0\n", b",1\n", 1))
    problems = verify(out)
    assert len(problems) == 1 and ib.id in problems[0] and "modified" in problems[0]
    with pytest.raises(DataError, match="sha256"):
        read_segment(out, ib)
    (out / "segments" / "extra.csv").write_text("index,value,label\n")
    (out / items[0].file).unlink()
    problems = verify(out)
    assert any("unlisted file segments/extra.csv" in p for p in problems)
    assert any("missing file" in p for p in problems)


def test_failed_build_leaves_nothing(tmp_path: Path, ucr_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_a, **_k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(vab_build, "write_manifest", boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        build_benchmark({"ucr-tsad": ucr_dir}, tmp_path / "out", SETTINGS, workers=1, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_existing_output(tmp_path: Path, ucr_dir: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("x")
    with pytest.raises(OutputError, match="holds no VisAnomBench manifest"):
        build_benchmark({"ucr-tsad": ucr_dir}, foreign, SETTINGS, workers=1, progress=False)
    out = tmp_path / "b"
    build_benchmark({"ucr-tsad": ucr_dir}, out, SETTINGS, workers=1, progress=False)
    with pytest.raises(OutputError, match="already holds"):
        build_benchmark({"ucr-tsad": ucr_dir}, out, SETTINGS, workers=1, progress=False)
    m = build_benchmark({"ucr-tsad": ucr_dir}, out, BuildSettings(window=800, stride=800, min_length=50),
                        workers=1, progress=False, overwrite=True)
    assert read_manifest(out).settings["window"] == 800 == m.settings["window"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "foreign"]


def test_missing_source_folder_fails_before_writing(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        build_benchmark({"kpi": tmp_path / "nope"}, tmp_path / "out", SETTINGS, workers=1, progress=False)
    assert not (tmp_path / "out").exists()


def test_cli(tmp_path: Path, ucr_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_sources("gutentag,ucr=/a,hf", {"per_domain": 3}) == {
        "gutentag": {"per_domain": 3}, "ucr-tsad": "/a", "hf": None}
    out = tmp_path / "cli"
    rc = main(["bench", "build", "visanombench", "--sources", f"ucr-tsad={ucr_dir}", "--out", str(out),
               "--window", "600", "--stride", "300", "--seed", "5", "--test-fraction", "0.4", "--workers", "1",
               "--no-progress"])
    assert rc == 0 and "VisAnomBench written to" in capsys.readouterr().out
    m = read_manifest(out)
    assert m.settings["stride"] == 300 and m.split["seed"] == 5 and m.split["test_series"] == 2
    assert main(["bench", "build", "visanombench", "--sources", "kpi", "--out", str(tmp_path / "x")]) == 2
    assert main(["bench", "verify", str(out)]) == 0
    (out / m.items[0].file).write_text("index,value,label\n")
    assert main(["bench", "verify", str(out)]) == 2 and "modified" in capsys.readouterr().out


def test_embedded_bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    root = ensure_embedded_bench()
    assert root == tmp_path / "xdg" / "visanom" / "visanombench" / "v2"
    m = read_manifest(root)
    assert len(m.items) == 23 and not verify(root)
    assert m.settings["profile"]["name"] == "paper"
    assert {"GutenTAG", "UCR-TSAD", "MITDB", "Yahoo"} <= set(m.sources)
    assert len(m.sources["GutenTAG"]["domains"]) == 10
    # the paper profile as far as the small inputs allow: whole 5,000-point GutenTAG series,
    # one 2,755-point window around UCR 135's anomaly, the other real series whole
    assert {it.length for it in m.items if it.source == "GutenTAG"} == {5000}
    (ucr,) = [it for it in m.items if it.source == "UCR-TSAD"]
    assert ucr.length == 2755 and ucr.start + 275 <= ucr.intervals[0][0] and ucr.intervals[0][1] <= ucr.end - 275
    assert {it.split for it in m.items} == {"train", "test"}
    before = (root / "manifest.json").stat().st_mtime_ns
    assert ensure_embedded_bench() == root and (root / "manifest.json").stat().st_mtime_ns == before
    (root / m.items[0].file).write_text("index,value,label\n")
    assert ensure_embedded_bench() == root and not verify(root)  # repaired


@pytest.mark.parametrize("file", ["../outside.csv", "/etc/passwd", "segments/../../x.csv", "segments/a/b.csv",
                                  "segments/.hidden.csv", "segments/x.txt", "x.csv"])
def test_a_manifest_naming_a_file_outside_segments_is_refused(tmp_path: Path, ucr_dir: Path, file: str) -> None:
    """A manifest is untrusted data: no ``file`` it names may lead out of ``segments/``."""
    out = tmp_path / "b"
    build_benchmark({"ucr-tsad": ucr_dir}, out, SETTINGS, workers=1, progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["items"][0]["file"] = file
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="not a segment file name"):
        read_manifest(out)
