"""Untrusted paths: what a path given as a folder really is, and reading only regular files.

Used where a user-given or record-given path is read: a FIFO opened for reading blocks until
someone writes, a device such as ``/dev/zero`` never ends, and a symlink may lead out of the
folder that is meant to be read. :func:`open_regular` opens without blocking, checks the
file kind on the open descriptor (no race with a swapped path) and the size against a cap.
"""

from __future__ import annotations

import errno
import os
import stat

from harness.core.files import resolve_inside

_KINDS = ((stat.S_ISREG, "a file"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))


def kind_of(path: str | os.PathLike[str]) -> str:
    """What ``path`` is, in words: ``"a file"``, ``"a named pipe (FIFO)"``, ``"a folder"``,
    ``"a broken symbolic link"``, or ``"missing"``."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return "a broken symbolic link" if os.path.islink(path) else "missing"
    return next((words for test, words in _KINDS if test(mode)), "not a regular file")


def folder_problem(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` cannot be used as a folder (``"does not exist"``, ``"is a named pipe
    (FIFO), not a folder"`` ...), or None when it is one."""
    kind = kind_of(path)
    if kind == "a folder":
        return None
    return "does not exist" if kind == "missing" else f"is {kind}, not a folder"


class NotRegular(OSError):
    """The path is not a regular file, lies outside its folder, or is over the size cap."""


def open_regular(path: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None,
                 max_bytes: int | None = None) -> tuple[int, int]:
    """Open ``path`` for reading; return ``(fd, size)``. Raises :class:`NotRegular` (with the
    reason as its message) for a path that resolves outside ``root``, is not a regular file
    (a FIFO or device: opened non-blocking, so this never hangs) or is larger than
    ``max_bytes``; other :class:`OSError` as they come."""
    if root is not None and resolve_inside(root, os.path.abspath(path)) is None:
        raise NotRegular(f"a symbolic link to {os.path.realpath(path)}, outside {root} (not read)")
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegular(f"not a regular file (it is {kind_of(path)}; not read)")
        if max_bytes is not None and st.st_size > max_bytes:
            raise NotRegular(f"too large ({st.st_size:,} bytes; limit {max_bytes:,})")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd, st.st_size


def read_regular(path: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None,
                 max_bytes: int | None = None) -> bytes:
    """The bytes of a regular file (see :func:`open_regular`); with ``max_bytes``, the size
    checked on the descriptor is what is read (never more, even when the file grows meanwhile)."""
    fd, size = open_regular(path, root=root, max_bytes=max_bytes)
    with os.fdopen(fd, "rb") as fh:
        return fh.read() if max_bytes is None else fh.read(size)  # size <= max_bytes was checked


def unreadable(exc: OSError) -> str:
    """Why a file was not read, for a "skipped" line: a file that is not regular (FIFO, device),
    a symlink loop, or the OS's reason."""
    if isinstance(exc, NotRegular):
        return str(exc)
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    return f"unreadable ({exc.strerror or exc})"
