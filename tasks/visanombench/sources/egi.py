"""UCR-EGI: a documented CSV layout (the paper does not publish this source's file format).

Layout (our assumption, see docs/visanombench-data.md): ``<root>/<domain>/<name>.csv`` with
a header and the columns ``value`` (or ``data``) and ``label`` (or ``is_anomaly`` /
``anomaly``), one row per point; other columns (e.g. ``timestamp``) are ignored. The domain
is the name of the file's first folder below the root (``unknown`` for files in the root);
the series name is the path below the root without ``.csv``. Empty values are NaN.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from harness.core.errors import DataError
from harness.core.paths import folder_problem

from ..segment import AroundAnomalies
from .base import Loaded, Skipped, SourceSeries, Unit, all_files
from .reading import BadFile, csv_rows, parse_float, parse_label, pick_column, read_text

SOURCE = "UCR-EGI"
VALUE_COLUMNS = ("value", "data")
LABEL_COLUMNS = ("label", "is_anomaly", "anomaly")
PAPER_RULE = AroundAnomalies(length=8268, max_items=2097)
"""The paper profile's rule: 2,097 windows of 8,268 points around anomalies.

Inferred from the paper's table: 2,097 items of mean length 8,268 in 5 domains with 5.8%
anomalous points. Nothing else about this source is published, so the rule is the one
that gives those counts from any folder large enough: a window of the table's mean length
around each anomaly not yet covered (seeded position, 10% margins; a series shorter than
the window but at least half of it is one window), then a seeded choice of 2,097 windows
when there are more.
"""


def units(spec: Any) -> list[Unit]:
    """One unit per non-hidden file under the folder ``spec``."""
    root = Path(spec["path"] if isinstance(spec, dict) else spec).expanduser()
    if problem := folder_problem(root):
        raise DataError(f"UCR-EGI folder {root} {problem}")
    return [Unit(SOURCE, str(p), {"path": str(p), "root": str(root)}) for p in all_files(root)]


def load(unit: Unit) -> list[Loaded]:
    """Read one CSV; a foreign or corrupt file becomes a :class:`Skipped`."""
    path, root = Path(unit.params["path"]), Path(unit.params["root"])
    try:
        return [_read(path, root)]
    except BadFile as exc:
        return [Skipped(str(path), str(exc))]


def _read(path: Path, root: Path) -> SourceSeries:
    if path.suffix.lower() != ".csv":
        raise BadFile("not a CSV file (UCR-EGI files are value,label CSVs)")
    header, rows = csv_rows(read_text(path))
    vi = pick_column(header, VALUE_COLUMNS, "value")
    li = pick_column(header, LABEL_COLUMNS, "label")
    if not rows:
        raise BadFile("no data rows")
    values = np.empty(len(rows), dtype=np.float64)
    labels = np.empty(len(rows), dtype=np.int8)
    for i, row in enumerate(rows):
        if len(row) <= max(vi, li):
            raise BadFile(f"line {i + 2}: {len(row)} fields, expected {len(header)}")
        try:
            values[i], labels[i] = parse_float(row[vi]), parse_label(row[li])
        except BadFile as exc:
            raise BadFile(f"line {i + 2}: {exc}") from None
    if not np.isfinite(values).any():
        raise BadFile("no finite value")
    rel = path.relative_to(root)
    domain = rel.parts[0] if len(rel.parts) > 1 else "unknown"
    return SourceSeries(SOURCE, domain, rel.with_suffix("").as_posix(), values, labels, ("real",), str(path))
