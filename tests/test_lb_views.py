"""The analysis pages' numbers: blocks, the CD view, rank agreement's PA flag, outcomes,
paired differences and resolution buckets, from a built site of models that differ."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import pytest
from lb_views_fixtures import write_analysis_results

from leaderboard import stats
from leaderboard.analysis import anomaly_pixels
from leaderboard.build import CACHE_DIR, build
from leaderboard.views import analysis_pages, block_matrix


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("views")
    build(write_analysis_results(root / "results"), root / "site")
    return root / "site"


def fragments(site: Path, task: str) -> dict[str, dict]:
    summary = json.loads((site / "summary.json").read_text(encoding="utf-8"))
    t = next(t for t in summary["tasks"] if t["name"] == task)
    return t, {r["key"]: json.loads((site / CACHE_DIR / f"{r['slug']}-{t['slug']}.analysis.json").read_bytes())
               for r in t["rows"]}


def page(site: Path, task: str, name: str) -> str:
    folder = next(p for p in (site / "tasks").iterdir() if p.name.startswith(task))
    return (folder / name).read_text(encoding="utf-8")


def test_cd_page_ranks_match_an_independent_ranking(site: Path) -> None:
    task, frags = fragments(site, "tsb-ad-u")
    blocks, matrix, _ = block_matrix(task["rows"], frags, "VUS-PR")
    assert len(blocks) == 12 and matrix.shape == (12, 5)
    # ranks by hand: per series, sort the five values
    manual = np.array([[1 + sum(v > row[j] for v in row) + (sum(v == row[j] for v in row) - 1) / 2
                        for j in range(5)] for row in matrix]).mean(axis=0)
    assert np.allclose(stats.average_ranks(matrix), manual)
    html = page(site, "tsb-ad-u", "ranks.html")
    best = task["rows"][int(np.argmin(manual))]["label"]
    assert f"{best} ({manual.min():.2f})" in html
    assert "CD = " in html and "Friedman" in html and 'role="img"' in html


def test_pa_flag_marks_the_scatter_model_only(site: Path) -> None:
    html = page(site, "tsb-ad-u", "ranks.html")
    flagged = [line for line in html.splitlines() if 'class="flagged"' in line]
    assert len(flagged) == 1 and "Random" in flagged[0]


def test_outcome_counts_and_viewer_links(site: Path) -> None:
    task, frags = fragments(site, "visanombench")
    row = next(r for r in task["rows"] if r["label"] == "Reasoner-7B")
    samples = frags[row["key"]]["samples"]
    assert sum(sum(s["o"].values()) for s in samples.values()) >= len(samples)
    html = page(site, "visanombench", "outcomes.html")
    assert f'../../{row["pages"]["samples"]}?outcome=hit' in html
    viewer = (site / row["pages"]["samples"]).read_text(encoding="utf-8")
    assert '"outcomes":["hit"]' in viewer


def test_paired_difference_and_its_interval(site: Path) -> None:
    task, frags = fragments(site, "visanombench")
    a, b = task["rows"][0], task["rows"][1]
    _, matrix, _ = block_matrix([a, b], frags, task["headline"])
    diff = matrix[:, 0] - matrix[:, 1]
    pair = page(site, "visanombench", f"paired/{a['slug']}--{b['slug']}.html")
    assert f"{diff.mean():+.3f}" in pair
    lo, hi = stats.paired_bootstrap_ci(diff, seed=0)
    assert lo <= diff.mean() <= hi and f"[{lo:.3f}, {hi:.3f}]" in pair
    assert "compare.html#s=" in pair


def test_anomaly_pixels_follow_the_render_settings() -> None:
    record = {"input": {"image": "x.png", "render": {"width_in": 10.0, "dpi": 100, "left": 0.1, "right": 0.985}}}
    entry = {"length": 1001, "offset": 0, "gt": [[100, 109], [500, 500]]}
    # axes 885 px wide over 1000 * 1.1 index units: 0.8045 px per index
    assert anomaly_pixels(record, entry) == [pytest.approx(10 * 885 / 1100, abs=0.01),
                                             pytest.approx(885 / 1100, abs=0.01)]
    assert anomaly_pixels({"input": {"image": None, "render": None}}, entry) == []


def test_resolution_page_buckets_every_true_interval(site: Path) -> None:
    html = page(site, "visanombench", "resolution.html")
    assert "could not" in html or "finds most" in html
    assert "0–1 px" in html and "≥ 32 px" in html


def test_a_failed_sample_counts_zero_only_for_metrics_the_run_has() -> None:
    from leaderboard.analysis import run_fragment

    ok = {"id": "a", "status": "ok", "metrics": {"Point-F1": 0.8}, "gt": [[10, 19]], "pred": [[10, 19]],
          "length": 100, "offset": 0}
    bad = {**ok, "id": "b", "status": "failed", "metrics": {}, "pred": []}
    records = [{"target": {"intervals": [[10, 19]]}, "meta": {}}] * 2
    frag = run_fragment(records, [ok, bad], "F1")["samples"]
    assert frag["a"]["v"]["Point-F1"] == 0.8 and frag["a"]["v"]["PA-F1"] == pytest.approx(1.0)
    assert frag["b"]["v"] == dict.fromkeys(sorted(frag["a"]["v"]), 0.0)
    assert "VUS-PR" not in frag["b"]["v"]  # a text run has no VUS-PR, failed or not
    assert frag["b"]["o"] == {"missed": 1}


def test_resolution_reading_tells_seeing_from_reasoning() -> None:
    from leaderboard.views import resolution_view

    def row(key: str) -> dict:
        return {"key": key, "label": key, "pages": {"model": "m.html", "samples": "s.html"}}

    def frag(narrow_found: bool, wide_found: bool) -> dict:
        px = [[0.5, narrow_found]] * 6 + [[20.0, wide_found]] * 6
        return {"samples": {f"s{i}": {"b": f"s{i}", "v": {}, "px": [p]} for i, p in enumerate(px)}}

    task = {"rows": [row("blind"), row("confused"), row("fine")]}
    res = resolution_view(task, {"blind": frag(False, True), "confused": frag(True, False),
                                 "fine": frag(True, True)})
    reading = {r["row"]["key"]: r["verdict"] for r in res["rows"]}
    assert reading["blind"].endswith("could not see them")
    assert reading["confused"].endswith("could not reason")
    assert reading["fine"].endswith("no clear resolution effect")
    assert [c["n"] for c in res["pooled"]] == [18, 0, 0, 0, 0, 18, 0]  # 0.5 px -> 0-1, 20 px -> 16-32


def test_incremental_build_reuses_unchanged_tasks_and_reloads_cached_runs(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from lb_views_fixtures import write_varied

    build_mod = importlib.import_module("leaderboard.build")  # the package exports a function of that name

    results = write_analysis_results(tmp_path / "results")
    site = tmp_path / "site"
    build(results, site)
    ranks = {t: next(p for p in (site / "tasks").iterdir() if p.name.startswith(t)) / "ranks.html"
             for t in ("tsb-ad-u", "visanombench")}
    rendered: list[str] = []  # the tasks whose analysis pages are rendered again

    def counting(summary, task, fragments, site_info):  # noqa: ANN001, ANN202
        rendered.append(task["name"])
        return analysis_pages(summary, task, fragments, site_info)

    monkeypatch.setattr(build_mod, "analysis_pages", counting)
    write_varied(results, "visanombench", "Newcomer", 0.8)
    report = build(results, site)
    assert report.runs_rendered == 1
    assert rendered == ["visanombench"]  # tsb-ad-u's pages are kept, not re-rendered
    html = ranks["visanombench"].read_text(encoding="utf-8")
    # the five reused runs' cached fragments were loaded: all six rows are ranked over 14 series
    assert "over the 14 series every model scored" in html and "k = 6" in html and "Newcomer" in html
