"""Stable hashes for fingerprints and cache keys."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np


def _default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return {"__ndarray__": array_hash(obj)}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if isinstance(obj, bytes):
        return {"__bytes__": hashlib.sha256(obj).hexdigest()}
    raise TypeError(f"cannot hash object of type {type(obj).__name__}")


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace, so equal objects give equal text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_default, allow_nan=True)


def stable_hash(obj: Any, length: int = 64) -> str:
    """sha256 of the canonical JSON form of ``obj`` (hex, truncated to ``length``)."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:length]


def array_hash(arr: np.ndarray) -> str:
    """sha256 over dtype, shape and the raw bytes of a C-contiguous copy of ``arr``."""
    a = np.ascontiguousarray(arr)
    h = hashlib.sha256()
    h.update(str(a.dtype).encode())
    h.update(str(a.shape).encode())
    h.update(a.tobytes())
    return h.hexdigest()
