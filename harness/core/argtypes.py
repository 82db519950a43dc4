"""argparse types of the count flags every command shares (a bad value is a usage error, exit 2,
naming the flag); used by the CLI and by the tasks' own sub-commands."""

from __future__ import annotations

import argparse


def positive_int(value: str) -> int:
    """argparse type of a count flag (``--limit``, ``--batch-size``): a whole number of at least 1.

    A bad value is a usage error (exit 2) that argparse reports with the flag's name."""
    try:
        number = int(value.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def worker_count(value: str | int) -> int:
    """The argparse type of ``--workers``: a whole number of at least 1 (else a usage error naming
    the flag). Values above :func:`harness.core.cpus.max_workers` are accepted here and capped by :func:`harness.core.cpus.cap_workers`."""
    return positive_int(str(value))
