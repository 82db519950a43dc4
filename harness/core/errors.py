"""User-facing errors and the CLI exit codes they map to."""

from __future__ import annotations

from collections.abc import Iterable

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_IO = 3
EXIT_SAMPLE_FAILURES = 4


class VisanomError(Exception):
    """An error with a message a user can act on; ``exit_code`` is what the CLI returns."""

    exit_code = EXIT_INTERNAL


class UsageError(VisanomError):
    """Bad command-line input: an unknown name, a malformed argument."""

    exit_code = EXIT_USAGE


class UnknownNameError(UsageError):
    """A task or model name that is not registered; the message lists the known ones."""

    def __init__(self, kind: str, name: str, known: Iterable[str]):
        known = sorted(known)
        super().__init__(f"unknown {kind} {name!r}; known {kind}s: {', '.join(known) or '(none)'}")
        self.kind, self.name, self.known = kind, name, known


class OutputError(VisanomError):
    """The output folder cannot be created or written."""

    exit_code = EXIT_IO


class CacheError(VisanomError):
    """The prediction cache cannot be opened or created (a directory, not a cache, no write access)."""

    exit_code = EXIT_IO


class DataError(VisanomError):
    """An input file that cannot be used; the message names the file and the cause."""

    exit_code = EXIT_USAGE
