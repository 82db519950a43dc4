"""Find and validate run folders under a results folder.

Every problem is a :class:`Skipped` entry (path and reason), never an exception: a record
that cannot be read, is a symlink loop, is too large or too deeply nested to parse safely,
is not JSON, is partial (``status`` other than ``"complete"``), is of another schema or
lacks the keys the leaderboard needs is left out and listed; a folder with ``samples.jsonl``
and no ``run.json`` (an unfinished run) is listed too. Parsing itself is
:func:`harness.records.store.read_run` (the one ``run.json`` reader; it accepts a UTF-8 BOM);
this module only checks a file before handing it over.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.records.samples import safe_loads
from harness.records.store import RUN_FILE, SAMPLES_FILE, read_run

SCHEMAS = ("visanom.run/1", "visanom.run/2")
SOURCE_KEY = "_source"
"""Key added to every collected run: the run folder, relative to the results folder (posix)."""
SAMPLES_KEY = "_samples"
"""Key added to every collected run: ``{"lines": int, "bytes": int, "mtime_ns": int}`` of its samples.jsonl, or None."""
MAX_RUN_BYTES = 32 * 1024 * 1024


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


def _walk(root: Path) -> Iterator[tuple[Path, set[str]]]:
    """Folders under ``root`` (symlinked folders not followed) with their entry names."""
    for folder, dirs, files in os.walk(root, followlinks=False, onerror=None):
        dirs.sort()
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
    for folder, names in sorted(_walk(root), key=lambda item: str(item[0])):
        rel = folder.relative_to(root).as_posix()
        if RUN_FILE not in names:
            if SAMPLES_FILE in names:
                skipped.append(Skipped(f"{rel}/", "unfinished run: samples.jsonl without run.json"))
            continue
        path = folder / RUN_FILE
        run, reason = load_run(path)
        shown = f"{rel}/{RUN_FILE}"
        if run is None:
            skipped.append(Skipped(shown, reason))
            continue
        run[SOURCE_KEY] = rel
        run[SAMPLES_KEY] = samples_stat(folder / SAMPLES_FILE, stat_cache)
        runs.append(run)
    return runs, skipped


def collect_runs(results_dir: str | Path) -> list[dict[str, Any]]:
    """The usable runs under ``results_dir`` (see :func:`scan_runs` for what was skipped)."""
    return scan_runs(results_dir)[0]


def load_run(path: Path) -> tuple[dict[str, Any] | None, str]:
    """Check and read one ``run.json``; return ``(run, "")`` or ``(None, reason)``."""
    try:
        if path.is_symlink():
            path.resolve(strict=True)
        if not path.is_file():
            return None, "not a regular file"
        size = path.stat().st_size
    except RuntimeError:
        return None, "symlink loop"
    except OSError as exc:
        if exc.errno == 40:  # ELOOP
            return None, "symlink loop"
        return None, f"unreadable ({exc.strerror or exc})"
    if size > MAX_RUN_BYTES:
        return None, f"too large ({size:,} bytes; limit {MAX_RUN_BYTES:,})"
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, f"unreadable ({exc.strerror or exc})"
    if not data.strip():
        return None, "empty file (not valid JSON), probably partial"
    value, reason = safe_loads(data)
    if reason:
        return None, reason
    problem = check_run(value)
    if problem:
        return None, problem
    try:
        run = read_run(path)  # the one reader (migrates older schemas once it learns to)
    except (ValueError, OSError, TypeError, AttributeError, RecursionError) as exc:  # RecordError is a ValueError
        return None, str(exc).removeprefix(f"{path}: ")
    return (None, check_run(run)) if check_run(run) else (run, "")


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
    return ""


def samples_stat(path: Path, cache: dict[str, Any] | None = None) -> dict[str, int] | None:
    """Records (non-blank lines), size and mtime of a ``samples.jsonl`` (None when absent or
    unreadable); counted again only when ``cache`` has no entry of the same size and mtime."""
    try:
        st = path.stat()
        if not path.is_file():
            return None
        known = (cache or {}).get(str(path))
        if isinstance(known, list) and known[:2] == [st.st_size, st.st_mtime_ns]:
            return {"lines": known[2], "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}
        data = path.read_bytes()
    except OSError:
        return None
    lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    lines -= sum(1 for line in data.splitlines() if not line.strip()) if b"\n\n" in data or data[:1] in b" \t\r\n" else 0
    if cache is not None:
        cache[str(path)] = [st.st_size, st.st_mtime_ns, lines]
    return {"lines": lines, "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}
