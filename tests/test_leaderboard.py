"""Leaderboard: collecting records, the summary, and the rendered HTML."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from harness.cli.main import main
from leaderboard import build_site, collect_runs, summarise
from leaderboard.pages import fmt_duration, fmt_number, safe_url
from leaderboard.scan import scan_runs

XSS = "<script>alert('pwned')</script>"


def metric(value: float | None, lo: float | None = None, hi: float | None = None, n: int = 10) -> dict:
    """A run.json metric entry."""
    ci = [lo, hi] if lo is not None else None
    return {"value": value, "ci95": ci, "n": n}


def run_record(
    task: str,
    model: str,
    metrics: dict[str, Any],
    *,
    headline: str,
    finished: str = "2026-11-20T10:00:00Z",
    run_id: str | None = None,
    failures: list[dict[str, str]] | None = None,
    n: int = 10,
    n_cached: int = 0,
    n_parse_failed: int = 0,
    display: dict[str, Any] | None = None,
    wall_s: float = 12.5,
) -> dict[str, Any]:
    """A complete ``visanom.run/1`` record."""
    failures = failures or []
    return {
        "schema": "visanom.run/1",
        "run_id": run_id or f"{task}-{model}",
        "status": "complete",
        "task": {
            "name": task,
            "version": "1.0",
            "fingerprint": f"fp-{task}-0123456789abcdef",
            "args": {},
            "display": {"title": task.upper(), "description": f"The {task} task."},
        },
        "model": {"name": model, "fingerprint": f"fp-{model}", "args": {}, "display": display or {}},
        "limit": None,
        "headline": headline,
        "metrics": metrics,
        "metrics_fail_as_zero": {k: v["value"] for k, v in metrics.items()},
        "groups": {},
        "counts": {
            "n": n,
            "n_ok": n - len(failures),
            "n_failed": len(failures),
            "n_cached": n_cached,
            "n_parse_failed": n_parse_failed,
            "n_undefined": 0,
        },
        "failures": failures,
        "usage": {},
        "timing": {"started": "2026-11-20T09:00:00Z", "finished": finished, "wall_s": wall_s},
        "env": {"visanom": "0.1.0"},
    }


def write_run(root: Path, record: dict[str, Any]) -> Path:
    """Write ``record`` where the runner would: ``root/<task>/<model>/<run_id>/run.json``."""
    folder = root / record["task"]["name"] / record["model"]["name"] / record["run_id"]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "run.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    return path


def write_results(root: Path) -> Path:
    """Synthetic results: 2 tasks x 3 models, failures, a null metric, a duplicate and a corrupt run."""
    vlm = {"label": "VLM Reasoner", "group": "VLM", "params": 7e9, "note": "fine-tuned"}
    failures = [{"sample_id": "s-3", "error": XSS}, {"sample_id": "s-7", "error": "TimeoutError: no answer"}]
    ivl, sco = "toy-intervals", "toy-scores"
    records = [
        run_record(
            ivl,
            "vlm",
            {"F1": metric(0.62, 0.5, 0.7), "Precision": metric(0.7)},
            headline="F1",
            failures=failures,
            display=vlm,
            n_parse_failed=1,
            n_cached=4,
            wall_s=3725.0,
        ),
        run_record(
            ivl,
            "iforest",
            {"F1": metric(0.41, 0.3, 0.5), "Precision": metric(None)},
            headline="F1",
            display={"group": "classical"},
        ),
        # an older run of the same task and model with a better score: must be superseded
        run_record(
            ivl, "iforest", {"F1": metric(0.99)}, headline="F1", run_id="old", finished="2026-11-01T10:00:00Z"
        ),
        run_record(ivl, "random", {"F1": metric(None), "Precision": metric(0.1)}, headline="F1"),
        run_record(sco, "vlm", {"VUS-PR": metric(0.30, 0.2, 0.4)}, headline="VUS-PR", display=vlm),
        run_record(sco, "iforest", {"VUS-PR": metric(0.50, 0.4, 0.6)}, headline="VUS-PR"),
        run_record(sco, "random", {"VUS-PR": metric(0.20, 0.1, 0.3)}, headline="VUS-PR"),
    ]
    for record in records:
        write_run(root, record)
    partial = root / sco / "broken" / "abc" / "run.json"
    partial.parent.mkdir(parents=True)
    partial.write_text('{"schema": "visanom.run/1", "status": "compl', encoding="utf-8")
    return root


@pytest.fixture()
def results(tmp_path: Path) -> Path:
    return write_results(tmp_path / "results")


@pytest.fixture()
def site(results: Path, tmp_path: Path) -> Path:
    return build_site(results, tmp_path / "site").parent


def test_collect_skips_corrupt_record(results: Path) -> None:
    runs = collect_runs(results)
    _, skipped = scan_runs(results)
    assert [s.path for s in skipped] == ["toy-scores/broken/abc/run.json"]
    assert "not valid JSON" in skipped[0].reason
    assert len(runs) == 7
    assert {r["_source"] for r in runs} >= {"toy-intervals/iforest/old", "toy-scores/vlm/toy-scores-vlm"}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"schema": "visanom.run/1", "status": "running"}', "partial run"),
        ("[1, 2]", "not a JSON object"),
        ('{"schema": "other/9", "status": "complete"}', "unsupported schema"),
        ('{"schema": "visanom.run/1", "status": "complete", "task": {"name": "t"}}', "missing model.name"),
        ("", "not valid JSON"),
    ],
)
def test_bad_records_are_skipped(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "t" / "m" / "r" / "run.json"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    runs, skipped = scan_runs(tmp_path)
    assert runs == []
    assert len(skipped) == 1 and reason in skipped[0].reason and skipped[0].path.endswith("run.json")


def test_summary_contents(results: Path) -> None:
    runs, skipped = scan_runs(results)
    summary = summarise(runs, skipped)
    assert summary["schema"] == "visanom.summary/2"
    assert [t["name"] for t in summary["tasks"]] == ["toy-intervals", "toy-scores"]
    ivl, sco = summary["tasks"]
    assert ivl["headline"] == "F1" and ivl["metrics"] == ["F1", "Precision"]
    assert ivl["version"] == "1.0" and ivl["fingerprint_short"] == "fp-toy-inter" and ivl["n_samples"] == 10
    assert [r["model"] for r in ivl["rows"]] == ["vlm", "iforest", "random"]
    assert [r["rank"] for r in ivl["rows"]] == [1, 2, None]
    vlm, iforest, rnd = ivl["rows"]
    assert vlm["headline"] == {"value": 0.62, "ci95": [0.5, 0.7], "n": 10}
    assert vlm["counts"]["n_failed"] == 2 and vlm["counts"]["n_cached"] == 4
    assert vlm["parse_failure_rate"] == pytest.approx(0.1)
    assert vlm["failures"][0] == {"sample_id": "s-3", "error": XSS}
    assert vlm["display"]["group"] == "VLM" and vlm["wall_s"] == 3725.0
    assert iforest["metrics"]["F1"]["value"] == 0.41 and iforest["superseded"] == ["old"]
    assert iforest["run_dir"] == "toy-intervals/iforest/toy-intervals-iforest"
    assert rnd["headline"]["value"] is None
    assert [r["model"] for r in sco["rows"]] == ["iforest", "vlm", "random"]
    assert summary["skipped"][0]["path"].endswith("run.json")


def test_newest_run_wins_even_when_worse(tmp_path: Path) -> None:
    old = run_record(
        "t", "m", {"F1": metric(0.9)}, headline="F1", run_id="a", finished="2026-11-02T00:00:00Z"
    )
    new = run_record(
        "t", "m", {"F1": metric(0.1)}, headline="F1", run_id="b", finished="2026-11-03T00:00:00+00:00"
    )
    (row,) = summarise([new, old])["tasks"][0]["rows"]
    assert row["run_id"] == "b" and row["superseded"] == ["a"]


def test_ties_share_rank_and_nan_becomes_null() -> None:
    runs = [
        run_record("t", m, {"F1": metric(v)}, headline="F1") for m, v in [("a", 0.5), ("b", 0.5), ("c", 0.2)]
    ]
    runs[2]["metrics"]["F1"]["value"] = float("nan")
    rows = summarise(runs)["tasks"][0]["rows"]
    assert [(r["model"], r["rank"]) for r in rows] == [("a", 1), ("b", 1), ("c", None)]
    assert rows[2]["headline"]["value"] is None


class _Table(HTMLParser):
    """Collects, per table, the ``data-model`` of each body row and every cell's text."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and dict(attrs).get("data-model"):
            self.tables[-1].append(dict(attrs)["data-model"] or "")


