"""Render summary dicts to HTML with jinja2 (autoescape always on: model text is untrusted).

Data a page's script needs is embedded with :func:`embed_json` in a
``<script type="application/json">`` element (``<``, ``>`` and ``&`` escaped), never as code;
every page carries a Content-Security-Policy that allows scripts from the site's own
``static/`` folder only.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import timezone
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import jinja2

from leaderboard import breakdown, glossary
from leaderboard.summary import GROUPS, parse_time

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
UNDEFINED_MARK = "—"
LABEL_KEYS = ("label", "display_name", "title", "name")
CHIP_KEYS = ("group", "family", "kind", "supervision", "params", "provider", "org")
TASK_HIDDEN_KEYS = (*LABEL_KEYS, "description", "headline", "url")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The shared jinja2 environment with the leaderboard's filters."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        num=fmt_number,
        ci=fmt_ci,
        pct=fmt_percent,
        duration=fmt_duration,
        sortkey=sort_key,
        slug=slug,
        when=fmt_time,
    )
    env.filters.update(signed=fmt_signed, group_class=group_class, kv=fmt_display, money=fmt_money)
    env.globals.update(
        board_order=board_order, model_view=model_view, task_view=task_view, chart_view=chart_view,
        UNDEFINED_MARK=UNDEFINED_MARK, CSP=CSP,
        index_columns=index_columns, ci_units=ci_units, gloss=glossary.entry, ordered_metrics=ordered_metrics,
    )
    return env


CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "base-uri 'none'; form-action 'none'; object-src 'none'")
DEFAULT_SITE = {"title": "visanom leaderboard", "base_url": None}


def embed_json(data: Any) -> str:
    """JSON for a ``<script type="application/json">`` element: ``<``, ``>`` and ``&`` escaped,
    so no text inside can close the element or open another."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)


def render_index(summary: dict[str, Any], root: str = "", site: dict[str, Any] | None = None) -> str:
    """The leaderboard's front page; ``root`` is the relative path to the site root."""
    return _render("index.html.j2", summary=summary, root=root, site=site or DEFAULT_SITE, page="index")


def render_glossary(summary: dict[str, Any], site: dict[str, Any]) -> str:
    """The metric glossary: every metric on the site first (in table order), then the other known ones."""
    names: dict[str, None] = {}
    for task in summary["tasks"]:
        for metric in [*task["metrics"], *task["reasoning"]]:
            names.setdefault(metric, None)
    for metric in glossary.METRICS:
        names.setdefault(metric, None)
    return _render("glossary.html.j2", summary=summary, entries=[glossary.entry(m) for m in names], root="",
                   site=site, page="glossary")


def leaderboard_csv(summary: dict[str, Any]) -> str:
    """Every measured row of every task as CSV: identity, counts, then value and CI bounds of
    each metric. A text cell that a spreadsheet would read as a formula gets a leading ``'``."""
    import csv
    import io

    metrics: dict[str, None] = {}
    for task in summary["tasks"]:
        for metric in [*task["metrics"], *task["reasoning"]]:
            metrics.setdefault(metric, None)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    header = ["task", "rank", "label", "model", "spec_id", "group", "n", "n_failed"]
    for metric in metrics:
        header += [metric, f"{metric} ci_low", f"{metric} ci_high", f"{metric} n"]
    writer.writerow(header)

    def text(value: Any) -> Any:
        if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
            return "'" + value
        return "" if value is None else value

    for task in summary["tasks"]:
        for row in task["rows"]:
            line = [text(task["name"]), text(row["rank"]), text(row["label"]), text(row["model"]), text(row["key"]),
                    text(row["group"]), text(row["counts"]["n"]), text(row["counts"]["n_failed"])]
            for metric in metrics:
                entry = row["metrics"].get(metric) or {}
                ci = entry.get("ci95") or [None, None]
                line += [text(entry.get("value")), text(ci[0]), text(ci[1]), text(entry.get("n"))]
            writer.writerow(line)
    return buf.getvalue()


