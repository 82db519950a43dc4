"""Run folders: ``run.json``, ``samples.jsonl`` and per-sample score files.

``samples.jsonl`` is appended and fsynced once per batch, so a run killed at any moment
loses at most the batch in flight; a line cut short by the kill is dropped on resume.
``run.json`` and score files are written to a temporary name and renamed, so a reader
never sees half of one.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import OutputError
from harness.hashing import stable_hash

RUN_SCHEMA = "visanom.run/1"
SAMPLES_FILE = "samples.jsonl"
RUN_FILE = "run.json"
SCORES_DIR = "scores"


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")


def json_safe(obj: Any) -> Any:
    """A JSON-ready copy of model-supplied data: NaN/inf become None, numpy becomes Python,
    tuples and sets become lists, anything else unknown becomes its ``str``."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    return str(obj)


def dumps(obj: Any, indent: int | None = None) -> str:
    """JSON for records: NaN/inf are refused (a metric must be a number or null)."""
    return json.dumps(obj, default=_json_default, allow_nan=False, ensure_ascii=False, indent=indent)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def safe_name(sample_id: str) -> str:
    """A file-name-safe form of a sample id, unique thanks to a short hash suffix."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", sample_id)[:80]
    return f"{stem}-{stable_hash(sample_id, 8)}"


class RunDir:
    """One run folder: reads what a previous attempt completed and appends new records."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            (self.path / SCORES_DIR).mkdir(parents=True, exist_ok=True)
            probe = self.path / ".write-probe"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise OutputError(f"cannot write to output folder {self.path}: {exc.strerror or exc}") from exc

    @property
    def samples_path(self) -> Path:
        return self.path / SAMPLES_FILE

    @property
    def run_path(self) -> Path:
        return self.path / RUN_FILE

    def reset(self) -> None:
        """Forget a previous attempt (``--rerun``)."""
        self.samples_path.unlink(missing_ok=True)
        self.run_path.unlink(missing_ok=True)
        shutil.rmtree(self.path / SCORES_DIR, ignore_errors=True)
        (self.path / SCORES_DIR).mkdir(parents=True, exist_ok=True)

    def completed(self) -> dict[str, dict[str, Any]]:
        """Records already written, by sample id. A torn last line is cut off the file."""
        if not self.samples_path.exists():
            return {}
        raw = self.samples_path.read_bytes()
        good_end = raw.rfind(b"\n") + 1
        if good_end < len(raw):  # the last line was cut short by a kill: drop it
            with open(self.samples_path, "r+b") as fh:
                fh.truncate(good_end)
        records: dict[str, dict[str, Any]] = {}
        for line in raw[:good_end].splitlines():
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a corrupt line: that sample simply runs again
            records[rec["sample_id"]] = rec
        return records

    def rewrite(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Replace ``samples.jsonl`` atomically with ``records`` (drops superseded lines)."""
        data = "".join(dumps(r) + "\n" for r in records).encode()
        atomic_write_bytes(self.samples_path, data)

    def write_scores(self, sample_id: str, scores: np.ndarray) -> str:
        """Save raw scores as ``scores/<safe id>.npy``; returns the path relative to the run."""
        rel = f"{SCORES_DIR}/{safe_name(sample_id)}.npy"
        buf = io.BytesIO()
        np.save(buf, np.asarray(scores, dtype=np.float64), allow_pickle=False)
        atomic_write_bytes(self.path / rel, buf.getvalue())
        return rel

    def load_scores(self, rel: str) -> np.ndarray:
        """Load a score file written by :meth:`write_scores`."""
        return np.load(self.path / rel, allow_pickle=False)

    def append(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Append records as JSON lines and fsync, so they survive a kill."""
        lines = "".join(dumps(r) + "\n" for r in records)
        if not lines:
            return
        with open(self.samples_path, "a", encoding="utf-8") as fh:
            fh.write(lines)
            fh.flush()
            os.fsync(fh.fileno())

    def write_run(self, run: Mapping[str, Any]) -> None:
        """Write ``run.json`` atomically."""
        atomic_write_bytes(self.run_path, (dumps(run, indent=2) + "\n").encode())


RUN_SCHEMAS_READ = (RUN_SCHEMA, "visanom.run/2")


def read_run(path: Path) -> dict[str, Any]:
    """Read a ``run.json`` (a UTF-8 byte-order mark is accepted); raises ``ValueError`` on a
    file that is not a JSON object of a known run schema."""
    data = json.loads(Path(path).read_bytes().decode("utf-8-sig"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a JSON object")
    if data.get("schema") not in RUN_SCHEMAS_READ:
        raise ValueError(f"{path}: not a visanom run record (schema {data.get('schema')!r})")
    return data
