"""Argument helpers every ``visanom`` sub-command shares: key=value lists, name lists, counts, the cache."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from harness.core.errors import UsageError
from harness.run.cache import PredictionCache

DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "visanom" / "predictions.sqlite"


def parse_kv(pairs: Sequence[str] | None) -> dict[str, Any]:
    """``["k=v", ...]`` to a dict; values are read as YAML scalars (``3`` is an int, ``true`` a bool)."""
    out: dict[str, Any] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"expected key=value, got {pair!r}")
        try:
            parsed = yaml.safe_load(value) if value.strip() else ""
            json.dumps(parsed, allow_nan=False)  # a date, a set or binary stays the text it was typed as
            out[key.strip()] = parsed
        except (yaml.YAMLError, TypeError, ValueError, RecursionError):
            out[key.strip()] = value
    return out


def split_names(value: str) -> list[str]:
    """``"a,b"`` to ``["a", "b"]`` (empty items dropped)."""
    return [v.strip() for v in value.split(",") if v.strip()]


def name_list(value: str) -> str:
    """argparse type of a comma-separated name flag (``--model``, ``--task``, ``--models``):
    the value unchanged when it holds at least one name, else a usage error naming the flag."""
    if not split_names(value):
        raise argparse.ArgumentTypeError(f"no name given ({value!r}); expected one or more names, comma-separated")
    return value


def open_cache(args: argparse.Namespace) -> PredictionCache | None:
    if args.no_cache:
        return None
    if args.cache is not None and not str(args.cache).strip():
        raise UsageError("--cache needs a file name (got an empty one); pass --no-cache to run without a cache")
    return PredictionCache(args.cache if args.cache is not None else DEFAULT_CACHE)


def judge_model(name: str | None, pairs: list[str]) -> Any:
    """The ``--judge`` model built with its ``--judge-args``, or None without ``--judge``."""
    if not name:
        if pairs:
            raise UsageError("--judge-args needs --judge MODEL")
        return None
    from harness import registry

    return registry.make_model(name, **parse_kv(pairs))