def render_model(summary: dict[str, Any], task: dict[str, Any], row: dict[str, Any], site: dict[str, Any]) -> str:
    """A row's model page: spec, fingerprints, versions, dates, arguments, failures."""
    return _render("model.html.j2", summary=summary, task=task, row=row, root="../../", site=site, page="model")


def render_breakdown(summary: dict[str, Any], task: dict[str, Any], site: dict[str, Any]) -> str:
    """A task's breakdown page: the headline per group of every breakdown key in ``run.json``."""
    tables = breakdown_tables(task)
    return _render("breakdown.html.j2", summary=summary, task=task, tables=tables, root="../../", site=site,
                   page="breakdown", MIN_N=breakdown.MIN_N)


def samples_context(
    summary: dict[str, Any], task: dict[str, Any], row: dict[str, Any], site: dict[str, Any]
) -> dict[str, Any]:
    """The picklable context of a sample page (the entries are added by the worker)."""
    return {"summary": {"generated": summary["generated"], "visanom": summary["visanom"]},
            "task": {k: task[k] for k in ("name", "slug", "headline", "display", "metrics", "reasoning")},
            "row": {k: row[k] for k in ("key", "label", "model", "slug", "run_id", "run_dir", "group", "pages")},
            "site": site}


def render_samples(context: dict[str, Any], entries: list[dict[str, Any]], problems: list[str]) -> str:
    """A run's sample viewer: one page, every sample embedded as JSON, drawn by viewer.js."""
    data = {"task": context["task"]["name"], "headline": context["task"]["headline"], "label": context["row"]["label"],
            "compare": f"../../tasks/{context['task']['slug']}/compare.html", "root": "../../",
            "samples": entries}
    return _render("samples.html.j2", **context, data_json=embed_json(data), n=len(entries), problems=problems,
                   root="../../", page="samples")


COMPARE_KEYS = ("IoU", "TP", "FP", "FN", "Point-F1")
"""Per-sample values the compare page shows beside the headline (when a run records them)."""


def compare_fragments(entries: list[dict[str, Any]], headline: str | None) -> dict[str, Any]:
    """What the compare page needs from one run, as ready-to-embed JSON text (escaped like
    :func:`embed_json`), so a rebuild can splice cached runs without parsing them:
    ``ids`` (list), ``truth`` (``{id: {gt, offset, length, series}}`` text) and ``samples``
    (``{id: [status, predicted intervals, headline value, degenerate, {key: value}]}`` text,
    the last holding the per-sample :data:`COMPARE_KEYS`)."""
    parts = []
    for e in entries:
        head = embed_json({"gt": e["gt"], "offset": e["offset"], "length": e["length"]})
        parts.append(embed_json(e["id"]) + ":" + head[:-1] + ',"series":' + _series_json(e.get("series")) + "}")
    samples = {}
    for e in entries:
        value = e["metrics"].get(headline) if headline else None
        values = {}
        for key in COMPARE_KEYS:
            v = e["counts"].get(key, e["metrics"].get(key))
            if v is not None:
                values[key] = round(v, 4) if isinstance(v, float) else v
        samples[e["id"]] = [e["status"], e["pred"], round(value, 4) if isinstance(value, float) else value,
                            e["degenerate"], values]
    return {"ids": [e["id"] for e in entries], "truth": "{" + ",".join(parts) + "}", "samples": embed_json(samples)}


_SERIES_JSON: dict[int, tuple[Any, str]] = {}


def _series_json(series: Any) -> str:
    """The embedded JSON of a series envelope, once per envelope object in this process (the
    sample views share one envelope per input, so every run of a task reuses it)."""
    if series is None:
        return "null"
    hit = _SERIES_JSON.get(id(series))
    if hit is not None and hit[0] is series:
        return hit[1]
    if len(_SERIES_JSON) > 20_000:
        _SERIES_JSON.clear()
    text = embed_json(series)
    _SERIES_JSON[id(series)] = (series, text)  # the reference keeps the id from being reused
    return text


