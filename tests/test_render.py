"""Tests for harness.render.plot: look, determinism, edge inputs, envelope fidelity, worker pool."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import subprocess
import sys
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.colors import to_hex
from PIL import Image

from harness.render.plot import (
    DEFAULT_SETTINGS,
    RenderSettings,
    SeriesRenderer,
    axis_limits,
    m4_envelope,
    render_series,
    renderer_for,
    tick_positions,
)
from harness.render.pool import render_each, render_many
from harness.render.reference import render_plain

ROOT = Path(__file__).resolve().parents[1]
C0 = np.array([0x1F, 0x77, 0xB4])  # matplotlib's default first line colour


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def walk(n: int, seed: int = 0) -> np.ndarray:
    return np.cumsum(np.random.default_rng(seed).normal(size=n))


def line_mask(img: np.ndarray) -> np.ndarray:
    """Pixels close to the line colour (anti-aliased edges excluded)."""
    return np.abs(img - C0).sum(axis=2) < 60


# --- determinism ---------------------------------------------------------------------------


def test_same_bytes_twice_and_no_state_leaks_between_windows() -> None:
    y = walk(1000)
    first = render_series(y, 146534)
    render_series(np.full(7, np.nan), 3)  # a very different window in between
    render_series(walk(50_000, 1), 9_999_000)
    assert render_series(y, 146534) == first
    assert SeriesRenderer(DEFAULT_SETTINGS).render(y, 146534) == first  # fresh figure, same bytes


def test_all_nan_after_other_windows_equals_fresh() -> None:
    nan = np.full(10, np.nan)
    render_series(walk(100), 0)
    assert render_series(nan, 5) == SeriesRenderer(DEFAULT_SETTINGS).render(nan, 5)


_CHILD = (
    "import hashlib, numpy as np; from harness.render.plot import render_series;"
    "y = np.cumsum(np.random.default_rng(0).normal(size=1000)); y[300:340] = np.nan;"
    "print(hashlib.sha256(render_series(y, 146534)).hexdigest())"
)


def test_identical_bytes_across_fresh_processes() -> None:
    digests = [
        subprocess.run(
            [sys.executable, "-c", _CHILD], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(2)
    ]
    y = walk(1000)
    y[300:340] = np.nan
    assert digests[0] == digests[1] == hashlib.sha256(render_series(y, 146534)).hexdigest()


def test_png_has_no_metadata_chunks() -> None:
    png = render_series(walk(100))
    assert b"tEXt" not in png and b"tIME" not in png and b"iTXt" not in png


# --- look ----------------------------------------------------------------------------------


def test_tick_positions_are_absolute_indices() -> None:
    ticks = tick_positions(146534, 6731)
    assert len(ticks) == 20
    assert ticks[0] == 146534 and ticks[-1] == 146534 + 6730
    assert all(isinstance(t, int) for t in ticks) and ticks == sorted(set(ticks))
    assert tick_positions(10, 1) == [10]
    assert tick_positions(10, 2) == [10, 11]
    assert tick_positions(0, 7) == list(range(7))


def test_drawn_tick_labels_are_the_absolute_indices() -> None:
    render_series(walk(2000), 9_999_000)
    ax = renderer_for(DEFAULT_SETTINGS).ax
    labels = ax.get_xticklabels()
    expected = tick_positions(9_999_000, 2000)
    assert [lab.get_text() for lab in labels] == [str(t) for t in expected]
    assert list(ax.get_xticks()) == expected
    assert all(lab.get_rotation() == 45 for lab in labels)
    assert ax.get_xlabel() == "Index" and ax.get_ylabel() == "Value"
    assert to_hex(ax.get_lines()[0].get_color()) == "#1f77b4"


def test_tick_artists_are_reused_between_windows() -> None:
    render_series(walk(1000), 146534)
    ax = renderer_for(DEFAULT_SETTINGS).ax
    before = list(ax.xaxis.majorTicks)
    render_series(walk(1000, 1), 246534)
    assert ax.xaxis.majorTicks[: len(before)] == before


def test_pixel_identical_to_plain_approach_with_same_margins() -> None:
    y = walk(1000, 3)
    y[100:120] = np.nan
    assert np.array_equal(pixels(render_series(y, 146534)), pixels(render_plain(y, 146534, tight=False)))


def test_envelope_is_visually_identical_to_full_line() -> None:
    y = walk(100_000, 4) + 3 * np.sin(np.arange(100_000) / 7)
    full = pixels(render_series(y, 146534, RenderSettings(envelope=False)))
    env = pixels(render_series(y, 146534))
    diff = np.abs(full - env)
    assert (diff.max(axis=2) > 0).mean() < 0.01  # < 1% of pixels, anti-aliased edges only
    assert diff.mean() < 0.2
    ink_full, ink_env = full.min(axis=2) < 255, env.min(axis=2) < 255
    assert (ink_full ^ ink_env).sum() < 0.01 * ink_full.sum()  # same footprint
    assert line_mask(env).sum() == pytest.approx(line_mask(full).sum(), rel=0.1)


def test_fixed_margins_fit_seven_digit_ticks_and_wide_y_labels() -> None:
    for values in (walk(1000) * 1e-4, walk(1000) * 1e5 - 9e5, 123456.7 + walk(1000) * 1e-3):
        render_series(values, 9_999_000)
        r = renderer_for(DEFAULT_SETTINGS)
        box = r.fig.get_tightbbox(r.canvas.get_renderer())
        w, h = DEFAULT_SETTINGS.width_in, DEFAULT_SETTINGS.height_in
        assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= w and box.y1 <= h


# --- gaps and edge inputs --------------------------------------------------------------------


def _column_of(index: float, offset: int, n: int, s: RenderSettings = DEFAULT_SETTINGS) -> int:
    lo, hi = offset - 0.05 * (n - 1), offset + n - 1 + 0.05 * (n - 1)
    width = s.width_in * s.dpi
    return int(width * s.left + (index - lo) / (hi - lo) * width * (s.right - s.left))


@pytest.mark.parametrize("n", [1000, 100_000])
def test_nan_gap_is_drawn_as_a_gap(n: int) -> None:
    y = np.sin(np.arange(n) / (n / 20))
    gap = slice(n // 2 - n // 20, n // 2 + n // 20)
    y[gap] = np.nan
    mask = line_mask(pixels(render_series(y, 1000)))
    mid = _column_of(1000 + n // 2, 1000, n)
    assert not mask[:, mid - 3 : mid + 4].any()  # gap columns: no line colour
    assert mask[:, _column_of(1000 + n // 4, 1000, n)].any()  # line present elsewhere


def test_inf_is_a_gap_like_nan() -> None:
    y = walk(500)
    a, b = y.copy(), y.copy()
    a[200:220] = np.inf
    a[221] = -np.inf
    b[200:222] = np.nan
    assert render_series(a, 7) == render_series(b, 7)


@pytest.mark.parametrize(
    "values",
    [
        np.full(100, 3.0),
        np.zeros(50),
        np.full(30, np.nan),
        np.array([1.0]),
        np.array([1.0, 2.0]),
        np.array([np.nan, 5.0]),
        np.array([np.inf, -np.inf]),
        [1, 2, 3],
    ],
    ids=["constant", "zeros", "all-nan", "len1", "len2", "nan+1", "all-inf", "list"],
)
def test_edge_inputs_render_at_configured_size(values: np.ndarray) -> None:
    img = Image.open(io.BytesIO(render_series(np.asarray(values), 146534)))
    assert img.format == "PNG" and img.size == DEFAULT_SETTINGS.size_px == (1000, 400)


def test_y_limits_match_matplotlib_autoscale() -> None:
    r = renderer_for(DEFAULT_SETTINGS)
    r.update(np.full(10, 3.0))
    assert r.ax.get_ylim() == pytest.approx((2.835, 3.165))
    r.update(np.full(10, np.nan))
    assert r.ax.get_ylim() == pytest.approx((-0.055, 0.055))
    r.update(np.array([0.0, 10.0]), 5)
    assert r.ax.get_ylim() == pytest.approx((-0.5, 10.5))
    assert r.ax.get_xlim() == pytest.approx((4.95, 6.05))


@pytest.mark.parametrize(
    "values",
    [[1e308, -1e308, 0.0], [np.finfo(float).max] * 3, [-np.finfo(float).max, 0.0, 1.0], [1e308, 1.01e308]],
    ids=["+-1e308", "all-max", "-max", "near-max"],
)
def test_extreme_finite_values_render_clipped_to_a_drawable_axis(values: list[float]) -> None:
    png = render_series(np.array(values), 7)
    assert Image.open(io.BytesIO(png)).size == DEFAULT_SETTINGS.size_px
    r = renderer_for(DEFAULT_SETTINGS)
    r.update(np.array(values), 7)
    lo, hi = r.ax.get_ylim()
    assert np.isfinite([lo, hi]).all() and -1e307 <= lo < hi <= 1e307
    drawn = r.line.get_ydata()
    assert np.all((lo <= drawn) & (drawn <= hi))  # drawn at the axis bound, not off the plot


def test_axis_limits_are_finite_for_any_bounds() -> None:
    big = np.finfo(float).max
    assert axis_limits(-1.0, 1.0) == (-1.1, 1.1)  # ordinary ranges: matplotlib's arithmetic
    for lo, hi in [(-big, big), (big, big), (-big, -big), (1e308, 1.01e308), (np.nan, 1.0)]:
        limits = axis_limits(lo, hi)
        assert np.isfinite(limits).all() and limits[0] < limits[1] and max(map(abs, limits)) <= 1e307


def test_custom_size_and_invalid_input() -> None:
    s = RenderSettings(width_in=6, height_in=3, dpi=80)
    assert Image.open(io.BytesIO(render_series(walk(300), 0, s))).size == (480, 240)
    with pytest.raises(ValueError):
        render_series(np.array([]))
    with pytest.raises(ValueError):
        render_series(np.zeros((3, 3)))
    with pytest.raises(ValueError):
        RenderSettings(left=0.9, right=0.1)


# --- settings fingerprint ------------------------------------------------------------------


def test_fingerprint_stable_and_sensitive_to_every_field() -> None:
    base = RenderSettings()
    assert base.fingerprint() == RenderSettings().fingerprint()
    assert len(base.fingerprint()) == 64
    changes = {"width_in": 12.0, "height_in": 5.0, "dpi": 120, "n_xticks": 10, "xtick_rotation": 30.0,
               "left": 0.11, "right": 0.98, "bottom": 0.26, "top": 0.93, "envelope": False,
               "png_compress_level": 6, "auto_xticks": True}  # fmt: skip
    assert set(changes) == {f.name for f in dataclasses.fields(RenderSettings)}
    prints = {dataclasses.replace(base, **{k: v}).fingerprint() for k, v in changes.items()}
    assert len(prints) == len(changes) and base.fingerprint() not in prints


def test_auto_xticks_are_matplotlibs_default_ticks() -> None:
    import matplotlib.pyplot as plt

    from harness.render.plot import SeriesRenderer

    def pyplot_ticks(y: np.ndarray) -> list[float]:  # what plt.plot(series) shows (AnomLLM's plot)
        fig = plt.figure(figsize=(10, 1.5))
        plt.plot(y)
        ax = plt.gca()
        lo, hi = ax.get_xlim()
        ticks = [float(t) for t in ax.get_xticks() if lo <= t <= hi]
        plt.close(fig)
        return ticks

    r = SeriesRenderer(RenderSettings(width_in=10.0, height_in=1.5, auto_xticks=True, xtick_rotation=0.0))
    for y in (np.sin(np.arange(1000) / 9.0), np.zeros(30), np.arange(437.0)):
        r.update(y, 0, y_limits=(-1.0, 1.0))
        lo, hi = r.ax.get_xlim()
        assert [float(t) for t in r.ax.get_xticks() if lo <= t <= hi] == pyplot_ticks(y)
        assert r.ax.get_ylim() == (-1.0, 1.0)


# --- envelope ------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(st.floats(-1e6, 1e6), st.just(float("nan"))), min_size=1, max_size=300),
    st.integers(1, 20),
)
def test_m4_keeps_extremes_and_gaps(values: list[float], per_column: int) -> None:
    y = np.array(values)
    cols = np.arange(y.size) // per_column
    pos, vals = m4_envelope(cols, y)
    finite = np.isfinite(y)
    if not finite.any():
        assert np.isnan(vals).all()
        return
    kept = pos[np.isfinite(pos)].astype(int)
    assert np.array_equal(vals[np.isfinite(pos)], y[kept]) and np.all(np.diff(kept) > 0)
    run = np.cumsum(~finite)
    for r in np.unique(run[finite]):  # every run and column keeps its first, last, min and max
        for c in np.unique(cols[finite & (run == r)]):
            sel = np.flatnonzero(finite & (run == r) & (cols == c))
            got = [k for k in kept if k in set(sel)]
            assert got[0] == sel[0] and got[-1] == sel[-1]
            assert y[got].min() == y[sel].min() and y[got].max() == y[sel].max()
    # a NaN separator exactly where consecutive kept points belong to different runs
    assert np.isnan(vals).sum() == np.count_nonzero(np.diff(run[kept]))


# --- worker pool ---------------------------------------------------------------------------


def test_render_many_is_ordered_and_matches_render_series() -> None:
    items = [(walk(n, i), 1000 * i) for i, n in enumerate([10, 500, 3, 2000, 40, 1, 700])]
    expected = [render_series(v, off) for v, off in items]
    assert list(render_many(items, DEFAULT_SETTINGS, workers=2)) == expected
    assert list(render_many(iter(items), DEFAULT_SETTINGS, workers=1)) == expected


def test_a_failing_item_yields_its_error_and_the_others_render() -> None:
    items = [(walk(50, 1), 0), (np.zeros((2, 2)), 50), (walk(60, 2), 100)]
    expected = [render_series(walk(50, 1), 0), render_series(walk(60, 2), 100)]
    for workers in (1, 2):
        first, bad, last = render_each(items, DEFAULT_SETTINGS, workers=workers)
        assert isinstance(bad, ValueError) and "1-D" in str(bad)
        assert [first, last] == expected
    with pytest.raises(ValueError, match="1-D"):
        list(render_many(items, DEFAULT_SETTINGS, workers=1))


class _KillsWorker:
    """Unpickling it in a render worker ends that process, so the pool breaks."""

    def __reduce__(self) -> tuple[object, tuple[int]]:
        return os._exit, (1,)


def test_broken_pool_fails_the_windows_in_flight_and_renders_the_rest_here() -> None:
    import harness.render.pool as render_worker

    items = [(walk(40, i), 100 * i) for i in range(30)]
    expected = [render_series(v, off) for v, off in items]
    items[1] = (_KillsWorker(), 100)  # type: ignore[assignment]
    out = list(render_each(items, DEFAULT_SETTINGS, workers=2))
    assert len(out) == 30 and isinstance(out[1], BrokenProcessPool)
    in_flight = 2 * render_worker._IN_FLIGHT_PER_WORKER
    for got, want in zip(out[in_flight + 2:], expected[in_flight + 2:], strict=True):
        assert got == want  # submitted after the break was seen: rendered in this process
    assert all(got == want or isinstance(got, BrokenProcessPool) for got, want in zip(out, expected, strict=True))
    assert render_worker._POOL is None  # forgotten: the next call starts a fresh pool
    assert list(render_many(items[2:5], DEFAULT_SETTINGS, workers=2)) == expected[2:5]
