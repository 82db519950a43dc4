"""Small, strict readers for numeric text files, shared by the file-based sources."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

MAX_BYTES = 1 << 30
"""Files larger than this are refused (1 GiB of text is far beyond any series of the sources)."""


class BadFile(ValueError):
    """A file that cannot be read as the expected format; the message is the skip reason."""


def read_text(path: Path) -> str:
    """The file as UTF-8 text; :class:`BadFile` for binary, unreadable or oversized files."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise BadFile(f"file too large ({size} bytes)")
        data = path.read_bytes()
    except OSError as exc:
        raise BadFile(f"cannot read: {exc.strerror or exc}") from exc
    if b"\x00" in data:
        raise BadFile("binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadFile("not UTF-8 text") from exc


def parse_float(token: str) -> float:
    """A float; empty and NaN spellings become NaN; anything else non-numeric raises BadFile."""
    t = token.strip()
    if t == "" or t.lower() in {"nan", "na", "null", "none"}:
        return float("nan")
    try:
        v = float(t)
    except ValueError:
        raise BadFile(f"not a number: {t[:40]!r}") from None
    if np.isinf(v):
        raise BadFile(f"infinite value: {t[:40]!r}")
    return v


def parse_label(token: str) -> int:
    """A 0/1 label (``0``, ``1``, ``0.0``, ``1.0``, ``true``/``false``); else BadFile."""
    t = token.strip().lower()
    if t in {"0", "0.0", "false"}:
        return 0
    if t in {"1", "1.0", "true"}:
        return 1
    raise BadFile(f"label is not 0/1: {token.strip()[:40]!r}")


def csv_rows(text: str) -> tuple[list[str], list[list[str]]]:
    """Header (stripped, lower case) and data rows of a CSV text; BadFile when empty."""
    rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    if not rows:
        raise BadFile("empty file")
    header = [h.strip().lower() for h in rows[0]]
    return header, rows[1:]


def pick_column(header: list[str], names: tuple[str, ...], what: str) -> int:
    """Index of the first header name in ``names``; BadFile listing the header when absent."""
    for name in names:
        if name in header:
            return header.index(name)
    raise BadFile(f"no {what} column (looked for {', '.join(names)}; found {', '.join(header) or 'none'})")