def render_compare(
    summary: dict[str, Any], task: dict[str, Any], compact: dict[str, dict[str, Any]], site: dict[str, Any]
) -> str:
    """A task's sample-across-models page: one sample, every model's prediction on it.

    The page data is spliced from each run's :func:`compare_fragments`: ids in row order (first
    seen first), the truth of the run covering most samples, and each model's predictions."""
    ids: dict[str, None] = {}
    truth, covered = "{}", -1
    models = []
    for row in task["rows"]:
        part = compact.get(row["key"]) or {"ids": [], "truth": "{}", "samples": "{}"}
        for sample_id in part["ids"]:
            ids.setdefault(sample_id, None)
        if len(part["ids"]) > covered:
            truth, covered = part["truth"], len(part["ids"])
        head = embed_json({"label": row["label"], "href": "../../" + row["pages"]["samples"], "group": row["group"]})
        models.append(head[:-1] + ',"samples":' + part["samples"] + "}")
    data_json = ('{"headline":' + embed_json(task["headline"]) + ',"ids":' + embed_json(list(ids))
                 + ',"truth":' + truth + ',"models":[' + ",".join(models) + "]}")
    return _render("compare.html.j2", summary=summary, task=task, data_json=data_json, root="../../",
                   site=site, page="compare")


DEFAULT_OTHER_METRICS = 3
"""Metrics shown by default after the headline (the column picker shows the rest)."""


def index_columns(task: dict[str, Any]) -> list[dict[str, Any]]:
    """The index table's columns in order: ``id``, ``label``, sort ``type`` and default
    ``order``, ``show`` (in the short default set), ``fixed`` (never hidden), ``gloss`` anchor.

    The default set is rank, model, the headline, the next :data:`DEFAULT_OTHER_METRICS`
    metrics, Δ reported, group, n and failed; the column picker shows the others."""
    cols: list[dict[str, Any]] = [
        {"id": "rank", "label": "#", "type": "num", "order": "asc", "show": True, "fixed": True, "cls": "num"},
        {"id": "model", "label": "Model", "type": "text", "order": "asc", "show": True, "fixed": True, "cls": ""},
    ]
    for k, metric in enumerate(task["metrics"]):
        headline = metric == task["headline"]
        cols.append({"id": f"m:{metric}", "kind": "metric", "metric": metric, "label": metric, "type": "num",
                     "order": "desc", "show": k <= DEFAULT_OTHER_METRICS, "fixed": headline,
                     "cls": "num headline" if headline else "num", "sub": "95% CI" if headline else None,
                     "gloss": glossary.anchor(metric)})
    if task["reported"]:
        cols.append({"id": "delta", "label": "Δ reported", "type": "num", "order": "desc", "show": True, "cls": "num"})
    cols.append({"id": "group", "label": "Group", "type": "text", "order": "asc", "show": True, "cls": ""})
    for metric in task["reasoning"]:
        cols.append({"id": f"r:{metric}", "kind": "metric", "metric": metric, "label": metric, "type": "num",
                     "order": "desc", "show": False, "cls": "num reasoning", "gloss": glossary.anchor(metric)})
    plain = [("n", "n", "desc", True), ("failed", "failed", "desc", True), ("undef", "undef.", "desc", False)]
    if task["has_degenerate"]:
        plain.append(("degen", "degen.", "desc", False))
    plain += [("parse", "parse fail", "desc", False), ("latency", "latency", "asc", False)]
    if task["has_usage"]:
        plain += [("tokens", "tokens", "asc", False), ("cost", "cost", "asc", False)]
    plain.append(("wall", "wall time", "asc", False))
    for cid, label, order, show in plain:
        cols.append({"id": cid, "label": label, "type": "num", "order": order, "show": show, "cls": "num",
                     "gloss": f"c-{cid}"})
    cols.append({"id": "details", "label": "details", "type": None, "show": False, "cls": "links"})
    for col in cols:
        col.setdefault("fixed", False)
        col.setdefault("kind", "plain")
        col.setdefault("sub", None)
        col.setdefault("gloss", None)
    return cols


