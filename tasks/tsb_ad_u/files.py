"""TSB-AD-U files: name scheme, CSV reader with validation, shipped file lists, data folder.

A TSB-AD-U series is one CSV file named
``[idx]_[Dataset]_id_[id]_[Domain]_tr_[TrainEnd]_1st_[FirstAnomaly].csv`` with the
columns ``Data,Label``; ``data[:TrainEnd]`` is the training prefix. Every problem with a
file is raised as :class:`harness.core.errors.DataError` with one message naming the file and
the cause, so a task can record it as a failure of that one sample.
"""

from __future__ import annotations

import csv
import io
import os
import re
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePath

import numpy as np
import pandas as pd

from harness.core.errors import DataError, UnknownNameError
from harness.core.files import resolve_inside
from harness.core.paths import folder_problem

ENV_DATA_DIR = "VISANOM_TSB_AD_U_DIR"
"""Environment variable naming the folder that holds the TSB-AD-U CSV files."""

ARCHIVE_FOLDER = "TSB-AD-U"
"""The folder the official archive unpacks to; looked into below a data folder."""

LISTS: dict[str, str] = {
    "eva": "TSB-AD-U-Eva.csv",
    "eval": "TSB-AD-U-Eva.csv",
    "tuning": "TSB-AD-U-Tuning.csv",
    "all": "TSB-AD-U.csv",
    "eval-full": "TSB-AD-U-Eva-Full.csv",
}
"""Shipped official file lists: short name -> file in ``tasks/tsb_ad_u/lists/``."""

LIST_COLUMN = "file_name"

_NAME_RE = re.compile(
    r"^(?P<idx>\d+)_(?P<dataset>.+?)_id_(?P<id>\d+)_(?P<domain>.+)"
    r"_tr_(?P<tr>\d+)_1st_(?P<first>\d+)\.csv$"
)
_NAME_SCHEME = "[idx]_[Dataset]_id_[id]_[Domain]_tr_[TrainEnd]_1st_[FirstAnomaly].csv"


@dataclass(frozen=True)
class SeriesInfo:
    """What a TSB-AD-U file name says about its series."""

    file: str
    idx: int
    dataset: str
    series_id: int
    domain: str
    train_end: int
    first_anomaly: int


@dataclass(frozen=True)
class Series:
    """A loaded series: its name info, values (float64), labels (int8) and loader notes."""

    info: SeriesInfo
    values: np.ndarray
    labels: np.ndarray
    notes: tuple[str, ...] = ()
    """Harmless disagreements between the name and the content (e.g. the first anomaly)."""


def parse_file_name(name: str | os.PathLike[str]) -> SeriesInfo:
    """Parse a TSB-AD-U file name (a bare name or a path); raise DataError if malformed."""
    base = PurePath(name).name
    m = _NAME_RE.match(base)
    if m is None:
        raise DataError(f"bad TSB-AD-U file name {base!r}: expected {_NAME_SCHEME}")
    return SeriesInfo(
        file=base,
        idx=int(m["idx"]),
        dataset=m["dataset"],
        series_id=int(m["id"]),
        domain=m["domain"],
        train_end=int(m["tr"]),
        first_anomaly=int(m["first"]),
    )


def _fail(path: Path, cause: str) -> DataError:
    return DataError(f"{path}: {cause}")


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise _fail(path, f"cannot read file ({e.strerror or e})") from e
    if not raw.strip():
        raise _fail(path, "file is empty")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise _fail(path, f"malformed CSV: not UTF-8 text ({e.reason} at byte {e.start})") from e


