"""The TS foundation rows, Chronos and TimesFM, over their own packages (not tsb-ad's wrappers).

tsb-ad 1.5 runs Chronos through AutoGluon (``autogluon.timeseries``) and TimesFM through the
timesfm 1.x API (``TimesFmHparams`` / ``TimesFmCheckpoint``), neither of which installs
beside our pins (timesfm 3 has dropped that API). This module follows tsb-ad's protocol with
the current packages, installable as extras:

* ``pip install 'visanom[chronos]'`` (chronos-forecasting 2.x), ``pip install 'visanom[timesfm]'``
  (timesfm 3.x, torch backend);
* per series: every window of ``win_size`` points forecasts the next point (one step ahead,
  as tsb-ad's ``create_dataset(..., predict_time_steps=1)``); the score of a point is the
  squared error of its forecast; the first ``win_size`` points get the first score (tsb-ad's
  padding); scores are min-max normalised to [0, 1] as TSB-AD's runner does;
* defaults as tsb-ad's ``run_Chronos`` / ``run_TimesFM``: ``win_size`` 50 / 96, Chronos-T5
  base weights (tsb-ad's AutoGluon alias ``base``); TimesFM 3 loads TimesFM 2.5
  (``google/timesfm-2.5-200m-pytorch``) instead of tsb-ad's 1.0-200m checkpoint, which the
  current package cannot load: a documented departure (``docs/detectors.md``);
* the seed (2024, TSB-AD's) is set before each series (Chronos-T5 samples its forecasts).

Weights come from the local Hugging Face cache (or ``model_id=/a/local/folder``); when they
are not there the model refuses at construction with "needs network" and the command that
fetches them, unless ``download=true`` allows fetching them.
"""

from __future__ import annotations

import importlib.util
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness.core.errors import UsageError
from harness.core.hashing import stable_hash
from harness.core.types import Prediction, Sample

ADAPTER_VERSION = "1"
OFFICIAL_SEED = 2024
CHRONOS_REPO = "amazon/chronos-t5-base"
TIMESFM_REPO = "google/timesfm-2.5-200m-pytorch"

Forecaster = Callable[[np.ndarray], np.ndarray]
"""contexts ``(m, win_size)`` -> one-step forecasts ``(m,)``."""


def require_package(module: str, extra: str, what: str) -> None:
    """UsageError naming the extra when ``module`` is not installed."""
    if importlib.util.find_spec(module) is None:
        raise UsageError(f"{what} needs the {module!r} package: pip install 'visanom[{extra}]'")


def resolve_weights(model_id: str, revision: str | None, what: str, download: bool = False) -> str:
    """A local folder with the weights: ``model_id`` itself, or its snapshot in the HF cache.

    Without ``download`` nothing is fetched: weights missing from the cache are a clear
    "needs network" error naming the command that fetches them.
    """
    if Path(model_id).expanduser().is_dir():
        return str(Path(model_id).expanduser())
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(model_id, revision=revision, local_files_only=not download)
    except Exception as exc:  # LocalEntryNotFoundError, OfflineModeIsEnabled, HTTP errors
        if download:
            raise UsageError(f"{what}: could not download {model_id}: {type(exc).__name__}: {exc}") from exc
        raise UsageError(
            f"{what} needs the weights {model_id}, which are not in the local Hugging Face cache: this needs "
            f"network access once (`hf download {model_id}`, or model args download=true), or pass "
            f"model_id=/a/local/folder"
        ) from exc


def residual_scores(series: np.ndarray, win_size: int, forecast: Forecaster, batch_size: int) -> np.ndarray:
    """tsb-ad's forecasting protocol: squared one-step errors, the first ``win_size`` padded."""
    x = np.asarray(series, dtype=np.float64).ravel()
    n = x.size
    if n <= win_size:
        raise ValueError(f"series has {n} points; needs more than win_size={win_size}")
    windows = np.lib.stride_tricks.sliding_window_view(x, win_size)[: n - win_size]
    targets = x[win_size:]
    preds = np.concatenate([np.asarray(forecast(windows[i: i + batch_size]), dtype=np.float64).ravel()
                            for i in range(0, len(windows), batch_size)])
    if preds.shape != targets.shape:
        raise ValueError(f"forecaster returned {preds.size} forecasts for {targets.size} windows")
    errors = (targets - preds) ** 2
    return np.concatenate([np.full(win_size, errors[0]), errors])


