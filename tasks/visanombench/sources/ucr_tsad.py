"""UCR-TSAD: the KDD Cup 2021 / UCR time-series anomaly archive (250 single-anomaly series).

File name ``NNN_UCR_Anomaly_<name>_<trainEnd>_<begin>_<end>.txt``; the file holds the values,
one per line or whitespace/comma separated. How ``begin``/``end`` map to 0-based indices
(``reading``):

- ``tsb-ad`` (the default): ``[begin, end - 1]`` 0-based inclusive, i.e. ``begin`` 0-based and
  ``end`` exclusive, as TSB-AD's own conversion of the archive and aeon's copy of series 135
  (``135_UCR_Anomaly_InternalBleeding16_1200_4187_4199.txt``: anomaly 4187..4198, 12 points;
  aeon 1.0.0 ``datasets/data/KDD-TSAD_135``, tested in ``tests/test_vab_sources.py``);
- ``one-based``: ``[begin - 1, end - 1]``, the archive README's MATLAB wording read literally
  (what this module did before; one point earlier than TSB-AD: 4186..4198 for series 135);
- ``zero-based``: ``[begin, end]`` 0-based inclusive.

A name with ``begin == end`` marks the one point ``begin`` (``begin - 1`` for ``one-based``).

The older ``index_base`` setting still works (1: ``one-based``, 0: ``zero-based``).
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


READINGS = {"tsb-ad": (0, 1), "one-based": (1, 1), "zero-based": (0, 0)}
"""reading -> (subtract from begin, subtract from end) for 0-based inclusive indices."""
DEFAULT_READING = "tsb-ad"


def units(spec: Any) -> list[Unit]:
    """One unit per non-hidden file under the folder ``spec`` (or ``{"path": ..., "reading": "tsb-ad"}``;
    ``index_base`` 1 or 0 is the older spelling of ``one-based`` / ``zero-based``)."""
    params = dict(spec) if isinstance(spec, dict) else {"path": spec}
    root = Path(params.pop("path", "")).expanduser()
    if problem := folder_problem(root):
        raise DataError(f"UCR-TSAD folder {root} {problem}")
    reading = str(params.get("reading", DEFAULT_READING))
    if "index_base" in params:
        base = int(params["index_base"])
        if base not in (0, 1):
            raise DataError(f"UCR-TSAD index_base must be 0 or 1, got {base}")
        reading = "one-based" if base == 1 else "zero-based"
    if reading not in READINGS:
        raise DataError(f"UCR-TSAD reading must be one of {', '.join(READINGS)}, got {reading!r}")
    return [Unit(SOURCE, str(p), {"path": str(p), "reading": reading}) for p in all_files(root)]


def load(unit: Unit) -> list[Loaded]:
    """Read one archive file; a foreign or corrupt file becomes a :class:`Skipped`."""
    path = Path(unit.params["path"])
    try:
        return [_read(path, str(unit.params.get("reading", DEFAULT_READING)))]
    except BadFile as exc:
        return [Skipped(str(path), str(exc))]


def anomaly_span(begin: int, end: int, reading: str = DEFAULT_READING) -> tuple[int, int]:
    """The 0-based inclusive anomaly of a file name's ``begin``/``end`` under ``reading``."""
    dbegin, dend = READINGS[reading]
    first, last = begin - dbegin, end - dend
    return first, max(first, last)  # a file with begin == end marks one point under every reading


def _read(path: Path, reading: str) -> SourceSeries:
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
    first, last = anomaly_span(begin, end, reading)
    if not 0 <= first <= last < values.size:
        raise BadFile(f"anomaly {begin}..{end} ({reading} reading) is outside the {values.size} values")
    labels = np.zeros(values.size, dtype=np.int8)
    labels[first:last + 1] = 1
    origin = (f"{path} (UCR archive {number}, train end {train_end}, file anomaly {begin}..{end}, {reading} "
              f"reading: {first}..{last})")
    return SourceSeries(SOURCE, domain_of(name), f"{number}_{name}", values, labels, ("real",), origin)
