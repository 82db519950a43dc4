"""Published values beside runs only when both cover the same series (issue 19 §3, issue 21 defect 6)."""

from __future__ import annotations

import csv
import gzip
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from extras import missing
from lb_fixtures import shared_reference, write_run2

from harness.core.spec import slug
from leaderboard.build import build
from leaderboard.comparable import PER_SERIES, paired_delta, published_per_series, shipped_per_series
from leaderboard.pages import fmt_money
from leaderboard.reported import DATA

REFERENCE = shared_reference() / "tsb-ad-u"
TSB_DISPLAY = {"title": "TSB-AD-U", "file_list": "eva", "n_series": 350}
VAB_PAPER = {"title": "VisAnomBench", "profile": "paper", "split": "test",
             "sources": ["GutenTAG", "KPI", "UCR-EGI", "UCR-TSAD"], "n_segments": 740}


def write_run(root: Path, task: str, model: str, values: dict[str, float | None], *, headline: str,
              display: dict[str, Any], group: str = "classical", ci: list[float] | None = None,
              cost: float | None = None, limit: int | None = None) -> Path:
    """A complete run whose per-sample headline values are ``values`` (None: a failed sample)."""
    folder = root / slug(task) / slug(model) / "r1"
    folder.mkdir(parents=True)
    lines, ok = [], [v for v in values.values() if v is not None]
    for sid, v in values.items():
        lines.append(json.dumps({"sample_id": sid, "error": "boom" if v is None else None,
                                 "metrics": None if v is None else {headline: v}}))
    (folder / "samples.jsonl").write_text("".join(x + "\n" for x in lines), encoding="utf-8")
    mean = float(np.mean(ok))
    n_failed = len(values) - len(ok)
    run = {
        "schema": "visanom.run/2", "run_id": f"{slug(model)}-r1", "status": "complete", "spec_id": f"{task}|{model}",
        "task": {"name": task, "version": "1", "fingerprint": "fp", "args": {}, "display": display},
        "model": {"name": model, "fingerprint": "fpm", "args": {},
                  # the cost column is the card-price estimate: 1 USD per million prompt tokens here
                  "display": {"group": group, **({"price_per_mtok_in": 1.0} if cost is not None else {})}},
        "limit": limit, "headline": headline,
        "metrics": {headline: {"value": mean, "ci95": ci or [mean - 0.02, mean + 0.02], "n": len(ok)}},
        "metrics_fail_as_zero": {headline: float(np.mean([v or 0.0 for v in values.values()]))},
        "counts": {"n": len(values), "n_ok": len(ok), "n_failed": n_failed, "n_cached": 0, "n_parse_failed": 0,
                   "n_undefined": 0},
        "failures": [], "usage": {"prompt_tokens": round(cost * 1e6), "completion_tokens": 0} if cost is not None else {},
        "timing": {"started": "2026-11-20T09:00:00Z", "finished": "2026-11-20T10:00:00Z", "wall_s": 1.0},
    }
    (folder / "run.json").write_text(json.dumps(run), encoding="utf-8")
    return folder


def site_of(results: Path, tmp_path: Path) -> tuple[dict[str, Any], str]:
    build(results, tmp_path / "site")
    summary = json.loads((tmp_path / "site" / "summary.json").read_text(encoding="utf-8"))
    return summary, (tmp_path / "site" / "index.html").read_text(encoding="utf-8")