def test_site_files(site: Path) -> None:
    assert (site / "index.html").is_file()
    assert (site / "static" / "leaderboard.css").is_file() and (site / "static" / "sortable.js").is_file()
    summary = json.loads((site / "summary.json").read_text(encoding="utf-8"))
    assert len(summary["tasks"]) == 2


def test_html_rows_order_and_content(site: Path) -> None:
    html = (site / "index.html").read_text(encoding="utf-8")
    parser = _Table()
    parser.feed(html)
    assert parser.tables == [["vlm", "iforest", "random"], ["iforest", "vlm", "random"]]
    assert "VLM Reasoner" in html and "7B params" in html
    assert '—<span class="visually-hidden"> undefined</span>' in html  # said in text, not only in a tooltip
    assert "NaN" not in html and "nan" not in re.sub(r"<[^>]+>", "", html).split()
    assert "[0.500, 0.700]" in html  # headline CI
    assert "s-7" in html and "TimeoutError: no answer" in html
    assert "1h 02m" in html and "10.0%" in html
    assert "fp-toy-inter" in html and "visanom 0.1.0" in html
    assert "0.990" not in html  # the superseded run is not shown
    assert "static/sortable.js" in html and "://" not in html.split("<body>")[0]  # no CDN


def test_html_escapes_untrusted_text(site: Path) -> None:
    html = (site / "index.html").read_text(encoding="utf-8")
    assert XSS not in html
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in html
    assert re.findall(r"<script\b[^>]*>", html) == [  # only the site's own scripts, from static/
        '<script src="static/sortable.js" defer>', '<script src="static/filter.js" defer>',
        '<script src="static/columns.js" defer>']


