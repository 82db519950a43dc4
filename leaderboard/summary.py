"""Reduce collected runs to ``summary.json``: one table per task, one row per run spec.

A row is a run spec (``spec_id``; its display ``label`` names the model and every
non-default setting), so two runs of one model with other arguments are two rows.
Selection rule: when several complete runs exist for the same spec, the newest wins, judged by ``timing.finished`` (then ``timing.started``; runs without a
parseable time count as oldest; ties go to the larger ``run_id``). The losers are listed
in the row's ``superseded``. The summary is plain JSON (no NaN: a non-finite or
non-numeric value becomes null) so later pages can be rendered from it alone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from harness import __version__ as VISANOM_VERSION
from harness.records import RecordError, json_safe, migrate_run
from leaderboard.records import SOURCE_KEY, Skipped

SUMMARY_SCHEMA = "visanom.summary/1"
COUNT_KEYS = ("n", "n_ok", "n_failed", "n_cached", "n_parse_failed", "n_undefined")
MAX_FAILURES = 50
_OLDEST = datetime.min.replace(tzinfo=timezone.utc)


def summarise(
    runs: Iterable[Mapping[str, Any]],
    skipped: Sequence[Skipped] = (),
    *,
    generated: datetime | None = None,
) -> dict[str, Any]:
    """Build the summary dict (see ``docs/leaderboard.md``) from collected runs."""
    chosen = select_newest(runs)
    by_task: dict[str, list[tuple[Mapping[str, Any], list[str]]]] = {}
    for run, superseded in chosen:
        by_task.setdefault(run["task"]["name"], []).append((run, superseded))
    when = generated or datetime.now(timezone.utc)
    return {
        "schema": SUMMARY_SCHEMA,
        "generated": when.astimezone(timezone.utc).isoformat(timespec="seconds"),
        "visanom": VISANOM_VERSION,
        "tasks": [_task_summary(by_task[name]) for name in sorted(by_task)],
        "skipped": [{"path": s.path, "reason": s.reason} for s in skipped],
    }


def spec_key(run: Mapping[str, Any]) -> str:
    """The identity of a run's row: its ``spec_id`` (an older record is migrated for it)."""
    spec_id = run.get("spec_id")
    if not isinstance(spec_id, str) or not spec_id:
        try:
            spec_id = migrate_run(dict(run)).get("spec_id")
        except RecordError:
            spec_id = None
    return str(spec_id or f"{run['task']['name']}\0{run['model']['name']}")


def row_label(run: Mapping[str, Any]) -> str:
    """The display label of a run's row (the model name for a record without one)."""
    label = run.get("label")
    return label if isinstance(label, str) and label else str(run["model"]["name"])


def select_newest(runs: Iterable[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], list[str]]]:
    """Keep the newest complete run per (task, spec); return ``(run, superseded_run_ids)`` pairs."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for run in runs:
        if run.get("status") != "complete":
            continue
        groups.setdefault((run["task"]["name"], spec_key(run)), []).append(run)
    out = []
    for key in sorted(groups):
        ordered = sorted(groups[key], key=run_age_key, reverse=True)
        out.append((ordered[0], [_run_id(r) for r in ordered[1:]]))
    return out


def run_age_key(run: Mapping[str, Any]) -> tuple[datetime, str]:
    """Sort key: the run's finish (or start) time, then its id."""
    timing = run.get("timing") if isinstance(run.get("timing"), Mapping) else {}
    when = parse_time(timing.get("finished")) or parse_time(timing.get("started")) or _OLDEST
    return when, _run_id(run)


def parse_time(value: Any) -> datetime | None:
    """Parse an ISO-8601 time (``Z`` allowed, naive means UTC); None when absent or invalid."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def number(value: Any) -> float | int | None:
    """A finite int/float (bools excluded), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


def metric_entry(raw: Any) -> dict[str, Any]:
    """Normalise one metric to ``{value, ci95, n}`` (a bare number is accepted as the value)."""
    if not isinstance(raw, Mapping):
        return {"value": number(raw), "ci95": None, "n": None}
    ci = raw.get("ci95")
    bounds = [number(x) for x in ci] if isinstance(ci, (list, tuple)) and len(ci) == 2 else [None]
    n = number(raw.get("n"))
    return {
        "value": number(raw.get("value")),
        "ci95": bounds if None not in bounds else None,
        "n": int(n) if n is not None else None,
    }