def text_of(html: str) -> str:
    """The page's visible text, roughly (tags and title attributes dropped)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def eva_stems() -> list[str]:
    return sorted(shipped_per_series()["Sub-PCA"])


def test_one_series_tsb_ad_u_run_shows_the_published_value_without_delta(tmp_path: Path) -> None:
    root = tmp_path / "results"
    sid = eva_stems()[0]
    write_run(root, "tsb-ad-u", "Sub-PCA", {sid: 0.05}, headline="VUS-PR", display=TSB_DISPLAY, limit=1)
    summary, html = site_of(root, tmp_path)
    row = summary["tasks"][0]["rows"][0]
    assert row["reported"]["diff"] is None and row["reported"]["ci"] is None
    assert row["reported"]["note"] == "not comparable: 1 of 350 series"
    page = text_of(html)
    assert "not comparable: 1 of 350 series" in page and "published 0.423" in page  # visible, not a tooltip
    assert "-0.3" not in page  # the old Δ (0.05 - 0.423) is gone
    assert 'class="rep"' not in html and "◇" not in html


def test_limit_10_gutentag_only_visanombench_run_is_not_comparable(tmp_path: Path) -> None:
    root = tmp_path / "results"
    display = {**VAB_PAPER, "sources": ["GutenTAG"], "n_segments": 181}
    write_run2(root, "visanombench", "Sub-PCA", n=10, value=0.58, display={"group": "classical"})
    run_json = next(root.rglob("run.json"))
    run = json.loads(run_json.read_text(encoding="utf-8"))
    run["task"]["display"], run["limit"] = display, 10
    run_json.write_text(json.dumps(run), encoding="utf-8")
    summary, html = site_of(root, tmp_path)
    rep = summary["tasks"][0]["rows"][0]["reported"]
    assert rep["diff"] is None and rep["value"] == pytest.approx(0.4390)
    assert rep["note"] == ("not comparable: 10 of 740 test items; sources GutenTAG "
                           "(published: GutenTAG, KPI, UCR-EGI, UCR-TSAD)")
    assert rep["note"] in text_of(html) and "+0.14" not in text_of(html)


def test_full_coverage_tsb_ad_u_run_gets_a_paired_delta_with_ci(tmp_path: Path) -> None:
    published = shipped_per_series()["Sub-PCA"]
    rng = np.random.default_rng(7)
    ours = {k: float(np.clip(v + 0.03 + rng.normal(0, 0.02), 0, 1)) for k, v in published.items()}
    root = tmp_path / "results"
    write_run(root, "tsb-ad-u", "Sub-PCA", ours, headline="VUS-PR", display=TSB_DISPLAY)
    summary, html = site_of(root, tmp_path)
    rep = summary["tasks"][0]["rows"][0]["reported"]
    expected = float(np.mean([ours[k] - published[k] for k in published]))
    assert rep["comparable"] is True and rep["diff"] == pytest.approx(expected)
    lo, hi = rep["ci"]
    assert lo < expected < hi and hi - lo < 0.01 and rep["inside"] is False  # +0.03 is clearly outside
    assert rep["method"].startswith("paired bootstrap over the 350 series")
    if missing("scipy"):  # the Wilcoxon p-value needs scipy (not core); the paired CI stands without it
        assert rep["p_value"] is None
    else:
        assert rep["p_value"] < 1e-6
    page = text_of(html)
    assert f"{expected:+.3f} [{lo:+.3f}, {hi:+.3f}]" in page
    assert "published value outside our 95% CI" in page and "fail-as-zero" in page
    assert 'class="rep"' in html and "◇ the published value" in html


def test_full_coverage_compares_fail_as_zero_like_tsb_ad(tmp_path: Path) -> None:
    published = shipped_per_series()["IForest"]
    ours: dict[str, float | None] = dict(published)
    failed = sorted(published)[:10]
    for k in failed:
        ours[k] = None  # TSB-AD would count these 0
    root = tmp_path / "results"
    write_run(root, "tsb-ad-u", "IForest", ours, headline="VUS-PR", display=TSB_DISPLAY)
    summary, _ = site_of(root, tmp_path)
    rep = summary["tasks"][0]["rows"][0]["reported"]
    # the headline (failures left out) would differ by a different amount: Δ is fail-as-zero minus published
    assert rep["diff"] == pytest.approx(-sum(published[k] for k in failed) / 350)
    assert rep["ours"] == pytest.approx(sum(v or 0.0 for v in ours.values()) / 350)


def test_full_coverage_visanombench_run_gets_the_shifted_ci(tmp_path: Path) -> None:
    root = tmp_path / "results"
    values = {f"s{i:04d}": float(i % 2) for i in range(740)}  # mean 0.5
    write_run(root, "visanombench", "IForest", values, headline="F1", display=VAB_PAPER, ci=[0.46, 0.54])
    summary, html = site_of(root, tmp_path)
    rep = summary["tasks"][0]["rows"][0]["reported"]
    assert rep["diff"] == pytest.approx(0.5 - 0.4830)
    assert rep["ci"] == pytest.approx([0.46 - 0.4830, 0.54 - 0.4830]) and rep["inside"] is True
    assert "+0.017 [-0.023, +0.057]" in text_of(html)
    assert "published value inside our 95% CI" in text_of(html)


def test_published_rows_sort_by_value_and_show_their_source(tmp_path: Path) -> None:
    root = tmp_path / "results"
    for model, value in (("a-model", 0.9), ("b-model", 0.3)):
        write_run(root, "tsb-ad-u", model, {eva_stems()[0]: value}, headline="VUS-PR", display=TSB_DISPLAY)
    _, html = site_of(root, tmp_path)
    body = html[html.index("<tbody"):html.index("</tbody>")]
    order = re.findall(r'<tr (?:class="reported" )?data-model="([^"]+)"', body)
    assert order.index("a-model") < order.index("Sub-PCA") < order.index("b-model") < order.index("LOF")
    assert "TSB-AD published, mean of 350 series" in text_of(body)


def test_demo_task_promises_no_published_value(tmp_path: Path) -> None:
    root = tmp_path / "results"
    write_run(root, "visanombench-demo", "IForest", {"s1": 0.4, "s2": 0.6}, headline="F1",
              display={"title": "demo"}, cost=0.002)
    _, html = site_of(root, tmp_path)
    assert "◇" not in html and "published" not in text_of(html) and 'class="reported"' not in html
    assert "$0.002" in text_of(html) and "$0.00 " not in text_of(html)


def test_money_keeps_two_significant_digits_below_a_cent() -> None:
    assert [fmt_money(v) for v in (0.002, 0.00234, 0.5, 1234.5, 0.0)] == ["$0.002", "$0.0023", "$0.50", "$1,234.50",
                                                                          "$0.00"]


def test_paired_delta_needs_every_published_series() -> None:
    with pytest.raises(ValueError, match="lacks 1 of the 2 published series"):
        paired_delta({"a": 0.5}, {"a": 0.4, "b": 0.3})
    same = paired_delta({"a": 0.4, "b": None}, {"a": 0.4, "b": 0.0})  # a failed series counts 0
    assert same["diff"] == 0.0 and same["inside"] is True and same["p_value"] == 1.0


def test_shipped_per_series_values_are_the_reference_rows() -> None:
    means = json.loads(DATA.read_text(encoding="utf-8"))["means"]
    shipped = shipped_per_series()
    assert set(shipped) == set(means) and all(len(v) == 350 for v in shipped.values())
    assert {k: float(np.mean(list(v.values()))) for k, v in shipped.items()} == pytest.approx(means, abs=1e-12)
    if not (REFERENCE / "leaderboard_vus_pr_per_series.csv").is_file():
        pytest.skip("reference tables not found beside the project (../shared/reference)")
    made = published_per_series(REFERENCE / "leaderboard_vus_pr_per_series.csv", REFERENCE / "TSB-AD-U-Eva.csv")
    assert gzip.decompress(PER_SERIES.read_bytes()) == made
    with open(REFERENCE / "TSB-AD-U-Eva.csv", newline="") as fh:
        listed = sorted(r["file_name"].removesuffix(".csv") for r in csv.DictReader(fh))
    assert eva_stems() == listed


def test_reasoning_columns_a_template_meets_are_marked(tmp_path: Path) -> None:
    root = tmp_path / "results"
    write_run2(root, "visanombench-demo", "template-reasoner", n=3, display={"group": "heuristic baseline"})
    summary, html = site_of(root, tmp_path)
    assert summary["tasks"][0]["template_met"] == ["reason-axis"]
    head = html[html.index("<thead>"):html.index("</thead>")]
    assert re.search(r'reason-axis<sup class="template-mark">†</sup>', head)
    assert "template baseline: a template meets reason-axis" in text_of(html)


def test_windowed_vlm_view_is_compared_by_the_series_it_covers() -> None:
    from leaderboard.comparable import coverage

    display = {"title": "TSB-AD-U (VLM view)", "file_list": "eva"}
    full = {"task": {"display": display}, "counts": {"n": 2871}, "series_counts": {"n_series": 350}, "limit": None}
    assert coverage("tsb-vlm", full)["comparable"]  # 2871 windows over all 350 series
    cut = {**full, "counts": {"n": 350}, "series_counts": {"n_series": 40}, "limit": 350}
    assert not coverage("tsb-vlm", cut)["comparable"] and "40 of 350 series" in coverage("tsb-vlm", cut)["note"]
    stopped = {**full, "counts": {"n": 2870}, "limit": 2870}  # all series reached, the last one's final window not
    assert not coverage("tsb-vlm", stopped)["comparable"] and "limit 2870" in coverage("tsb-vlm", stopped)["note"]
