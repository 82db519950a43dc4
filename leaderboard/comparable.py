"""When a published value may sit beside a run, and the Δ (with its CI) when it may.

A published number covers a fixed set of series: TSB-AD's means and the paper's TSB-AD-U
table cover the 350 series of the official evaluation list; the paper's VisAnomBench table
covers the 740 test items built by the paper profile from GutenTAG, KPI, UCR-EGI and
UCR-TSAD. A run is *comparable* only when it covers that same set (checked from what
``run.json`` records: the task's list or build profile, sources and split, and how many
samples were scored). Otherwise the page shows the published value with a note such as
``not comparable: 1 of 350 series`` and no Δ.

Like with like: TSB-AD's published means count a failed series as 0, the paper's pooled
counts a failed answer as no detection; ``run.json`` keeps that reading in
``metrics_fail_as_zero``, so Δ is that value minus the published one (the basis is named on
the page). Its CI is the run's 95% bootstrap CI shifted by the published value when no
sample failed (the shift is exact then); for TSB-AD, where per-series published values
exist, :func:`paired_delta` replaces it by a paired bootstrap over the same series (failed
series as 0) and a Wilcoxon signed-rank test. ``inside`` says whether the published value
lies inside our CI (the plain CI of the run, or of the paired differences around 0).
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from harness.records.samples import read_samples
from harness.records.store import SAMPLES_FILE
from harness.scoring.metrics import mean_with_ci
from leaderboard.reported import TASKS

PER_SERIES = Path(__file__).parent / "data" / "tsb_ad_u_vus_pr_eva.csv.gz"
"""TSB-AD's published per-series VUS-PR, the rows of the evaluation list only (gzip CSV)."""
PAPER_SOURCES = ("GutenTAG", "KPI", "UCR-EGI", "UCR-TSAD")


@dataclass(frozen=True)
class Scope:
    """What a published table covers, and how a failure counts there."""

    unit: str
    n: int
    file_list: str | None = None
    profile: str | None = None
    sources: tuple[str, ...] = ()
    split: str | None = None
    basis: str = ""


_TSB = Scope("series", 350, file_list="eva",
             basis="our fail-as-zero mean (a failed series counts 0, as in TSB-AD's published means)")
SCOPES = {
    "tsb-ad": _TSB,
    "tsb-vlm": Scope("series", 350, file_list="eva",
                     basis="our fail-as-zero values (a failed window counts as no detection)"),
    "vab": Scope("test items", 740, profile="paper", sources=PAPER_SOURCES, split="test",
                 basis="our fail-as-zero values (a failed answer counts as no detection, as in the paper's "
                       "pooled counts)"),
}


