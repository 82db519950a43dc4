"""Writing files as the user expects: atomically, and readable as the process umask says.

``tempfile.mkstemp`` creates files 0600 and ``mkdtemp`` folders 0700 whatever the umask, so a
file renamed into place from one would be unreadable to the other users of a shared results
folder or a web server. Everything visanom writes goes through these helpers.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from harness.core.errors import DataError

_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask (read by setting it and putting it back, under a lock)."""
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes, *, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename
    (readers never see half a file); the file gets ``0666 & ~umask``, like ``open()``'s."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def make_temp_dir(parent: Path, prefix: str) -> Path:
    """A new folder in ``parent`` (to be renamed into place) with ``0777 & ~umask``, like ``mkdir``'s."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    os.chmod(path, 0o777 & ~current_umask())
    return path


@lru_cache(maxsize=4096)
def _real_dir(folder: str) -> str:
    return os.path.realpath(folder)


def resolve_inside(root: Path | str, rel: Path | str) -> Path | None:
    """``root / rel`` with symlinks, ``..`` and absolute parts resolved, when it stays inside
    ``root`` (or is ``root``); else None. The one containment check: writers refuse with it
    (``harness.records.store.inside``), the leaderboard skips with it. Folders are resolved once
    per process (cached), the last part each time (it may be a link made later)."""
    rel = os.fspath(rel)
    if not rel or "\x00" in rel:
        return None
    base = _real_dir(os.fspath(root))
    joined = os.path.join(base, rel)
    try:
        folder = _real_dir(os.path.dirname(joined))
        path = os.path.join(folder, os.path.basename(joined))
        if os.path.islink(path):
            path = os.path.realpath(path)
        path = os.path.normpath(path)
    except (OSError, ValueError):
        return None
    return Path(path) if path == base or path.startswith(base + os.sep) else None


MAX_JSON_DEPTH = 64
"""How deep a JSON file visanom reads back (manifest, selection, elicitation) may nest."""


def read_json(path: Path, what: str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The parsed JSON file ``path`` (``what`` it is, for messages), or :class:`DataError` naming it:
    unreadable, not UTF-8 (a UTF-16 file, say), not JSON, or nested past ``max_depth`` (checked on
    the text before parsing, so a 100,000-deep file costs no recursion)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: the {what} is not UTF-8 text (byte {exc.start}); was it saved as UTF-16?") from None
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:  # brackets outside strings: the nesting json.loads would recurse into
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > max_depth:
                raise DataError(f"{path}: the {what} is nested more than {max_depth} levels deep; not read")
        elif ch in "]}":
            depth -= 1
    try:
        return json.loads(text)
    except ValueError as exc:
        raise DataError(f"{path}: the {what} is not valid JSON ({exc})") from None
