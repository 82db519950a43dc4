"""KPI: the AIOps Challenge 2018 KPI anomaly data (web service metrics of large companies).

Public layout: CSV files with the columns ``timestamp,value,label,KPI ID`` (unix seconds,
float, 0/1, an id string), many KPIs per file. Each KPI becomes one series named
``<file stem>:<KPI ID>`` in the domain ``WebService``; its rows are sorted by timestamp
and duplicate timestamps keep their first row. Missing points (a timestamp gap that is a
multiple of the KPI's usual step) are inserted as NaN with label 0, so plots show the gaps.
Series of one KPI ID in several files (the challenge's train and test files) share a split
group, so they never end up on both sides of the split.
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

SOURCE = "KPI"
DOMAIN = "WebService"
PAPER_RULE = AroundAnomalies(length=1777, max_items=160)
"""The paper profile's rule: 160 windows of 1,777 points around anomalies, over all KPIs.

Inferred from the paper's table: 160 items of mean length 1,777 (160 x 1,777 = 284k points,
a few percent of the challenge's ~6M points, so the items are windows, not whole KPIs),
one domain, anomaly rate 4.3% (about twice the challenge's overall ~2%, so the windows were
chosen around anomalies rather than cut evenly). Each anomaly not yet covered gets a
window (seeded position, 10% margins); when the KPIs give more than 160 windows the build
keeps a seeded choice of 160.
"""
MAX_FILL = 4
"""Gaps are filled only while the filled series stays within this factor of the row count."""


def units(spec: Any) -> list[Unit]:
    """One unit per non-hidden file under the folder ``spec`` (or a single CSV file)."""
    root = Path(spec["path"] if isinstance(spec, dict) else spec).expanduser()
    if root.is_file():
        return [Unit(SOURCE, str(root), {"path": str(root)})]
    if problem := folder_problem(root):
        raise DataError(f"KPI folder {root} {problem}")
    return [Unit(SOURCE, str(p), {"path": str(p)}) for p in all_files(root)]


def load(unit: Unit) -> list[Loaded]:
    """All KPIs of one CSV file; a foreign or corrupt file (or KPI) becomes a :class:`Skipped`."""
    path = Path(unit.params["path"])
    try:
        groups = _read_groups(path)
    except BadFile as exc:
        return [Skipped(str(path), str(exc))]
    out: list[Loaded] = []
    for kpi_id in sorted(groups):
        try:
            out.append(_series(path, kpi_id, groups[kpi_id]))
        except BadFile as exc:
            out.append(Skipped(f"{path}#{kpi_id}", str(exc)))
    return out


def _read_groups(path: Path) -> dict[str, list[tuple[int, float, int]]]:
    if path.suffix.lower() != ".csv":
        raise BadFile("not a CSV file (KPI files are timestamp,value,label,KPI ID CSVs)")
    header, rows = csv_rows(read_text(path))
    cols = (pick_column(header, ("timestamp",), "timestamp"), pick_column(header, ("value",), "value"),
            pick_column(header, ("label",), "label"), pick_column(header, ("kpi id", "kpi_id"), "KPI ID"))
    groups: dict[str, list[tuple[int, float, int]]] = {}
    for lineno, row in enumerate(rows, start=2):
        if len(row) < len(header):
            raise BadFile(f"line {lineno}: {len(row)} fields, expected {len(header)}")
        try:
            t, v, y = parse_float(row[cols[0]]), parse_float(row[cols[1]]), parse_label(row[cols[2]])
        except BadFile as exc:
            raise BadFile(f"line {lineno}: {exc}") from None
        if np.isnan(t):
            raise BadFile(f"line {lineno}: missing timestamp")
        groups.setdefault(row[cols[3]].strip(), []).append((int(t), v, y))
    if not groups:
        raise BadFile("no data rows")
    return groups


def _series(path: Path, kpi_id: str, rows: list[tuple[int, float, int]]) -> SourceSeries:
    if not kpi_id:
        raise BadFile("empty KPI ID")
    ts = np.array([r[0] for r in rows], dtype=np.int64)
    order = np.argsort(ts, kind="stable")
    ts = ts[order]
    keep = np.concatenate(([True], np.diff(ts) > 0))
    values = np.array([r[1] for r in rows], dtype=np.float64)[order][keep]
    labels = np.array([r[2] for r in rows], dtype=np.int8)[order][keep]
    ts = ts[keep]
    values, labels = _fill_gaps(ts, values, labels)
    if not np.isfinite(values).any():
        raise BadFile("no finite value")
    return SourceSeries(SOURCE, DOMAIN, f"{path.stem}:{kpi_id}", values, labels, ("real",),
                        f"{path} (KPI ID {kpi_id})", group=kpi_id)


def _fill_gaps(ts: np.ndarray, values: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Insert NaN points for missing timestamps when every gap is a multiple of the usual step."""
    if ts.size < 3:
        return values, labels
    diffs = np.diff(ts)
    steps, counts = np.unique(diffs, return_counts=True)
    step = int(steps[np.argmax(counts)])
    if step <= 0 or np.any(diffs % step):
        return values, labels
    pos = (ts - ts[0]) // step
    n = int(pos[-1]) + 1
    if n == ts.size or n > MAX_FILL * ts.size:
        return values, labels
    full_v = np.full(n, np.nan)
    full_l = np.zeros(n, dtype=np.int8)
    full_v[pos] = values
    full_l[pos] = labels
    return full_v, full_l
