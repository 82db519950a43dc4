"""VisAnomBench build profiles: the paper's per-source rules on small archives in each source's
real file layout, the fixed-N profiles, ``bench stats`` and old manifests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from vab_tiny import build_bench

from harness.core.errors import UsageError
from tasks.visanombench import profiles
from tasks.visanombench.build import BuildSettings, build_benchmark, main
from tasks.visanombench.manifest import read_manifest, read_segment, verify
from tasks.visanombench.profiles import get_profile, manifest_profile
from tasks.visanombench.segment import AroundAnomalies, SegmentSettings, WholeSeries
from tasks.visanombench.sources import SourceSeries, egi, gutentag, kpi, ucr_tsad
from tasks.visanombench.split import split_groups
from tasks.visanombench.stats import bench_stats, format_stats
from tasks.visanombench.task import VisAnomBenchTask

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def labelled(n: int, events: list[tuple[int, int]], name: str = "s") -> SourceSeries:
    labels = np.zeros(n, dtype=np.int8)
    for a, b in events:
        labels[a:b + 1] = 1
    return SourceSeries("S", "D", name, np.sin(np.arange(n) / 7.0), labels, ("k",), "test")


def build(sources: dict, out: Path, **kw) -> dict:
    build_benchmark(sources, out, BuildSettings(**kw), workers=1, progress=False)
    return json.loads((out / "manifest.json").read_text())


# ---------------------------------------------------------------- the rules themselves

def test_around_anomalies_placement_margins_edges_and_seed() -> None:
    rule = AroundAnomalies(length=1000, margin=0.1)
    s = labelled(20_000, [(5000, 5049), (5200, 5209), (12_000, 12_099), (19_950, 19_999)])
    segs, skipped = rule.segment(s, seed=0)
    assert not skipped and all(g.length == 1000 for g in segs)
    # the first window holds both nearby anomalies; one window each for the other two
    assert len(segs) == 3 and segs[0].intervals == ((5000, 5049), (5200, 5209))
    assert segs[0].start <= 5000 - 100 and segs[0].end >= 5209 or segs[0].end >= 5049 + 100
    mid = segs[1]
    assert mid.intervals == ((12_000, 12_099),) and mid.start <= 11_900 and mid.end >= 12_199
    assert segs[2].end == 19_999 and segs[2].intervals == ((19_950, 19_999),)  # at the end: no room for a margin
    assert all(a.end < b.start for a, b in zip(segs, segs[1:], strict=False))  # no overlap
    assert [g.start for g in rule.segment(s, seed=0)[0]] == [g.start for g in segs]  # seeded
    starts = {tuple(g.start for g in rule.segment(s, seed=k)[0][:2]) for k in range(6)}
    assert len(starts) > 1  # the anomaly's place in its window is drawn, not always the middle


def test_around_anomalies_long_anomaly_short_series_and_caps() -> None:
    rule = AroundAnomalies(length=1000)
    (long,), _ = rule.segment(labelled(10_000, [(3000, 4499)]))
    assert long.length == 1500 + 2 * 100 and long.intervals == ((3000, 4499),)
    assert long.start == 2900  # the window grows to hold the anomaly and its margins
    (short,), _ = rule.segment(labelled(700, [(100, 120)]))
    assert (short.start, short.end) == (0, 699)  # shorter than the window, longer than half: whole
    segs, skipped = rule.segment(labelled(400, [(100, 120)], name="tiny"))
    assert not segs and skipped[0].kind == "too-short" and "400 points" in skipped[0].reason
    segs, skipped = rule.segment(labelled(5000, []))
    assert not segs and skipped[0].kind == "no-anomaly"
    one = AroundAnomalies(length=1000, per_series=1)
    segs, _ = one.segment(labelled(9000, [(2000, 2010), (7000, 7010)]))
    assert len(segs) == 1 and segs[0].intervals == ((2000, 2010),)
    with pytest.raises(ValueError):
        AroundAnomalies(length=1000, max_items=0)


def test_whole_series_rule() -> None:
    (seg,), _ = WholeSeries().segment(labelled(5000, [(10, 20)]))
    assert (seg.start, seg.end, seg.intervals) == (0, 4999, ((10, 20),))
    segs, skipped = WholeSeries(min_length=100).segment(labelled(50, []))
    assert not segs and skipped[0].kind == "too-short"


def test_the_paper_rules_live_in_their_source_modules() -> None:
    paper = get_profile("paper")
    assert paper.rule_for("GutenTAG") is gutentag.PAPER_RULE and isinstance(gutentag.PAPER_RULE, WholeSeries)
    assert paper.rule_for("UCR-TSAD") is ucr_tsad.PAPER_RULE == AroundAnomalies(length=2755, per_series=1)
    assert paper.rule_for("KPI") is kpi.PAPER_RULE == AroundAnomalies(length=1777, max_items=160)
    assert paper.rule_for("UCR-EGI") is egi.PAPER_RULE == AroundAnomalies(length=8268, max_items=2097)
    assert paper.rule_for("MITDB") == WholeSeries()
    assert get_profile("fixed-1000").rule_for("KPI") == SegmentSettings(1000, 1000, 100, True)


# ---------------------------------------------------------------- UCR-TSAD archive layout

@pytest.fixture(scope="module")
def ucr_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Archive files ``NNN_UCR_Anomaly_<name>_<trainEnd>_<begin>_<end>.txt`` (read as TSB-AD does: begin 0-based, end exclusive)."""
    root = tmp_path_factory.mktemp("ucr")
    rng = np.random.default_rng(1)
    for number, name, n, begin, end in ((1, "sddb40", 8000, 5001, 5100), (2, "InternalBleeding5", 6700, 150, 180),
                                        (3, "gaitHunt1", 9000, 8900, 9000), (4, "resperation2", 7000, 3000, 3400),
                                        (5, "Shorty", 1000, 500, 520)):
        x = rng.normal(size=n)
        x[begin - 1:end] += 5
        # TSB-AD's reading: the anomaly x[begin - 1:end] is named by its 0-based start and exclusive end
        (root / f"{number:03d}_UCR_Anomaly_{name}_{min(begin - 1, 2000)}_{begin - 1}_{end}.txt").write_text(
            "\n".join(f"{v:.4f}" for v in x) + "\n")
    return root


