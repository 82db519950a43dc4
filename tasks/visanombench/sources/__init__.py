"""VisAnomBench sources: each module turns a path or settings into units of work, and a unit
into :class:`SourceSeries` (or :class:`Skipped` for a bad input, never an exception)."""

from __future__ import annotations

from types import ModuleType

from harness.core.errors import DataError

from . import egi, gutentag, hf, kpi, tsb_embedded, ucr_tsad
from .base import Loaded, Skipped, SourceSeries, Unit

LOADERS: dict[str, ModuleType] = {
    "gutentag": gutentag,
    "ucr-tsad": ucr_tsad,
    "kpi": kpi,
    "egi": egi,
    "hf": hf,
    "tsb-embedded": tsb_embedded,
}
"""Source name (as on the command line) -> module with ``units(spec)`` and ``load(unit)``."""

ALIASES = {"ucr": "ucr-tsad", "ucr_tsad": "ucr-tsad", "ucr-egi": "egi", "ucr_egi": "egi",
           "huggingface": "hf", "tsb_embedded": "tsb-embedded"}


def loader(name: str) -> ModuleType:
    """The loader module of a source name; DataError listing the known names."""
    key = ALIASES.get(name.lower(), name.lower())
    if key not in LOADERS:
        raise DataError(f"unknown VisAnomBench source {name!r}; known: {', '.join(LOADERS)}")
    return LOADERS[key]


def canonical(name: str) -> str:
    """The canonical source name (aliases resolved)."""
    key = ALIASES.get(name.lower(), name.lower())
    loader(key)
    return key


def load_unit(unit: Unit) -> list[Loaded]:
    """Load one unit with the module that made it."""
    module = next((m for m in LOADERS.values() if unit.source == m.SOURCE), None)
    if module is None:
        raise DataError(f"no loader for units of {unit.source!r}")
    return module.load(unit)


__all__ = ["LOADERS", "Loaded", "SourceSeries", "Skipped", "Unit", "canonical", "load_unit", "loader"]
