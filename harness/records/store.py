"""Run folders and the one reader of run records (see ``docs/records.md``).

A run folder holds ``run.json``, ``samples.jsonl`` and per-sample score files; a task's
folder holds the content-addressed input store (``inputs/<input hash>.png|.npy``) shared by
all its runs. ``samples.jsonl`` is appended and fsynced once per batch, so a run killed at
any moment loses at most the batch in flight; a line cut short by the kill is dropped on
resume. ``run.json``, score and input files are written to a temporary name and renamed,
so a reader never sees half of one. :func:`read_run` reads every ``run.json`` (the
leaderboard's too) and migrates older schemas to the current one.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import shutil
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from harness.core.errors import OutputError, UsageError
from harness.core.files import atomic_write_bytes, resolve_inside
from harness.core.hashing import stable_hash
from harness.core.spec import SPEC_VERSION, RunSpec, slug

RUN_SCHEMA = "visanom.run/2"
RUN_SCHEMA_V1 = "visanom.run/1"
KNOWN_SCHEMAS = (RUN_SCHEMA, RUN_SCHEMA_V1)
STATUS_COMPLETE = "complete"
STATUS_STALE = "stale"
"""A run.json whose run is being redone (resumed with work to do, or ``--rerun``)."""
INPUTS_DIR = "inputs"
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
    mappings become dicts with text keys, tuples and sets become lists, anything else unknown
    becomes its ``str``. The one such helper (records, cache and leaderboard use it)."""
    if isinstance(obj, Mapping):
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


def safe_name(sample_id: str) -> str:
    """A file-name-safe form of a sample id, unique thanks to a short hash suffix (never
    ``.``/``..`` or hidden: see :func:`harness.core.spec.slug`)."""
    return slug(sample_id, max_len=80)


def inside(root: Path, path: Path) -> Path:
    """``path`` when it lies inside ``root`` (both resolved), else :class:`OutputError`.

    The last guard for paths built from untrusted names (task, model, sample ids)."""
    if resolve_inside(root, path) is None:
        raise OutputError(f"refusing to write {path}: it is outside the output folder {root}")
    return path


_HEX = re.compile(r"[0-9a-f]{16,128}")


class InputStore:
    """The content-addressed store of what models were shown: ``<root>/<slug(task)>/inputs/``.

    One ``<input_hash>.npy`` (the series values shown) and ``<input_hash>.png`` (the image)
    per distinct input, written once, atomically, and shared by every run of the task.
    Paths returned are relative to ``root`` (the results folder, posix), so a copied results
    folder stays readable without the task's code.
    """

    def __init__(self, root: Path, task_name: str):
        self.root = Path(root)
        self.rel_dir = f"{slug(task_name)}/{INPUTS_DIR}"
        self.path = inside(self.root, self.root / self.rel_dir)

    def _name(self, input_hash: str) -> str:
        h = str(input_hash)
        return h if _HEX.fullmatch(h) else stable_hash(["input", h], 32)

    def _put(self, input_hash: str, suffix: str, data: Callable[[], bytes]) -> str:
        rel = f"{self.rel_dir}/{self._name(input_hash)}{suffix}"
        target = self.root / rel
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(target, data())
        return rel

    def put_series(self, input_hash: str, values: np.ndarray) -> str:
        """Store the series (float64 ``.npy``) once; returns its path relative to the root."""

        def data() -> bytes:
            buf = io.BytesIO()
            np.save(buf, np.asarray(values, dtype=np.float64), allow_pickle=False)
            return buf.getvalue()

        return self._put(input_hash, ".npy", data)

    def put_image(self, input_hash: str, png: bytes) -> str:
        """Store the PNG once; returns its path relative to the root."""
        return self._put(input_hash, ".png", lambda: bytes(png))


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
        """Forget a previous attempt (``--rerun``): its ``run.json`` is kept, marked stale."""
        self.mark_stale()
        self.samples_path.unlink(missing_ok=True)
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

    def write_scores(self, sample_id: str, scores: np.ndarray, draw: int = 0) -> str:
        """Save raw scores as ``scores/<safe id>.npy`` (draw ``i > 0``: ``<safe id>.d<i>.npy``);
        returns the path relative to the run."""
        rel = f"{SCORES_DIR}/{safe_name(sample_id)}{f'.d{int(draw)}' if draw else ''}.npy"
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

    def mark_stale(self) -> bool:
        """Mark an existing ``run.json`` ``status: "stale"`` (atomically) before its records
        change, so a run killed while redoing work leaves a record that says so instead of
        none or a wrong one. Returns True when a record was marked."""
        try:
            run = json.loads(self.run_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        if not isinstance(run, dict) or run.get("status") == STATUS_STALE:
            return False
        run["status"] = STATUS_STALE
        self.write_run(run)
        return True


class RecordError(ValueError):
    """A ``run.json`` that cannot be read as a run record; the message names the file and why."""


def read_run(path: str | Path) -> dict[str, Any]:
    """Read one ``run.json`` and return it migrated to the current schema (``visanom.run/2``).

    ``visanom.run/1`` records load (see :func:`migrate_run`); a file that is not JSON, not an
    object, or of an unknown schema raises :class:`RecordError` naming the file and the schema.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordError(f"{path}: unreadable ({type(exc).__name__}: {exc})") from exc
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        why = f"{exc.msg} at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
        raise RecordError(f"{path}: not valid JSON ({why}), probably partial") from exc
    try:
        return migrate_run(data)
    except RecordError as exc:
        raise RecordError(f"{path}: {exc}") from exc


def migrate_run(data: Any) -> dict[str, Any]:
    """A run record in the current schema: ``/2`` as is, ``/1`` migrated; anything else refused.

    A ``/1`` record gains ``spec`` (rebuilt from its task/model names and args and its
    limit), ``spec_id``, ``label``, ``draws: {n: 1, reducer: "first", reduce_by: null}`` and
    ``migrated_from: "visanom.run/1"``; its other keys are unchanged.
    """
    if not isinstance(data, dict):
        raise RecordError("not a JSON object")
    schema = data.get("schema")
    if schema == RUN_SCHEMA:
        return data
    if schema != RUN_SCHEMA_V1:
        raise RecordError(f"unsupported schema {schema!r} (this visanom reads {', '.join(KNOWN_SCHEMAS)})")
    task = data.get("task") if isinstance(data.get("task"), dict) else {}
    model = data.get("model") if isinstance(data.get("model"), dict) else {}
    spec = {
        "version": SPEC_VERSION, "task": task.get("name"), "task_args": dict(task.get("args") or {}),
        "model": model.get("name"), "model_args": dict(model.get("args") or {}), "limit": data.get("limit"),
        "generation": {}, "seed": None, "draws": 1, "reducer": "first", "reduce_by": None,
    }
    try:
        label = RunSpec.from_record(spec).label
    except (UsageError, TypeError, ValueError):
        label = str(model.get("name"))
    out = dict(data)
    task_block = dict(task)
    task_block.setdefault("args", spec["task_args"])
    out.update(schema=RUN_SCHEMA, migrated_from=RUN_SCHEMA_V1, spec=spec,
               spec_id=stable_hash(["spec", spec], 16), label=label, task=task_block,
               draws={"n": 1, "reducer": "first", "reduce_by": None})
    return out