def test_ucr_tsad_paper_rule_one_window_per_series_around_its_anomaly(tmp_path: Path, ucr_dir: Path) -> None:
    d = build({"ucr-tsad": ucr_dir}, tmp_path / "b")
    items = {it["series"]: it for it in d["items"]}
    assert set(items) == {"001_sddb40", "002_InternalBleeding5", "003_gaitHunt1", "004_resperation2"}
    assert all(it["length"] == 2755 for it in items.values())
    assert items["001_sddb40"]["intervals"] == [[5000, 5099]]
    assert items["002_InternalBleeding5"]["intervals"] == [[149, 179]]
    assert items["002_InternalBleeding5"]["start"] == 0  # near the start: as much margin as there is
    assert items["003_gaitHunt1"]["end"] == 8999 and items["003_gaitHunt1"]["intervals"] == [[8899, 8999]]
    for it in (items["001_sddb40"], items["004_resperation2"]):  # room on both sides: 10% margins
        (a, b), = it["intervals"]
        assert it["start"] + 275 <= a and b <= it["end"] - 275
    assert not verify(tmp_path / "b")
    sk = [s for s in d["skipped"] if s["kind"] == "too-short"]
    assert len(sk) == 1 and "005_Shorty" in sk[0]["path"] and "1000 points" in sk[0]["reason"]
    assert d["sources"]["UCR-TSAD"]["skipped"] == {"too-short": 1}
    assert d["settings"]["profile"]["name"] == "paper"
    assert d["sources"]["UCR-TSAD"]["rule"] == {"rule": "around-anomalies", "length": 2755, "per_series": 1,
                                                "max_items": None, "min_length": 1377, "margin": 0.1}
    stats = bench_stats(tmp_path / "b")
    assert stats["sources"]["UCR-TSAD"]["skipped"] == {"too-short": 1}
    text = format_stats(stats)
    assert "1 too-short (series too short for the profile's rule)" in text
    assert "UCR-TSAD: 4 items, paper 249 (-245)" in text