def test_unsafe_link_dropped() -> None:
    assert safe_url("javascript:alert(1)") is None and safe_url("https://x.org") == "https://x.org"


def test_formatters() -> None:
    assert fmt_number(None) == "—" and fmt_number(float("nan")) == "—" and fmt_number(1.0) == "1.000"
    assert fmt_number(12345) == "12,345" and fmt_duration(5.25) == "5.2 s" and fmt_duration(125) == "2m 05s"


def test_module_cli(results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["leaderboard", "build", str(results), "--out", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    assert "leaderboard written to" in captured.out and "index.html" in captured.out
    assert "visanom: skipped toy-scores/broken/abc/run.json: not valid JSON" in captured.err


def test_footer_fingerprint_mismatch_and_limit(tmp_path: Path) -> None:
    new = run_record("t", "a", {"F1": metric(0.5)}, headline="F1", finished="2026-11-03T00:00:00Z")
    old = run_record("t", "b", {"F1": metric(0.4)}, headline="F1", finished="2026-11-02T00:00:00Z")
    old["task"]["fingerprint"], old["limit"] = "fp-older", 5
    for record in (new, old):
        write_run(tmp_path / "results", record)
    when = datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc)
    html = build_site(tmp_path / "results", tmp_path / "site", generated=when).read_text(encoding="utf-8")
    assert "2026-01-02 03:04 UTC" in html and 'datetime="2026-01-02T03:04:00+00:00"' in html
    assert html.count("other task version") == 1
    assert any("fp-older" in p.read_text(encoding="utf-8") for p in (tmp_path / "site" / "models").rglob("*.html"))
    assert "limit 5" in html


def test_tokens_and_cost_come_from_usage_and_the_cards_prices() -> None:
    """The row's cost is estimated from the model card's prices per million tokens (providers
    report no cost, and nothing writes one into run.json); tokens count either naming."""
    priced = run_record("t", "api", {"F1": metric(0.5)}, headline="F1",
                        display={"price_per_mtok_in": 2.0, "price_per_mtok_out": 8.0})
    priced["usage"] = {"input_tokens": 500_000, "output_tokens": 250_000}
    free = run_record("t", "det", {"F1": metric(0.4)}, headline="F1")
    rows = {r["model"]: r for r in summarise([priced, free])["tasks"][0]["rows"]}
    assert rows["api"]["tokens"] == 750_000 and rows["api"]["cost"] == pytest.approx(3.0)
    assert rows["det"]["tokens"] is None and rows["det"]["cost"] is None
