"""The real series our embedded TSB-AD-U set ships (no network): UCR 135, MITDB and Yahoo.

They come from files inside installed packages (aeon, sktime), read by
:mod:`tasks.packaged_series`. Sources: ``UCR-TSAD`` (InternalBleeding16; aeon's copy
labels the anomaly as 0-based ``[4187, 4198]``, the same as :mod:`.ucr_tsad`'s default
``tsb-ad`` reading of the archive file name), ``MITDB`` and ``Yahoo``.
"""

from __future__ import annotations

from typing import Any

from tasks.packaged_series import real_series

from . import ucr_tsad
from .base import Loaded, SourceSeries, Unit

SOURCE = "tsb-embedded"
_SOURCES = {"UCR": "UCR-TSAD", "MITDB": "MITDB", "YAHOO": "Yahoo"}


def units(spec: Any) -> list[Unit]:
    """One unit for the three series (they are small)."""
    return [Unit(SOURCE, "tsb-embedded", {})]


def load(unit: Unit) -> list[Loaded]:
    """The three real series as :class:`SourceSeries` (DataError when a package is missing)."""
    out: list[Loaded] = []
    for s in real_series():
        source = _SOURCES[s.dataset]
        if s.dataset == "UCR":
            name, domain = "135_InternalBleeding16", ucr_tsad.domain_of("InternalBleeding16")
        else:
            name, domain = f"{s.dataset.lower()}-{s.series_id}", s.domain
        out.append(SourceSeries(source, domain, name, s.values, s.labels, ("real",), str(s.meta["origin"])))
    return out
