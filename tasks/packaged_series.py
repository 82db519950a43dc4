"""Real series that installed packages ship as data files: UCR KDD21 135 InternalBleeding16
(aeon), an MIT-BIH ECG excerpt and a Yahoo Webscope series (sktime); read without network.

Both embedded sets use them (the TSB-AD-U-format set, :mod:`tasks.tsb_ad_u.embedded`, and the
VisAnomBench source ``tsb-embedded``), so they live here, outside both task packages.
"""

from __future__ import annotations

import csv
import importlib.metadata
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.core.errors import DataError


@dataclass(frozen=True)
class PackagedSeries:
    """One series of the embedded sets: values, labels and what their meta records."""

    dataset: str
    series_id: int
    domain: str
    train_end: int
    values: np.ndarray
    labels: np.ndarray
    decimals: int | None
    meta: dict[str, Any] = field(default_factory=dict)


def _package_file(package: str, *parts: str) -> Path:
    """A data file shipped inside an installed package (found without importing it)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"the embedded data set needs the package {package!r}, which is not installed")
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    if not path.is_file():
        raise DataError(f"the embedded data set needs {path}, which {package} does not ship")
    return path


def _read_columns(path: Path, value_col: str, label_col: str) -> tuple[np.ndarray, np.ndarray]:
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    values = np.array([float(r[value_col]) for r in rows], dtype=np.float64)
    labels = np.array([int(r[label_col]) for r in rows], dtype=np.int8)
    return values, labels


def dist_version(dist: str) -> str:
    """An installed distribution's version, or ``"unknown"``."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def real_series() -> list[PackagedSeries]:
    """UCR 135 (aeon), MITDB and Yahoo (sktime), read from the files the packages ship."""
    folder = ("datasets", "data", "KDD-TSAD_135")
    test = _package_file("aeon", *folder, "135_UCR_Anomaly_InternalBleeding16_TEST.csv")
    train = _package_file("aeon", *folder, "135_UCR_Anomaly_InternalBleeding16_TRAIN.csv")
    ucr_v, ucr_l = _read_columns(test, "value", "is_anomaly")
    train_v, _ = _read_columns(train, "value", "is_anomaly")
    if not np.array_equal(ucr_v[: train_v.size], train_v):
        raise DataError(f"{train} is not the start of {test}; cannot set the UCR train end")
    mitdb = _package_file("sktime", "datasets", "data", "mitdb", "mitdb.csv")
    yahoo = _package_file("sktime", "datasets", "data", "yahoo", "yahoo.csv")
    aeon_v, sk_v = dist_version("aeon"), dist_version("sktime")
    return [
        PackagedSeries("UCR", 135, "Medical", int(train_v.size), ucr_v, ucr_l, None, {
            "source": "UCR", "anomaly_kinds": ["real"],
            "origin": f"UCR KDD21 anomaly archive 135 InternalBleeding16 (aeon {aeon_v} load_kdd_tsad_135 files); "
                      "train end from the archive's TRAIN split"}),
        PackagedSeries("MITDB", 1, "Medical", 2500, *_read_columns(mitdb, "data", "label"), None, {
            "source": "MITDB", "anomaly_kinds": ["real"],
            "origin": f"MIT-BIH Arrhythmia Database excerpt (sktime {sk_v} datasets/data/mitdb/mitdb.csv)"}),
        PackagedSeries("YAHOO", 1, "WebService", 300, *_read_columns(yahoo, "data", "label"), None, {
            "source": "YAHOO", "anomaly_kinds": ["real"],
            "origin": f"Yahoo Webscope S5 series (sktime {sk_v} datasets/data/yahoo/yahoo.csv)"}),
    ]