def _task_summary(members: list[tuple[Mapping[str, Any], list[str]]]) -> dict[str, Any]:
    newest = max((run for run, _ in members), key=run_age_key)
    task = newest["task"]
    headline = newest.get("headline") if isinstance(newest.get("headline"), str) else None
    rows = [_row(run, superseded, headline, task.get("fingerprint")) for run, superseded in members]
    _rank(rows)
    names = [headline] if headline else []
    for row in rows:
        names += [m for m in row["metrics"] if m not in names]
    sizes = [row["counts"]["n"] for row in rows if row["counts"]["n"] is not None]
    return {
        "name": task["name"],
        "display": _dict(task.get("display")),
        "version": _text(task.get("version")),
        "fingerprint": _text(task.get("fingerprint")),
        "fingerprint_short": (_text(task.get("fingerprint")) or "")[:12] or None,
        "headline": headline,
        "metrics": names,
        "n_samples": max(sizes) if sizes else None,
        "n_samples_min": min(sizes) if sizes else None,
        "rows": rows,
    }


def _row(
    run: Mapping[str, Any], superseded: list[str], headline: str | None, fingerprint: Any
) -> dict[str, Any]:
    metrics = {str(k): metric_entry(v) for k, v in run["metrics"].items()}
    counts_raw = _dict(run.get("counts"))
    counts = {}
    for key in COUNT_KEYS:
        value = number(counts_raw.get(key))
        counts[key] = int(value) if value is not None else None
    n, n_parse = counts["n"], counts["n_parse_failed"]
    timing = _dict(run.get("timing"))
    task = run["task"]
    return {
        "rank": None,
        "spec_id": spec_key(run),
        "label": row_label(run),
        "model": run["model"]["name"],
        "display": _dict(run["model"].get("display")),
        "model_fingerprint": _text(run["model"].get("fingerprint")),
        "run_id": _run_id(run),
        "run_dir": run.get(SOURCE_KEY),
        "finished": _text(timing.get("finished")),
        "limit": number(run.get("limit")),
        "wall_s": number(timing.get("wall_s")),
        "headline": metrics.get(headline) if headline else None,
        "metrics": metrics,
        "metrics_fail_as_zero": {
            str(k): metric_entry(v) for k, v in _dict(run.get("metrics_fail_as_zero")).items()
        },
        "groups": _dict(run.get("groups")),
        "counts": counts,
        "parse_failure_rate": n_parse / n if n and n_parse is not None else None,
        "failures": _failures(run.get("failures")),
        "usage": _dict(run.get("usage")),
        "task_version": _text(task.get("version")),
        "task_fingerprint": _text(task.get("fingerprint")),
        "same_task_fingerprint": task.get("fingerprint") == fingerprint,
        "superseded": superseded,
    }


def _rank(rows: list[dict[str, Any]]) -> None:
    """Sort rows by headline value (descending, undefined last) and set competition ranks."""

    def key(row: dict[str, Any]) -> tuple[bool, float, str]:
        value = (row["headline"] or {}).get("value")
        return value is None, -(value or 0.0), row["label"]

    rows.sort(key=key)
    previous, rank = None, 0
    for position, row in enumerate(rows, start=1):
        value = (row["headline"] or {}).get("value")
        if value is None:
            continue
        if value != previous:
            rank, previous = position, value
        row["rank"] = rank


def _failures(raw: Any) -> list[dict[str, str]]:
    if not isinstance(raw, list):
        return []
    out = []
    for item in raw[:MAX_FAILURES]:
        if isinstance(item, Mapping):
            out.append({"sample_id": str(item.get("sample_id", "?")), "error": str(item.get("error", ""))})
    return out


def _run_id(run: Mapping[str, Any]) -> str:
    return str(run.get("run_id") or run.get(SOURCE_KEY) or "")


def _dict(value: Any) -> dict[str, Any]:
    return json_safe(dict(value)) if isinstance(value, Mapping) else {}


def _text(value: Any) -> str | None:
    return str(value) if value is not None else None
