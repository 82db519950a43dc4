"""A model adapter over one tsb-ad detector, following TSB-AD's official protocol.

Per series: seed ``random``, numpy and torch with 2024, run the detector with tsb-ad's
tuned univariate hyperparameters on the series as an ``(n, 1)`` float array (semi-supervised
detectors fit on ``series[:train_end]`` first), check the output, min-max normalise it to
``[0, 1]`` as TSB-AD's ``Run_Detector_U.py`` does, and return it as ``Prediction.scores``.

The adapter calls tsb-ad's per-detector function ``model_wrapper.run_<name>`` itself instead
of the dispatchers ``run_Unsupervise_AD`` / ``run_Semisupervise_AD``: those catch every
exception and return the same string ("Model function ... is not defined") whatever the
cause. Calling the function keeps the real exception for the error message. Any failure
(an exception, a string or other non-numeric output, a wrong length, a non-finite value)
becomes ``Prediction.error`` for that series; ``predict`` never raises.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import io
import random
import time
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from baselines.tsbad.args import coerce_value
from baselines.tsbad.availability import detector_availability
from baselines.tsbad.catalog import SEMI_SUPERVISED, DetectorSpec, lookup
from baselines.tsbad.hparams import check_hyperparameters, is_int, is_number
from harness.core.errors import UnknownNameError, UsageError
from harness.core.hashing import stable_hash
from harness.core.types import Prediction, Sample
from harness.scoring.metrics.degenerate import degenerate_scores
from harness.scoring.thresholds import check_scores

ADAPTER_VERSION = "1"
"""Bump when the adapter changes what scores it returns for the same input."""
OFFICIAL_SEED = 2024
DEFAULT_TRAIN_FRACTION = 0.3
_DATA_PARAMS = {"data", "data_train", "data_test"}
_WINDOW_PARAMS = ("window_size", "win_size", "slidingWindow")


def tsb_ad_version() -> str:
    """Installed tsb-ad version (part of every fingerprint)."""
    try:
        return metadata.version("TSB-AD")
    except metadata.PackageNotFoundError:
        return "unknown"


def tuned_hyperparameters(tsb_name: str) -> dict[str, Any]:
    """tsb-ad's tuned univariate hyperparameters for a pool name (empty if it has none)."""
    from TSB_AD.HP_list import Optimal_Uni_algo_HP_dict

    return {k: coerce_value(v) for k, v in Optimal_Uni_algo_HP_dict.get(tsb_name, {}).items()}


def _wrapper_function(tsb_name: str) -> Callable[..., Any]:
    from TSB_AD import model_wrapper

    return getattr(model_wrapper, f"run_{tsb_name}")


def accepted_hyperparameters(tsb_name: str) -> dict[str, Any]:
    """Hyperparameters tsb-ad's ``run_<name>`` accepts, with its defaults."""
    sig = inspect.signature(_wrapper_function(tsb_name))
    return {
        p.name: (None if p.default is inspect.Parameter.empty else p.default)
        for p in sig.parameters.values()
        if p.name not in _DATA_PARAMS
    }


def effective_hyperparameters(tsb_name: str) -> dict[str, Any]:
    """Every hyperparameter of ``run_<name>``: its defaults with the tuned values applied."""
    return {**accepted_hyperparameters(tsb_name), **tuned_hyperparameters(tsb_name)}


def seed_everything(seed: int) -> None:
    """Seed ``random``, numpy's global generator and torch (CPU and CUDA), as TSB-AD does."""
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


class DetectorFailure(RuntimeError):
    """A tsb-ad detector raised; the message names the exception and what it printed."""


def _check_runnable(spec: DetectorSpec) -> None:
    """Raise :class:`UsageError` when a detector cannot run here (modules, weights, GPU)."""
    ok, reason = detector_availability(spec)
    if not ok:
        raise UsageError(f"{spec.name} cannot run here: {reason}")


