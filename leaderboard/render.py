"""Render summary dicts to HTML with jinja2 (autoescape always on: model text is untrusted)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import timezone
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import jinja2

from leaderboard.summary import parse_time

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
    env.globals.update(model_view=model_view, task_view=task_view, UNDEFINED_MARK=UNDEFINED_MARK)
    return env


def render_index(summary: dict[str, Any], root: str = "") -> str:
    """The leaderboard's front page; ``root`` is the relative path to the site root."""
    return environment().get_template("index.html.j2").render(summary=summary, root=root)


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
    return str(value)
