"""Find and validate run folders under a results folder.

Every problem is a :class:`Skipped` entry (path and reason), never an exception: a record
that cannot be read, is a symlink loop, is too large or too deeply nested to parse safely,
is not JSON, is partial (``status`` other than ``"complete"``), is of another schema or
lacks the keys the leaderboard needs is left out and listed; a folder with ``samples.jsonl``
and no ``run.json`` (an unfinished run) is listed too. Parsing itself is
:func:`harness.records.store.migrate_run` (the one ``run.json`` reader's schema step);
this module only checks a file before handing it over.

Every file is read through :func:`harness.core.paths.open_regular`: a symlink that leads out
of the results folder, a FIFO or a device is never read (each is listed as skipped), and a
symlinked folder is not followed but listed. ``samples.jsonl`` is streamed line by line, each
line capped at :data:`MAX_LINE_BYTES`, so memory stays bounded per record whatever the file.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.core.files import resolve_inside
from harness.core.paths import NotRegular, open_regular, read_regular
from harness.records.store import RUN_FILE, SAMPLES_FILE, migrate_run

SCHEMAS = ("visanom.run/1", "visanom.run/2")
SOURCE_KEY = "_source"
"""Key added to every collected run: the run folder, relative to the results folder (posix)."""
SAMPLES_KEY = "_samples"
"""Key added to every collected run: ``{"lines": int, "bytes": int, "mtime_ns": int}`` of its samples.jsonl, or None."""
MAX_RUN_BYTES = 32 * 1024 * 1024
MAX_LINE_BYTES = 8 * 1024 * 1024
MAX_SAMPLES_BYTES = 4 * 1024 * 1024 * 1024
"""A ``samples.jsonl`` larger than this is not read (lines are streamed; this bounds the time)."""
MAX_DEPTH = 64
MAX_NAME_CHARS = 256
"""Longest task name, model name, label, run id or spec id a record may have (they name pages and files)."""
MAX_TEXT_CHARS = 100_000
"""Longest other string in a ``run.json`` (a display title, a failure message): every page repeats them."""
_NAMES = (("task", "name"), ("model", "name"), ("label",), ("run_id",), ("spec_id",))
try:  # possessive (3.11+): no backtracking state, so a 30 MB string costs no memory to skip
    _STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"', re.DOTALL)
except re.error:  # 3.10: the unrolled loop keeps state per escape only, not per character
    _STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]")


class RecordWarning(UserWarning):
    """Kept for callers of the old API; the build now reports skipped records as plain messages."""


@dataclass(frozen=True)
class Skipped:
    """A record or folder that was not used, and why."""

    path: str
    reason: str

    def message(self) -> str:
        """One plain line for the user: names the file and the reason."""
        return f"skipped {self.path}: {self.reason}"


def json_depth(data: bytes) -> int:
    """Deepest ``[``/``{`` nesting of JSON text, counted without parsing it (strings ignored)."""
    brackets = _NOT_BRACKET.sub(b"", _STRING.sub(b'""', data))
    if not brackets:
        return 0
    arr = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where((arr == ord("[")) | (arr == ord("{")), 1, -1)
    return int(np.cumsum(steps).max())


def safe_loads(data: bytes, max_depth: int = MAX_DEPTH) -> tuple[Any, str]:
    """Parse one JSON document after the depth check; ``(value, "")`` or ``(None, reason)``."""
    openers = data.count(b"[") + data.count(b"{")
    depth = json_depth(data) if openers > max_depth else 0  # fewer openers cannot nest deeper
    if depth > max_depth:
        return None, f"nested {depth} levels deep (limit {max_depth}); not parsed"
    try:
        return json.loads(data.decode("utf-8-sig")), ""
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 text ({exc.reason} at byte {exc.start})"
    except (json.JSONDecodeError, RecursionError) as exc:
        msg = getattr(exc, "msg", type(exc).__name__)
        return None, f"not valid JSON ({msg}), probably partial"


def _walk(root: Path, links: list[Skipped]) -> Iterator[tuple[Path, set[str]]]:
    """Folders under ``root`` with their entry names; a symlinked folder is not followed
    but added to ``links`` with where it leads."""
    for folder, dirs, files in os.walk(root, followlinks=False, onerror=None):
        dirs.sort()
        for name in dirs:
            path = Path(folder) / name
            if path.is_symlink():
                rel = path.relative_to(root).as_posix()
                where = "inside" if resolve_inside(root, path.absolute()) is not None else "outside"
                links.append(Skipped(f"{rel}/", f"a symbolic link to a folder {where} the results folder "
                                                f"({os.path.realpath(path)}); links are not followed: copy "
                                                "the run into the results folder to show it"))
        yield Path(folder), set(files) | {d for d in dirs if d in (RUN_FILE, SAMPLES_FILE)}


def scan_runs(
    results_dir: str | Path, stat_cache: dict[str, Any] | None = None
) -> tuple[list[dict[str, Any]], list[Skipped]]:
    """Load every usable run under ``results_dir``; return ``(runs, skipped)`` in path order.

    ``stat_cache`` (path -> ``[bytes, mtime_ns, lines]``) lets a rebuild skip counting the
    records of a ``samples.jsonl`` whose size and mtime did not change; it is updated in place."""
    root = Path(results_dir)
    runs: list[dict[str, Any]] = []
    skipped: list[Skipped] = []
    links: list[Skipped] = []
    for folder, names in sorted(_walk(root, links), key=lambda item: str(item[0])):
        rel = folder.relative_to(root).as_posix()
        if RUN_FILE not in names:
            if SAMPLES_FILE in names:
                skipped.append(Skipped(f"{rel}/", "unfinished run: samples.jsonl without run.json"))
            continue
        path = folder / RUN_FILE
        run, reason = load_run(path, root)
        shown = f"{rel}/{RUN_FILE}"
        if run is None:
            skipped.append(Skipped(shown, reason))
            continue
        samples = folder / SAMPLES_FILE
        problem = samples_problem(samples, root)
        if problem:
            skipped.append(Skipped(f"{rel}/{SAMPLES_FILE}", problem))
            continue
        run[SOURCE_KEY] = rel
        run[SAMPLES_KEY] = samples_stat(samples, stat_cache, root)
        runs.append(run)
    return runs, sorted(skipped + links, key=lambda item: item.path)


def collect_runs(results_dir: str | Path) -> list[dict[str, Any]]:
    """The usable runs under ``results_dir`` (see :func:`scan_runs` for what was skipped)."""
    return scan_runs(results_dir)[0]


def _unreadable(exc: OSError) -> str:
    if isinstance(exc, NotRegular):
        return str(exc)
    if exc.errno == 40:  # ELOOP
        return "symlink loop"
    return f"unreadable ({exc.strerror or exc})"


def load_run(path: Path, root: Path | None = None) -> tuple[dict[str, Any] | None, str]:
    """Check and read one ``run.json`` (a regular file inside ``root``, when given); return
    ``(run, "")`` or ``(None, reason)``."""
    try:
        data = read_regular(path, root=root, max_bytes=MAX_RUN_BYTES)
    except OSError as exc:
        return None, _unreadable(exc)
    if not data.strip():
        return None, "empty file (not valid JSON), probably partial"
    value, reason = safe_loads(data)
    del data
    if reason:
        return None, reason
    problem = check_run(value)
    if problem:
        return None, problem
    try:
        run = migrate_run(value)  # the one reader's schema step (migrates older schemas)
    except (ValueError, TypeError, AttributeError, RecursionError) as exc:  # RecordError is a ValueError
        return None, str(exc)
    return (None, check_run(run)) if check_run(run) else (run, "")


def samples_problem(path: Path, root: Path) -> str:
    """Why a run's ``samples.jsonl`` must not be read (a symlink out of ``root``, a FIFO, a
    device, too large), or ``""`` when it is a readable regular file or absent."""
    if not os.path.lexists(path):
        return ""
    try:
        fd, _size = open_regular(path, root=root, max_bytes=MAX_SAMPLES_BYTES)
    except OSError as exc:
        return _unreadable(exc) + "; the run is not shown"
    os.close(fd)
    return ""


def _long_string(value: Any, limit: int, depth: int = 0) -> int:
    """Length of the first string longer than ``limit`` anywhere in ``value`` (0 when none)."""
    if isinstance(value, str):
        return len(value) if len(value) > limit else 0
    if depth > MAX_DEPTH:
        return 0
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _long_string(key, limit) or _long_string(item, limit, depth + 1)
        if found:
            return found
    return 0


def check_run(run: Any) -> str:
    """Return why ``run`` cannot be shown, or ``""`` when it is usable."""
    if not isinstance(run, dict):
        return "not a JSON object"
    if run.get("schema") not in SCHEMAS:
        return f"unsupported schema {str(run.get('schema'))[:80]!r} (expected one of {', '.join(SCHEMAS)})"
    if run.get("status") == "stale":
        return "status is 'stale': a re-run was interrupted before it finished (run it again)"
    if run.get("status") != "complete":
        return f"status is {str(run.get('status'))[:40]!r}, not 'complete' (partial run)"
    for part in ("task", "model"):
        block = run.get(part)
        if not isinstance(block, dict) or not isinstance(block.get("name"), str) or not block["name"]:
            return f"missing {part}.name"
    if not isinstance(run.get("metrics"), dict):
        return "missing metrics"
    for keys in _NAMES:
        value: Any = run
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, str) and len(value) > MAX_NAME_CHARS:
            return f"{'.'.join(keys)} is {len(value):,} characters long (limit {MAX_NAME_CHARS:,})"
    longest = _long_string(run, MAX_TEXT_CHARS)
    if longest:
        return f"holds a text of {longest:,} characters (limit {MAX_TEXT_CHARS:,})"
    return ""


def samples_stat(path: Path, cache: dict[str, Any] | None = None, root: Path | None = None) -> dict[str, int] | None:
    """Records (non-blank lines), size and mtime of a ``samples.jsonl`` (None when absent or
    unreadable); counted again only when ``cache`` has no entry of the same size and mtime."""
    try:
        fd, _size = open_regular(path, root=root, max_bytes=MAX_SAMPLES_BYTES)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        known = (cache or {}).get(str(path))
        if isinstance(known, list) and known[:2] == [st.st_size, st.st_mtime_ns]:
            return {"lines": known[2], "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}
        lines = sum(1 for _number, line in _lines(fh) if line is None or line.strip())
    if cache is not None:
        cache[str(path)] = [st.st_size, st.st_mtime_ns, lines]
    return {"lines": lines, "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}


def _lines(fh: Any, limit: int = MAX_LINE_BYTES) -> Iterator[tuple[int, bytes | None]]:
    """``(number, line)`` for each line of a binary file, holding at most ``limit`` bytes of
    one line in memory; a longer line is read to its end in pieces and yielded as None."""
    number = 0
    while line := fh.readline(limit + 1):
        number += 1
        if len(line) <= limit or line.endswith(b"\n"):  # at most limit bytes before the newline
            yield number, line
            continue
        while (rest := fh.readline(1 << 20)) and not rest.endswith(b"\n"):
            pass  # skip the rest of an over-long line without holding it
        yield number, None


def read_samples(path: Path, root: Path | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """The records of a ``samples.jsonl`` (a regular file inside ``root``, when given); a line
    that is too long, too deep or not a JSON object is left out and described in the second
    list. Later lines win for a repeated id. Lines are streamed: one line at a time in memory."""
    problems: list[str] = []
    by_id: dict[str, dict[str, Any]] = {}
    if not os.path.lexists(path):
        return [], []
    try:
        fd, _size = open_regular(path, root=root, max_bytes=MAX_SAMPLES_BYTES)
    except OSError as exc:
        return [], [f"{path.name}: {_unreadable(exc)}"]
    with os.fdopen(fd, "rb") as fh:
        for number, line in _lines(fh):
            problem, value = _sample(number, line)
            if problem:
                problems.append(problem)
            elif value is not None:
                by_id[value["sample_id"]] = value
    return list(by_id.values()), problems


def _sample(number: int, line: bytes | None) -> tuple[str, dict[str, Any] | None]:
    """One ``samples.jsonl`` line: ``("", record)``, ``("", None)`` for a blank line, or ``(problem, None)``."""
    if line is None:
        return f"line {number}: longer than {MAX_LINE_BYTES:,} bytes", None
    if not line.strip():
        return "", None
    value, reason = safe_loads(line)
    if reason or not isinstance(value, dict) or not isinstance(value.get("sample_id"), str):
        return f"line {number}: {reason or 'not a sample record'}", None
    return "", value
