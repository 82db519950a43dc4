"""Opening the prediction cache: many processes creating the same new file at the same moment
all succeed (issue 10, item 5); unusable paths are clear errors (item 4, also through the CLI in
test_cli_args.py)."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from harness.core.errors import EXIT_IO, CacheError
from harness.core.types import Prediction
from harness.run.cache import PredictionCache

WORKERS = 4
ROUNDS = 200


def _create_together(folder: str, barrier, worker: int, results) -> None:
    """For each round: wait until every worker is ready, then all open (create) that round's
    new cache file at once, write, read and close it. Reports the rounds that failed."""
    failures = []
    for rnd in range(ROUNDS):
        try:
            barrier.wait(timeout=120)  # a hang guard only; the verdict never depends on time
            cache = PredictionCache(Path(folder) / f"round{rnd}" / "cache.sqlite")
            cache.put(f"k{worker}", Prediction(sample_id="x", scores=np.arange(3.0) + worker))
            got = cache.get(f"k{worker}", "x")
            cache.close()
            if got is None or got.scores[0] != worker:
                failures.append(f"round {rnd} worker {worker}: wrong value")
        except BaseException as exc:  # every failure is reported to the parent, whatever it is
            failures.append(f"round {rnd} worker {worker}: {type(exc).__name__}: {exc}")
    results.put(failures)


def test_simultaneous_creation_of_one_new_cache_never_fails(tmp_path: Path) -> None:
    """Issue 10 item 5: SQLite answers the first ``PRAGMA journal_mode=WAL`` with "database is
    locked", without waiting, when another process holds the new file at that instant. The old
    code failed each of 3 runs of this test (1 or 2 of its 800 opens); the set-up must wait."""
    ctx = mp.get_context("fork")
    barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
    procs = [ctx.Process(target=_create_together, args=(str(tmp_path), barrier, w, results))
             for w in range(WORKERS)]
    for p in procs:
        p.start()
    failures = [f for _ in procs for f in results.get(timeout=600)]
    for p in procs:
        p.join(timeout=60)
    assert not failures, f"{len(failures)} failed opens:\n" + "\n".join(failures[:10])
    for rnd in (0, ROUNDS // 2, ROUNDS - 1):
        assert len(PredictionCache(tmp_path / f"round{rnd}" / "cache.sqlite")) == WORKERS


def test_unusable_paths_raise_cache_errors(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 100)
    folder = tmp_path / "folder"
    folder.mkdir()
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE predictions (a INTEGER)")
    cases = [(text, "is not a visanom prediction cache"), (folder, "is a directory"),
             (text / "c.sqlite", "cannot create the cache folder"), (other, "is not a visanom prediction cache"),
             (Path("/proc/visanom-no-such-place.sqlite"), "cannot open or create")]
    for path, says in cases:
        with pytest.raises(CacheError) as exc:
            PredictionCache(path)
        assert says in str(exc.value) and str(path) in str(exc.value)
        assert exc.value.exit_code == EXIT_IO
    assert text.read_text() == "not a database\n" * 100
