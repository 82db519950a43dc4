"""Segmentation rules: how one series becomes the benchmark's items (windows with ABSOLUTE indices).

A segment is ``(start, end)`` with ``start`` the absolute index of its first point and
``end`` inclusive; its intervals are the series' anomalies clipped to it. Three rules:

- :class:`SegmentSettings` (fixed windows, kind ``fixed``): windows of ``window`` points
  every ``stride`` points; when the last one stops short of the series end, one more
  window is aligned to the end (it may overlap the previous one). A series shorter than a
  window gives one segment of its full length when it has at least ``min_length`` points,
  else it is skipped. With ``keep_normal=False`` windows without anomalous points are dropped.
- :class:`WholeSeries` (kind ``whole``): the series is one item.
- :class:`AroundAnomalies` (kind ``around-anomalies``): windows of ``length`` points, each
  placed around the next anomaly not yet covered, at a seeded random position that keeps
  a margin on both sides; at most ``per_series`` windows per series, at most ``max_items``
  per source (the build keeps a seeded choice of them).

NaN points are kept (the renderer draws gaps); a segment that is all NaN is skipped. Every
rule returns ``(segments, skipped)`` and never raises for bad data. Which rule applies to
which source is a build *profile* (:mod:`tasks.visanombench.profiles`); the paper's rules
live in the source modules (``PAPER_RULE``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from harness.core.hashing import stable_hash

if TYPE_CHECKING:  # the source modules import their rules from here: no import of .sources at run time
    from .sources.base import Skipped, SourceSeries


@dataclass(frozen=True)
class Segment:
    """One window of one series: absolute inclusive bounds, data and clipped intervals."""

    start: int
    end: int
    values: np.ndarray
    labels: np.ndarray
    intervals: tuple[tuple[int, int], ...]
    anomaly_kinds: tuple[str, ...] = ()

    @property
    def length(self) -> int:
        """Number of points."""
        return self.end - self.start + 1

    @property
    def index(self) -> np.ndarray:
        """Absolute indices of the points."""
        return np.arange(self.start, self.end + 1, dtype=np.int64)


class Rule(Protocol):
    """What a segmentation rule offers the build (all rules are frozen, picklable dataclasses)."""

    kind: str
    max_items: int | None

    def segment(self, series: SourceSeries, seed: int = 0) -> tuple[list[Segment], list[Skipped]]:
        """The segments of one series and what was skipped."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """Manifest form, with a ``rule`` key naming the kind."""
        ...

    def describe(self) -> str:
        """One line for people."""
        ...


@dataclass(frozen=True)
class SegmentSettings:
    """Fixed windows (the ``fixed-N`` profiles): ``window`` points every ``stride`` points."""

    window: int = 1000
    stride: int = 1000
    min_length: int = 100
    keep_normal: bool = True
    kind = "fixed"
    max_items = None

    def __post_init__(self) -> None:
        if self.window < 1 or self.stride < 1 or self.min_length < 1:
            raise ValueError(f"window, stride and min_length must be positive: {self}")
        if self.min_length > self.window:
            raise ValueError(f"min_length {self.min_length} is larger than the window {self.window}")

    def to_dict(self) -> dict[str, Any]:
        """Plain form for the manifest."""
        return {"rule": self.kind, **asdict(self)}

    def describe(self) -> str:
        """One line for people."""
        normal = "" if self.keep_normal else ", anomalous windows only"
        return f"fixed windows of {self.window} every {self.stride} (shortest {self.min_length}{normal})"

    def segment(self, series: SourceSeries, seed: int = 0) -> tuple[list[Segment], list[Skipped]]:
        """Fixed windows (``seed`` is unused)."""
        return segment_series(series, self)


FixedWindows = SegmentSettings
"""The fixed-window rule under its rule name."""


@dataclass(frozen=True)
class WholeSeries:
    """The whole series is one item (GutenTAG in the paper profile)."""

    min_length: int = 100
    kind = "whole"
    max_items = None

    def __post_init__(self) -> None:
        if self.min_length < 1:
            raise ValueError(f"min_length must be positive: {self}")

    def to_dict(self) -> dict[str, Any]:
        """Plain form for the manifest."""
        return {"rule": self.kind, **asdict(self)}

    def describe(self) -> str:
        """One line for people."""
        return f"whole series (at least {self.min_length} points)"

    def segment(self, series: SourceSeries, seed: int = 0) -> tuple[list[Segment], list[Skipped]]:
        """One segment spanning the series, unless it is too short or all NaN."""
        n = series.values.size
        if n < self.min_length:
            return [], [_too_short(series, n, self.min_length, self.describe())]
        seg = _make(series, 0, n)
        if seg is None:
            return [], [_all_nan(series, 0, n)]
        return [seg], []


@dataclass(frozen=True)
class AroundAnomalies:
    """Windows of ``length`` points placed around anomalies (UCR-TSAD, UCR-EGI, KPI in the paper profile).

    Walking the series' anomalies in order, each one not yet inside a window gets a window
    of ``length`` points (longer when the anomaly plus margins does not fit) starting after
    the previous window. Its start is drawn uniformly, by a generator seeded with (seed,
    source, series, window number), among the starts that keep ``margin`` x ``length``
    points before and after the anomaly (fewer near the series ends). A series shorter
    than ``length`` is one window when it has at least ``min_length`` points (default half
    of ``length``), else it is skipped as too short; a series without anomalies gives no
    window. ``per_series`` caps the windows of one series (its first anomalies);
    ``max_items`` caps the windows of the whole source (the build keeps a seeded choice).
    """

    length: int
    per_series: int | None = None
    max_items: int | None = None
    min_length: int | None = None
    margin: float = 0.1
    kind = "around-anomalies"

    def __post_init__(self) -> None:
        if self.length < 2:
            raise ValueError(f"window length must be at least 2: {self}")
        if self.min_length is None:
            object.__setattr__(self, "min_length", max(1, self.length // 2))
        if not 1 <= int(self.min_length) <= self.length:  # type: ignore[arg-type]
            raise ValueError(f"min_length must be in 1..length: {self}")
        if (self.per_series is not None and self.per_series < 1) or (self.max_items is not None and self.max_items < 1):
            raise ValueError(f"per_series and max_items must be positive when given: {self}")
        if not 0.0 <= self.margin < 0.5:
            raise ValueError(f"margin must be in [0, 0.5): {self}")

    def to_dict(self) -> dict[str, Any]:
        """Plain form for the manifest."""
        return {"rule": self.kind, **asdict(self)}

    def describe(self) -> str:
        """One line for people."""
        caps = []
        if self.per_series is not None:
            caps.append(f"at most {self.per_series} per series")
        if self.max_items is not None:
            caps.append(f"at most {self.max_items} per source")
        extra = f", {', '.join(caps)}" if caps else ""
        return (f"windows of {self.length} around anomalies (margin {self.margin:.0%}, series of at least "
                f"{self.min_length}{extra})")

    def segment(self, series: SourceSeries, seed: int = 0) -> tuple[list[Segment], list[Skipped]]:
        """The windows of one series (see the class docstring)."""
        from harness.scoring.metrics import (
            labels_to_intervals,  # lazy: the metrics package is heavy to import
        )

        n = series.values.size
        min_length = int(self.min_length)  # type: ignore[arg-type]
        if n < min_length:
            return [], [_too_short(series, n, min_length, self.describe())]
        events = labels_to_intervals(series.labels)
        if not events:
            return [], [_skip(f"{series.source}:{series.name}", "series has no labelled anomaly; the rule "
                              f"keeps {self.describe()}", "no-anomaly", series.source)]
        margin = int(round(self.margin * self.length))
        segments: list[Segment] = []
        skipped: list[Skipped] = []
        floor, i = 0, 0
        while i < len(events) and (self.per_series is None or len(segments) + len(skipped) < self.per_series):
            a, b = max(events[i][0], floor), events[i][1]
            i += 1
            if a > b:
                continue  # inside the previous window
            while i < len(events) and events[i][1] - a + 1 + 2 * margin <= self.length:
                b = events[i][1]  # anomalies close together share a window
                i += 1
            size = min(max(self.length, b - a + 1 + 2 * margin), n - floor)
            if size < min(min_length, n):
                break  # what is left of the series is too short for a window
            ceiling = events[i][0] - size if i < len(events) else n - size  # do not cut the next anomaly
            start = _place(a, b, size, floor, n, margin, ceiling,
                           _rng(seed, series, len(segments) + len(skipped)))
            floor = start + size
            seg = _make(series, start, start + size)
            if seg is None:
                skipped.append(_all_nan(series, start, start + size))
            else:
                segments.append(seg)
        return segments, skipped


def _place(a: int, b: int, size: int, floor: int, n: int, margin: int, ceiling: int,
           rng: np.random.Generator) -> int:
    """A start in ``[floor, n - size]`` whose window holds ``a..b`` with ``margin`` points on each
    side and ends before the next anomaly (start <= ``ceiling``), drawn uniformly. Where the
    margins do not fit (near the series ends, the previous window or the next anomaly) the
    window is as centred on ``a..b`` as the bounds allow, ending before the next anomaly if it can."""
    hi_bound = n - size
    lo, hi = max(floor, b + margin - size + 1), min(hi_bound, ceiling, a - margin)
    if lo <= hi:
        return int(rng.integers(lo, hi + 1))
    centred = (a + b + 1 - size) // 2
    for top in (ceiling, hi_bound):
        lo, hi = max(floor, b - size + 1), min(hi_bound, top, a)
        if lo <= hi:
            return min(max(centred, lo), hi)
    return max(floor, min(a, hi_bound))


def _rng(seed: int, series: SourceSeries, number: int) -> np.random.Generator:
    key = stable_hash(["visanombench-window", seed, series.source, series.name, number], 16)
    return np.random.default_rng(int(key, 16))


def _skip(path: str, reason: str, kind: str, source: str) -> Skipped:
    from .sources.base import Skipped

    return Skipped(path, reason, kind, source)


def _too_short(series: SourceSeries, n: int, need: int, rule: str) -> Skipped:
    return _skip(f"{series.source}:{series.name}", f"series has {n} points, fewer than the {need} the rule "
                   f"needs ({rule})", "too-short", series.source)


def _all_nan(series: SourceSeries, rel: int, stop: int) -> Skipped:
    first, last = series.offset + rel, series.offset + stop - 1
    return _skip(f"{series.source}:{series.name}@{first}-{last}", "segment is all NaN", "all-nan", series.source)


def _make(series: SourceSeries, rel: int, stop: int) -> Segment | None:
    """The segment of relative positions ``rel..stop-1`` (None when it is all NaN)."""
    from harness.scoring.metrics import labels_to_intervals

    values, labels = series.values[rel:stop], series.labels[rel:stop]
    if not np.isfinite(values).any():
        return None
    start = series.offset + rel
    intervals = tuple(labels_to_intervals(labels, offset=start))
    kinds = segment_kinds(series, rel, stop - 1) if intervals else ()
    return Segment(start, series.offset + stop - 1, values.copy(), labels.copy(), intervals, kinds)


def window_starts(n: int, settings: SegmentSettings) -> list[int]:
    """Relative start positions of the fixed windows of a series of ``n`` points (empty when too short)."""
    w = settings.window
    if n < w:
        return [0] if n >= settings.min_length else []
    starts = list(range(0, n - w + 1, settings.stride))
    if starts[-1] + w < n:
        starts.append(n - w)
    return starts


def segment_series(series: SourceSeries, settings: SegmentSettings) -> tuple[list[Segment], list[Skipped]]:
    """The fixed-window segments of one series and what was skipped (too short, all-NaN windows)."""
    n = series.values.size
    starts = window_starts(n, settings)
    if not starts:
        return [], [_too_short(series, n, settings.min_length, settings.describe())]
    segments, skipped = [], []
    for rel in starts:
        stop = min(rel + settings.window, n)
        if not settings.keep_normal and not series.labels[rel:stop].any():
            continue
        seg = _make(series, rel, stop)
        if seg is None:
            skipped.append(_all_nan(series, rel, stop))
        else:
            segments.append(seg)
    return segments, skipped


def segment_kinds(series: SourceSeries, first: int, last: int) -> tuple[str, ...]:
    """Anomaly kinds inside relative positions ``first..last`` (all of the series' without spans)."""
    if not series.kind_spans:
        return series.anomaly_kinds
    found = [k for a, b, k in series.kind_spans if a <= last and first <= b]
    return tuple(dict.fromkeys(found))
