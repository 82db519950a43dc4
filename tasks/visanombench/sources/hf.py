"""The published Hugging Face dataset ``PLAN-Lab/VisAnomBench`` (or a local copy of it).

We cannot see the published schema from here, so the column mapping is an ASSUMPTION
(docs/visanombench-data.md): for each field the first present column of :data:`COLUMNS` is
used, and ``columns={"values": "my_col", ...}`` overrides it. Needed: the values and either
per-point labels or anomaly intervals (absolute, inclusive). Each row becomes a series
whose first value sits at the row's ``start`` (absolute index); rows of one series id
share a split group, and a row's split (the dataset split it came from, or a ``split``
column) is kept. Without the dataset in the local cache and without network, loading
fails with a :class:`DataError` that says so.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from harness.core.errors import DataError

from ..segment import WholeSeries
from .base import Loaded, Skipped, SourceSeries, Unit

SOURCE = "VisAnomBench-HF"
DATASET = "PLAN-Lab/VisAnomBench"
COLUMNS: dict[str, tuple[str, ...]] = {
    "values": ("series", "values", "value", "data", "timeseries", "time_series"),
    "labels": ("labels", "label", "anomaly_labels", "is_anomaly"),
    "intervals": ("intervals", "anomaly_intervals", "anomalies", "gt_intervals"),
    "source": ("source", "dataset", "source_dataset"),
    "domain": ("domain", "category"),
    "series": ("series_id", "series_name", "name", "id"),
    "start": ("start", "index_offset", "offset", "start_index"),
    "split": ("split",),
    "kinds": ("anomaly_kinds", "anomaly_types", "anomaly_type"),
}
"""Assumed column names per field, first match wins."""
SPLITS = {"train": "train", "training": "train", "test": "test", "testing": "test",
          "validation": "train", "valid": "train", "val": "train"}
PAPER_LOADER_RULE = WholeSeries(min_length=1)
"""The paper profile's rule for every row of the published dataset, whatever its ``source``
column says: each row already is one of the paper's items."""


def units(spec: Any) -> list[Unit]:
    """A single unit: the whole dataset. ``spec``: None, a local path, or a dict of ``name``,
    ``path``, ``split``, ``revision`` and ``columns``."""
    if spec is None or spec == "":
        params: dict[str, Any] = {}
    elif isinstance(spec, Mapping):
        params = dict(spec)
    else:
        params = {"path": str(spec)}
    if params.get("path") and not Path(params["path"]).expanduser().exists():
        raise DataError(f"local Hugging Face dataset {params['path']} does not exist")
    return [Unit(SOURCE, str(params.get("path") or params.get("name") or DATASET), params)]


def load(unit: Unit) -> list[Loaded]:
    """Every row of the dataset as a series; malformed rows become :class:`Skipped`."""
    params = unit.params
    where = str(params.get("path") or params.get("name") or DATASET)
    splits = _open(params)
    out: list[Loaded] = []
    for split_name, ds in splits:
        mapping = resolve_columns(list(ds.column_names), params.get("columns") or {}, where)
        used = sorted(set(mapping.values()))
        for i, row in enumerate(ds.select_columns(used)):
            tag = f"hf:{where}[{split_name}]#{i}"
            try:
                out.append(_series(row, mapping, split_name, i, tag))
            except (ValueError, TypeError) as exc:
                out.append(Skipped(tag, str(exc)))
    return out


def resolve_columns(present: list[str], overrides: Mapping[str, str], where: str) -> dict[str, str]:
    """Field -> column name; DataError when the values or both labels and intervals are missing."""
    mapping: dict[str, str] = {}
    for field, candidates in COLUMNS.items():
        if field in overrides:
            if overrides[field] not in present:
                raise DataError(f"{where}: column {overrides[field]!r} (for {field}) not found; "
                                f"columns: {', '.join(present)}")
            mapping[field] = overrides[field]
            continue
        found = next((c for c in candidates if c in present), None)
        if found is not None:
            mapping[field] = found
    missing = []
    if "values" not in mapping:
        missing.append(f"values (one of {', '.join(COLUMNS['values'])})")
    if "labels" not in mapping and "intervals" not in mapping:
        missing.append(f"labels or intervals (one of {', '.join(COLUMNS['labels'] + COLUMNS['intervals'])})")
    if missing:
        raise DataError(f"{where}: the dataset lacks the columns for {'; '.join(missing)}; it has "
                        f"{', '.join(present) or 'no columns'} (pass columns={{field: column}} to map them)")
    return mapping


def _series(row: Mapping[str, Any], mapping: dict[str, str], split_name: str, i: int, tag: str) -> SourceSeries:
    def get(field: str, default: Any = None) -> Any:
        return row.get(mapping[field], default) if field in mapping else default

    values = np.asarray(get("values"), dtype=np.float64).ravel()
    if values.size == 0:
        raise ValueError("empty series")
    start = int(get("start", 0) or 0)
    if "labels" in mapping and get("labels") is not None and np.ndim(get("labels")) == 1:
        labels = np.asarray(get("labels"), dtype=np.int64)
        if labels.size != values.size:
            raise ValueError(f"{labels.size} labels for {values.size} values")
        if np.any((labels != 0) & (labels != 1)):
            raise ValueError("labels are not 0/1")
    else:
        labels = np.zeros(values.size, dtype=np.int64)
        for iv in get("intervals") or []:
            s, e = (int(x) for x in iv)
            if s > e:
                raise ValueError(f"interval {iv} has start > end")
            labels[max(s - start, 0):max(e - start + 1, 0)] = 1
    series = str(get("series", f"row{i}"))
    split = SPLITS.get(str(get("split") or split_name).lower())
    kinds = get("kinds") or ()
    kinds = (kinds,) if isinstance(kinds, str) else tuple(str(k) for k in kinds)
    return SourceSeries(str(get("source", SOURCE)), str(get("domain", "unknown")), f"{series}@{start}",
                        values, labels.astype(np.int8), kinds, tag, offset=start, split=split, group=series)


def _open(params: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """``(split name, Dataset)`` pairs in a fixed order, from a local copy or the hub cache."""
    try:
        import datasets
    except ImportError as exc:
        raise DataError("the hf source needs the 'datasets' package: pip install 'visanom[hf]'") from exc
    path, name = params.get("path"), params.get("name") or DATASET
    try:
        if path:
            p = Path(path).expanduser()
            saved = any((p / f).exists() for f in ("dataset_dict.json", "state.json", "dataset_info.json"))
            loaded = datasets.load_from_disk(str(p)) if saved else datasets.load_dataset(str(p))
        else:
            loaded = datasets.load_dataset(name, split=params.get("split"), revision=params.get("revision"))
    except DataError:
        raise
    except Exception as exc:  # the hub client raises many types for "not cached, no network"
        where = path or name
        raise DataError(
            f"cannot load the Hugging Face dataset {where}: {type(exc).__name__}: {str(exc)[:300]}. "
            "It must be in the local cache (HF_HOME / HF_DATASETS_CACHE) or downloadable; with "
            "HF_DATASETS_OFFLINE=1 or no network only a cached copy works. Load it once with network, "
            "or pass a local copy: --sources hf=/path/to/saved_dataset"
        ) from exc
    if isinstance(loaded, datasets.DatasetDict):
        return iter([(k, loaded[k]) for k in sorted(loaded)])
    return iter([(str(params.get("split") or ""), loaded)])