# ---------------------------------------------------------------- KPI challenge layout

def kpi_csv(path: Path, kpis: dict[str, tuple[int, list[tuple[int, int]]]]) -> None:
    """``timestamp,value,label,KPI ID`` rows, one per minute."""
    rows = ["timestamp,value,label,KPI ID"]
    for kpi_id, (n, events) in kpis.items():
        labels = np.zeros(n, dtype=int)
        for a, b in events:
            labels[a:b + 1] = 1
        rows += [f"{1476460800 + 60 * i},{np.sin(i / 30):.4f},{labels[i]},{kpi_id}" for i in range(n)]
    path.write_text("\n".join(rows) + "\n")


def test_kpi_paper_rule_windows_around_anomalies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "kpi"
    root.mkdir()
    kpi_csv(root / "phase2_train.csv", {"a": (12_000, [(1000, 1029), (1300, 1310), (8000, 8059)]),
                                        "b": (6000, [(5990, 5999)]), "c": (4000, [])})
    kpi_csv(root / "tiny.csv", {"d": (300, [(10, 20)])})
    d = build({"kpi": root}, tmp_path / "b")
    items = sorted((it["series"], it["start"], it["end"], it["intervals"]) for it in d["items"])
    assert [(s, e - b + 1, iv) for s, b, e, iv in items] == [
        ("phase2_train:a", 1777, [[1000, 1029], [1300, 1310]]),  # two anomalies close together: one window
        ("phase2_train:a", 1777, [[8000, 8059]]),
        ("phase2_train:b", 1777, [[5990, 5999]]),
    ]
    assert items[2][2] == 5999  # at the series end
    for _s, b, e, iv in items[:2]:
        assert b + 177 <= iv[0][0] and iv[-1][1] <= e - 177
    assert d["sources"]["KPI"]["skipped"] == {"no-anomaly": 1, "too-short": 1}
    assert d["sources"]["KPI"]["capped"] == 0
    # the cap: a seeded choice of max_items windows, the dropped files removed
    monkeypatch.setattr(kpi, "PAPER_RULE", AroundAnomalies(length=1777, max_items=2))
    d2 = build({"kpi": root}, tmp_path / "c")
    assert len(d2["items"]) == 2 and d2["sources"]["KPI"]["capped"] == 1
    assert {(it["series"], it["start"]) for it in d2["items"]} <= {(s, b) for s, b, _e, _iv in items}
    assert not verify(tmp_path / "c")
    assert "1 windows over the cap dropped" in format_stats(bench_stats(tmp_path / "c"))
    build_benchmark({"kpi": root}, tmp_path / "c2", BuildSettings(), workers=2, progress=False)
    assert (tmp_path / "c2" / "manifest.json").read_bytes() == (tmp_path / "c" / "manifest.json").read_bytes()


# ---------------------------------------------------------------- UCR-EGI layout

def egi_csv(path: Path, n: int, events: list[tuple[int, int]]) -> None:
    labels = np.zeros(n, dtype=int)
    for a, b in events:
        labels[a:b + 1] = 1
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("value,label\n" + "".join(f"{np.cos(i / 50):.4f},{labels[i]}\n" for i in range(n)))


