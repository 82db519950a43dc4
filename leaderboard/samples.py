"""Per-sample view data for the sample viewer, made from a run folder and the results store.

For each sample of a run: ground truth (``target``), the prediction and its status, the full
answer (capped at :data:`MAX_TEXT` characters, with a note when cut), parse issues, per-sample
metrics (reasoning signals included), and what to draw:

* a text model's plot: the exact image it was shown (``input.image``, copied once per input
  hash into ``SITE/inputs/<task>/``), with the x position of every interval computed here from
  the render settings (fixed margins and matplotlib's default x limits, as
  :mod:`harness.render.plot` draws them), so the overlay lines up with the plot's x axis;
* a score model's series and score curve, reduced to :data:`CURVE_POINTS` values each (the
  min and max of each of :data:`CURVE_BUCKETS` buckets) and quantised to integers 0..999 over
  the curve's range, with the threshold of :func:`harness.scoring.thresholds.score_threshold` on the
  same scale.

Budget: a sample's drawing data is at most ``2 * CURVE_POINTS`` integers below 1000 (under
2 KB of JSON), so a 1,000-sample score run embeds about 2 MB whatever the series length.
Every path read from a record is untrusted: it must resolve inside the results folder.
"""

from __future__ import annotations

import io
import math
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from harness.core.files import resolve_inside
from harness.core.paths import read_regular
from harness.render.settings import AXIS_MARGIN, RenderSettings
from harness.scoring.thresholds import score_threshold

CURVE_BUCKETS = 100
CURVE_POINTS = 2 * CURVE_BUCKETS
MAX_TEXT = 20_000
MAX_VECTOR_BYTES = 1 << 30
"""A series or score file larger than this is not drawn (its path is already checked to be inside)."""
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
_HASH = re.compile(r"[0-9A-Za-z_-]{1,128}")
_FAST_HEADER = re.compile(rb"\{'descr': '<f8', 'fortran_order': False, 'shape': \((\d+),\), \}\s*$")
_MARGINS = ("left", "right", "bottom", "top")
"""The render settings the overlay uses: fractions of the figure, each checked to lie in 0..1."""
_DEFAULT_RENDER = asdict(RenderSettings())  # used when a record has no render settings


def inside(root: Path, rel: Any) -> Path | None:
    """``root / rel`` when ``rel`` is a relative path string that stays inside ``root`` (after
    resolving symlinks, ``..`` and absolute parts) and names a regular file; else None."""
    if not isinstance(rel, str):
        return None
    path = resolve_inside(root, rel)
    return path if path is not None and path != Path(root) and path.is_file() else None


def load_vector(path: Path) -> np.ndarray | None:
    """A 1-D float64 array from a ``.npy`` file (None when it cannot be read as one).

    The common case (little-endian float64, C order, version 1 header) is read directly; any
    other file goes through ``np.load`` (never with pickles)."""
    try:
        data = read_regular(path, max_bytes=MAX_VECTOR_BYTES)
    except OSError:
        return None
    if data[:8] == b"\x93NUMPY\x01\x00" and len(data) >= 10:
        header_len = int.from_bytes(data[8:10], "little")
        header = data[10:10 + header_len]
        match = _FAST_HEADER.match(header)
        if match:
            n = int(match.group(1))
            body = data[10 + header_len:]
            if len(body) == 8 * n:
                return np.frombuffer(body, dtype="<f8").astype(np.float64)
    try:
        return np.load(io.BytesIO(data), allow_pickle=False).astype(np.float64).reshape(-1)
    except (OSError, ValueError, TypeError):
        return None