def _read_table(path: Path, text: str, *, as_text: bool) -> pd.DataFrame:
    """Parse the CSV as pandas does by default (as TSB-AD's loader does), or every cell as
    text so that each kind of bad value can be named precisely."""
    options = {"dtype": str, "keep_default_na": False, "na_filter": False} if as_text else {}
    try:
        with warnings.catch_warnings():  # extra fields in every row would be dropped silently
            warnings.simplefilter("error", pd.errors.ParserWarning)
            table = pd.read_csv(io.StringIO(text), index_col=False, **options)
    except pd.errors.ParserError as e:
        cause = str(e).replace("Error tokenizing data. C error: ", "").strip()
        raise _fail(path, f"malformed CSV: {cause}") from e
    except pd.errors.ParserWarning as e:
        raise _fail(path, "malformed CSV: rows have more fields than the header") from e
    table.columns = [str(c).strip() for c in table.columns]
    return table


def _fast_column(table: pd.DataFrame, name: str) -> np.ndarray | None:
    """The column as float64 when pandas parsed it as numbers, all finite; else None."""
    col = table[name]
    if not (pd.api.types.is_float_dtype(col) or pd.api.types.is_integer_dtype(col)):
        return None
    values = col.to_numpy(dtype=np.float64)
    return values if np.isfinite(values).all() else None


def _column(path: Path, table: pd.DataFrame, name: str) -> np.ndarray:
    """Parse one text column to float64, naming the first empty or non-numeric cell."""
    cells = table[name].str.strip()
    empty = (cells == "").to_numpy()
    if empty.any():
        row = int(np.argmax(empty))
        raise _fail(path, f"malformed CSV: empty {name} value at data row {row + 1}")
    values = pd.to_numeric(cells, errors="coerce").to_numpy(dtype=np.float64)
    # to_numeric turns unparsable text into NaN; text that literally says nan/inf parses.
    literal_nan = cells.str.lower().isin({"nan", "+nan", "-nan"}).to_numpy()
    bad = np.isnan(values) & ~literal_nan
    if bad.any():
        row = int(np.argmax(bad))
        cell = cells.iloc[row]
        if _beyond_float64(cell):
            raise _fail(path, f"{name} value {cell!r} at data row {row + 1} is out of range "
                              f"(its magnitude is above {np.finfo(np.float64).max:.4g}, the largest float64)")
        raise _fail(path, f"non-numeric {name} value {cell!r} at data row {row + 1}")
    nonfinite = ~np.isfinite(values)
    if nonfinite.any():
        row = int(np.argmax(nonfinite))
        n = int(nonfinite.sum())
        raise _fail(
            path, f"{n} NaN/inf {name} value(s), first {cells.iloc[row]!r} at data row {row + 1}"
        )
    return values


def _beyond_float64(text: str) -> bool:
    """True for a number written in full whose magnitude overflows float64 (``1e309``);
    text that says inf or infinity is not one (it is refused as NaN/inf)."""
    try:
        value = float(text)
    except ValueError:
        return False
    return np.isinf(value) and "inf" not in text.lower()


def label_problem(labels: np.ndarray) -> str | None:
    """Why labels make score metrics undefined (all 0 or all 1), or None when they do not."""
    if labels.size and not labels.any():
        return "no anomaly labelled (every label is 0)"
    if labels.size and labels.all():
        return "every point labelled anomalous (every label is 1)"
    return None


