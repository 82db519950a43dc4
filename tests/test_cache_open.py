"""Opening the prediction cache: many processes creating the same new file at the same moment
all succeed (issue 10, item 5); unusable paths are clear errors (item 4, also through the CLI in
test_cli_args.py)."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from harness.cache import PredictionCache
from harness.errors import EXIT_IO, CacheError
from harness.types import Prediction

WORKERS = 6
ROUNDS = 25


def _open_at_once(path: str, barrier, worker: int, results) -> None:
    """Wait until every worker is ready, then open (create) the cache and write one entry."""
    try:
        barrier.wait(timeout=120)  # a hang guard only; the verdict never depends on time
        cache = PredictionCache(path)
        cache.put(f"k{worker}", Prediction(sample_id="x", scores=np.arange(3.0) + worker))
        got = cache.get(f"k{worker}", "x")
        results.put((worker, "ok" if got is not None and got.scores[0] == worker else "wrong value"))
    except BaseException as exc:  # report every failure to the parent, whatever it is
        results.put((worker, f"{type(exc).__name__}: {exc}"))


def test_simultaneous_creation_of_one_new_cache_never_fails(tmp_path: Path) -> None:
    ctx = mp.get_context("fork")
    failures = []
    for rnd in range(ROUNDS):
        path = str(tmp_path / f"round{rnd}" / "cache.sqlite")
        barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
        procs = [ctx.Process(target=_open_at_once, args=(path, barrier, w, results)) for w in range(WORKERS)]
        for p in procs:
            p.start()
        outcome = dict(results.get(timeout=300) for _ in procs)
        for p in procs:
            p.join(timeout=300)
        failures += [f"round {rnd} worker {w}: {why}" for w, why in outcome.items() if why != "ok"]
        assert len(PredictionCache(path)) == WORKERS or failures
    assert not failures, "\n".join(failures[:10])


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
