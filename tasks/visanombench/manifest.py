"""The manifest of a built VisAnomBench folder, its segment files, and their verification.

Layout of a built benchmark::

    manifest.json            schema "visanom.vab-manifest/1" (see docs/visanombench-data.md)
    segments/<id>.csv        columns index,value,label; index = absolute index in the series

Every item records the sha256 of its segment file, so :func:`verify` can prove a folder is
the one the manifest describes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.core.errors import DataError
from harness.core.files import read_json
from harness.core.hashing import stable_hash

SCHEMA = "visanom.vab-manifest/1"
MANIFEST = "manifest.json"
SEGMENTS = "segments"
CSV_HEADER = "index,value,label"


_SEGMENT_FILE = re.compile(rf"{SEGMENTS}/[A-Za-z0-9_-][A-Za-z0-9._-]*\.csv")


def segment_file(value: Any) -> str:
    """A manifest's ``file`` entry when it names a file directly in ``segments/`` (ValueError
    otherwise): a manifest is untrusted data, and no path it names may leave the benchmark
    folder (``../x``, ``/etc/x`` or ``segments/a/b.csv`` are refused)."""
    file = str(value)
    if not _SEGMENT_FILE.fullmatch(file):
        raise ValueError(f"file {file!r} is not a segment file name inside {SEGMENTS}/")
    return file


@dataclass(frozen=True)
class ManifestItem:
    """One segment: where it comes from, its split, its absolute bounds and ground truth.

    ``start``/``end`` are absolute indices in the original series (``end`` inclusive);
    ``intervals`` are absolute inclusive anomaly intervals clipped to the segment; ``file``
    is relative to the benchmark folder.
    """

    id: str
    source: str
    domain: str
    series: str
    split: str
    start: int
    end: int
    length: int
    intervals: tuple[tuple[int, int], ...]
    anomaly_kinds: tuple[str, ...]
    file: str
    sha256: str
    origin: str = ""

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ManifestItem:
        """Parse one manifest entry (lists become tuples)."""
        return cls(
            id=str(d["id"]), source=str(d["source"]), domain=str(d["domain"]), series=str(d["series"]),
            split=str(d["split"]), start=int(d["start"]), end=int(d["end"]), length=int(d["length"]),
            intervals=tuple((int(s), int(e)) for s, e in d.get("intervals", [])),
            anomaly_kinds=tuple(str(k) for k in d.get("anomaly_kinds", [])),
            file=segment_file(d["file"]), sha256=str(d["sha256"]), origin=str(d.get("origin", "")),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form (tuples become lists)."""
        d = asdict(self)
        d["intervals"] = [list(iv) for iv in self.intervals]
        d["anomaly_kinds"] = list(self.anomaly_kinds)
        return d


