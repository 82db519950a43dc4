"""Image pixel budgets shared by every engine.

VLM processors (Qwen2-VL and kin) and hosted APIs accept images only within a pixel budget.
:func:`fit_pixel_budget` brings a PNG inside ``[min_pixels, max_pixels]`` while keeping its
aspect ratio, with both sides multiples of ``factor`` (28 = Qwen's patch 14 x merge 2), so
the processor does not resize it again. Images already inside the budget come back as
the same bytes. The returned record goes into ``GenerationResult.meta["image"]``.
"""

from __future__ import annotations

import io
import math
from typing import Any

from PIL import Image


def open_image(data: bytes) -> Image.Image:
    """Decode an encoded image fully (raises ``ValueError`` when unreadable)."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            return im.copy() if im.mode in ("RGB", "RGBA") else im.convert("RGBA" if im.mode in ("LA", "P")
                                                                          else "RGB")
    except Exception as e:  # PIL raises several kinds for bad data
        raise ValueError(f"unreadable image ({type(e).__name__})") from e


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height of an encoded image (raises ``ValueError`` when unreadable)."""
    try:
        with Image.open(io.BytesIO(png)) as im:
            return im.size
    except Exception as e:  # PIL raises several kinds for bad data
        raise ValueError(f"unreadable image ({type(e).__name__})") from e


def target_size(width: int, height: int, max_pixels: int, min_pixels: int = 0,
                factor: int = 28) -> tuple[int, int] | None:
    """The size to resize to, or ``None`` when ``width x height`` is inside the budget.

    ``max_pixels <= 0`` means no upper bound. Sides are rounded down (when shrinking) or up
    (when growing) to multiples of ``factor`` and are never below ``factor``.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"bad image size {width}x{height}")
    area = width * height
    if max_pixels > 0 and area > max_pixels:
        scale = math.sqrt(max_pixels / area)
        w = max(factor, math.floor(width * scale / factor) * factor)
        h = max(factor, math.floor(height * scale / factor) * factor)
        return w, h
    if min_pixels > 0 and area < min_pixels:
        scale = math.sqrt(min_pixels / area)
        w = max(factor, math.ceil(width * scale / factor) * factor)
        h = max(factor, math.ceil(height * scale / factor) * factor)
        if max_pixels > 0 and w * h > max_pixels:  # a budget too narrow for this aspect
            w, h = (max(factor, math.floor(s * scale / factor) * factor) for s in (width, height))
        return w, h
    return None


def fit_image(image: Image.Image, max_pixels: int, min_pixels: int = 0,
              factor: int = 28) -> tuple[Image.Image, dict[str, Any]]:
    """:func:`fit_pixel_budget` on a decoded PIL image (no PNG round trip); same record."""
    width, height = image.size
    size = target_size(width, height, max_pixels, min_pixels, factor)
    if size is None:
        return image, {"resized": False, "from": [width, height], "to": [width, height]}
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if image.mode in ("LA", "P") else "RGB")
    record = {"resized": True, "from": [width, height], "to": list(size),
              "max_pixels": max_pixels, "min_pixels": min_pixels, "factor": factor}
    return image.resize(size, Image.Resampling.BICUBIC), record


def fit_pixel_budget(png: bytes, max_pixels: int, min_pixels: int = 0,
                     factor: int = 28) -> tuple[bytes, dict[str, Any]]:
    """Return ``png`` resized into the pixel budget (if needed) and a record of what happened.

    The record is ``{"resized": bool, "from": [w, h], "to": [w, h]}`` (plus the budget when
    resized). Raises ``ValueError`` for data that is not a readable image.
    """
    width, height = png_size(png)
    if target_size(width, height, max_pixels, min_pixels, factor) is None:
        return png, {"resized": False, "from": [width, height], "to": [width, height]}
    with Image.open(io.BytesIO(png)) as im:
        out, record = fit_image(im, max_pixels, min_pixels, factor)
    buf = io.BytesIO()
    out.save(buf, format="PNG")
    return buf.getvalue(), record


def budget_png(png: bytes, max_pixels: int | None, meta: dict[str, Any]) -> bytes:
    """The hosted-API engines' step: apply an upper pixel budget to a PNG (none when
    ``max_pixels`` is falsy), recording what happened in ``meta["image"]``."""
    if not max_pixels:
        return png
    png, record = fit_pixel_budget(png, int(max_pixels))
    meta["image"] = record
    return png
