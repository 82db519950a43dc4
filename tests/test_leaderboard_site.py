"""The published leaderboard (issue 12) built from visanom.run/2 results folders."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from lb_fixtures import shared_reference, write_run2

from harness.records.samples import json_depth
from leaderboard.build import build
from leaderboard.pages import embed_json
from leaderboard.reported import DATA, published_means, reported_rows
from leaderboard.samples import CURVE_POINTS, envelope, x_fraction
from leaderboard.views import pairs_of

HOSTILE = [
    "<script>alert('x')</script>",
    '<img src=x onerror="alert(1)">',
    "<svg onload=alert(1)>",
    "javascript:alert(1)",
    "</script><script>alert(2)</script>",
]
REFERENCE = shared_reference() / "tsb-ad-u"


def summary_of(site: Path) -> dict[str, Any]:
    return json.loads((site / "summary.json").read_text(encoding="utf-8"))


@pytest.fixture()
def results(tmp_path: Path) -> Path:
    root = tmp_path / "results"
    write_run2(root, "visanombench", "VisAnomReasoner-7B", value=0.70,
               display={"group": "ours", "paper_row": "VisAnomReasoner-7B", "params": "7B"},
               usage={"prompt_tokens": 100, "completion_tokens": 20})
    write_run2(root, "visanombench", "Qwen2.5-VL-7B", value=0.30, display={"group": "small VLM"})
    write_run2(root, "visanombench", "IForest", value=0.45, display={"group": "classical"})
    write_run2(root, "tsb-ad-u", "POLY", kind="score", headline="VUS-PR", value=0.40,
               display={"group": "classical"}, degenerate=(1,))
    return root


def test_rows_keyed_by_spec_newest_wins_and_says_why(tmp_path: Path) -> None:
    root = tmp_path / "results"
    write_run2(root, "t", "m", spec_id="spec-a", value=0.9, finished="2026-11-01T00:00:00Z")
    write_run2(root, "t", "m", spec_id="spec-a", value=0.1, finished="2026-11-02T00:00:00Z")
    write_run2(root, "t", "m", spec_id="spec-b", label="m(k=5)", value=0.5)
    build(root, tmp_path / "site")
    rows = {r["key"]: r for r in summary_of(tmp_path / "site")["tasks"][0]["rows"]}
    assert set(rows) == {"spec-a", "spec-b"}
    assert rows["spec-a"]["headline"]["value"] == 0.1
    assert rows["spec-a"]["choice"].startswith("newest of 2 complete runs of this spec (finished 2026-11-02T00:00:00+00:00)")
    assert rows["spec-b"]["label"] == "m(k=5)" and rows["spec-b"]["choice"] == "the only complete run of this spec"


def test_groups_marks_reported_and_counts(results: Path, tmp_path: Path) -> None:
    build(results, tmp_path / "site")
    summary = summary_of(tmp_path / "site")
    tsb, vab = summary["tasks"]
    assert vab["groups"][:3] == ["ours", "large VLM", "small VLM"]  # the paper's order
    rows = {r["model"]: r for r in vab["rows"]}
    assert rows["VisAnomReasoner-7B"]["marks"]["F1"] == "best"
    assert rows["IForest"]["marks"]["F1"] == "second" and "F1" not in rows["Qwen2.5-VL-7B"]["marks"]
    assert vab["reasoning"] == ["reason-axis"] and "reason-axis" not in vab["metrics"]
    ours = rows["VisAnomReasoner-7B"]
    assert ours["reported"]["value"] == pytest.approx(0.7394)
    # five samples of an unknown build are not the paper's 740 test items: no Δ, a note instead
    assert ours["reported"]["diff"] is None and ours["reported"]["note"].startswith("not comparable: 5 of 740 test items")
    assert ours["tokens"] == 120 and ours["latency_s"] == pytest.approx(1.25 / 5)
    assert rows["IForest"]["reported"]["value"] == pytest.approx(0.4830)
    rep = {r["name"]: r for r in vab["reported"]}
    assert rep["Grok-4-Fast"]["ours"] is None and rep["Qwen2.5-VL-7B"]["ours"] == rows["Qwen2.5-VL-7B"]["key"]
    poly = tsb["rows"][0]
    assert poly["counts"]["n_degenerate"] == 1 and tsb["has_degenerate"] is True
    assert poly["reported"]["value"] == pytest.approx(0.3898, abs=1e-4)
    flags = [(s["degenerate"], s["degenerate_reason"]) for s in viewer_data(tmp_path / "site" / poly["pages"]["samples"])["samples"]]
    assert flags == [(False, None), (True, "constant scores"), (False, None), (False, None), (False, None)]
    html = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert html.count('class="reported"') == len(vab["reported"]) + len(tsb["reported"])
    assert "Δ reported" in html and "not reproduced" in html and "degen." in html
    # the chart, without published markers: no run here covers the published series
    assert '<svg viewBox="0 0 640' in html and 'class="rep"' not in html and "◇" not in html
    assert "not comparable: 5 of 740 test items" in html


def test_published_tsb_ad_means_match_the_reference_table() -> None:
    if not (REFERENCE / "leaderboard_vus_pr_per_series.csv").is_file():
        pytest.skip("reference tables not on this machine")
    computed = published_means(REFERENCE / "leaderboard_vus_pr_per_series.csv", REFERENCE / "TSB-AD-U-Eva.csv")
    shipped = json.loads(DATA.read_text(encoding="utf-8"))
    assert shipped["n_series"] == 350 and shipped["means"] == pytest.approx(computed, abs=1e-12)
    assert round(computed["Sub-PCA"], 3) == 0.423 and round(computed["LOF"], 3) == 0.169  # the paper's figures


def test_paper_tables_are_fractions() -> None:
    vab = {r["name"]: r for r in reported_rows("visanombench")}
    assert len(vab) == 17 and vab["IForest"]["metrics"]["F1"] == pytest.approx(0.4830)
    assert reported_rows("tsb-ad-u-vlm")[0]["metrics"]["Affiliation-F1"] == pytest.approx(0.8558)
    assert reported_rows("toy") == []


def test_pages_exist_for_every_row_and_breakdowns(results: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    build(results, site)
    summary = summary_of(site)
    for task in summary["tasks"]:
        assert (site / "tasks" / task["slug"] / "breakdown.html").is_file()
        assert (site / "tasks" / task["slug"] / "compare.html").is_file()
        for row in task["rows"]:
            model_page = (site / row["pages"]["model"]).read_text(encoding="utf-8")
            assert row["run_id"] in model_page and "fp-" + row["model"] in model_page
            assert (site / row["pages"]["samples"]).is_file()
    breakdown = (site / "tasks" / summary["tasks"][1]["slug"] / "breakdown.html").read_text(encoding="utf-8")
    assert "by source" in breakdown and "KPI" in breakdown and "n=2" in breakdown


def viewer_data(page: Path) -> dict[str, Any]:
    html = page.read_text(encoding="utf-8")
    raw = re.search(r'<script type="application/json" id="viewer-data">(.*?)</script>', html, re.S)
    assert raw is not None
    return json.loads(raw.group(1))


def test_sample_viewer_text_model(results: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    build(results, site)
    task = next(t for t in summary_of(site)["tasks"] if t["name"] == "visanombench")
    data = viewer_data(site / task["rows"][0]["pages"]["samples"])
    first = data["samples"][0]
    assert first["gt"] == [[110, 120]] and first["pred"] == [[150, 160]]
    assert first["text"].startswith("<anomaly>True</anomaly>") and first["status"] == "ok"
    assert data["samples"][1]["issues"] == ["two index tags; the first was used"]
    assert first["metrics"]["reason-axis"] == 1.0
    # the overlay is where the renderer draws those indices: x limits [100, 299] widened 5% each side
    frac = x_fraction({"left": 0.10, "right": 0.985}, 100, 200)
    assert first["overlay"]["gt"][0] == pytest.approx([frac(109.5), frac(120.5)])
    assert first["overlay"]["top"] == pytest.approx(0.075) and first["overlay"]["bottom"] == pytest.approx(0.75)
    # each input hash is copied once per task, shared by every run that saw it
    images = sorted((site / "inputs" / task["slug"]).iterdir())
    assert len(images) == 5  # 3 runs x 5 samples, 5 distinct inputs
    assert first["image"].startswith(f"inputs/{task['slug']}/") and (site / first["image"]).is_file()


def test_sample_viewer_score_model_is_downsampled(tmp_path: Path) -> None:
    root = tmp_path / "results"
    write_run2(root, "tsb-ad-u", "POLY", kind="score", headline="VUS-PR", n=2, length=50_000, offset=0)
    site = tmp_path / "site"
    build(root, site)
    row = summary_of(site)["tasks"][0]["rows"][0]
    data = viewer_data(site / row["pages"]["samples"])
    sample = data["samples"][0]
    assert len(sample["series"]["q"]) <= CURVE_POINTS and len(sample["scores"]["q"]) <= CURVE_POINTS
    assert sample["scores"]["n"] == 50_000 and 0 <= sample["scores"]["threshold"] <= 999
    assert sample["image"] is None
    page_bytes = (site / row["pages"]["samples"]).stat().st_size
    assert page_bytes < 4_000 + 2 * 2_500  # page shell + two samples of 50,000 points within budget


def test_envelope_keeps_extremes() -> None:
    y = np.zeros(10_000)
    y[1234], y[8000] = 7.0, -3.0
    curve = envelope(y, 50)
    assert curve["mode"] == "minmax" and len(curve["q"]) == 100 and (curve["lo"], curve["hi"]) == (-3.0, 7.0)
    assert curve["q"][2 * (1234 * 50 // 10_000) + 1] == 999 and curve["q"][2 * (8000 * 50 // 10_000)] == 0
    short = envelope(np.array([1.0, np.nan, 3.0]), 50)
    assert short == {"n": 3, "mode": "raw", "buckets": 3, "lo": 1.0, "hi": 3.0, "q": [0, None, 999]}


def test_hostile_strings_never_become_markup(tmp_path: Path) -> None:
    root = tmp_path / "results"
    for k, payload in enumerate(HOSTILE):
        write_run2(root, "visanombench", payload, spec_id=f"spec{k}", label=payload, answer=payload,
                   display={"group": payload, "label": payload, "url": "javascript:alert(1)", "note": payload})
    site = tmp_path / "site"
    build(root, site)
    pages = [p for p in site.rglob("*.html")]
    n_pairs = len(pairs_of(summary_of(site)["tasks"][0]))  # the analysis pages: 4 per task + one per pair
    assert len(pages) == 1 + 1 + 2 + 2 * len(HOSTILE) + 4 + n_pairs  # index, glossary, task, row, analysis pages
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert 'http-equiv="Content-Security-Policy"' in html
        for payload in HOSTILE[:3] + HOSTILE[4:]:
            assert payload not in html, page
        assert 'href="javascript:' not in html
        assert not [a for a in attribute_names(html) if a.startswith("on")], page  # no inline event handler
        scripts = re.findall(r"<script\b([^>]*)>", html)
        assert all('src="' in attrs or 'type="application/json"' in attrs for attrs in scripts)
    data = viewer_data(next(site.glob("samples/*/*.html")))
    assert data["samples"][0]["text"] in HOSTILE  # the JSON still decodes to the exact text
    compare = (next(site.glob("tasks/*/compare.html"))).read_text(encoding="utf-8")
    raw = re.search(r'<script type="application/json" id="compare-data">(.*?)</script>', compare, re.S)
    assert raw is not None and sorted(m["label"] for m in json.loads(raw.group(1))["models"]) == sorted(HOSTILE)


def attribute_names(html: str) -> set[str]:
    """Every attribute name in the page, as a browser's tokenizer would see them."""
    names: set[str] = set()

    class Collect(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            names.update(name for name, _ in attrs)

    Collect().feed(html)
    return names


def test_embed_json_cannot_close_the_element() -> None:
    text = embed_json({"a": "</script><!-- & -->", "b": "\u2028"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"a": "</script><!-- & -->", "b": "\u2028"}


def test_json_depth_ignores_brackets_in_strings() -> None:
    assert json_depth(b'{"a": "[[[[[[[[", "b": [[1]]}') == 3
    assert json_depth(b'"\\"[[["') == 0


def test_incremental_rebuild_rewrites_only_what_changed(results: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    first = build(results, site, generated=datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert first.runs_rendered == 4
    again = build(results, site, generated=datetime(2026, 1, 2, tzinfo=timezone.utc))
    assert again.runs_rendered == 0 and again.runs_reused == 4
    assert again.written == 2  # index.html and summary.json carry the build time
    write_run2(results, "visanombench", "SmolVLM", value=0.05, display={"group": "small VLM"})
    before = {p: p.stat().st_mtime_ns for p in site.rglob("*.html")}
    third = build(results, site)
    assert third.runs_rendered == 1 and third.runs_reused == 4
    changed = {p.relative_to(site).as_posix() for p in site.rglob("*.html") if before.get(p) != p.stat().st_mtime_ns}
    task = next(t for t in summary_of(site)["tasks"] if t["name"] == "visanombench")
    new_row = next(r for r in task["rows"] if r["model"] == "SmolVLM")
    base = f"tasks/{task['slug']}"
    analysis = {f"{base}/{name}.html" for name in ("ranks", "outcomes", "paired", "resolution")}
    pairs = {p for p in changed if p.startswith(f"{base}/paired/")}
    assert changed - pairs == {"index.html", new_row["pages"]["samples"], new_row["pages"]["model"],
                               f"{base}/compare.html", f"{base}/breakdown.html"} | analysis
    assert pairs and all(new_row["slug"] in p for p in pairs)  # only the new row's pairs are new


def test_title_and_base_url(results: Path, tmp_path: Path) -> None:
    build(results, tmp_path / "site", title="<b>My board</b>", base_url="javascript:alert(1)")
    html = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert "&lt;b&gt;My board&lt;/b&gt;" in html and "canonical" not in html
    build(results, tmp_path / "site2", base_url="https://example.org/board/")
    assert '<link rel="canonical" href="https://example.org/board/">' in (tmp_path / "site2" / "index.html").read_text(
        encoding="utf-8")


def test_record_paths_cannot_leave_the_results_folder(tmp_path: Path) -> None:
    from leaderboard.samples import inside

    root = tmp_path / "results"
    (root / "t" / "inputs").mkdir(parents=True)
    (root / "t" / "inputs" / "a.png").write_bytes(b"x")
    secret = tmp_path / "secret.txt"
    secret.write_text("s", encoding="utf-8")
    os_link = root / "t" / "inputs" / "b.png"
    os_link.symlink_to(secret)
    assert inside(root, "t/inputs/a.png") == (root / "t" / "inputs" / "a.png").resolve()
    for bad in ("../secret.txt", str(secret), "t/inputs/b.png", "t/../../secret.txt", "t/inputs", "", None, "a\x00b"):
        assert inside(root, bad) is None, bad


@pytest.mark.parametrize("array", [np.arange(5, dtype=np.float64), np.arange(6, dtype=np.float32).reshape(2, 3),
                                   np.array([1, 2, 3], dtype=">f8"), np.asfortranarray(np.ones((2, 2)))])
def test_load_vector_matches_numpy(tmp_path: Path, array: np.ndarray) -> None:
    from leaderboard.samples import load_vector

    np.save(tmp_path / "a.npy", array)
    assert np.array_equal(load_vector(tmp_path / "a.npy"), np.asarray(array, dtype=np.float64).reshape(-1))
    (tmp_path / "b.npy").write_bytes(b"\x93NUMPY garbage")
    assert load_vector(tmp_path / "b.npy") is None


def test_build_says_which_run_it_chose(tmp_path: Path) -> None:
    root = tmp_path / "results"
    older = write_run2(root, "t", "m", spec_id="spec-a", finished="2026-11-01T00:00:00Z")
    newest = write_run2(root, "t", "m", spec_id="spec-a", finished="2026-11-02T00:00:00Z")
    messages = build(root, tmp_path / "site").messages()
    assert [m for m in messages if m.startswith("chose")] == [
        f"chose {newest.relative_to(root).as_posix()} for t / m: newest of 2 complete runs of this spec "
        f"(finished 2026-11-02T00:00:00+00:00); older: {older.name} (2026-11-01T00:00:00+00:00)"
    ]


def test_serve_previews_the_site(results: Path, tmp_path: Path) -> None:
    import subprocess
    import sys
    import urllib.request

    site = tmp_path / "site"
    build(results, site)
    proc = subprocess.Popen([sys.executable, "-m", "harness", "leaderboard", "serve", str(site), "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        url = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert url, line
        with urllib.request.urlopen(url.group(0) + "index.html", timeout=30) as response:
            assert b"Leaderboard" in response.read()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_judge_grades_sit_with_the_reasoning_columns_and_the_judge_is_named(tmp_path: Path) -> None:
    root = tmp_path / "results"
    judged = write_run2(root, "visanombench", "VisAnomReasoner-7B", value=0.7)
    write_run2(root, "visanombench", "Qwen2.5-VL-7B", value=0.3)
    judge_name = "<script>alert('judge')</script>"
    run = json.loads((judged / "run.json").read_text(encoding="utf-8"))
    run["judge"] = {"model": judge_name, "args": {"model": "judge-vlm"}, "template": "judge", "template_hash": "abc", "n_judged": 5,
                    "n_unparsable": 1, "file": "judge.jsonl"}
    run["metrics"]["judge-axis"] = {"value": 0.9, "ci95": [0.8, 1.0], "n": 4}
    (judged / "run.json").write_text(json.dumps(run), encoding="utf-8")
    site = tmp_path / "site"
    build(root, site)
    (task,) = summary_of(site)["tasks"]
    assert "judge-axis" in task["reasoning"] and "judge-axis" not in task["metrics"]
    assert task["reasoning"].index("reason-axis") < task["reasoning"].index("judge-axis")
    assert task["judges"] == [f"{judge_name} (judge-vlm)"]
    rows = {r["model"]: r for r in task["rows"]}
    assert rows["VisAnomReasoner-7B"]["judge"]["model"] == judge_name
    assert rows["VisAnomReasoner-7B"]["judge"]["n_unparsable"] == 1 and rows["Qwen2.5-VL-7B"]["judge"] is None
    index = (site / "index.html").read_text(encoding="utf-8")
    escaped = "&lt;script&gt;alert(&#39;judge&#39;)&lt;/script&gt;"
    assert judge_name not in index
    assert f"graded by {escaped}" in index  # the column note and the judge-* header name the judge
    assert index.count('class="num reasoning"') == 2  # reason-axis and judge-axis, side by side
    model_page = (site / rows["VisAnomReasoner-7B"]["pages"]["model"]).read_text(encoding="utf-8")
    assert "<dt>judge</dt>" in model_page and escaped in model_page and judge_name not in model_page
    other_page = (site / rows["Qwen2.5-VL-7B"]["pages"]["model"]).read_text(encoding="utf-8")
    assert "<dt>judge</dt>" not in other_page


def test_a_second_build_in_one_process_copies_the_plots_again(tmp_path: Path) -> None:
    import shutil

    results = tmp_path / "results"
    write_run2(results, "visanombench", "one-small-run", n=2)  # small enough to be built in this process
    site = tmp_path / "site"
    build(results, site)
    plots = sorted(p.relative_to(site) for p in site.glob("inputs/*/*.png"))
    assert plots
    shutil.rmtree(site)  # e.g. a clean rebuild from the same Python process
    build(results, site)
    assert sorted(p.relative_to(site) for p in site.glob("inputs/*/*.png")) == plots