def test_egi_paper_rule_windows_of_the_table_length(tmp_path: Path) -> None:
    root = tmp_path / "egi"
    egi_csv(root / "ECG" / "long.csv", 30_000, [(2000, 2199), (20_000, 20_399)])
    egi_csv(root / "Gait" / "mid.csv", 5000, [(2500, 2599)])
    egi_csv(root / "Gait" / "short.csv", 3000, [(100, 120)])
    egi_csv(root / "Power" / "normal.csv", 9000, [])
    d = build({"egi": root}, tmp_path / "b")
    items = sorted((it["series"], it["start"], it["length"], it["intervals"], it["domain"]) for it in d["items"])
    assert [(s, n, iv, dom) for s, _b, n, iv, dom in items] == [
        ("ECG/long", 8268, [[2000, 2199]], "ECG"),
        ("ECG/long", 8268, [[20_000, 20_399]], "ECG"),
        ("Gait/mid", 5000, [[2500, 2599]], "Gait"),  # shorter than a window, longer than half: whole
    ]
    for _s, b, n, iv, _d in items[:2]:
        assert b + 827 <= iv[0][0] and iv[0][1] <= b + n - 1 - 827
    assert d["sources"]["UCR-EGI"]["skipped"] == {"no-anomaly": 1, "too-short": 1}
    stats = bench_stats(tmp_path / "b")
    row = stats["sources"]["UCR-EGI"]["ours"]
    assert row["items"] == 3 and row["domains"] == 2 and row["mean_length"] == pytest.approx((2 * 8268 + 5000) / 3)


# ---------------------------------------------------------------- GutenTAG and the stats