def read_series(
    path: str | os.PathLike[str], *, allow_constant: bool = False, require_anomaly: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Read a ``Data,Label`` CSV; return ``(values float64, labels int8)``, both 1-D.

    Raises DataError for: unreadable/empty/malformed CSV, missing or extra columns, no data
    rows, empty, non-numeric, NaN or inf values, labels other than 0/1, and a constant
    series (unless ``allow_constant``). Labels that are all 0 or all 1 are returned as they
    are (see :func:`label_problem`) unless ``require_anomaly``, which makes them an error.
    """
    p = Path(path)
    text = _read_text(p)
    table = _read_table(p, text, as_text=False)
    columns = list(table.columns)
    missing = [c for c in ("Data", "Label") if c not in columns]
    if missing:
        raise _fail(p, f"missing column(s) {', '.join(missing)}; found columns {columns}")
    extra = [c for c in columns if c not in ("Data", "Label")]
    if extra:
        raise _fail(p, f"unexpected column(s) {extra}; a univariate file has exactly Data,Label")
    if len(table) == 0:
        raise _fail(p, "no data rows (header only)")
    values, raw_labels = _fast_column(table, "Data"), _fast_column(table, "Label")
    if values is None or raw_labels is None:  # find and name the bad cell
        cells = _read_table(p, text, as_text=True)
        values, raw_labels = _column(p, cells, "Data"), _column(p, cells, "Label")
    not_binary = (raw_labels != 0) & (raw_labels != 1)
    if not_binary.any():
        row = int(np.argmax(not_binary))
        found = [f"{v:g}" for v in np.unique(raw_labels[not_binary])[:5]]
        raise _fail(
            p, f"labels must be 0 or 1; found {', '.join(found)} (first at data row {row + 1})"
        )
    labels = raw_labels.astype(np.int8)
    if not allow_constant and np.all(values == values[0]):
        raise _fail(p, f"constant series (all {values.size} values are {values[0]:g})")
    if require_anomaly and (problem := label_problem(labels)):
        raise _fail(p, problem)
    return values, labels


def count_rows(path: str | os.PathLike[str]) -> int | None:
    """Data rows of a ``Data,Label`` CSV (non-blank lines after the header), counted without parsing
    them; None when the file cannot be opened. :func:`read_series` reads exactly this many values
    from a valid file."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except (OSError, ValueError):
        return None
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    if b"\n\n" in data or b"\n\r\n" in data or data.startswith((b"\n", b"\r\n")):  # blank lines: count them out
        lines = sum(1 for line in data.splitlines() if line.strip())
    return max(lines - 1, 0)


def load_series(path: str | os.PathLike[str], **checks: bool) -> Series:
    """Parse the name, read the file (``checks`` go to :func:`read_series`) and check that
    the train prefix fits inside the series."""
    info = parse_file_name(path)
    values, labels = read_series(path, **checks)
    n = values.size
    if not 0 < info.train_end <= n:
        raise _fail(Path(path), f"train end {info.train_end} from the file name is outside 1..{n}")
    notes = []
    hits = np.flatnonzero(labels)
    if hits.size and int(hits[0]) != info.first_anomaly:
        notes.append(f"first anomaly at {int(hits[0])}, the file name says {info.first_anomaly}")
    if problem := label_problem(labels):
        notes.append(problem)
    return Series(info=info, values=values, labels=labels, notes=tuple(notes))


def parse_list(text: str, source: str) -> list[str]:
    """Parse a file list (header ``file_name``, one name per row); ``source`` names it in errors."""
    rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    if not rows or rows[0][0].strip().lstrip("\ufeff") != LIST_COLUMN:
        raise DataError(f"{source}: a file list must start with the header {LIST_COLUMN!r}")
    names: list[str] = []
    seen: set[str] = set()
    for line, row in enumerate(rows[1:], start=2):
        name = row[0].strip()
        if name != PurePath(name).name or "\\" in name or name in (".", ".."):
            raise DataError(f"{source}: row {line}: {name!r} is a path, not a file name; a list names "
                            "files of the data folder (no folders, no '..')")
        parse_file_name(name)  # raises with the bad name
        if name in seen:
            raise DataError(f"{source}: duplicate file {name!r} (row {line})")
        seen.add(name)
        names.append(name)
    if not names:
        raise DataError(f"{source}: the file list is empty")
    return names


def read_list(path: str | os.PathLike[str]) -> list[str]:
    """Read a file list CSV from disk (e.g. the embedded set's ``embedded.csv``)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise DataError(f"{p}: cannot read file list ({e.strerror or e})") from e
    return parse_list(text, str(p))


def list_files(list_name: str, data_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """File names of a list: a shipped official one (``eva``/``eval`` 350, ``tuning`` 48,
    ``all`` 870, ``eval-full`` 822, or its CSV file name), else ``data_dir/<list_name>.csv``
    (e.g. ``embedded`` in the embedded set's folder), else a list CSV given by path."""
    by_file = {v: v for v in LISTS.values()}
    file = LISTS.get(list_name) or by_file.get(list_name)
    if file is not None:
        text = resources.files(__package__).joinpath("lists", file).read_text(encoding="utf-8")
        return parse_list(text, f"shipped list {file}")
    if data_dir is not None:
        for cand in (Path(data_dir) / f"{list_name}.csv", Path(data_dir) / list_name):
            if cand.is_file():
                return read_list(cand)
    if list_name.endswith(".csv") and Path(list_name).is_file():
        return read_list(list_name)
    known = sorted(LISTS) + (["a <name>.csv in the data folder"] if data_dir is not None else [])
    raise UnknownNameError("TSB-AD-U file list", list_name, known)


def _download_hint() -> str:
    return (
        f"pass --task-args data_dir=DIR or set {ENV_DATA_DIR}=DIR to the folder with the TSB-AD-U CSV "
        "files. To download the official archive (870 files): visanom data download tsb-ad-u --out DIR"
    )


def resolve_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The data folder: ``explicit`` (a flag value), else ``$VISANOM_TSB_AD_U_DIR``."""
    if explicit is not None and str(explicit) != "":
        raw, origin = str(explicit), "the given data folder"
    elif os.environ.get(ENV_DATA_DIR):
        raw, origin = os.environ[ENV_DATA_DIR], f"${ENV_DATA_DIR}"
    else:
        raise DataError(f"TSB-AD-U data folder not set: {_download_hint()}")
    path = Path(raw).expanduser()
    if problem := folder_problem(path):
        raise DataError(f"TSB-AD-U data folder {path} ({origin}) {problem}: {_download_hint()}")
    return path


def _not_a_file(path: Path) -> str:
    """Why an existing ``path`` is not a readable file."""
    if path.is_symlink() and not path.exists():
        return "is a symbolic link that cannot be followed (a link loop or a missing target)"
    if path.is_dir():
        return "is a directory, not a CSV file"
    return "is not a regular file"


def find_file(data_dir: str | os.PathLike[str], file_name: str) -> Path:
    """Locate a listed file in ``data_dir``, its ``TSB-AD-U/`` folder or one subfolder level.

    The first regular file found wins; when there is none but something by that name exists
    (a directory, a link loop or dangling link, a device), the error names it and why. A
    name with folder parts, or a file that resolves (through symlinks) outside ``data_dir``,
    is refused: no listed file is read from outside the data folder."""
    root = Path(data_dir)
    if file_name != PurePath(file_name).name or "\\" in file_name or file_name in (".", ".."):
        raise DataError(f"{file_name!r} is a path, not a file name of the TSB-AD-U data folder {root}")
    candidates = [root / file_name, root / ARCHIVE_FOLDER / file_name]
    try:
        subdirs = sorted(d for d in root.iterdir() if d.is_dir() and d.name != ARCHIVE_FOLDER)
    except OSError:
        subdirs = []
    for d in subdirs:
        candidates += [d / file_name, d / ARCHIVE_FOLDER / file_name]
    for c in candidates:
        if c.is_file():
            if resolve_inside(root, c.absolute()) is None:
                raise _fail(c, f"resolves to {os.path.realpath(c)}, outside the data folder {root}; "
                               "copy the file into the data folder")
            return c
    for c in candidates:  # something by that name that cannot be read as a file
        if os.path.lexists(c):
            raise _fail(c, _not_a_file(c))
    raise DataError(
        f"{file_name} not found in the TSB-AD-U data folder {root} "
        f"(looked in it, in {ARCHIVE_FOLDER}/ and one subfolder level): {_download_hint()}"
    )