def envelope(values: np.ndarray, buckets: int = CURVE_BUCKETS) -> dict[str, Any]:
    """A curve reduced to at most ``2 * buckets`` values, quantised (see :func:`quantise`).

    Short series (``n <= 2 * buckets``) keep every value (``mode: "raw"``, value ``k`` at index
    ``k``); longer ones keep each bucket's min and max (``mode: "minmax"``, ``q`` holds
    ``min_0, max_0, min_1, max_1, ...``; bucket ``k`` covers indices ``[k*n/B, (k+1)*n/B)``).
    """
    y = np.asarray(values, dtype=np.float64).reshape(-1)
    n = y.size
    if n <= 2 * buckets:
        return {"n": int(n), "mode": "raw", "buckets": int(n), **quantise(y)}
    starts = np.linspace(0, n, buckets + 1).astype(int)[:-1]
    clean = np.where(np.isfinite(y), y, np.nan)
    out = np.empty(2 * buckets)
    with np.errstate(invalid="ignore"):
        lo = np.fmin.reduceat(clean, starts)  # fmin/fmax skip NaN; an all-NaN bucket stays NaN
        hi = np.fmax.reduceat(clean, starts)
        # each bucket's pair in time order (min first when it comes first), so the viewer can
        # draw one line through them instead of a filled min/max band
        sizes = np.diff(np.append(starts, n))
        idx = np.arange(n)
        first_lo = np.minimum.reduceat(np.where(clean == np.repeat(lo, sizes), idx, n), starts)
        first_hi = np.minimum.reduceat(np.where(clean == np.repeat(hi, sizes), idx, n), starts)
    lo_first = first_lo <= first_hi
    out[0::2] = np.where(lo_first, lo, hi)
    out[1::2] = np.where(lo_first, hi, lo)
    return {"n": int(n), "mode": "minmax", "buckets": int(buckets), **quantise(out)}


def quantise(values: np.ndarray) -> dict[str, Any]:
    """``{lo, hi, q}``: values scaled to integers 0..999 over [lo, hi]; NaN and inf become null."""
    y = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(y)
    if not finite.any():
        return {"lo": None, "hi": None, "q": [None] * int(y.size)}
    lo, hi = float(y[finite].min()), float(y[finite].max())
    span = hi - lo if hi > lo else 1.0
    q = np.round((np.where(finite, y, lo) - lo) / span * 999).astype(int).tolist()
    if finite.all():
        return {"lo": lo, "hi": hi, "q": q}
    return {"lo": lo, "hi": hi, "q": [v if ok else None for v, ok in zip(q, finite.tolist(), strict=True)]}


def x_fraction(settings: Mapping[str, Any], offset: int, length: int):  # noqa: ANN201 - a closure
    """A function mapping an absolute index to the fraction of the image width where the plot
    draws it: fixed axes margins and x limits of ``[first, last]`` widened by 5% each side."""
    left = float(settings.get("left", _DEFAULT_RENDER["left"]))
    right = float(settings.get("right", _DEFAULT_RENDER["right"]))
    first, last = float(offset), float(offset + max(length, 1) - 1)
    if last <= first:  # matplotlib's nonsingular widening of an empty range
        first, last = first - 1e-3 * abs(first) if first else -1.0, last + 1e-3 * abs(last) if last else 1.0
    pad = (last - first) * AXIS_MARGIN
    lo, hi = first - pad, last + pad

    def frac(index: float) -> float:
        return left + (right - left) * (index - lo) / (hi - lo)

    return frac


def _intervals(raw: Any) -> list[list[int]]:
    out = []
    if isinstance(raw, list):
        for item in raw[:1000]:
            if (isinstance(item, (list, tuple)) and len(item) == 2
                    and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                            for v in item)):
                out.append([int(item[0]), int(item[1])])
    return out


def _numbers(raw: Any) -> tuple[dict[str, float | None], dict[str, int]]:
    """Per-sample metrics (floats) and counts (the integer-valued ones, e.g. TP/FP/FN)."""
    out: dict[str, float | None] = {}
    counts: dict[str, int] = {}
    if isinstance(raw, Mapping):
        for key, value in list(raw.items())[:200]:
            if isinstance(value, bool) or value is None:
                out[str(key)] = None if value is None else float(value)
            elif isinstance(value, int):
                counts[str(key)] = value
            elif isinstance(value, float):
                out[str(key)] = value if math.isfinite(value) else None
    return out, counts


