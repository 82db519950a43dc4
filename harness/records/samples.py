"""The one reader of ``samples.jsonl``: the runner's resume, the sweep driver, the leaderboard,
the judge and the curation steps all read sample records through :func:`read_samples`.

A line that is too long, nested too deeply, not JSON or not a sample record is left out and
described (never raised); a later line wins for a repeated sample id. With ``repair`` (a
writer about to append) a last line cut short by a kill is cut off the file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

MAX_LINE_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 64
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
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


def read_samples(path: str | Path, *, repair: bool = False) -> tuple[list[dict[str, Any]], list[str]]:
    """The records of a ``samples.jsonl`` in file order (one per sample id, the last line
    winning) and a description of each line left out. A missing file has no records.

    ``repair`` cuts a torn last line (no newline: the writer was killed mid-line) off the
    file, so the next append starts on a fresh line; without it such a line is only read."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return [], []
    except OSError as exc:
        return [], [f"{path.name}: unreadable ({exc.strerror or exc})"]
    problems: list[str] = []
    if repair:
        good_end = raw.rfind(b"\n") + 1
        if good_end < len(raw):
            with open(path, "r+b") as fh:
                fh.truncate(good_end)
            torn = raw[:good_end].count(b"\n") + 1
            problems.append(f"line {torn}: cut short (dropped)")
            raw = raw[:good_end]
    by_id: dict[str, dict[str, Any]] = {}
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        if len(line) > MAX_LINE_BYTES:
            problems.append(f"line {number}: longer than {MAX_LINE_BYTES:,} bytes")
            continue
        value, reason = safe_loads(line)
        if reason or not isinstance(value, dict) or not isinstance(value.get("sample_id"), str):
            problems.append(f"line {number}: {reason or 'not a sample record'}")
            continue
        if by_id.pop(value["sample_id"], None) is not None:  # a later line wins, at its own place in the order
            problems.append(f"line {number}: {DUPLICATE} {value['sample_id']!r} (the later one kept)")
        by_id[value["sample_id"]] = value
    return list(by_id.values()), problems