def _seed(seed: int) -> None:
    import random

    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def _device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class ForecastDetector:
    """A foundation forecaster as a score model (``provides = {"scores"}``); loads at first use."""

    provides = frozenset({"scores"})
    tsb_name = ""
    package = ""

    def __init__(self, name: str, model_id: str, *, revision: str | None = None, win_size: int = 50,
                 batch_size: int = 64, device: str = "auto", seed: int = OFFICIAL_SEED, minmax: bool = True,
                 download: bool = False) -> None:
        self.name = name
        self.model_id = str(model_id)
        self.revision = None if revision is None else str(revision)
        self.win_size = int(win_size)
        self.batch_size = int(batch_size)
        if self.win_size < 2 or self.batch_size < 1:
            raise UsageError(f"{name}: win_size must be >= 2 and batch_size >= 1")
        self.device = str(device)
        self.seed = int(seed)
        self.minmax = bool(minmax)
        self.weights = resolve_weights(self.model_id, self.revision, name, bool(download))
        self._forecast: Forecaster | None = None

    def _load(self) -> Forecaster:  # pragma: no cover - overridden
        raise NotImplementedError

    def fingerprint(self) -> str:
        """Model id + revision, window, seed, normalisation, package version."""
        from importlib import metadata

        try:
            version = metadata.version(self.package)
        except metadata.PackageNotFoundError:
            version = None
        return stable_hash({"adapter": "foundation", "version": ADAPTER_VERSION, "model": self.name,
                            "model_id": self.model_id, "revision": self.revision, "win_size": self.win_size,
                            "seed": self.seed, "minmax": self.minmax, "package": [self.package, version]})

    def describe(self) -> dict[str, Any]:
        """Display metadata."""
        return {"name": self.name, "model_id": self.model_id, "revision": self.revision, "win_size": self.win_size,
                "seed": self.seed, "package": self.package, "protocol": "tsb-ad one-step squared error"}

    def predict(self, batch: Sequence[Sample]) -> list[Prediction]:
        """Score each series; a failure is that sample's error, never an exception."""
        return [self._one(s) for s in batch]

    def _one(self, sample: Sample) -> Prediction:
        if sample.error:
            return Prediction(sample.id, error=f"input not loaded: {sample.error}")
        t0 = time.perf_counter()
        try:
            x = np.asarray(sample.series, dtype=np.float64).ravel()
            if not np.isfinite(x).all():
                return Prediction(sample.id, error=f"{self.name}: series has non-finite values")
            if self._forecast is None:
                self._forecast = self._load()
            _seed(self.seed)
            scores = residual_scores(x, self.win_size, self._forecast, self.batch_size)
            if not np.isfinite(scores).all():
                return Prediction(sample.id, error=f"{self.name}: non-finite forecasts",
                                  latency_s=time.perf_counter() - t0)
            span = float(np.ptp(scores))
            if self.minmax:
                scores = np.zeros_like(scores) if span == 0 else (scores - scores.min()) / span
            return Prediction(sample.id, scores=scores, latency_s=time.perf_counter() - t0,
                              meta={"constant_scores": span == 0})
        except Exception as exc:  # noqa: BLE001 - a per-series failure is recorded
            return Prediction(sample.id, error=f"{self.name}: {type(exc).__name__}: {exc}",
                              latency_s=time.perf_counter() - t0)


class ChronosDetector(ForecastDetector):
    """Chronos (chronos-forecasting): the forecast is the mean of the pipeline's prediction."""

    tsb_name = "Chronos"
    package = "chronos-forecasting"

    def _load(self) -> Forecaster:
        import torch
        from chronos import BaseChronosPipeline

        pipe = BaseChronosPipeline.from_pretrained(self.weights, device_map=_device(self.device),
                                                   dtype=torch.float32)

        def forecast(windows: np.ndarray) -> np.ndarray:
            context = torch.tensor(np.ascontiguousarray(windows), dtype=torch.float32)
            _, mean = pipe.predict_quantiles(context, prediction_length=1, quantile_levels=[0.5])
            return mean[:, 0].detach().cpu().numpy()

        return forecast


class TimesFMDetector(ForecastDetector):
    """TimesFM 2.5 (timesfm 3.x, torch): the point forecast of one step."""

    tsb_name = "TimesFM"
    package = "timesfm"

    def _load(self) -> Forecaster:
        import timesfm

        model = timesfm.TimesFM_2p5_200M_torch.from_pretrained(self.weights, torch_compile=False)
        context = int(math.ceil(self.win_size / 32) * 32)
        model.compile(timesfm.ForecastConfig(max_context=context, max_horizon=128, normalize_inputs=True,
                                             per_core_batch_size=self.batch_size))

        def forecast(windows: np.ndarray) -> np.ndarray:
            point, _ = model.forecast(horizon=1, inputs=[w for w in windows])
            return np.asarray(point)[:, 0]

        return forecast


def make_chronos(model_id: str = CHRONOS_REPO, revision: str | None = None, win_size: int = 50,
                 batch_size: int = 64, device: str = "auto", seed: int = OFFICIAL_SEED, minmax: bool = True,
                 download: bool = False) -> ChronosDetector:
    """Chronos (default Chronos-T5 base, as tsb-ad's run_Chronos); needs ``visanom[chronos]``."""
    require_package("chronos", "chronos", "Chronos")
    return ChronosDetector("Chronos", model_id, revision=revision, win_size=win_size, batch_size=batch_size,
                           device=device, seed=seed, minmax=minmax, download=download)


def make_timesfm(model_id: str = TIMESFM_REPO, revision: str | None = None, win_size: int = 96,
                 batch_size: int = 32, device: str = "auto", seed: int = OFFICIAL_SEED, minmax: bool = True,
                 download: bool = False) -> TimesFMDetector:
    """TimesFM 2.5 200M (timesfm 3.x); needs ``visanom[timesfm]``."""
    require_package("timesfm", "timesfm", "TimesFM")
    return TimesFMDetector("TimesFM", model_id, revision=revision, win_size=win_size, batch_size=batch_size,
                           device=device, seed=seed, minmax=minmax, download=download)
