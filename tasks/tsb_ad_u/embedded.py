"""The embedded default data set: 15 series in TSB-AD-U format, made offline at first use.

Twelve synthetic series come from the GutenTAG generator (timeeval-gutentag, fixed seed,
one base oscillation each, anomalies at fixed positions after a normal training prefix);
three real series come from files that installed packages ship: UCR KDD21 series 135
InternalBleeding16 (aeon), an MIT-BIH ECG excerpt and a Yahoo series (sktime). The set is
written as ``Data,Label`` CSVs with official-style names, a list ``embedded.csv`` and a
``meta.json`` (source, domain, anomaly kinds, intervals, sha256 per file), into a versioned
folder, atomically. The same installed packages give the same bytes every time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from harness.core.errors import DataError
from tasks.gutentag_gen import IncompatibleConfig, generate_series
from tasks.packaged_series import PackagedSeries, dist_version, real_series

from .files import LIST_COLUMN, read_list

VERSION = "v1"
"""Bump when the contents change; the cache folder is named after it."""

LIST_FILE = "embedded.csv"
META_FILE = "meta.json"
MARKER = "visanom-embedded"
SEED = 2024
DECIMALS = 6
"""GutenTAG values are rounded to this many decimals (small, platform-stable files)."""


def _anomaly(pos: int, length: int, **kind: Any) -> dict[str, Any]:
    return {"exact-position": pos, "length": length, "kinds": [kind]}


# (domain, length, train_end, base oscillation, anomalies): anomalies start after train_end.
_GUTENTAG: tuple[tuple[str, int, int, dict[str, Any], list[dict[str, Any]]], ...] = (
    ("Sine", 2000, 800, {"kind": "sine", "frequency": 2.0, "amplitude": 1.0, "variance": 0.05},
     [_anomaly(1200, 1, kind="extremum", min=False, local=False),
      _anomaly(1600, 60, kind="pattern", sinusoid_k=10.0)]),
    ("ECG", 3000, 1200, {"kind": "ecg", "frequency": 1.0, "amplitude": 1.0, "variance": 0.02},
     [_anomaly(1800, 150, kind="frequency", frequency_factor=2.0),
      _anomaly(2500, 100, kind="pattern")]),
    ("RandomWalk", 2000, 800, {"kind": "random-walk", "amplitude": 2.0, "variance": 0.01, "smoothing": 0.01},
     [_anomaly(1100, 100, kind="variance", variance=0.3),
      _anomaly(1600, 80, kind="mean", offset=1.0)]),
    ("CylinderBellFunnel", 2500, 1000,
     {"kind": "cylinder-bell-funnel", "amplitude": 1.0, "avg-pattern-length": 50,
      "variance-pattern-length": 0.1, "variance-amplitude": 0.2, "variance": 0.05},
     [_anomaly(1300, 50, kind="pattern", cbf_pattern_factor=2.0),
      _anomaly(2000, 100, kind="platform", value=0.0)]),
    ("Polynomial", 2000, 800, {"kind": "polynomial", "polynomial": [0.5, 0.004, -0.0000015], "variance": 0.1},
     [_anomaly(1200, 1, kind="extremum", min=False, local=False),
      _anomaly(1500, 100, kind="variance", variance=0.5)]),
    ("Square", 2000, 800, {"kind": "square", "frequency": 1.0, "amplitude": 1.0, "duty": 0.5, "variance": 0.03},
     [_anomaly(1000, 100, kind="pattern", square_duty=0.8),
      _anomaly(1500, 100, kind="amplitude", amplitude_factor=2.0)]),
    ("Sawtooth", 2000, 800, {"kind": "sawtooth", "frequency": 1.0, "amplitude": 1.0, "width": 1.0, "variance": 0.03},
     [_anomaly(1100, 100, kind="amplitude", amplitude_factor=0.4),
      _anomaly(1600, 100, kind="frequency", frequency_factor=2.0)]),
    ("Cosine", 3000, 1200,
     {"kind": "cosine", "frequency": 1.5, "amplitude": 1.0, "freq-mod": 0.2, "variance": 0.03},
     [{"exact-position": 1900, "length": 200,
       "kinds": [{"kind": "trend", "oscillation": {"kind": "sine", "frequency": 0.3, "amplitude": 1.0}}]}]),
    ("Dirichlet", 2000, 800,
     {"kind": "dirichlet", "periodicity": 10, "amplitude": 1.0, "frequency": 1.0, "variance": 0.02},
     [_anomaly(1200, 100, kind="mean", offset=0.5)]),
    ("Sine", 2500, 1000, {"kind": "sine", "frequency": 3.0, "amplitude": 2.0, "variance": 0.05},
     [_anomaly(1500, 100, kind="pattern-shift", shift_by=10, transition_window=10),
      _anomaly(2100, 150, kind="variance", variance=0.5)]),
    ("ECG", 1500, 600, {"kind": "ecg", "frequency": 1.5, "amplitude": 1.0, "variance": 0.02},
     [_anomaly(900, 100, kind="amplitude", amplitude_factor=0.3),
      _anomaly(1250, 60, kind="mean", offset=1.0)]),
    ("RandomWalk", 1500, 600, {"kind": "random-walk", "amplitude": 1.0, "variance": 0.01, "smoothing": 0.02},
     [_anomaly(800, 1, kind="extremum", min=True, local=False),
      _anomaly(1100, 100, kind="platform", value=0.0)]),
)


def _gutentag_series() -> list[PackagedSeries]:
    """Generate the synthetic series with GutenTAG's config parser and generator (no tqdm)."""
    out = []
    for i, (domain, length, train_end, bo, anomalies) in enumerate(_GUTENTAG):
        name = f"visanom-embedded-{i + 1}"
        config = {"name": name, "length": length, "base-oscillations": [bo], "anomalies": anomalies}
        try:
            values, labels = generate_series(config, SEED)
        except IncompatibleConfig as exc:
            raise RuntimeError(f"GutenTAG skipped embedded series {name}: {exc}") from exc
        kinds = [k["kind"] for a in anomalies for k in a["kinds"]]
        meta = {"source": "GutenTAG", "base_oscillation": bo["kind"], "anomaly_kinds": kinds,
                "origin": f"timeeval-gutentag, seed {SEED}, dataset name {name}"}
        out.append(PackagedSeries("GutenTAG", i + 1, domain, train_end, values, labels, DECIMALS, meta))
    return out