def _tail(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else "..." + text[-limit:]


class TsbAdDetector:
    """Scores each series with one tsb-ad detector (``provides = {"scores"}``).

    ``detector`` is a registered name (``"Sub-PCA"``) or a tsb-ad pool name (``"Sub_PCA"``).
    Hyperparameter overrides go in ``**hp`` (strings are coerced, see
    :func:`~baselines.tsbad.args.coerce_value`) and replace tsb-ad's tuned values.
    ``train_fraction`` is the fallback training prefix for semi-supervised detectors when a
    sample has no ``train_end`` (``None``: such samples fail); ``min_train`` is the shortest
    training prefix accepted (default: twice the detector's window, at least 10 points).
    ``minmax`` min-max normalises the scores to ``[0, 1]`` like TSB-AD's runner.
    ``numba_cache`` (a folder) turns on numba's file cache for the JIT-compiled code some
    detectors use (:func:`~baselines.tsbad.jit.enable_numba_cache`); it does not change scores
    and is not part of the fingerprint.
    """

    provides = frozenset({"scores"})

    def __init__(
        self,
        detector: str,
        *,
        seed: int | str = OFFICIAL_SEED,
        minmax: bool | str = True,
        train_fraction: float | str | None = DEFAULT_TRAIN_FRACTION,
        min_train: int | str | None = None,
        numba_cache: str | None = None,
        **hp: Any,
    ) -> None:
        spec = lookup(detector)
        if spec is None:
            from baselines.tsbad.catalog import BY_NAME

            raise UnknownNameError("tsb-ad detector", detector, BY_NAME)
        _check_runnable(spec)
        if numba_cache:
            from baselines.tsbad.jit import enable_numba_cache

            enable_numba_cache(Path(str(numba_cache)).expanduser())
        self.spec: DetectorSpec = spec
        self.name: str = spec.name
        overrides = {k: coerce_value(v) for k, v in hp.items()}
        tuned = tuned_hyperparameters(spec.tsb_name)
        check_hyperparameters(spec.name, overrides, accepted_hyperparameters(spec.tsb_name), tuned)
        self.hp: dict[str, Any] = {**tuned, **overrides}
        self.seed: int = _setting(spec.name, "seed", seed, lambda v: is_int(v) and 0 <= v < 2**32,
                                  "a whole number in 0..2**32-1")
        self.minmax: bool = _setting(spec.name, "minmax", minmax, lambda v: isinstance(v, bool), "true or false")
        self.train_fraction: float | None = _setting(
            spec.name, "train_fraction", train_fraction, lambda v: v is None or (is_number(v) and 0.0 < v < 1.0),
            "None or a number in (0, 1)")
        window = next((self.hp.get(k) for k in _WINDOW_PARAMS if isinstance(self.hp.get(k), int)), 0)
        mt = _setting(spec.name, "min_train", min_train, lambda v: v is None or (is_int(v) and v >= 1),
                      "None or a whole number >= 1")
        self.min_train: int = int(mt) if mt is not None else max(10, 2 * int(window or 0))
        with contextlib.suppress(ImportError):  # import torch now, not inside latency_s
            import torch  # noqa: F401

    @property
    def semi_supervised(self) -> bool:
        """Whether the detector fits on a training prefix before scoring."""
        return self.spec.supervision == SEMI_SUPERVISED

    def fingerprint(self) -> str:
        """Hash of detector, effective hyperparameters, tsb-ad version, seed and settings."""
        return stable_hash(
            {
                "adapter": "tsbad",
                "adapter_version": ADAPTER_VERSION,
                "detector": self.spec.tsb_name,
                "hp": self.hp,
                "tsb_ad": tsb_ad_version(),
                "seed": self.seed,
                "minmax": self.minmax,
                "train_fraction": self.train_fraction if self.semi_supervised else None,
                "min_train": self.min_train if self.semi_supervised else None,
            }
        )

    def with_draw(self, seed: int) -> TsbAdDetector:
        """The draw hook (``harness.run.draws``): a copy seeded with ``seed`` instead."""
        twin = copy.copy(self)
        twin.seed = int(seed)
        return twin

    def describe(self) -> dict[str, Any]:
        """Display metadata of this configured detector."""
        return {
            "name": self.name,
            "tsb_ad_name": self.spec.tsb_name,
            "group": self.spec.group,
            "supervision": self.spec.supervision,
            "hyperparameters": {**accepted_hyperparameters(self.spec.tsb_name), **self.hp},
            "seed": self.seed,
            "tsb_ad_version": tsb_ad_version(),
        }

    def predict(self, batch: Sequence[Sample]) -> list[Prediction]:
        """Score every sample; failures become ``Prediction.error``, never exceptions."""
        return [self._predict_one(s) for s in batch]

    # -- one series -------------------------------------------------------------------

    def _train_prefix(self, sample: Sample, n: int) -> tuple[int | None, str | None, str | None]:
        """(train_end, source, error) for a semi-supervised detector."""
        if sample.train_end is not None:
            end, source = min(int(sample.train_end), n), "sample"
        elif self.train_fraction is not None:
            end, source = int(n * self.train_fraction), "train_fraction"
        else:
            return None, None, "sample has no train_end and train_fraction is None"
        if end < self.min_train:
            return (
                None,
                None,
                (
                    f"training prefix has {end} points ({source}); {self.name} needs at least "
                    f"{self.min_train} (min_train)"
                ),
            )
        return end, source, None

    def _predict_one(self, sample: Sample) -> Prediction:
        meta: dict[str, Any] = {"detector": self.spec.tsb_name}
        if sample.error:
            return Prediction(sample.id, error=f"input not loaded: {sample.error}", meta=meta)
        t0 = time.perf_counter()
        try:
            series = np.asarray(sample.series, dtype=np.float64)
            if series.ndim > 1 and series.size != series.shape[0]:
                why = f"expected a univariate series, got shape {series.shape}"
                return Prediction(sample.id, error=f"{self.name}: {why}", meta=meta)
            data = series.reshape(-1, 1)
            n = data.shape[0]
            bad = int(n - np.isfinite(data).sum())
            if n == 0 or bad:
                why = "empty series" if n == 0 else f"series has {bad} non-finite value(s)"
                return Prediction(sample.id, error=f"{self.name}: {why}", meta=meta)
            args: tuple[np.ndarray, ...] = (data,)
            if self.semi_supervised:
                end, source, err = self._train_prefix(sample, n)
                if err:
                    return Prediction(sample.id, error=f"{self.name}: {err}", meta=meta)
                meta.update(train_end=end, train_source=source)
                args = (data[:end], data)
            raw = self._run(args)
            latency = time.perf_counter() - t0
            scores, err = check_scores(raw, n)
            if err:
                err = f"tsb-ad {err}" if err.startswith("returned") else err
                return Prediction(sample.id, error=f"{self.name}: {err}", latency_s=latency, meta=meta)
            assert scores is not None
            constant = bool(np.ptp(scores) == 0.0)
            meta["constant_scores"] = constant
            meta["degenerate_scores"] = degenerate_scores(scores)  # judged on the raw scores
            if self.minmax:
                scores = np.zeros(n) if constant else (scores - scores.min()) / np.ptp(scores)
            return Prediction(sample.id, scores=scores, latency_s=latency, meta=meta)
        except Exception as exc:  # noqa: BLE001 - a detector failure is a per-series record
            latency = time.perf_counter() - t0
            why = str(exc) if isinstance(exc, DetectorFailure) else f"{type(exc).__name__}: {_tail(str(exc))}"
            return Prediction(sample.id, error=f"{self.name}: {why}", latency_s=latency, meta=meta)

    def _run(self, args: tuple[np.ndarray, ...]) -> Any:
        """Seed, then call tsb-ad's ``run_<name>`` with what it prints captured."""
        fn = _wrapper_function(self.spec.tsb_name)
        out = io.StringIO()
        seed_everything(self.seed)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                return fn(*args, **_copy_hp(self.hp))
        except Exception as exc:
            printed = _tail(out.getvalue(), 200)
            message = f"{type(exc).__name__}: {_tail(str(exc))}"
            raise DetectorFailure(message + (f" [printed: {printed}]" if printed else "")) from exc


def _setting(detector: str, name: str, value: Any, check: Callable[[Any], bool], takes: str) -> Any:
    """An adapter setting coerced from its command-line text; :class:`UsageError` when ``check`` refuses it."""
    coerced = coerce_value(value)
    if not check(coerced):
        raise UsageError(f"{detector}: {name} must be {takes}, got {value!r}")
    return float(coerced) if name == "train_fraction" and coerced is not None else coerced


def _copy_hp(hp: Mapping[str, Any]) -> dict[str, Any]:
    """Fresh copies of list values, so a detector that mutates them cannot change ``self.hp``."""
    return {k: (list(v) if isinstance(v, list) else v) for k, v in hp.items()}
