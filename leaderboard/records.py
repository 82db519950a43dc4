"""Find and validate ``run.json`` records under a results folder.

A record that cannot be read, is not JSON, is partial (``status`` other than ``"complete"``)
or lacks the keys the leaderboard needs is skipped: :func:`scan_runs` returns it with its
reason, :func:`collect_runs` emits a :class:`RecordWarning` naming the file. Nothing here
raises on a bad record.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.records import RUN_SCHEMA, RecordError, read_run

SCHEMA = RUN_SCHEMA
SOURCE_KEY = "_source"
"""Key added to every collected run: the run folder, relative to the results folder (posix)."""


class RecordWarning(UserWarning):
    """A ``run.json`` was skipped because it is unreadable, partial or malformed."""


@dataclass(frozen=True)
class Skipped:
    """A ``run.json`` that was not used, and why."""

    path: str
    reason: str

    def message(self) -> str:
        """The warning text: names the file and the reason."""
        return f"skipping {self.path}: {self.reason}"


def scan_runs(results_dir: str | Path) -> tuple[list[dict[str, Any]], list[Skipped]]:
    """Load every usable ``results_dir/**/run.json``; return ``(runs, skipped)`` in path order."""
    root = Path(results_dir)
    runs: list[dict[str, Any]] = []
    skipped: list[Skipped] = []
    if not root.is_dir():
        return runs, [Skipped(str(root), "results folder not found")]
    for path in sorted(root.rglob("run.json")):
        run, reason = load_run(path)
        if run is None:
            skipped.append(Skipped(str(path), reason))
            continue
        run[SOURCE_KEY] = path.parent.relative_to(root).as_posix()
        runs.append(run)
    return runs, skipped


def collect_runs(results_dir: str | Path) -> list[dict[str, Any]]:
    """Return the usable runs under ``results_dir``; warn (:class:`RecordWarning`) for each skipped file."""
    runs, skipped = scan_runs(results_dir)
    for item in skipped:
        warnings.warn(item.message(), RecordWarning, stacklevel=2)
    return runs


def load_run(path: Path) -> tuple[dict[str, Any] | None, str]:
    """Read one ``run.json`` with the one reader (:func:`harness.records.read_run`, which
    migrates older schemas); return ``(run, "")`` or ``(None, reason)``."""
    try:
        run = read_run(path)
    except RecordError as exc:
        return None, str(exc).removeprefix(f"{path}: ")
    problem = check_run(run)
    return (None, problem) if problem else (run, "")


def check_run(run: Any) -> str:
    """Return why ``run`` cannot be shown, or ``""`` when it is usable."""
    if not isinstance(run, dict):
        return "not a JSON object"
    if run.get("schema") != SCHEMA:
        return f"unsupported schema {run.get('schema')!r} (expected {SCHEMA!r})"
    if run.get("status") != "complete":
        return f"status is {run.get('status')!r}, not 'complete' (partial run)"
    for part in ("task", "model"):
        block = run.get(part)
        if not isinstance(block, dict) or not isinstance(block.get("name"), str) or not block["name"]:
            return f"missing {part}.name"
    if not isinstance(run.get("metrics"), dict):
        return "missing metrics"
    return ""
