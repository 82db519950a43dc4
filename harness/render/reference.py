"""The plain (slow) way to draw the paper's plot: the reference that ``harness.render.plot`` must match.

Used by the tests (pixel comparisons) and ``benchmarks/render_bench.py`` (speed baseline).
"""

from __future__ import annotations

import io

import matplotlib
import matplotlib.style
import numpy as np

from harness.render.plot import DEFAULT_SETTINGS, RenderSettings, tick_positions

matplotlib.use("Agg")  # no-op when a non-interactive backend is already active
import matplotlib.pyplot as plt  # noqa: E402


def render_plain(
    values: np.ndarray, index_offset: int = 0, settings: RenderSettings = DEFAULT_SETTINGS, tight: bool = True
) -> bytes:
    """New pyplot figure -> plot -> labels -> rotated absolute ticks -> layout -> savefig(PNG).

    ``tight=True`` uses ``tight_layout`` (the plain approach); ``tight=False`` uses the fixed
    margins of ``settings`` so the result can be compared pixel by pixel with ``render_series``.
    """
    s = settings
    y = np.asarray(values, dtype=np.float64)
    x = int(index_offset) + np.arange(y.size)
    with matplotlib.style.context("default"):
        fig = plt.figure(figsize=(s.width_in, s.height_in), dpi=s.dpi)
        try:
            plt.plot(x, y)
            plt.xlabel("Index")
            plt.ylabel("Value")
            ticks = tick_positions(int(index_offset), y.size, s.n_xticks)
            plt.xticks(ticks, [str(t) for t in ticks], rotation=s.xtick_rotation)
            if tight:
                plt.tight_layout()
            else:
                fig.subplots_adjust(left=s.left, right=s.right, bottom=s.bottom, top=s.top)
            out = io.BytesIO()
            fig.savefig(out, format="png", metadata={"Software": None})
            return out.getvalue()
        finally:
            plt.close(fig)
