"""The one series renderer: a window of a time series -> PNG bytes in the paper's plot style.

Look (paper, "Plot style"): matplotlib default style, default blue line (C0), x label
"Index", y label "Value", about 20 x ticks labelled with ABSOLUTE integer indices
(``index_offset .. index_offset + len - 1``) rotated 45 degrees. See docs/rendering.md.

Speed comes from reusing one figure per process with fixed margins (no tight_layout),
updating the line in place, drawing long series as a per-pixel-column M4 envelope
(first/min/max/last), and encoding the canvas directly with Pillow.
"""

from __future__ import annotations

import io
import threading

import matplotlib
import matplotlib.style
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import AutoLocator, ScalarFormatter
from PIL import Image

from harness.render.settings import AXIS_MARGIN as _AXIS_MARGIN
from harness.render.settings import RENDERER_VERSION, RenderSettings  # noqa: F401 (re-exported)

_MAX_DRAWN = 1e307 / (1 + 2 * _AXIS_MARGIN)
"""Largest |value| drawn as it is. matplotlib cannot lay out an axis much beyond +-1e307 (its
transforms and tick locator overflow float64 and raise), so larger values are drawn clipped
to this bound; the axis limits then stay within +-1e307. Ordinary data never comes near."""
_LOCATOR = AutoLocator()  # the default axis locator; only its nonsingular() is used
# Envelope bins per pixel column. One bin per column changes up to ~1.4% of pixels (anti-aliased
# edges only); four keep the stroke's edge shading closer (see docs/rendering.md).
_BINS_PER_PIXEL = 4


DEFAULT_SETTINGS = RenderSettings()


def tick_positions(index_offset: int, length: int, n: int = 20) -> list[int]:
    """Absolute integer x tick positions: ``n`` evenly spaced from first to last index."""
    if length < 1:
        raise ValueError("length must be at least 1")
    first = int(index_offset)
    pos = np.round(np.linspace(first, first + length - 1, min(n, length)))
    return [int(p) for p in np.unique(pos)]


def axis_limits(lo: float, hi: float) -> tuple[float, float]:
    """matplotlib's default autoscale of the data range [lo, hi]: nonsingular, then 5% margins.

    ``lo`` and ``hi`` are first clipped to +-``_MAX_DRAWN`` (a no-op for ordinary data), so the
    limits are always finite and within +-1e307, where matplotlib can draw the axis; a NaN
    bound gives matplotlib's fallback range around 0.
    """
    lo, hi = (float(np.clip(v, -_MAX_DRAWN, _MAX_DRAWN)) for v in (lo, hi))
    lo, hi = _LOCATOR.nonsingular(lo, hi)  # widens empty ranges like autoscaling does
    pad = (hi - lo) * _AXIS_MARGIN
    return lo - pad, hi + pad


def clean_values(values: np.ndarray) -> np.ndarray:
    """1-D float64 copy of ``values``: +-inf replaced by NaN (drawn as gaps), finite values
    beyond +-``_MAX_DRAWN`` clipped to it (see there)."""
    if np.ndim(values) > 1:
        raise ValueError(f"values must be 1-D, got shape {np.shape(values)}")
    y = np.array(values, dtype=np.float64).reshape(-1)
    if y.size == 0:
        raise ValueError("values is empty")
    y[np.isinf(y)] = np.nan
    return np.clip(y, -_MAX_DRAWN, _MAX_DRAWN, out=y)  # NaN stays NaN


