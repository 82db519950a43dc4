"""Cut a series into windows that keep ABSOLUTE indices.

A segment is ``(start, end)`` with ``start`` the absolute index of its first point and
``end`` inclusive. Windows of ``window`` points start every ``stride`` points; when the
last window stops short of the series end, one more window is aligned to the end (so
every point is in some segment; that window may overlap the previous one). A series
shorter than a window gives one segment of its full length when it has at least
``min_length`` points, else it is skipped. NaN points are kept (the renderer draws gaps);
a segment that is all NaN is skipped. With ``keep_normal=False`` windows without any
anomalous point are dropped.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .sources.base import Skipped, SourceSeries


@dataclass(frozen=True)
class SegmentSettings:
    """How series are cut into segments (part of the build settings)."""

    window: int = 1000
    stride: int = 1000
    min_length: int = 100
    keep_normal: bool = True

    def __post_init__(self) -> None:
        if self.window < 1 or self.stride < 1 or self.min_length < 1:
            raise ValueError(f"window, stride and min_length must be positive: {self}")
        if self.min_length > self.window:
            raise ValueError(f"min_length {self.min_length} is larger than the window {self.window}")

    def to_dict(self) -> dict[str, int | bool]:
        """Plain form for the manifest."""
        return asdict(self)


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


def window_starts(n: int, settings: SegmentSettings) -> list[int]:
    """Relative start positions of the windows of a series of ``n`` points (empty when too short)."""
    w = settings.window
    if n < w:
        return [0] if n >= settings.min_length else []
    starts = list(range(0, n - w + 1, settings.stride))
    if starts[-1] + w < n:
        starts.append(n - w)
    return starts


def segment_series(series: SourceSeries, settings: SegmentSettings) -> tuple[list[Segment], list[Skipped]]:
    """The segments of one series and what was skipped (too short, all-NaN windows)."""
    from harness.metrics import labels_to_intervals  # lazy: the metrics package is heavy to import

    n = series.values.size
    where = f"{series.source}:{series.name}"
    starts = window_starts(n, settings)
    if not starts:
        return [], [Skipped(where, f"series has {n} points, fewer than min_length {settings.min_length}")]
    segments, skipped = [], []
    for rel in starts:
        stop = min(rel + settings.window, n)
        values, labels = series.values[rel:stop], series.labels[rel:stop]
        start = series.offset + rel
        end = series.offset + stop - 1
        if not np.isfinite(values).any():
            skipped.append(Skipped(f"{where}@{start}-{end}", "segment is all NaN"))
            continue
        if not settings.keep_normal and not labels.any():
            continue
        intervals = tuple(labels_to_intervals(labels, offset=start))
        kinds = segment_kinds(series, rel, stop - 1) if intervals else ()
        segments.append(Segment(start, end, values.copy(), labels.copy(), intervals, kinds))
    return segments, skipped


def segment_kinds(series: SourceSeries, first: int, last: int) -> tuple[str, ...]:
    """Anomaly kinds inside relative positions ``first..last`` (all of the series' without spans)."""
    if not series.kind_spans:
        return series.anomaly_kinds
    found = [k for a, b, k in series.kind_spans if a <= last and first <= b]
    return tuple(dict.fromkeys(found))
