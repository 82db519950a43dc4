"""Our TSB-AD-U window (``tasks.tsb_ad_u.window``) against tsb-ad's ``find_length_rank``.

The comparisons run where tsb-ad is installed (the ``detectors`` environment) and are skipped
elsewhere; the behaviour tests run everywhere (numpy 1.26 and 2.x).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tasks.tsb_ad_u.embedded import ensure_embedded
from tasks.tsb_ad_u.window import autocorrelation, find_length_rank, local_maxima, next_regular

HAS_TSBAD = importlib.util.find_spec("TSB_AD") is not None
needs_tsbad = pytest.mark.skipif(not HAS_TSBAD, reason="tsb-ad not installed (the detectors extra): "
                                                      "comparison with its find_length_rank skipped")


def _real_like(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Series shaped like the hold-out files: periodic + trend + noise, spikes, plateaus, walks."""
    t = np.arange(30_000, dtype=np.float64)
    out = {
        "ecg-like": np.sin(2 * np.pi * t[:5000] / 87) ** 15 + 0.05 * rng.standard_normal(5000),
        "trend-season": 0.001 * t[:8000] + np.sin(2 * np.pi * t[:8000] / 24) + 0.3 * rng.standard_normal(8000),
        "two-periods": np.sin(2 * np.pi * t[:6000] / 50) + 0.7 * np.sin(2 * np.pi * t[:6000] / 170),
        "random-walk": np.cumsum(rng.standard_normal(4000)),
        "white-noise": rng.standard_normal(3000),
        "long-period": np.sin(2 * np.pi * t[:9000] / 350),
        "longer-than-20000": np.sin(2 * np.pi * t / 60) + 0.2 * rng.standard_normal(len(t)),
        "short": np.sin(2 * np.pi * t[:300] / 20),
        "constant": np.full(1000, 3.0),
        "integers": rng.integers(0, 5, 2000).astype(np.float64),
        "nan": np.where(t[:2000] == 500, np.nan, np.sin(t[:2000] / 10)),
    }
    spikes = np.sin(2 * np.pi * t[:5000] / 40)
    spikes[rng.integers(0, 5000, 30)] += 8
    out["spikes"] = spikes
    return out


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_embedded(tmp_path_factory.mktemp("embedded"))


def test_next_regular_is_the_smallest_5_smooth_number_at_least_target() -> None:
    def smooth(n: int) -> bool:
        for p in (2, 3, 5):
            while n % p == 0:
                n //= p
        return n == 1

    for target in [1, 5, 7, 11, 97, 1000, 4001, 40_001, 65_537]:
        got = next_regular(target)
        assert got >= target and smooth(got)
        assert not any(smooth(m) for m in range(target, got)), target


def test_acf_and_local_maxima_basics() -> None:
    x = np.sin(2 * np.pi * np.arange(2000) / 50)
    acf = autocorrelation(x, 400)
    assert acf[0] == pytest.approx(1.0) and len(acf) == 401
    assert 50 in local_maxima(acf)
    assert list(local_maxima(np.array([0, 2, 1, 1, 3, 3, 0, 5]))) == [1]  # plateaus and ends never count


def test_window_of_a_clean_period_and_the_fallbacks() -> None:
    t = np.arange(5000)
    assert find_length_rank(np.sin(2 * np.pi * t / 50).reshape(-1, 1), rank=1) == 50
    assert find_length_rank(np.full(500, 1.0)) == 125  # no maximum: tsb-ad's default
    assert find_length_rank(np.sin(2 * np.pi * t / 350)) == 125  # period beyond 300
    assert find_length_rank(np.ones((10, 2))) == 0  # multivariate
    assert find_length_rank(np.arange(10.0), rank=0) == 1
    with pytest.raises(ValueError, match="rank"):
        find_length_rank(np.arange(10.0), rank=2)


@needs_tsbad
def test_equals_tsb_ad_on_the_embedded_series(embedded: Path) -> None:
    from TSB_AD.utils.slidingWindows import find_length_rank as reference

    files = sorted(embedded.glob("*.csv"))
    series = [f for f in files if f.name != "embedded.csv"]
    assert len(series) >= 15
    for path in series:
        data = pd.read_csv(path)["Data"].to_numpy(float).reshape(-1, 1)
        assert find_length_rank(data, rank=1) == reference(data, rank=1), path.name


@needs_tsbad
def test_equals_tsb_ad_on_real_series_like_inputs() -> None:
    from TSB_AD.utils.slidingWindows import find_length_rank as reference

    rng = np.random.default_rng(7)
    windows = {}
    for name, data in _real_like(rng).items():
        windows[name] = find_length_rank(data.reshape(-1, 1), rank=1)
        assert windows[name] == reference(data.reshape(-1, 1), rank=1), name
    assert len(set(windows.values())) >= 5  # the inputs exercise different branches
    for seed in range(40):  # random periodic mixtures
        r = np.random.default_rng(seed)
        n = int(r.integers(500, 12_000))
        period = float(r.uniform(5, 320))
        data = np.sin(2 * np.pi * np.arange(n) / period) + r.uniform(0, 2) * r.standard_normal(n)
        assert find_length_rank(data, rank=1) == reference(data, rank=1), seed
