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

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core.files import resolve_inside
from harness.core.paths import open_regular, read_regular, unreadable
from harness.records.samples import (  # noqa: F401 (read_samples: the one reader)
    MAX_DEPTH,
    MAX_SAMPLES_BYTES,
    json_depth,
    line_stream,
    read_samples,
    safe_loads,
)
from harness.records.store import RUN_FILE, SAMPLES_FILE, migrate_run

SCHEMAS = ("visanom.run/1", "visanom.run/2")
SOURCE_KEY = "_source"
"""Key added to every collected run: the run folder, relative to the results folder (posix)."""
SAMPLES_KEY = "_samples"
"""Key added to every collected run: ``{"lines": int, "bytes": int, "mtime_ns": int}`` of its samples.jsonl, or None."""
MAX_RUN_BYTES = 32 * 1024 * 1024
MAX_NAME_CHARS = 256
"""Longest task name, model name, label, run id or spec id a record may have (they name pages and files)."""
MAX_TEXT_CHARS = 100_000
"""Longest other string in a ``run.json`` (a display title, a failure message): every page repeats them."""
_NAMES = (("task", "name"), ("model", "name"), ("label",), ("run_id",), ("spec_id",))


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


def load_run(path: Path, root: Path | None = None) -> tuple[dict[str, Any] | None, str]:
    """Check and read one ``run.json`` (a regular file inside ``root``, when given); return
    ``(run, "")`` or ``(None, reason)``."""
    try:
        data = read_regular(path, root=root, max_bytes=MAX_RUN_BYTES)
    except OSError as exc:
        return None, unreadable(exc)
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
        return unreadable(exc) + "; the run is not shown"
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
        lines = sum(1 for _number, line in line_stream(fh) if line is None or line.strip())
    if cache is not None:
        cache[str(path)] = [st.st_size, st.st_mtime_ns, lines]
    return {"lines": lines, "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}
