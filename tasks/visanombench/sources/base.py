"""Common types of the VisAnomBench sources: a loaded series, a skipped input, a unit of work."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class SourceSeries:
    """One whole series of a source, before segmentation.

    ``values`` (float64, NaN = missing point) and ``labels`` (int8, 1 = anomalous) have equal
    length; ``offset`` is the absolute index of ``values[0]`` (0 for a whole series);
    ``split`` is a split the source prescribes ("train"/"test"), else None (the build decides);
    ``group`` ties series that must land in the same split (default: the name). ``name`` is
    unique within its source. ``kind_spans`` optionally says which anomaly kind sits where
    (``(first, last, kind)``, relative inclusive positions) so a segment lists only the kinds
    inside it; without spans every anomalous segment lists all of ``anomaly_kinds``.
    """

    source: str
    domain: str
    name: str
    values: np.ndarray
    labels: np.ndarray
    anomaly_kinds: tuple[str, ...] = ()
    origin: str = ""
    offset: int = 0
    split: str | None = None
    group: str | None = None
    kind_spans: tuple[tuple[int, int, str], ...] = ()

    def __post_init__(self) -> None:
        values = np.asarray(self.values, dtype=np.float64).ravel()
        labels = np.asarray(self.labels).astype(np.int8).ravel()
        if values.shape != labels.shape:
            raise ValueError(f"{self.name}: {values.size} values but {labels.size} labels")
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "anomaly_kinds", tuple(self.anomaly_kinds))
        if self.group is None:
            object.__setattr__(self, "group", self.name)


SKIP_KINDS = {
    "unreadable": "file or row the source cannot read",
    "too-short": "series too short for the profile's rule",
    "no-anomaly": "series without any labelled anomaly (the rule keeps windows around anomalies)",
    "all-nan": "window with no finite value",
    "duplicate": "series seen before under the same name",
    "loader-error": "unexpected loader error",
}
"""The kinds of skip the stats count (``Skipped.kind``), with their meaning."""


@dataclass(frozen=True)
class Skipped:
    """An input that was left out, and why (a bad file, a too-short series, an empty window).

    ``kind`` is one of :data:`SKIP_KINDS` (``unreadable`` when a loader does not say) and
    ``source`` the source label the input belongs to (empty when not known), so stats can
    count skips per source and reason.
    """

    path: str
    reason: str
    kind: str = "unreadable"
    source: str = ""

    def to_dict(self) -> dict[str, str]:
        """The manifest form ``{path, reason, kind, source}``."""
        return {"path": self.path, "reason": self.reason, "kind": self.kind, "source": self.source}


@dataclass(frozen=True)
class Unit:
    """A picklable piece of work a worker process loads on its own (a file, a GutenTAG series)."""

    source: str
    key: str
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


Loaded = SourceSeries | Skipped


def all_files(root: Path) -> Iterator[Path]:
    """Every regular file under ``root`` except hidden ones, in a fixed order."""
    for p in sorted(root.rglob("*"), key=lambda q: q.relative_to(root).as_posix()):
        rel = p.relative_to(root).parts
        if p.is_file() and not any(part.startswith(".") for part in rel):
            yield p
