"""Coercion of hyperparameter overrides given as strings (``--model-args k=v``)."""

from __future__ import annotations

import ast
from typing import Any

_WORDS = {"none": None, "null": None, "true": True, "false": False}


def coerce_value(value: Any) -> Any:
    """Turn a command-line string into a Python value; non-strings pass through unchanged.

    ``"150"`` -> 150, ``"0.25"`` -> 0.25, ``"None"``/``"null"`` -> None, ``"true"`` -> True,
    ``"[64, 32]"`` -> [64, 32] (any Python literal); anything else stays a string
    (``"rbf"``, ``"kshape"``). Tuples become lists so fingerprints match either spelling.
    """
    if not isinstance(value, str):
        return list(value) if isinstance(value, tuple) else value
    text = value.strip()
    if text.lower() in _WORDS:
        return _WORDS[text.lower()]
    try:
        parsed = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return value
    return list(parsed) if isinstance(parsed, tuple) else parsed