@dataclass(frozen=True)
class Manifest:
    """The whole manifest: settings, per-source counts, split seed, items and skipped inputs."""

    settings: dict[str, Any]
    sources: dict[str, Any]
    split: dict[str, Any]
    created_by: str
    items: tuple[ManifestItem, ...]
    skipped: tuple[dict[str, str], ...] = ()
    schema: str = SCHEMA
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON form, with items in their stored order."""
        return {"schema": self.schema, "created_by": self.created_by, "settings": self.settings,
                "sources": self.sources, "split": self.split, **self.extra,
                "items": [it.to_dict() for it in self.items], "skipped": [dict(s) for s in self.skipped]}

    def to_json(self) -> str:
        """Deterministic text: sorted keys, indented, ASCII only, trailing newline."""
        return json.dumps(self.to_dict(), indent=1, sort_keys=True, ensure_ascii=True, allow_nan=False) + "\n"

    @property
    def fingerprint(self) -> str:
        """sha256 of the manifest text (covers every segment's hash)."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    def by_split(self, split: str) -> list[ManifestItem]:
        """Items of one split, in manifest order."""
        return [it for it in self.items if it.split == split]


_SLUG = re.compile(r"[^A-Za-z0-9]+")


def item_id(source: str, series: str, start: int) -> str:
    """A filename-safe, unique id: readable source/series slugs, a short hash, the start index."""
    slug = _SLUG.sub("-", series).strip("-")[:40] or "series"
    return f"{_SLUG.sub('-', source).strip('-').lower()}--{slug}--{stable_hash([source, series], 8)}--{start}"


def segment_csv(index: np.ndarray, values: np.ndarray, labels: np.ndarray) -> bytes:
    """The segment file bytes: ``index,value,label`` rows; NaN written as ``nan``; exact floats."""
    rows = [CSV_HEADER]
    rows.extend(f"{int(i)},{float(v)!r},{int(y)}" for i, v, y in zip(index, values, labels, strict=True))
    return ("\n".join(rows) + "\n").encode()


def write_manifest(root: Path, manifest: Manifest) -> None:
    """Write ``manifest.json`` into ``root``."""
    (root / MANIFEST).write_text(manifest.to_json())


def read_manifest(root: str | Path) -> Manifest:
    """Parse ``<root>/manifest.json``; DataError when it is missing or not ours."""
    path = Path(root) / MANIFEST
    d = read_json(path, "VisAnomBench manifest")
    if not isinstance(d, dict) or d.get("schema") != SCHEMA:
        raise DataError(f"{path}: schema is {d.get('schema') if isinstance(d, dict) else None!r}, expected {SCHEMA!r}")
    try:
        items = tuple(ManifestItem.from_dict(x) for x in d["items"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: malformed item ({exc})") from exc
    known = {"schema", "created_by", "settings", "sources", "split", "items", "skipped"}
    return Manifest(settings=d.get("settings", {}), sources=d.get("sources", {}), split=d.get("split", {}),
                    created_by=str(d.get("created_by", "")), items=items,
                    skipped=tuple(d.get("skipped", [])), extra={k: v for k, v in d.items() if k not in known})


def load_manifest(root: str | Path, split: str | None = None) -> list[ManifestItem]:
    """The items of a built benchmark (optionally only one split), in manifest order."""
    items = read_manifest(root).items
    return [it for it in items if split is None or it.split == split]


def read_segment(root: str | Path, item: ManifestItem, check: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(index int64, values float64, labels int8)`` of one item; index is absolute.

    With ``check`` the file's sha256 must match the manifest (DataError otherwise).
    """
    path = Path(root) / item.file
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read segment {item.id} ({exc.strerror or exc})") from exc
    if check and hashlib.sha256(data).hexdigest() != item.sha256:
        raise DataError(f"{path}: content does not match the manifest's sha256 for {item.id}")
    lines = data.decode().splitlines()
    if not lines or lines[0] != CSV_HEADER:
        raise DataError(f"{path}: header is not {CSV_HEADER!r}")
    try:
        cols = [line.split(",") for line in lines[1:]]
        index = np.array([int(c[0]) for c in cols], dtype=np.int64)
        values = np.array([float(c[1]) for c in cols], dtype=np.float64)
        labels = np.array([int(c[2]) for c in cols], dtype=np.int8)
    except (ValueError, IndexError) as exc:
        raise DataError(f"{path}: malformed row ({exc})") from exc
    if index.size != item.length or (index.size and (index[0] != item.start or index[-1] != item.end)):
        raise DataError(f"{path}: rows do not span {item.start}..{item.end} as the manifest says")
    return index, values, labels


def verify(root: str | Path) -> list[str]:
    """Problems of a built benchmark folder (empty when it matches its manifest exactly)."""
    root = Path(root)
    try:
        manifest = read_manifest(root)
    except DataError as exc:
        return [str(exc)]
    problems: list[str] = []
    listed = set()
    seen_ids: set[str] = set()
    for it in manifest.items:
        if it.id in seen_ids:
            problems.append(f"duplicate item id {it.id}")
        seen_ids.add(it.id)
        listed.add(it.file)
        path = root / it.file
        if not path.is_file():
            problems.append(f"{it.id}: missing file {it.file}")
            continue
        if hashlib.sha256(path.read_bytes()).hexdigest() != it.sha256:
            problems.append(f"{it.id}: {it.file} was modified (sha256 mismatch)")
            continue
        problems.extend(f"{it.id}: {p}" for p in _item_problems(root, it))
    seg_dir = root / SEGMENTS
    if seg_dir.is_dir():
        for p in sorted(seg_dir.iterdir()):
            rel = f"{SEGMENTS}/{p.name}"
            if rel not in listed:
                problems.append(f"unlisted file {rel}")
    return problems


def _item_problems(root: Path, it: ManifestItem) -> Sequence[str]:
    """Consistency of an item with its (hash-verified) file: bounds, length, intervals."""
    try:
        index, _, labels = read_segment(root, it, check=False)
    except DataError as exc:
        return [str(exc)]
    out = []
    if it.length != it.end - it.start + 1:
        out.append(f"length {it.length} != end - start + 1")
    if not np.array_equal(index, np.arange(it.start, it.end + 1)):
        out.append("index column is not the consecutive absolute indices start..end")
    from harness.scoring.metrics import labels_to_intervals

    if tuple(labels_to_intervals(labels, offset=it.start)) != it.intervals:
        out.append("intervals do not match the labels of the segment file")
    return out
