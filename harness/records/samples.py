"""The one reader of ``samples.jsonl``: the runner's resume, the sweep driver, the leaderboard,
the judge and the curation steps all read sample records through :func:`read_samples`.

A line that is too long, nested too deeply, not JSON or not a sample record is left out and
described (never raised); a later line wins for a repeated sample id (and is described too).
Only a regular file is read (never a FIFO or a device), inside ``root`` when given, streamed one
line at a time under a size cap. With ``repair`` (a writer about to append) a last line cut
short by a kill is cut off the file.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from harness.core.paths import open_regular, unreadable

MAX_LINE_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 64
MAX_SAMPLES_BYTES = 4 * 1024 * 1024 * 1024
"""A ``samples.jsonl`` larger than this is not read (lines are streamed; this bounds the time)."""
try:  # possessive (3.11+): no backtracking state, so a 30 MB string costs no memory to skip
    _STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"', re.DOTALL)
except re.error:  # 3.10: the unrolled loop keeps state per escape only, not per character
    _STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]")


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


DUPLICATE = "a second record of sample"
"""How :func:`read_samples` names a line that repeats a sample (two writers, an old bug)."""


DUPLICATE = "a second record of sample"
"""How :func:`read_samples` names a line that repeats a sample (two writers, an old bug)."""


def read_samples(path: str | Path, root: str | Path | None = None, *,
                 repair: bool = False) -> tuple[list[dict[str, Any]], list[str]]:
    """The records of a ``samples.jsonl`` in file order (one per sample id, the last line
    winning) and a description of each line left out. A missing file has no records; a file
    that is not a regular file inside ``root`` (when given) is not read, and said so.

    ``repair`` cuts a torn last line (no newline: the writer was killed mid-line) off the
    file, so the next append starts on a fresh line; without it such a line is only read."""
    path = Path(path)
    if not os.path.lexists(path):
        return [], []
    problems: list[str] = []
    if repair:
        _cut_torn_line(path, problems)
    try:
        fd, _size = open_regular(path, root=root, max_bytes=MAX_SAMPLES_BYTES)
    except OSError as exc:
        return [], [f"{path.name}: {unreadable(exc)}"]
    by_id: dict[str, dict[str, Any]] = {}
    with os.fdopen(fd, "rb") as fh:
        for number, line in line_stream(fh):
            problem, value = _sample(number, line)
            if problem:
                problems.append(problem)
            elif value is not None:
                if by_id.pop(value["sample_id"], None) is not None:  # the later line wins, at its place
                    problems.append(f"line {number}: {DUPLICATE} {value['sample_id']!r} (the later one kept)")
                by_id[value["sample_id"]] = value
    return list(by_id.values()), problems


def _cut_torn_line(path: Path, problems: list[str]) -> None:
    """Truncate a last line without its newline (a writer killed mid-line)."""
    try:
        with open(path, "r+b") as fh:
            size = fh.seek(0, os.SEEK_END)
            if not size:
                return
            fh.seek(size - 1)
            if fh.read(1) == b"\n":
                return
            back = min(size, MAX_LINE_BYTES + 1)
            fh.seek(size - back)
            tail = fh.read(back)
            good_end = size - back + tail.rfind(b"\n") + 1 if b"\n" in tail else 0
            fh.truncate(good_end)
            problems.append("the last line was cut short (dropped)")
    except OSError:
        return


def line_stream(fh: Any, limit: int = MAX_LINE_BYTES) -> Iterator[tuple[int, bytes | None]]:
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
