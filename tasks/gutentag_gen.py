"""Drive the GutenTAG generator (timeeval-gutentag) deterministically, one series at a time.

Shared by the embedded TSB-AD-U set and the VisAnomBench GutenTAG source: a series config
in GutenTAG's own schema goes through its validator and parser, then ``TimeSeries.generate``
with a fixed seed; the same installed version gives the same values for the same config.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np


class IncompatibleConfig(ValueError):
    """GutenTAG refused a config (schema error or an anomaly kind the base cannot take)."""


def generate_series(config: dict[str, Any], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Generate one univariate series from a GutenTAG ``timeseries`` entry.

    Returns ``(values float64, labels int8)``; raises :class:`IncompatibleConfig` when GutenTAG
    rejects or silently skips the config.
    """
    with warnings.catch_warnings():  # deprecation noise from jsonschema / neurokit2 / scipy
        warnings.simplefilter("ignore", DeprecationWarning)
        return _generate(config, seed)


def _generate(config: dict[str, Any], seed: int) -> tuple[np.ndarray, np.ndarray]:
    from gutenTAG.config import ConfigParser, ConfigValidator
    from gutenTAG.generator import TimeSeries

    wrapped = {"timeseries": [config]}
    try:
        ConfigValidator().validate(wrapped)
    except Exception as exc:  # jsonschema's ValidationError and friends
        raise IncompatibleConfig(f"GutenTAG rejected the config: {exc}") from exc
    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.ERROR)  # the parser logs a warning for each skipped config
    try:
        parsed = ConfigParser().parse(wrapped)
    finally:
        logger.setLevel(level)
    if len(parsed) != 1:
        raise IncompatibleConfig("GutenTAG skipped the config (anomaly kind incompatible with the base oscillation)")
    bos, anomalies, options, _ = parsed[0]
    ts = TimeSeries(bos, anomalies, **options.to_dict()).generate(seed)
    values = np.asarray(ts.timeseries, dtype=np.float64)[:, 0]
    labels = np.asarray(ts.labels).astype(np.int8).ravel()
    return values, labels


def is_compatible(anomaly_kind: str, base_oscillation: str) -> bool:
    """GutenTAG's own compatibility table: can ``anomaly_kind`` be injected into that base?"""
    from gutenTAG.utils.compatibility import Compatibility

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bool(Compatibility.check(anomaly_kind, base_oscillation))
