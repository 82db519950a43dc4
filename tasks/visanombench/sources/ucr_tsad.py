"""UCR-TSAD: the KDD Cup 2021 / UCR time-series anomaly archive (250 single-anomaly series).

File name ``NNN_UCR_Anomaly_<name>_<trainEnd>_<begin>_<end>.txt``; the file holds the values,
one per line or whitespace/comma separated. The archive was made in MATLAB and its README
counts positions from 1 ("the first <trainEnd> points are training data, the anomaly is
from <begin> to <end>"), so by default the anomaly is ``[begin - 1, end - 1]`` in 0-based
inclusive indices (``index_base=1``); ``index_base=0`` reads begin/end as 0-based inclusive.
The domain comes from the series name through :data:`DOMAINS` (first matching fragment),
else ``"unknown"``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from harness.core.errors import DataError
from harness.core.paths import folder_problem

from ..segment import AroundAnomalies
from .base import Loaded, Skipped, SourceSeries, Unit, all_files
from .reading import BadFile, read_text

SOURCE = "UCR-TSAD"
PAPER_RULE = AroundAnomalies(length=2755, per_series=1)
"""The paper profile's rule: ONE window of 2,755 points per archive series, around its anomaly.

Inferred from the paper's table: 249 items from an archive of 250 series (one item per
series; we do not know which series the paper dropped), mean length 2,755 (every archive
series is longer, 6,684 points and more, so the items are windows, and a fixed window of
the table's mean gives that mean), anomaly rate 6.9% (= about 190 anomalous points per
2,755-point window, in the range of the archive's anomaly lengths; a window that covered a
whole series would give well under 1%). The anomaly sits at a seeded random place with at
least 10% of the window on each side; a series shorter than half a window is skipped.
"""
NAME_RE = re.compile(r"^(\d+)_UCR_Anomaly_(.+)_(\d+)_(\d+)_(\d+)\.txt$")
PREFIXES = ("DISTORTED", "NOISE")
"""Name prefixes the archive adds to altered copies of a series; ignored for the domain."""

DOMAINS: tuple[tuple[str, str], ...] = (
    ("mars", "NASA"),
    ("powerdemand", "PowerDemand"),
    ("airtemperature", "AirTemperature"),
    ("resperation", "RESP"),
    ("respiration", "RESP"),
    ("epg", "EPG"),
    ("internalbleeding", "ABP"),
    ("tiltapb", "ABP"),
    ("tilt", "ABP"),
    ("charis", "ABP"),
    ("abp", "ABP"),
    ("walkingaceleration", "Acceleration"),
    ("acceleration", "Acceleration"),
    ("weallwalk", "Acceleration"),
    ("gait", "Gait"),
    ("gp711marker", "Gait"),
    ("park3m", "Gait"),
    ("taichidb", "Gait"),
    ("ecg", "ECG"),
    ("sddb", "ECG"),
    ("bidmc", "ECG"),
    ("fantasia", "ECG"),
    ("staffiii", "ECG"),
    ("qtdb", "ECG"),
    ("s20101m", "ECG"),
    ("ltstdb", "ECG"),
)
"""(lower-case name fragment, domain), checked in order; the classes follow the archive's
signal types (ECG, ABP, EPG, RESP, gait, acceleration, air temperature, power demand, NASA)."""


def domain_of(name: str, table: tuple[tuple[str, str], ...] = DOMAINS) -> str:
    """Domain of a UCR series name such as ``DISTORTEDInternalBleeding16`` (else "unknown")."""
    base = name
    for prefix in PREFIXES:
        if base.startswith(prefix):
            base = base[len(prefix):]
    low = base.lower()
    return next((domain for frag, domain in table if frag in low), "unknown")


def units(spec: Any) -> list[Unit]:
    """One unit per non-hidden file under the folder ``spec`` (or ``{"path": ..., "index_base": 1}``)."""
    params = dict(spec) if isinstance(spec, dict) else {"path": spec}
    root = Path(params.pop("path", "")).expanduser()
    if problem := folder_problem(root):
        raise DataError(f"UCR-TSAD folder {root} {problem}")
    base = int(params.get("index_base", 1))
    if base not in (0, 1):
        raise DataError(f"UCR-TSAD index_base must be 0 or 1, got {base}")
    return [Unit(SOURCE, str(p), {"path": str(p), "index_base": base}) for p in all_files(root)]


def load(unit: Unit) -> list[Loaded]:
    """Read one archive file; a foreign or corrupt file becomes a :class:`Skipped`."""
    path = Path(unit.params["path"])
    try:
        return [_read(path, int(unit.params.get("index_base", 1)))]
    except BadFile as exc:
        return [Skipped(str(path), str(exc))]


def _read(path: Path, index_base: int) -> SourceSeries:
    m = NAME_RE.match(path.name)
    if m is None:
        raise BadFile("not a UCR-TSAD file name (NNN_UCR_Anomaly_<name>_<trainEnd>_<begin>_<end>.txt)")
    number, name, train_end, begin, end = m.group(1), m.group(2), *map(int, m.group(3, 4, 5))
    tokens = read_text(path).replace(",", " ").split()
    if not tokens:
        raise BadFile("empty file")
    try:
        values = np.array(tokens, dtype=np.float64)
    except ValueError:
        raise BadFile("holds non-numeric values") from None
    if not np.isfinite(values).any():
        raise BadFile("no finite value")
    values[np.isinf(values)] = np.nan
    first, last = begin - index_base, end - index_base
    if not 0 <= first <= last < values.size:
        raise BadFile(f"anomaly {begin}..{end} (index base {index_base}) is outside the {values.size} values")
    labels = np.zeros(values.size, dtype=np.int8)
    labels[first:last + 1] = 1
    origin = f"{path} (UCR archive {number}, train end {train_end}, anomaly {begin}..{end}, {index_base}-based)"
    return SourceSeries(SOURCE, domain_of(name), f"{number}_{name}", values, labels, ("real",), origin)