def ci_units(task: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """What the task's bootstrap CIs resample: ``[(unit, [metric, ...]), ...]`` in column order."""
    out: dict[str, list[str]] = {}
    for metric in [*task["metrics"], *task["reasoning"]]:
        out.setdefault(glossary.ci_unit(task, metric), []).append(metric)
    return list(out.items())


def breakdown_tables(task: dict[str, Any]) -> list[dict[str, Any]]:
    """Per breakdown key: its group values (columns) and per row the headline, n and CI per group."""
    tables = []
    for key in task["breakdowns"]:
        columns: dict[str, None] = {}
        for row in task["rows"]:
            for value in (row["groups"].get(key) or {}):
                columns.setdefault(str(value), None)
        body = []
        for row in task["rows"]:
            groups = row["groups"].get(key) or {}
            cis = (row.get("group_ci") or {}).get(key) or {}
            cells = [breakdown.cell(groups.get(column) if isinstance(groups, dict) else None, task["headline"],
                                    cis.get(column)) for column in columns]
            body.append({"row": row, "cells": cells})
        tables.append({"key": key, "columns": list(columns), "rows": body})
    return tables


def group_class(group: str) -> str:
    """A CSS class for a canonical group (its position in the paper's order)."""
    return f"g{GROUPS.index(group)}" if group in GROUPS else "g-other"


def fmt_signed(value: float | None) -> str:
    """A difference with its sign (``+0.012``), or the undefined mark."""
    if value is None:
        return UNDEFINED_MARK
    return f"{value:+.3f}"


def fmt_money(value: float | None) -> str:
    """A cost in dollars: cents from $0.01 up, two significant digits below (``$0.002``, not ``$0.00``)."""
    if value is None or not math.isfinite(value):
        return UNDEFINED_MARK
    if value == 0 or abs(value) >= 0.01:
        return f"${value:,.2f}"
    return f"${float(f'{value:.2g}'):f}".rstrip("0")


def board_order(task: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Measured and published rows in one order, by headline value (descending, undefined
    last; a published row after a measured one of the same value): ``("run"|"reported", row)``."""
    def key(item: tuple[str, dict[str, Any]]) -> tuple[bool, float, int]:
        kind, row = item
        value = (row["headline"] or {}).get("value") if kind == "run" else row["headline"]
        return value is None, -(value or 0.0), kind == "reported"

    items = [("run", r) for r in task["rows"]] + [("reported", r) for r in task.get("reported") or []]
    return sorted(items, key=key)  # stable: rank order of measured rows is kept


def chart_view(task: dict[str, Any], width: int = 640, bar: int = 18) -> dict[str, Any]:
    """Geometry of the headline bar chart: one bar per measured row with its 95% CI whisker,
    and a marker at the published value when a reported row matches it and covers the same
    series (``has_reported``: whether any marker is drawn)."""
    items = []
    for row in task["rows"]:
        entry = row["headline"] or {}
        rep = row.get("reported") or {}
        items.append({"key": row["key"], "label": row["label"], "value": entry.get("value"), "ci": entry.get("ci95"),
                      "group": row["group"], "reported": rep.get("value") if rep.get("comparable") else None})
    items = [i for i in items if i["value"] is not None]
    values = [i["value"] for i in items] + [c for i in items if i["ci"] for c in i["ci"]]
    values += [i["reported"] for i in items if i["reported"] is not None]
    hi = max([1.0 if all(0 <= v <= 1 for v in values) else 0.0] + values)
    lo = min([0.0] + values)
    left, plot = 200, width - 200 - 16
    span = (hi - lo) or 1.0

    def x(v: float) -> float:
        return round(left + (v - lo) / span * plot, 1)

    bars = []
    for k, item in enumerate(items):
        y = 8 + k * (bar + 6)
        ci = item["ci"]
        bars.append({**item, "y": y, "x0": x(0.0 if lo <= 0 <= hi else lo), "x1": x(item["value"]),
                     "ci_x0": x(ci[0]) if ci else None, "ci_x1": x(ci[1]) if ci else None,
                     "rep_x": x(item["reported"]) if item["reported"] is not None else None,
                     "text": fmt_number(item["value"])})
    ticks = [{"x": x(lo + span * f), "text": fmt_number(lo + span * f)} for f in (0, 0.25, 0.5, 0.75, 1)]
    height = 8 + len(items) * (bar + 6) + 24
    return {"bars": bars, "ticks": ticks, "width": width, "height": height, "left": left, "bar": bar,
            "axis_y": height - 22, "has_reported": any(b["rep_x"] is not None for b in bars)}


def fmt_number(value: float | int | None) -> str:
    """Short human form: 3 decimals below 10, thousands separators above."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return UNDEFINED_MARK
    if abs(value) < 10:
        return f"{value:.3f}"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def fmt_ci(ci: list[float] | None) -> str:
    """``[lo, hi]`` or an empty string when there is no interval."""
    return f"[{fmt_number(ci[0])}, {fmt_number(ci[1])}]" if ci else ""


def fmt_percent(rate: float | None) -> str:
    """A rate in [0, 1] as a percentage with one decimal."""
    return UNDEFINED_MARK if rate is None else f"{100 * rate:.1f}%"


def fmt_duration(seconds: float | None) -> str:
    """Wall time as ``12.3 s``, ``4m 05s`` or ``2h 03m``."""
    if seconds is None:
        return UNDEFINED_MARK
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def fmt_time(value: str | None) -> str:
    """An ISO-8601 time as ``YYYY-MM-DD HH:MM UTC`` (the text itself when it does not parse)."""
    when = parse_time(value)
    if when is None:
        return value or UNDEFINED_MARK
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def sort_key(value: Any) -> str:
    """The ``data-sort`` attribute of a cell: the raw number, or empty when undefined."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, (int, float)):
        return repr(value) if math.isfinite(value) else ""
    return str(value)


def slug(text: str) -> str:
    """An HTML id fragment for ``text``."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-").lower() or "x"


def safe_url(value: Any) -> str | None:
    """``value`` when it is an http(s) URL, else None (no ``javascript:`` links)."""
    if not isinstance(value, str):
        return None
    return value if urlparse(value).scheme in ("http", "https") else None


def fmt_params(value: Any) -> str:
    """A parameter count: numbers become ``7B`` / ``350M``; strings are kept."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    for size, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= size:
            return f"{value / size:.3g}{unit}"
    return f"{value:g}"


def model_view(row: dict[str, Any]) -> dict[str, Any]:
    """What the model cell shows: label, link, chips and a tooltip of the other display keys."""
    display = row.get("display") or {}
    label = next((str(display[k]) for k in LABEL_KEYS if display.get(k)), row["model"])
    chips = []
    for key in CHIP_KEYS:
        if display.get(key) not in (None, ""):
            text = fmt_params(display[key]) + " params" if key == "params" else str(display[key])
            chips.append({"key": key, "text": text})
    shown = set(LABEL_KEYS) | set(CHIP_KEYS) | {"url"}
    extra = [f"{k}: {fmt_display(v)}" for k, v in display.items() if k not in shown and v not in (None, "")]
    return {"label": label, "url": safe_url(display.get("url")), "chips": chips, "tooltip": "\n".join(extra)}


def task_view(task: dict[str, Any]) -> dict[str, Any]:
    """What a task's heading shows: label, description, link and other scalar display keys."""
    display = task.get("display") or {}
    label = next((str(display[k]) for k in LABEL_KEYS if display.get(k)), task["name"])
    extra = [
        {"key": k.replace("_", " "), "text": fmt_display(v)}
        for k, v in display.items()
        if k not in TASK_HIDDEN_KEYS and isinstance(v, (str, int, float)) and v != ""
    ]
    description = display.get("description")
    return {
        "label": label,
        "description": str(description) if description else None,
        "url": safe_url(display.get("url")),
        "extra": extra,
    }


def fmt_display(value: Any) -> str:
    """A display-metadata value as short text (lists joined, mappings as ``k=v``)."""
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={fmt_display(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt_display(v) for v in value)
    if value is None:
        return UNDEFINED_MARK
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def ordered_metrics(task: dict[str, Any], row: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """A row's metrics in the table's order (headline first), then any others it recorded."""
    names = [m for m in [*task["metrics"], *task["reasoning"]] if m in row["metrics"]]
    names += [m for m in row["metrics"] if m not in names]
    return [(m, row["metrics"][m]) for m in names]