def _intervals(labels: np.ndarray) -> list[list[int]]:
    """Inclusive ``[start, end]`` runs of 1s."""
    from harness.scoring.metrics import labels_to_intervals  # lazy: the metrics package is heavy to import

    return [[s, e] for s, e in labels_to_intervals(labels)]


def _csv_bytes(values: np.ndarray, labels: np.ndarray, decimals: int | None) -> bytes:
    if decimals is not None:
        values = np.round(values, decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
    lines = ["Data,Label"] + [f"{float(v)!r},{int(y)}" for v, y in zip(values, labels, strict=True)]
    return ("\n".join(lines) + "\n").encode()


def build_embedded(target: str | os.PathLike[str]) -> dict[str, Any]:
    """Write the embedded set into the existing empty folder ``target``; return its meta."""
    target = Path(target)
    series = _gutentag_series() + real_series()
    files: dict[str, Any] = {}
    names = []
    for idx, s in enumerate(series, start=1):
        intervals = _intervals(s.labels)
        first = intervals[0][0]
        if not 0 < s.train_end <= first:
            raise RuntimeError(f"embedded series {idx}: train end {s.train_end} is not before {first}")
        name = f"{idx:03d}_{s.dataset}_id_{s.series_id}_{s.domain}_tr_{s.train_end}_1st_{first}.csv"
        data = _csv_bytes(s.values, s.labels, s.decimals)
        (target / name).write_bytes(data)
        names.append(name)
        files[name] = {**s.meta, "dataset": s.dataset, "domain": s.domain, "length": int(s.values.size),
                       "train_end": s.train_end, "first_anomaly": first, "n_anomalies": len(intervals),
                       "anomaly_points": int(s.labels.sum()), "intervals": intervals,
                       "sha256": hashlib.sha256(data).hexdigest()}
    (target / LIST_FILE).write_text("\n".join([LIST_COLUMN, *names]) + "\n")
    meta = {"kind": MARKER, "version": VERSION, "seed": SEED, "list": LIST_FILE,
            "gutentag_version": dist_version("timeeval-gutentag"), "n_series": len(names),
            "n_points": sum(f["length"] for f in files.values()), "files": files}
    (target / META_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    return meta


def read_meta(root: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The meta.json of an embedded set folder, or None when there is none (or it is not ours)."""
    try:
        meta = json.loads((Path(root) / META_FILE).read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and meta.get("kind") == MARKER else None


def is_complete(root: str | os.PathLike[str]) -> bool:
    """True when ``root`` holds this version's set with every file matching its sha256."""
    root = Path(root)
    meta = read_meta(root)
    if meta is None or meta.get("version") != VERSION or not meta.get("files"):
        return False
    try:
        if read_list(root / LIST_FILE) != list(meta["files"]):
            return False
    except DataError:
        return False
    for name, info in meta.get("files", {}).items():
        try:
            if hashlib.sha256((root / name).read_bytes()).hexdigest() != info.get("sha256"):
                return False
        except OSError:
            return False
    return True


def default_embedded_dir() -> Path:
    """``$XDG_CACHE_HOME/visanom/embedded/<VERSION>`` (``~/.cache`` when XDG is unset)."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser() / "visanom" / "embedded" / VERSION


def ensure_embedded(root: str | os.PathLike[str] | None = None) -> Path:
    """Return the folder of the embedded set, building it first if needed.

    ``root`` is the folder to use (default :func:`default_embedded_dir`). The set is built
    in a temporary sibling folder and renamed into place, so readers never see half a set
    and concurrent callers are safe (the first rename wins, the others discard theirs). A
    broken set of ours is rebuilt; a non-empty folder that is not ours is refused.
    """
    root = Path(root).expanduser() if root is not None else default_embedded_dir()
    if is_complete(root):
        return root
    if root.exists() and not root.is_dir():
        raise DataError(f"{root} is a file, not a folder for the embedded data set")
    if root.is_dir() and any(root.iterdir()) and read_meta(root) is None:
        raise DataError(f"{root} is not empty and holds no embedded data set; choose another folder")
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = root.parent / f".{root.name}.tmp-{uuid.uuid4().hex}"
    tmp.mkdir()
    try:
        build_embedded(tmp)
        _install(tmp, root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not is_complete(root):
        raise DataError(f"the embedded data set in {root} is incomplete after building it")
    return root


def _install(tmp: Path, root: Path) -> None:
    """Rename ``tmp`` to ``root``; move a broken set of ours aside; accept a concurrent winner."""
    if root.is_dir() and any(root.iterdir()) and not is_complete(root):
        stale = root.parent / f".{root.name}.stale-{uuid.uuid4().hex}"
        try:
            root.rename(stale)
        except FileNotFoundError:
            pass  # someone else moved it first
        else:
            shutil.rmtree(stale, ignore_errors=True)
    elif root.is_dir() and not any(root.iterdir()):
        with contextlib.suppress(OSError):  # filled by a concurrent builder meanwhile
            root.rmdir()
    try:
        tmp.rename(root)
    except OSError:
        if not is_complete(root):  # a concurrent builder's complete set is fine
            raise
