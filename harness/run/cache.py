"""A prediction cache in SQLite (WAL mode), safe for several processes at once.

The key is ``sha256(model fingerprint, task input fingerprint, sample input hash, generation
config[, draw index and seed])`` (the draw part only for seeded draws, see ``harness.run.draws``). Only successful predictions are stored: errors are never cached, and a model
whose outputs are not reproducible (sampling without a seed) sets ``cacheable = False`` so
the runner stores nothing for it.

Opening is safe for processes that create the same new file at the same moment: the first
set-up (WAL mode, table) runs under an exclusive lock on the cache's folder, so one process
creates while the others wait, and a set-up statement that still meets "database is locked"
is retried until ``timeout_s``. A path that cannot be a cache (a directory, a file that is not
a visanom cache, another application's database, a folder that cannot be written) raises
:class:`CacheError` (exit 3) naming the path and the cause; nothing is written to such a file.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from harness.core.errors import CacheError
from harness.core.hashing import stable_hash
from harness.core.types import Prediction
from harness.records.store import json_safe

T = TypeVar("T")
_COLUMNS = ("key", "text", "scores", "intervals", "usage", "meta", "latency_s", "created")
_HINT = "choose another --cache FILE or pass --no-cache"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    key TEXT PRIMARY KEY,
    text TEXT,
    scores BLOB,
    intervals TEXT,
    usage TEXT,
    meta TEXT,
    latency_s REAL,
    created REAL
)
"""


def cache_key(model_fp: str, task_fp: str, input_hash: str, generation: Any = None,
              draw: tuple[int, int] | None = None) -> str:
    """The cache key of one prediction; a seeded draw (``(index, seed)``) has its own key."""
    parts: list[Any] = ["visanom-cache/1", model_fp, task_fp, input_hash, generation]
    if draw is not None:
        parts.append({"draw": int(draw[0]), "seed": int(draw[1])})
    return stable_hash(parts)


def _to_blob(arr: np.ndarray | None) -> bytes | None:
    if arr is None:
        return None
    buf = io.BytesIO()
    np.save(buf, np.asarray(arr), allow_pickle=False)
    return buf.getvalue()


def _from_blob(blob: bytes | None) -> np.ndarray | None:
    if blob is None:
        return None
    return np.load(io.BytesIO(blob), allow_pickle=False)