def _text(value: Any, limit: int = MAX_TEXT) -> tuple[str | None, bool]:
    if value is None:
        return None, False
    text = value if isinstance(value, str) else str(value)
    return (text[:limit], True) if len(text) > limit else (text, False)


def _short(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text[:limit]


# Per process: the same input is shared by every run of a task, so each worker reads it once.
_SERIES_CACHE: dict[tuple[str, str], dict[str, Any] | None] = {}
_COPIED: dict[tuple[str, str, str], str | None] = {}


class SampleViews:
    """Turns a run's sample records into viewer entries; copies plots into the site once."""

    def __init__(self, results: Path, site: Path, task_slug: str) -> None:
        self.results = results
        self.site = site
        self.inputs_rel = f"inputs/{task_slug}"
        self.notes: list[str] = []
        """What :meth:`entry` replaced in a record (a NaN latency, an impossible render margin), named."""

    def image(self, record: Mapping[str, Any]) -> str | None:
        """The site path of the plot the model saw (copied on first use), or None."""
        inp = record.get("input") if isinstance(record.get("input"), Mapping) else {}
        rel = inp.get("image")
        if not isinstance(rel, str):
            return None
        key = (str(self.results), str(self.site), rel)
        if key in _COPIED and (_COPIED[key] is None or (self.site / _COPIED[key]).is_file()):
            return _COPIED[key]  # the copy is still there (a later build may have emptied the site)
        src = inside(self.results, rel)
        result = None
        if src is not None and src.suffix.lower() in IMAGE_SUFFIXES:
            digest = record.get("input_hash")
            name = digest if isinstance(digest, str) and _HASH.fullmatch(digest) else None
            if name is None:
                from harness.core.hashing import stable_hash

                name = stable_hash(rel, 16)
            dest = self.site / self.inputs_rel / f"{name}{src.suffix.lower()}"
            try:
                if not dest.exists() or dest.stat().st_size != src.stat().st_size:
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
                    shutil.copyfile(src, tmp)
                    os.replace(tmp, dest)
                result = f"{self.inputs_rel}/{dest.name}"
            except OSError:
                result = None
        if len(_COPIED) > 20_000:
            _COPIED.clear()
        _COPIED[key] = result
        return result

    def series(self, record: Mapping[str, Any]) -> dict[str, Any] | None:
        """The downsampled series of the sample (from ``input.series``), cached by path."""
        inp = record.get("input") if isinstance(record.get("input"), Mapping) else {}
        rel = inp.get("series")
        if not isinstance(rel, str):
            return None
        key = (str(self.results), rel)
        if key not in _SERIES_CACHE:
            if len(_SERIES_CACHE) > 20_000:
                _SERIES_CACHE.clear()
            _SERIES_CACHE[key] = None
            src = inside(self.results, rel)
            if src is not None and src.suffix == ".npy":
                values = load_vector(src)
                if values is not None and values.size:
                    _SERIES_CACHE[key] = envelope(values)
        return _SERIES_CACHE[key]

    def _note(self, record: Mapping[str, Any], what: str) -> None:
        self.notes.append(f"sample {_short(record.get('sample_id'), 200)}: {what}")

    def _finite(self, record: Mapping[str, Any], key: str, value: Any) -> float | None:
        """A number field as a finite float; None (and a note) for NaN or infinity."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        if not math.isfinite(value):
            self._note(record, f"{key} is {value} (shown as missing)")
            return None
        return float(value)

    def entry(self, record: Mapping[str, Any], run_dir: Path | None) -> dict[str, Any]:
        """One sample's viewer entry (JSON-ready; every string still untrusted)."""
        target = record.get("target") if isinstance(record.get("target"), Mapping) else {}
        inp = record.get("input") if isinstance(record.get("input"), Mapping) else {}
        offset = target.get("index_offset", inp.get("index_offset", 0))
        offset = int(offset) if isinstance(offset, (int, float)) and math.isfinite(offset) else 0
        length = target.get("length")
        length = int(length) if isinstance(length, (int, float)) and math.isfinite(length) else None
        text, cut = _text(record.get("text"))
        error = record.get("error")
        parse_failed = bool(record.get("parse_failed"))
        status = "failed" if error else ("parse failed" if parse_failed else "ok")
        pred_meta = record.get("pred_meta") if isinstance(record.get("pred_meta"), Mapping) else {}
        flag = record.get("degenerate_scores", record.get("degenerate", pred_meta.get("degenerate_scores")))
        degenerate = bool(flag)
        issues = record.get("parse_issues")
        metrics, counts = _numbers(record.get("metrics"))
        train_end = inp.get("train_end")
        out: dict[str, Any] = {
            "id": _short(record.get("sample_id"), 500),
            "status": status,
            "error": _short(error, 2000) if error else None,
            "degenerate": degenerate,
            "degenerate_reason": _short(flag, 300) if isinstance(flag, str) and flag else None,
            "gt": _intervals(target.get("intervals")),
            "pred": _intervals(record.get("intervals")),
            "offset": offset,
            "length": length,
            "text": text,
            "text_cut": cut,
            "issues": [_short(i) for i in issues[:50]] if isinstance(issues, list) else [],
            "metrics": metrics,
            "counts": counts,
            "train_end": int(train_end) if isinstance(train_end, (int, float)) and not isinstance(train_end, bool)
            and math.isfinite(train_end) else None,
            "latency_s": self._finite(record, "latency_s", record.get("latency_s")),
            "cached": bool(record.get("cached")),
            "meta": {str(k): _short(v, 200) for k, v in list((record.get("meta") or {}).items())[:20]}
            if isinstance(record.get("meta"), Mapping) else {},
            "image": None,
            "overlay": None,
            "series": None,
            "scores": None,
        }
        image = self.image(record)
        if image is not None and length:
            render = inp.get("render") if isinstance(inp.get("render"), Mapping) else {}
            margins = {k: v for k, v in render.items() if k in _MARGINS and isinstance(v, (int, float))}
            usable = {k: v for k, v in margins.items() if math.isfinite(v) and 0.0 <= v <= 1.0}
            if len(usable) < len(margins):
                self._note(record, f"render margin(s) {', '.join(sorted(set(margins) - set(usable)))} not a "
                                   "fraction between 0 and 1; the defaults are used for the overlay")
            settings = {**_DEFAULT_RENDER, **usable}
            frac = x_fraction(settings, offset, length)
            out["image"] = image
            width_in, height_in = render.get("width_in"), render.get("height_in")
            aspect = (float(height_in) / float(width_in)
                      if all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < math.inf
                             for v in (width_in, height_in)) else 0.4)
            out["overlay"] = {
                "top": 1 - float(settings["top"]), "bottom": 1 - float(settings["bottom"]),
                "x0": frac(offset), "x1": frac(offset + length - 1), "aspect": min(max(aspect, 0.1), 2.0),
                "gt": [[frac(s - 0.5), frac(e + 0.5)] for s, e in out["gt"]],
                "pred": [[frac(s - 0.5), frac(e + 0.5)] for s, e in out["pred"]],
            }
        elif image is not None:
            out["image"] = image
        out["series"] = self.series(record)
        scores_rel = record.get("scores_file")
        if run_dir is not None and isinstance(scores_rel, str):
            src = inside(run_dir, scores_rel)
            if src is not None:
                scores = load_vector(src)
                if scores is not None and scores.size:
                    curve = envelope(scores)
                    finite = scores[np.isfinite(scores)]
                    applied = (record.get("pred_meta") or {}).get("threshold")  # what the task applied
                    threshold = (float(applied) if isinstance(applied, (int, float)) and not isinstance(applied, bool)
                                 else score_threshold(scores) if finite.size else None)  # records before it was kept
                    lo, hi = curve["lo"], curve["hi"]
                    if threshold is not None and lo is not None and hi is not None and math.isfinite(threshold):
                        span = hi - lo if hi > lo else 1.0
                        curve["threshold"] = (threshold - lo) / span * 999
                    else:
                        curve["threshold"] = None
                    out["scores"] = curve
        return out
