"""Reduce collected runs to ``summary.json``: one table per task, one row per run spec.

Rows are keyed by ``spec_id`` (a ``visanom.run/2`` record; an older record without one is
keyed by its task and model names). Selection rule: when several complete runs exist for the
same key, the newest wins, judged by ``timing.finished`` (then ``timing.started``; runs
without a parseable time count as oldest; ties go to the larger ``run_id``). The row says
which run it chose and why (``choice``) and lists the losers in ``superseded``. The summary
is plain JSON (no NaN: a non-finite or non-numeric value becomes null) so every page can be
rendered from it alone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from harness import __version__ as VISANOM_VERSION
from harness.core.errors import UsageError
from harness.core.spec import LOCATION_ARGS, RunSpec
from harness.records.figures import api_cost, token_counts
from harness.records.store import json_safe
from harness.scoring.reasoning import TEMPLATE_MET
from leaderboard.comparable import SCOPES, coverage, delta
from leaderboard.reported import TASKS, match_key, reported_rows
from leaderboard.scan import SAMPLES_KEY, SOURCE_KEY, Skipped

SUMMARY_SCHEMA = "visanom.summary/2"
COUNT_KEYS = ("n", "n_ok", "n_failed", "n_cached", "n_parse_failed", "n_undefined", "n_degenerate")
MAX_FAILURES = 50
REASONING_PREFIX = "reason-"
JUDGE_PREFIX = "judge-"  # means written by ``visanom run --judge MODEL`` (harness/scoring/judge_run.py)
REASONING_PREFIXES = (REASONING_PREFIX, JUDGE_PREFIX)
_OLDEST = datetime.min.replace(tzinfo=timezone.utc)
# The paper's groups, in its order; other groups follow, then "other".
GROUPS = ("ours", "large VLM", "small VLM", "TS foundation", "LLM/VLM detector", "classical", "deep",
          "heuristic", "other")
_GROUP_ALIASES = {
    "ours": "ours", "large vlm": "large VLM", "small vlm": "small VLM", "vlm": "small VLM",
    "ts foundation": "TS foundation", "foundation": "TS foundation", "llm/vlm detector": "LLM/VLM detector",
    "llm detector": "LLM/VLM detector", "vlm detector": "LLM/VLM detector", "classical": "classical",
    "deep": "deep", "heuristic": "heuristic", "heuristic baseline": "heuristic",
}


def canonical_group(value: Any) -> str:
    """One of :data:`GROUPS` for a display ``group`` value (unknown or missing: ``other``)."""
    if not isinstance(value, str):
        return "other"
    text = value.strip().lower()
    if text in _GROUP_ALIASES:
        return _GROUP_ALIASES[text]
    if "llm" in text or "detector" in text:
        return "LLM/VLM detector"
    return "other"


def summarise(
    runs: Iterable[Mapping[str, Any]],
    skipped: Sequence[Skipped] = (),
    *,
    generated: datetime | None = None,
) -> dict[str, Any]:
    """Build the summary dict (see ``docs/leaderboard.md``) from collected runs."""
    chosen = select_newest(runs)
    by_task: dict[str, list[tuple[Mapping[str, Any], list[Mapping[str, Any]]]]] = {}
    for run, superseded in chosen:
        by_task.setdefault(run["task"]["name"], []).append((run, superseded))
    when = generated or datetime.now(timezone.utc)
    tasks = [_task_summary(by_task[name]) for name in sorted(by_task)]
    notes = [
        {"path": row["run_dir"] or "", "reason": row["samples_note"]}
        for task in tasks for row in task["rows"] if row["samples_note"]
    ]
    return {
        "schema": SUMMARY_SCHEMA,
        "generated": when.astimezone(timezone.utc).isoformat(timespec="seconds"),
        "visanom": VISANOM_VERSION,
        "groups": list(GROUPS),
        "tasks": tasks,
        "skipped": [{"path": s.path, "reason": s.reason} for s in skipped],
        "notes": notes,
    }


def row_key(run: Mapping[str, Any]) -> str:
    """The identity of a leaderboard row: the stored ``spec_id`` (``task|model`` for the oldest
    records); for a spec with a data location, its id as this version computes it (an older
    record's stored id hashed the location too, so the same run at two paths made two rows)."""
    spec = run.get("spec")
    if isinstance(spec, Mapping) and any(k in LOCATION_ARGS for k in (spec.get("task_args") or {})):
        try:
            return RunSpec.from_record(spec).id
        except (UsageError, KeyError, TypeError, ValueError):
            pass
    spec_id = run.get("spec_id")
    if isinstance(spec_id, str) and spec_id:
        return spec_id
    return f"{run['task']['name']}|{run['model']['name']}"


def select_newest(
    runs: Iterable[Mapping[str, Any]],
) -> list[tuple[Mapping[str, Any], list[Mapping[str, Any]]]]:
    """Keep the newest complete run per row key; return ``(run, older_runs)`` pairs."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for run in runs:
        if run.get("status") != "complete":
            continue
        groups.setdefault((run["task"]["name"], row_key(run)), []).append(run)
    out = []
    for key in sorted(groups):
        ordered = sorted(groups[key], key=run_age_key, reverse=True)
        out.append((ordered[0], ordered[1:]))
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


def _task_summary(members: list[tuple[Mapping[str, Any], list[Mapping[str, Any]]]]) -> dict[str, Any]:
    newest = max((run for run, _ in members), key=run_age_key)
    task = newest["task"]
    headline = newest.get("headline") if isinstance(newest.get("headline"), str) else None
    rows = [_row(run, superseded, headline, task.get("fingerprint")) for run, superseded in members]
    _rank(rows)
    names = [headline] if headline else []
    for row in rows:
        names += [m for m in row["metrics"] if m not in names]
    metrics = [m for m in names if not m.startswith(REASONING_PREFIXES)]
    reasoning = [m for m in names if m.startswith(REASONING_PREFIX)]
    reasoning += [m for m in names if m.startswith(JUDGE_PREFIX)]
    _mark_best(rows, metrics + reasoning)
    reported = _reported(task["name"], rows, headline)
    sizes = [row["counts"]["n"] for row in rows if row["counts"]["n"] is not None]
    present = {row["group"] for row in rows} | {r["group"] for r in reported}
    return {
        "name": task["name"],
        "display": _dict(task.get("display")),
        "version": _text(task.get("version")),
        "fingerprint": _text(task.get("fingerprint")),
        "fingerprint_short": (_text(task.get("fingerprint")) or "")[:12] or None,
        "headline": headline,
        "metrics": metrics,
        "reasoning": reasoning,
        "template_met": [m for m in reasoning if m in TEMPLATE_MET],
        "judges": sorted({row["judge"]["label"] for row in rows if row["judge"]}),
        "groups": [g for g in GROUPS if g in present],
        "breakdowns": sorted({k for row in rows for k in row["groups"]}),
        "has_degenerate": any(row["counts"]["n_degenerate"] is not None for row in rows),
        "has_usage": any(row["tokens"] is not None or row["cost"] is not None for row in rows),
        "n_samples": max(sizes) if sizes else None,
        "n_samples_min": min(sizes) if sizes else None,
        "rows": rows,
        "reported": reported,
        "reported_basis": SCOPES[TASKS[task["name"]]].basis if reported else None,
    }


def _row(
    run: Mapping[str, Any], superseded: list[Mapping[str, Any]], headline: str | None, fingerprint: Any
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
    model = run["model"]
    display = _dict(model.get("display"))
    usage = _dict(run.get("usage"))
    counts_in_out = token_counts(usage)
    tokens = None if counts_in_out is None else sum(counts_in_out)
    cost = api_cost(usage, display)  # estimated from the card's prices (providers report no cost)
    model_s = number(timing.get("model_s"))
    spec = _dict(run.get("spec"))
    label = run.get("label") if isinstance(run.get("label"), str) and run.get("label") else None
    return {
        "rank": None,
        "key": row_key(run),
        "spec_id": run.get("spec_id") if isinstance(run.get("spec_id"), str) else None,
        "label": label or str(model["name"]),
        "model": str(model["name"]),
        "group": canonical_group(display.get("group")),
        "display": display,
        "model_fingerprint": _text(model.get("fingerprint")),
        "model_args": _dict(model.get("args")),
        "task_args": _dict(task.get("args")),
        "spec": spec,
        "draws": _dict(run.get("draws")),
        "env": _dict(run.get("env")),
        "run_id": _run_id(run),
        "run_dir": run.get(SOURCE_KEY),
        "started": _text(timing.get("started")),
        "finished": _text(timing.get("finished")),
        "limit": number(run.get("limit")),
        "wall_s": number(timing.get("wall_s")),
        "latency_s": model_s / n if model_s is not None and n else None,
        "tokens": tokens,
        "cost": cost,
        "headline": metrics.get(headline) if headline else None,
        "metrics": metrics,
        "marks": {},
        "metrics_fail_as_zero": {
            str(k): metric_entry(v) for k, v in _dict(run.get("metrics_fail_as_zero")).items()
        },
        "groups": _dict(run.get("groups")),
        "counts": counts,
        "parse_failure_rate": n_parse / n if n and n_parse is not None else None,
        "failures": _failures(run.get("failures")),
        "usage": usage,
        "task_version": _text(task.get("version")),
        "task_fingerprint": _text(task.get("fingerprint")),
        "same_task_fingerprint": task.get("fingerprint") == fingerprint,
        "superseded": [_run_id(r) for r in superseded],
        "choice": _choice(run, superseded),
        "samples_note": _samples_note(run, n),
        "judge": _judge(run.get("judge")),
        "reported": None,
        "coverage": coverage(TASKS[task["name"]], run) if task["name"] in TASKS else None,
    }


def _judge(raw: Any) -> dict[str, Any] | None:
    """The ``judge`` entry of a judged run (who graded, with which arguments and template, how
    many; ``label`` adds the ``model`` argument to the name), else None."""
    model = raw.get("model") if isinstance(raw, Mapping) else None
    if not isinstance(model, str) or not model:
        return None
    counts = {k: number(raw.get(k)) for k in ("n_judged", "n_unparsable")}
    args = _dict(raw.get("args"))
    served = args.get("model")  # e.g. the served model behind openai-compat
    return {"model": model, "args": args,
            "label": f"{model} ({served})" if isinstance(served, str) and served else model, "template": _text(raw.get("template")),
            "template_hash": _text(raw.get("template_hash")),
            **{k: int(v) if v is not None else None for k, v in counts.items()}}


def _choice(run: Mapping[str, Any], superseded: list[Mapping[str, Any]]) -> str:
    """Why this run is the row: the only complete run, or the newest of several."""
    if not superseded:
        return "the only complete run of this spec"
    when = run_age_key(run)[0]
    stamp = "no time" if when == _OLDEST else when.isoformat(timespec="seconds")
    older = ", ".join(f"{_run_id(r)} ({_finished_text(r)})" for r in superseded)
    return f"newest of {len(superseded) + 1} complete runs of this spec (finished {stamp}); older: {older}"


def _finished_text(run: Mapping[str, Any]) -> str:
    when = run_age_key(run)[0]
    return "no time" if when == _OLDEST else when.isoformat(timespec="seconds")


def _samples_note(run: Mapping[str, Any], n: int | None) -> str | None:
    """A disagreement between ``run.json``'s count and ``samples.jsonl``, else None."""
    stat = run.get(SAMPLES_KEY)
    if n is None:
        return None
    if stat is None:
        return f"run.json says n={n} but samples.jsonl is missing"
    if stat["lines"] != n:
        return f"run.json says n={n} but samples.jsonl holds {stat['lines']} records"
    return None


def _mark_best(rows: list[dict[str, Any]], metrics: Sequence[str]) -> None:
    """Mark the best and second-best value of each metric (higher is better; ties share).

    Nothing is marked when fewer than two rows have a value, or when every value is equal:
    a mark says one row beat another."""
    for metric in metrics:
        present = [row["metrics"][metric]["value"] for row in rows
                   if metric in row["metrics"] and row["metrics"][metric]["value"] is not None]
        values = sorted(set(present), reverse=True)
        if len(present) < 2 or len(values) < 2:
            continue
        for row in rows:
            entry = row["metrics"].get(metric)
            if entry is None or entry["value"] is None:
                continue
            if entry["value"] == values[0]:
                row["marks"][metric] = "best"
            elif len(values) > 1 and entry["value"] == values[1]:
                row["marks"][metric] = "second"


def _reported(task_name: str, rows: list[dict[str, Any]], headline: str | None) -> list[dict[str, Any]]:
    """Published rows for the task, each linked to our measured row of the same model; Δ only
    where that row covers the published series (:mod:`leaderboard.comparable`)."""
    published = reported_rows(task_name)
    by_key: dict[str, dict[str, Any]] = {}
    for row in rows:
        for name in (row["display"].get("paper_row"), row["model"], row["label"]):
            if isinstance(name, str) and name:
                by_key.setdefault(match_key(name), row)
    out = []
    for item in published:
        ours = by_key.get(match_key(item["name"]))
        value = item["metrics"].get(headline) if headline else None
        d = delta(TASKS[task_name], ours, headline, value) if ours is not None else None
        entry = {**item, "headline": value, "ours": ours["key"] if ours else None,
                 "ours_label": ours["label"] if ours else None, "diff": d["diff"] if d else None,
                 "diff_ci": d["ci"] if d else None, "note": d["method"] if d and d["diff"] is None else ""}
        out.append(entry)
        if ours is not None and d is not None and ours["reported"] is None:
            ours["reported"] = {"name": item["name"], "value": value, "source": item["source"],
                                "comparable": bool(ours["coverage"]["comparable"]), "note": ours["coverage"]["note"],
                                **{k: d[k] for k in ("diff", "ci", "inside", "p_value", "basis", "method", "ours")}}
    out.sort(key=lambda r: (r["headline"] is None, -(r["headline"] or 0.0), r["name"]))
    return out


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