def test_gutentag_paper_profile_and_stats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "gt"
    rc = main(["bench", "build", "visanombench", "--sources", "gutentag", "--gutentag-per-domain", "1",
               "--gutentag-length", "1500", "--out", str(out), "--workers", "1", "--no-progress"])
    printed = capsys.readouterr().out
    assert rc == 0 and "(profile paper)" in printed and "differences from the paper:" in printed
    m = read_manifest(out)
    assert len(m.items) == 10 and {it.length for it in m.items} == {1500} and {it.start for it in m.items} == {0}
    assert all(it.intervals for it in m.items)
    stats = bench_stats(out)
    row = stats["sources"]["GutenTAG"]["ours"]
    points = sum(it.length for it in m.items)
    assert row["anomaly_rate"] == pytest.approx(sum(e - s + 1 for it in m.items for s, e in it.intervals) / points)
    assert row["domains"] == 10 and row["normal_share"] == 0.0
    assert stats["split"]["ours"]["test_items"] == 2 == round(10 * 740 / 3316)
    assert stats["split"]["ours"]["test_intervals"] == sum(len(it.intervals) for it in m.by_split("test"))
    assert stats["split"]["paper_scaled"]["test_items"] == pytest.approx(10 * 740 / 3316)
    assert stats["split"]["paper_scaled"]["test_intervals"] == pytest.approx(10 * 759 / 3316)
    assert "GutenTAG: mean length 1,500.0, paper 5,000 (-3,500.0)" in stats["differences"]
    assert "KPI: not built (paper: 160 series)" in stats["differences"]
    assert main(["bench", "stats", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sources"]["GutenTAG"]["ours"]["items"] == 10
    assert main(["bench", "stats", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0] == f"VisAnomBench stats: {out} (profile paper)" and "GutenTAG" in text
    per_item = stats["split"]["ours"]["test_intervals"] / 2
    line = next(x for x in text.splitlines() if x.startswith("true intervals per test item"))
    assert line.split()[-3:] == [f"{per_item:.3f}", "1.026", "1.026"]  # ours beside the paper's 759 / 740


def test_gutentag_defaults_have_the_papers_intervals_per_item_and_anomaly_rate() -> None:
    """Issue 19: 290 of 810 series held two anomalies (1.387 per item) against the paper's 759 / 740
    = 1.026; the 810 default configs now hold 1.02-1.03 per series at the paper's 2.2% rate."""
    configs = [gutentag.series_config(d, i, 5000, 0)[0] for d in gutentag.DOMAINS for i in range(81)]
    n_intervals = sum(len(c["anomalies"]) for c in configs)
    assert 1.02 <= n_intervals / 810 <= 1.03
    rate = sum(a["length"] for c in configs for a in c["anomalies"]) / (810 * 5000)
    assert 0.0215 <= rate < 0.0225  # the paper's 2.2%, rounded to 0.1 points
    # evenly spread: any 81 consecutive series of a domain hold 2 or 3 with two anomalies
    assert all(sum(gutentag.has_second_anomaly(d, i, 0) for i in range(k, k + 81)) in (2, 3)
               for d in gutentag.DOMAINS for k in (0, 40, 500))


def test_default_test_fraction_gives_the_papers_740_test_items() -> None:
    keys = [("S", "d", f"g{i:04d}") for i in range(3316)]
    assigned = split_groups(keys, BuildSettings().test_fraction, 0)
    assert sum(v == "test" for v in assigned.values()) == 740  # 0.223 gave 739


# ---------------------------------------------------------------- profiles, flags, old manifests

def test_unknown_profile_is_a_usage_error_listing_the_known_ones(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UsageError, match="known profiles: paper, fixed-1000"):
        BuildSettings(profile="paperish")
    with pytest.raises(UsageError, match="per-source rules"):
        BuildSettings(profile="paper", window=500)
    rc = main(["bench", "build", "visanombench", "--profile", "nope", "--out", str(tmp_path / "x")])
    assert rc == 2 and "known profiles: paper, fixed-1000" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("fraction", [1.5, -0.1, float("nan"), "0.2", True])
def test_a_test_fraction_outside_0_1_is_a_usage_error_before_any_work(tmp_path: Path, fraction: object,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UsageError, match="test fraction must be a number from 0 to 1"):
        BuildSettings(test_fraction=fraction)  # type: ignore[arg-type]
    if isinstance(fraction, float):  # was "internal error: ValueError", exit 1
        rc = main(["bench", "build", "visanombench", "--sources", "gutentag", "--test-fraction", str(fraction),
                   "--out", str(tmp_path / "x")])
        assert rc == 2 and "test fraction" in capsys.readouterr().err
        assert not (tmp_path / "x").exists()


def test_fixed_profiles_by_name_and_by_flags(tmp_path: Path, ucr_dir: Path) -> None:
    assert BuildSettings().resolved.name == "paper"
    assert BuildSettings(window=500).resolved.name == "fixed-500"
    assert BuildSettings(profile="fixed-1000", stride=500).resolved.name == "fixed-1000-stride-500"
    assert BuildSettings(profile="fixed-2000").resolved.default == SegmentSettings(2000, 2000, 100, True)
    d = build({"ucr-tsad": ucr_dir}, tmp_path / "f", profile="fixed-1000")
    assert d["settings"]["profile"]["name"] == "fixed-1000" and d["settings"]["window"] == 1000
    assert {it["length"] for it in d["items"]} == {1000}
    assert len(d["items"]) == 8 + 7 + 9 + 7 + 1
    assert bench_stats(tmp_path / "f")["profile"] == "fixed-1000"


def test_old_manifest_loads_and_says_which_profile_built_it(tmp_path: Path) -> None:
    root = build_bench(tmp_path / "old")
    d = json.loads((root / "manifest.json").read_text())
    d["settings"] = {"window": 1000, "stride": 1000, "min_length": 100, "keep_normal": True, "seed": 0,
                     "test_fraction": 0.223, "sources": {}}
    d["skipped"] = [{"path": "/data/x.txt", "reason": "not a UCR-TSAD file name"}]
    (root / "manifest.json").write_text(json.dumps(d))
    assert manifest_profile(read_manifest(root).settings) == "fixed-1000 (legacy)"
    stats = bench_stats(root)
    assert stats["profile"] == "fixed-1000 (legacy)" and stats["skipped"]["by_source"] == {"unknown": {"unreadable": 1}}
    task = VisAnomBenchTask(root)
    assert task.describe()["profile"] == "fixed-1000 (legacy)" and task.count() == 4
    item = task.items[0]
    assert read_segment(root, item)[0].size == item.length
    assert profiles.manifest_profile({"window": 500}) == "fixed-500 (legacy)"