class PredictionCache:
    """Get and put successful predictions by key. One connection per thread."""

    def __init__(self, path: str | Path, timeout_s: float = 60.0, read_only: bool = False):
        """``read_only``: open an existing cache file for reads only (a sweep worker reads
        the driver's cache; only the driver writes)."""
        self.path = Path(path)
        self.timeout_s = timeout_s
        self.read_only = read_only
        self._local = threading.local()
        if read_only:
            self._conn()
            return
        if self.path.is_dir():
            raise CacheError(f"prediction cache {self.path} is a directory, not a file; {_HINT}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(f"cannot create the cache folder {self.path.parent} "
                             f"({exc.strerror or exc}) for {self.path}; {_HINT}") from exc
        try:
            with _folder_lock(self.path.parent):
                _refuse_foreign(self.path)
                self._set_up()
        except sqlite3.Error as exc:
            self.close()
            raise _open_error(self.path, exc) from exc

    def _set_up(self) -> None:
        """WAL mode and the table, retried while another process holds the database."""
        conn = _retry_locked(self._conn, self.timeout_s)
        _retry_locked(lambda: conn.execute("PRAGMA journal_mode=WAL").fetchone(), self.timeout_s)
        _retry_locked(lambda: conn.execute(_SCHEMA), self.timeout_s)
        conn.commit()
        columns = tuple(row[1] for row in conn.execute("PRAGMA table_info(predictions)"))
        if columns != _COLUMNS:
            self.close()
            raise CacheError(f"{self.path} is not a visanom prediction cache (its 'predictions' table has "
                             f"columns {', '.join(columns)}); {_HINT}")

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self.read_only:
                conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=self.timeout_s)
            else:
                conn = sqlite3.connect(self.path, timeout=self.timeout_s)
            conn.execute(f"PRAGMA busy_timeout={int(self.timeout_s * 1000)}")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def get(self, key: str, sample_id: str) -> Prediction | None:
        """The cached prediction for ``key`` (marked ``cached=True``), or None."""
        row = self._conn().execute(
            "SELECT text, scores, intervals, usage, meta, latency_s FROM predictions WHERE key=?", (key,)
        ).fetchone()
        if row is None:
            return None
        text, scores, intervals, usage, meta, latency = row
        return Prediction(
            sample_id=sample_id,
            text=text,
            scores=_from_blob(scores),
            intervals=None if intervals is None else tuple(tuple(iv) for iv in json.loads(intervals)),
            usage=json.loads(usage or "{}"),
            meta=json.loads(meta or "{}"),
            latency_s=latency or 0.0,
            cached=True,
        )

    def put(self, key: str, pred: Prediction) -> bool:
        """Store a successful prediction; returns False (and stores nothing) for errors.

        A cache that cannot be written any more (made read-only or immutable during the run,
        its disk full) is a :class:`CacheError` (exit 3), not an internal error."""
        if pred.error is not None:
            return False
        try:
            self._put(key, pred)
        except sqlite3.Error as exc:
            raise CacheError(f"cannot write the prediction cache {self.path} ({exc}); {_HINT}") from exc
        return True

    def _put(self, key: str, pred: Prediction) -> None:
        conn = self._conn()
        with conn:
            conn.execute(
                "INSERT OR REPLACE INTO predictions VALUES (?,?,?,?,?,?,?,?)",
                (
                    key,
                    pred.text,
                    _to_blob(pred.scores),
                    None if pred.intervals is None else json.dumps([list(iv) for iv in pred.intervals]),
                    json.dumps(json_safe(pred.usage), allow_nan=False),
                    json.dumps(json_safe(pred.meta), allow_nan=False),
                    pred.latency_s,
                    time.time(),
                ),
            )

    def __len__(self) -> int:
        return self._conn().execute("SELECT COUNT(*) FROM predictions").fetchone()[0]

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _retry_locked(step: Callable[[], T], timeout_s: float) -> T:
    """Run ``step``; while SQLite says "database is locked", wait a little and run it again
    (until ``timeout_s``). SQLite answers some set-up statements without its busy handler."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return step()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``folder`` (``flock`` on its descriptor; no file is
    written), held while a cache there is set up. A no-op where ``flock`` is not available."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: the retries alone
        yield
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # cannot open the folder itself: SQLite will name the problem
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _refuse_foreign(path: Path) -> None:
    """Raise :class:`CacheError` for an existing, non-empty file that is not a visanom cache:
    another application's database (or any other file) is never given our table or WAL mode.
    It is read through a read-only connection only, so it stays byte-identical."""
    try:
        if path.stat().st_size == 0:
            return  # a new, empty file: ours to set up
    except FileNotFoundError:
        return
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            tables = {name: sql for name, sql in conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type IN ('table', 'view', 'index', 'trigger')")}
            columns = tuple(row[1] for row in conn.execute("PRAGMA table_info(predictions)"))
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise _open_error(path, exc) from exc
    if not tables:
        return  # a database with nothing in it
    ours = set(tables) <= {"predictions", "sqlite_autoindex_predictions_1"} and columns == _COLUMNS
    if not ours:
        shown = ", ".join(sorted(tables)[:8]) + (", ..." if len(tables) > 8 else "")
        raise CacheError(f"{path} is not a visanom prediction cache (it is another database, holding: {shown}); "
                         f"it was left untouched; {_HINT}")


def _open_error(path: Path, exc: sqlite3.Error) -> CacheError:
    """The user's message for an SQLite error met while opening the cache at ``path``."""
    why = str(exc)
    if "not a database" in why:
        return CacheError(f"{path} is not a visanom prediction cache ({why}); {_HINT}")
    if "unable to open" in why or "readonly" in why or "read-only" in why:
        return CacheError(f"cannot open or create the prediction cache {path} ({why}; is its folder "
                          f"writable?); {_HINT}")
    return CacheError(f"cannot use the prediction cache {path} ({why}); {_HINT}")