def _count(value: Any) -> int | None:
    """``value`` when it is an int (not a bool), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def coverage(table: str, run: Mapping[str, Any]) -> dict[str, Any]:
    """``{comparable, covered, of, unit, note}`` of ``run`` against published ``table``
    (a key of :data:`SCOPES`); ``note`` is empty when comparable."""
    scope = SCOPES[table]
    task = run.get("task") if isinstance(run.get("task"), Mapping) else {}
    display = task.get("display") if isinstance(task.get("display"), Mapping) else {}
    args = task.get("args") if isinstance(task.get("args"), Mapping) else {}
    counts = run.get("counts") if isinstance(run.get("counts"), Mapping) else {}
    covered = _count(counts.get("n"))
    reasons: list[str] = []
    series = run.get("series_counts") if isinstance(run.get("series_counts"), Mapping) else {}
    if scope.unit == "series" and _count(series.get("n_series")) is not None:
        # a windowed view (tsb-ad-u-vlm) has one sample per window: count the series it covers,
        # and a row limit may stop inside a series (its last windows then are not scored)
        covered = _count(series.get("n_series"))
        limit = _count(run.get("limit"))
        if limit is not None and _count(counts.get("n")) is not None and counts["n"] >= limit:
            reasons.append(f"limit {limit} (the last series may be cut)")
    if covered != scope.n:
        reasons.append(f"{'?' if covered is None else covered} of {scope.n} {scope.unit}")
    if scope.file_list is not None:
        listed = display.get("file_list", args.get("file_list"))
        if listed != scope.file_list:
            reasons.append(f"list {listed or 'unknown'} (published: {scope.file_list})")
    if scope.profile is not None:
        profile = display.get("profile")
        if profile != scope.profile:
            reasons.append(f"profile {profile or 'unknown'} (published: {scope.profile})")
    if scope.sources:
        sources = display.get("sources")
        have = tuple(sorted(str(s) for s in sources)) if isinstance(sources, (list, tuple)) else ()
        if have != tuple(sorted(scope.sources)):
            reasons.append(f"sources {', '.join(have) or 'unknown'} (published: {', '.join(scope.sources)})")
    if scope.split is not None and display.get("split", args.get("split")) != scope.split:
        reasons.append(f"split {display.get('split') or 'unknown'} (published: {scope.split})")
    return {"comparable": not reasons, "covered": covered, "of": scope.n, "unit": scope.unit,
            "note": "not comparable: " + "; ".join(reasons) if reasons else ""}


def delta(table: str, row: Mapping[str, Any], headline: str | None, published: float | None) -> dict[str, Any]:
    """Δ of a measured summary row against a published value: ``{diff, ci, inside, basis,
    method, ours}``; all None (with the coverage note as ``method``) when not comparable."""
    cov = row.get("coverage") or {}
    out: dict[str, Any] = {"diff": None, "ci": None, "inside": None, "ours": None, "p_value": None,
                           "basis": SCOPES[table].basis, "method": cov.get("note") or ""}
    if not cov.get("comparable") or headline is None or published is None:
        return out
    plain = row["metrics"].get(headline) or {}
    zero = (row.get("metrics_fail_as_zero") or {}).get(headline) or {}
    ours = zero.get("value") if zero.get("value") is not None else plain.get("value")
    if ours is None:
        return {**out, "method": "no measured value"}
    out.update(ours=ours, diff=ours - published)
    failed = (row.get("counts") or {}).get("n_failed") or 0
    ci = plain.get("ci95")
    if failed == 0 and ci:
        out.update(ci=[ci[0] - published, ci[1] - published], inside=bool(ci[0] <= published <= ci[1]),
                   method="the run's 95% bootstrap CI shifted by the published value")
    else:
        out["method"] = f"no CI: {failed} failed sample(s) count 0 and the run's CI leaves them out"
    return out


def _wilcoxon_p(diffs: list[float]) -> float | None:
    """The Wilcoxon signed-rank p-value of paired differences; None where scipy is not installed
    (it is not a core dependency: the CI still stands)."""
    try:
        from scipy.stats import wilcoxon
    except ImportError:
        return None
    return float(wilcoxon(diffs).pvalue)


def paired_delta(ours: Mapping[str, float | None], published: Mapping[str, float], *,
                 seed: int = 0) -> dict[str, Any]:
    """Paired comparison over the published series: our value per series (None = failed,
    counted 0) minus the published one. ``{diff, ci, inside, p_value, n, method}``;
    ``inside`` is whether 0 (no difference) lies in the CI of the mean paired difference."""
    missing = sorted(set(published) - set(ours))
    if missing:
        raise ValueError(f"run lacks {len(missing)} of the {len(published)} published series (e.g. {missing[0]})")
    diffs = [(ours[k] or 0.0) - published[k] for k in sorted(published)]
    m = mean_with_ci(diffs, seed=seed)
    nonzero = any(abs(d) > 1e-12 for d in diffs)
    p = _wilcoxon_p(diffs) if nonzero else 1.0
    lo, hi = m["ci_low"], m["ci_high"]
    return {"diff": m["mean"], "ci": [lo, hi], "inside": bool(lo <= 0.0 <= hi), "p_value": p, "n": m["n"],
            "method": f"paired bootstrap over the {m['n']} series (ours minus published per series), "
                      "Wilcoxon signed-rank p"}


def published_per_series(per_series_csv: Path, eval_list_csv: Path) -> bytes:
    """The rows of TSB-AD's per-series table for the evaluation list, as CSV bytes (header kept)."""
    with open(eval_list_csv, newline="") as fh:
        wanted = {row["file_name"] for row in csv.DictReader(fh)}
    with open(per_series_csv, newline="") as fh:
        lines = fh.read().splitlines()
    kept = [lines[0]] + [line for line in lines[1:] if line.split(",", 1)[0] in wanted]
    if len(kept) - 1 != len(wanted):
        raise ValueError(f"{per_series_csv} covers {len(kept) - 1} of the {len(wanted)} listed series")
    return ("\n".join(kept) + "\n").encode("utf-8")


@lru_cache(maxsize=1)
def shipped_per_series() -> dict[str, dict[str, float]]:
    """Detector -> {series id (file stem) -> published VUS-PR} from :data:`PER_SERIES`."""
    text = gzip.decompress(PER_SERIES.read_bytes()).decode("utf-8")
    meta = {"ts_len", "anomaly_len", "num_anomaly", "avg_anomaly_len", "anomaly_ratio", "point_anomaly",
            "seq_anomaly"}
    out: dict[str, dict[str, float]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        sid = row["file"].removesuffix(".csv")
        for key, value in row.items():
            if key != "file" and key not in meta:
                out.setdefault(key, {})[sid] = float(value)
    return out


def per_series_values(records: Sequence[Mapping[str, Any]], headline: str) -> dict[str, float | None]:
    """Series id -> our headline value (None for a failed or unscored sample)."""
    out: dict[str, float | None] = {}
    for rec in records:
        metrics = rec.get("metrics") if isinstance(rec.get("metrics"), Mapping) else {}
        value = metrics.get(headline) if rec.get("error") is None else None
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        out[str(rec.get("sample_id"))] = float(value) if ok else None
    return out


def attach_paired(summary: Mapping[str, Any], results_dir: Path) -> None:
    """Replace the shifted-CI Δ of each comparable TSB-AD row by the paired comparison over the
    350 series (reads the row's ``samples.jsonl``); a row whose samples do not cover every
    published series keeps its Δ and says why in ``method``."""
    for task in summary["tasks"]:
        headline = task["headline"]
        if TASKS.get(task["name"]) != "tsb-ad" or headline != "VUS-PR":
            continue
        reported = {r["name"]: r for r in task["reported"]}
        for row in task["rows"]:
            rep = row.get("reported")
            published = shipped_per_series().get(rep["name"]) if rep and rep["diff"] is not None else None
            if not published or not row.get("run_dir"):
                continue
            records, _ = read_samples(Path(results_dir) / row["run_dir"] / SAMPLES_FILE, results_dir)
            try:
                paired = paired_delta(per_series_values(records, headline), published)
            except ValueError as exc:
                rep["method"] += f"; no paired test: {exc}"
                continue
            rep.update({k: paired[k] for k in ("diff", "ci", "inside", "p_value", "method")})
            if rep["name"] in reported:
                reported[rep["name"]].update(diff=paired["diff"], diff_ci=paired["ci"])
