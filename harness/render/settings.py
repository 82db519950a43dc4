"""The render settings and the axis geometry they imply: plain data, no matplotlib.

The renderer (:mod:`harness.render.plot`) draws with them; the leaderboard's viewer reads them
back from a record to place intervals on the same x scale as the plot, without importing the
renderer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from harness.core.hashing import stable_hash

RENDERER_VERSION = 1
"""Bump when the drawing code changes in a way that can change pixels."""

AXIS_MARGIN = 0.05
"""matplotlib's default ``axes.xmargin`` / ``axes.ymargin``: the data range widened by 5% a side."""


@dataclass(frozen=True)
class RenderSettings:
    """Everything that decides the rendered pixels; part of a task's fingerprint.

    Margins are figure fractions chosen to fit 45-degree tick labels of up to 7 digits
    and y tick labels / offset text of matplotlib's default formatter.
    """

    width_in: float = 10.0
    height_in: float = 4.0
    dpi: int = 100
    n_xticks: int = 20
    xtick_rotation: float = 45.0
    left: float = 0.10
    right: float = 0.985
    bottom: float = 0.25
    top: float = 0.925
    auto_xticks: bool = False  # matplotlib's default x ticks instead of n_xticks at exact indices
    envelope: bool = True  # draw series of > ~16 points per pixel column as an M4 envelope
    png_compress_level: int = 1  # zlib level: 1 encodes ~2x faster than 6 for ~8% larger files

    def __post_init__(self) -> None:
        if self.width_in <= 0 or self.height_in <= 0 or self.dpi <= 0:
            raise ValueError("width_in, height_in and dpi must be positive")
        if self.n_xticks < 2:
            raise ValueError("n_xticks must be at least 2")
        if not (0 <= self.left < self.right <= 1 and 0 <= self.bottom < self.top <= 1):
            raise ValueError("margins must satisfy 0 <= left < right <= 1 and 0 <= bottom < top <= 1")
        if not 0 <= self.png_compress_level <= 9:
            raise ValueError("png_compress_level must be in 0..9")

    @property
    def size_px(self) -> tuple[int, int]:
        """(width, height) of the PNG in pixels."""
        return round(self.width_in * self.dpi), round(self.height_in * self.dpi)

    def fingerprint(self) -> str:
        """Stable hash of the settings, the renderer version and the matplotlib version."""
        from importlib.metadata import version

        settings = asdict(self)
        if not settings["auto_xticks"]:
            del settings["auto_xticks"]  # fingerprints of earlier settings stay as they were
        return stable_hash({"settings": settings, "renderer": RENDERER_VERSION, "matplotlib": version("matplotlib")})


