"""A prediction cache in SQLite (WAL mode), safe for several processes at once.

The key is ``sha256(model fingerprint, task input fingerprint, sample input hash, generation
config[, draw index and seed])`` (the draw part only for seeded draws, see ``harness.draws``). Only successful predictions are stored: errors are never cached, and a model
whose outputs are not reproducible (sampling without a seed) sets ``cacheable = False`` so
the runner stores nothing for it.
"""

from __future__ import annotations

import io
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from harness.hashing import stable_hash
from harness.records import json_safe
from harness.types import Prediction

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

    def __init__(self, path: str | Path, timeout_s: float = 60.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.timeout_s = timeout_s
        self._local = threading.local()
        conn = self._conn()
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(_SCHEMA)
        conn.commit()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
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
        """Store a successful prediction; returns False (and stores nothing) for errors."""
        if pred.error is not None:
            return False
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
        return True

    def __len__(self) -> int:
        return self._conn().execute("SELECT COUNT(*) FROM predictions").fetchone()[0]

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
