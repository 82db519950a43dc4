"""What the task-level analysis pages need from one run, made next to its sample page.

:func:`run_fragment` reduces a run's sample records (and their viewer entries) to small JSON:
per sample its block (the series it belongs to), the values of the rank metrics, its interval
outcome classes (:mod:`leaderboard.outcomes`) and, for samples shown as an image, the width in
pixels of each true anomaly in that image and whether a prediction found it. The fragment is
cached with the run's sample page, so a rebuild reuses it when the run did not change.

Rank metrics (:data:`RANK_METRICS`), each read from the record's per-sample metrics under the
names the tasks record (``tasks/tsb_ad_u`` records TSB-AD's names; ``tasks/visanombench``
``Point-F1``/``Affiliation-F1``). PA-F1 and Event-F1 of a sample that records intervals but
not the metric are computed here from its predicted and true intervals with
:mod:`harness.scoring.metrics.binary` (the one metrics module), over the sample's window.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from harness.scoring.metrics.binary import event_f1, pa_f1
from leaderboard.outcomes import classify
from leaderboard.samples import x_fraction

__all__ = ["PIXEL_BUCKETS", "RANK_METRICS", "anomaly_pixels", "run_fragment"]

# shown name -> the per-sample metric names it is recorded under, first found wins
RANK_METRICS: dict[str, tuple[str, ...]] = {
    "VUS-PR": ("VUS-PR",),
    "PA-F1": ("PA-F1",),
    "Affiliation-F1": ("Affiliation-F1", "Affiliation-F"),
    "Event-F1": ("Event-based-F1", "Event-F1"),
}
# fallbacks for the CD diagram when the headline is not a per-sample metric
CD_FALLBACK = ("VUS-PR", "Point-F1", "Affiliation-F1", "Affiliation-F", "IoU")
# lower edges (pixels) of the resolution buckets
PIXEL_BUCKETS = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
MAX_LABEL_POINTS = 1_000_000


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _labels(intervals: Sequence[Sequence[int]], offset: int, length: int) -> np.ndarray:
    y = np.zeros(length, dtype=np.int64)
    for a, b in intervals:
        lo, hi = max(min(a, b) - offset, 0), min(max(a, b) - offset, length - 1)
        if lo <= hi:
            y[lo:hi + 1] = 1
    return y


def _values(entry: Mapping[str, Any], names: Sequence[str]) -> dict[str, float | None]:
    """The rank metric values of one sample that did not fail; a metric that is neither recorded
    nor computable is left out."""
    metrics = entry.get("metrics") or {}
    if entry.get("status") == "failed":
        return {}  # filled in by run_fragment with 0 for the metrics the run's other samples have
    out: dict[str, float | None] = {}
    for name in names:
        if name in out:
            continue
        keys = RANK_METRICS.get(name, (name,))
        found = next((k for k in keys if k in metrics), None)
        if found is not None:
            out[name] = _finite(metrics[found])
    length, offset = entry.get("length"), entry.get("offset") or 0
    if isinstance(length, int) and 0 < length <= MAX_LABEL_POINTS and entry.get("gt") is not None:
        missing = [n for n, fn in (("PA-F1", pa_f1), ("Event-F1", event_f1)) if n not in out]
        if missing:
            y = _labels(entry["gt"], offset, length)
            p = _labels(entry["pred"], offset, length)
            for name in missing:
                out[name] = _finite((pa_f1 if name == "PA-F1" else event_f1)(p, y))
    return out


def anomaly_pixels(record: Mapping[str, Any], entry: Mapping[str, Any]) -> list[float]:
    """Width in pixels, in the image the model was shown, of each true interval of the sample
    (empty when the sample has no image or no render settings)."""
    inp = record.get("input") if isinstance(record.get("input"), Mapping) else {}
    render = inp.get("render") if isinstance(inp.get("render"), Mapping) else None
    length = entry.get("length")
    if not render or not inp.get("image") or not isinstance(length, int) or length < 1:
        return []
    width_in, dpi = _finite(render.get("width_in")), _finite(render.get("dpi"))
    if not width_in or not dpi:
        return []
    settings = {k: v for k, v in render.items() if k in ("left", "right") and _finite(v) is not None}
    frac = x_fraction(settings, int(entry.get("offset") or 0), length)
    image_px = width_in * dpi
    return [round((frac(max(a, b) + 0.5) - frac(min(a, b) - 0.5)) * image_px, 2) for a, b in entry["gt"]]


def _found(true: Sequence[int], pred: Sequence[Sequence[int]]) -> bool:
    a, b = min(true), max(true)
    return any(min(p) <= b and max(p) >= a for p in pred)


def run_fragment(
    records: Sequence[Mapping[str, Any]], entries: Sequence[Mapping[str, Any]], headline: str | None
) -> dict[str, Any]:
    """The run's analysis data: ``{"samples": {id: {b, v, o, px}}}`` (see the module docstring).

    ``b`` is the sample's block (``meta.series`` when a task splits series into windows, else the
    sample id), ``v`` the rank metric values (a failed sample: 0 for each metric the run's other
    samples have, TSB-AD's convention), ``o`` the outcome classes with a count (samples
    with a target only; a failed sample counts as an empty prediction), ``px`` per true interval
    ``[width_px, found]``."""
    names = [*RANK_METRICS, *([headline] if headline else []), *CD_FALLBACK]
    samples: dict[str, Any] = {}
    for record, entry in zip(records, entries, strict=True):
        meta = record.get("meta") if isinstance(record.get("meta"), Mapping) else {}
        block = meta.get("series") if isinstance(meta.get("series"), str) else entry["id"]
        item: dict[str, Any] = {"b": block, "v": _values(entry, names)}
        target = record.get("target")
        if isinstance(target, Mapping) and target.get("intervals") is not None:
            pred = [] if entry["status"] == "failed" else entry["pred"]
            item["o"] = {k: v for k, v in classify(entry["gt"], pred, entry.get("length")).items() if v}
            widths = anomaly_pixels(record, entry)
            if widths:
                item["px"] = [[w, _found(t, pred)] for w, t in zip(widths, entry["gt"], strict=True)]
        samples[entry["id"]] = item
    recorded = {name for item in samples.values() for name in item["v"]}
    for entry in entries:
        if entry["status"] == "failed":
            samples[entry["id"]]["v"] = dict.fromkeys(sorted(recorded), 0.0)
    return {"samples": samples}