def m4_envelope(columns: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reduce a polyline to the first, min, max and last point of each pixel column.

    ``columns`` is the (non-decreasing) integer pixel column of each point. NaN in ``y``
    splits the line into runs; runs are reduced separately and re-joined with a NaN, so
    gaps stay gaps. Returns ``(positions, values)``: the kept indices into ``y`` (as float)
    and their values, with a NaN pair inserted wherever a gap separates two runs.
    """
    finite = np.isfinite(y)
    fi = np.flatnonzero(finite)
    if fi.size == 0:
        return np.full(1, np.nan), np.full(1, np.nan)
    run = np.cumsum(~finite)[fi]
    col = columns[fi].astype(np.int64)
    key = run * (int(col.max()) - int(col.min()) + 1) + (col - col.min())  # non-decreasing
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    ends = np.r_[starts[1:], fi.size] - 1
    yv = y[fi]
    group = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, fi.size]))
    keep = [starts, ends]
    for extreme in (np.minimum.reduceat(yv, starts), np.maximum.reduceat(yv, starts)):
        hit = np.flatnonzero(yv == extreme[group])
        first_hit = np.r_[True, group[hit][1:] != group[hit][:-1]]
        keep.append(hit[first_hit])
    kept = np.unique(np.concatenate(keep))
    idx = fi[kept].astype(np.float64)
    vals = yv[kept]
    breaks = np.flatnonzero(run[kept][1:] != run[kept][:-1]) + 1
    return np.insert(idx, breaks, np.nan), np.insert(vals, breaks, np.nan)


class SeriesRenderer:
    """One reusable figure; not thread-safe (``render_series`` serialises access)."""

    def __init__(self, settings: RenderSettings) -> None:
        self.settings = s = settings
        with matplotlib.style.context("default"):
            self.fig = Figure(figsize=(s.width_in, s.height_in), dpi=s.dpi)
            self.canvas = FigureCanvasAgg(self.fig)
            self.ax = self.fig.add_subplot(111)
            self.fig.subplots_adjust(left=s.left, right=s.right, bottom=s.bottom, top=s.top)
            (self.line,) = self.ax.plot([], [])
            self.ax.set_xlabel("Index")
            self.ax.set_ylabel("Value")
        width_px = s.width_in * s.dpi
        self._ax_x0 = width_px * s.left
        self._ax_w = width_px * (s.right - s.left)

    def update(self, values: np.ndarray, index_offset: int = 0,
               y_limits: tuple[float, float] | None = None) -> None:
        """Point the figure at a new window (line data, limits, ticks); ``y_limits`` fixes the
        y-axis range (default: matplotlib's autoscale of the window's values)."""
        s = self.settings
        y = clean_values(values)
        n, first = y.size, int(index_offset)
        xlim = axis_limits(first, first + n - 1)
        x: np.ndarray = np.arange(n, dtype=np.float64)
        if s.envelope and n > 4 * _BINS_PER_PIXEL * self._ax_w:  # > 4 points per bin: M4 shrinks it
            pixel_x = self._ax_x0 + (x + first - xlim[0]) * (self._ax_w / (xlim[1] - xlim[0]))
            cols = np.floor(pixel_x * _BINS_PER_PIXEL)
            x, y = m4_envelope(cols, y)
        finite = y[np.isfinite(y)]
        if y_limits is not None:
            ylim = (float(y_limits[0]), float(y_limits[1]))
            if not (np.isfinite(ylim).all() and ylim[0] < ylim[1]):
                raise ValueError(f"y_limits must be finite with low < high, got {y_limits}")
        else:
            ylim = axis_limits(finite.min(), finite.max()) if finite.size else axis_limits(0.0, 0.0)
        self.line.set_data(x + first, y)
        self.ax.set_xlim(xlim)
        self.ax.set_ylim(ylim)
        if s.auto_xticks:  # matplotlib's own locator and labels (e.g. AnomLLM's plot)
            self.ax.xaxis.set_major_locator(AutoLocator())
            self.ax.xaxis.set_major_formatter(ScalarFormatter())
            self.ax.tick_params(axis="x", labelrotation=s.xtick_rotation)
            return
        ticks = tick_positions(first, n, s.n_xticks)
        self.ax.set_xticks(ticks, [str(t) for t in ticks], rotation=s.xtick_rotation)

    def render(self, values: np.ndarray, index_offset: int = 0,
               y_limits: tuple[float, float] | None = None) -> bytes:
        """PNG bytes (RGB, no metadata chunks) of ``values`` drawn at ``index_offset``."""
        self.update(values, index_offset, y_limits)
        with matplotlib.style.context("default"):
            self.canvas.draw()
        size = (int(self.canvas.get_renderer().width), int(self.canvas.get_renderer().height))
        image = Image.frombuffer("RGBA", size, self.canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        out = io.BytesIO()
        image.convert("RGB").save(out, format="PNG", compress_level=self.settings.png_compress_level)
        return out.getvalue()


_LOCK = threading.Lock()
_RENDERERS: dict[RenderSettings, SeriesRenderer] = {}


def renderer_for(settings: RenderSettings) -> SeriesRenderer:
    """This process's renderer for ``settings`` (created once, then reused)."""
    r = _RENDERERS.get(settings)
    if r is None:
        r = _RENDERERS[settings] = SeriesRenderer(settings)
    return r


def render_series(
    values: np.ndarray, index_offset: int = 0, settings: RenderSettings = DEFAULT_SETTINGS,
    y_limits: tuple[float, float] | None = None,
) -> bytes:
    """Render one window as PNG bytes; equal inputs and settings give identical bytes.

    ``y_limits`` fixes the y-axis range (e.g. ``(0, 1)`` for values normalised over a whole
    series, so windows drawn separately share one scale); by default each window autoscales."""
    with _LOCK:
        return renderer_for(settings).render(values, index_offset, y_limits)
