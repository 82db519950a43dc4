"""Build the static leaderboard site: ``results/**/run.json -> summary.json -> index.html``.

Collecting and summarising (:mod:`leaderboard.records`, :mod:`leaderboard.summary`) are kept
apart from rendering (:mod:`leaderboard.render`) so fuller sites can reuse the summary.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import warnings
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.records import atomic_write_bytes
from leaderboard.records import RecordWarning, collect_runs, scan_runs
from leaderboard.render import STATIC, render_index
from leaderboard.summary import summarise

__all__ = ["build_site", "collect_runs", "summarise", "write_summary", "main"]


def build_site(results_dir: str | Path, out_dir: str | Path, *, generated: datetime | None = None) -> Path:
    """Write ``index.html``, ``summary.json`` and ``static/`` into ``out_dir``; return the index path.

    Every skipped ``run.json`` is reported with a :class:`~leaderboard.records.RecordWarning`
    and listed on the page; a bad record never stops the build.
    """
    runs, skipped = scan_runs(results_dir)
    for item in skipped:
        warnings.warn(item.message(), RecordWarning, stacklevel=2)
    summary = summarise(runs, skipped, generated=generated)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_summary(summary, out / "summary.json")
    shutil.copytree(STATIC, out / "static", dirs_exist_ok=True)
    index = out / "index.html"
    _write_text(index, render_index(summary))
    return index


def write_summary(summary: dict[str, Any], path: Path) -> None:
    """Write ``summary`` as strict JSON (NaN is refused, never written)."""
    _write_text(path, json.dumps(summary, indent=2, allow_nan=False, ensure_ascii=False) + "\n")


def _write_text(path: Path, text: str) -> None:
    """Write atomically (unique temporary file, fsync, rename), so a reader never sees half a page."""
    atomic_write_bytes(path, text.encode("utf-8"))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m leaderboard RESULTS --out SITE``."""
    parser = argparse.ArgumentParser(
        prog="python -m leaderboard", description="Build the static leaderboard site."
    )
    parser.add_argument("results", type=Path, help="results folder (scanned for **/run.json)")
    parser.add_argument("--out", type=Path, default=Path("site"), help="output folder (default: site)")
    args = parser.parse_args(argv)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RecordWarning)
        index = build_site(args.results, args.out)
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    print(index)
    return 0
