"""Figures read off run records, computed in one place: the headline text, token counts and
the estimated API cost (from a model card's ``price_per_mtok_in`` / ``price_per_mtok_out``).

The engines report usage as ``prompt_tokens`` / ``completion_tokens`` (OpenAI-compatible)
or ``input_tokens`` / ``output_tokens`` (Anthropic); both are counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TOKENS_IN = ("prompt_tokens", "input_tokens")
TOKENS_OUT = ("completion_tokens", "output_tokens")


def _count(usage: Mapping[str, Any], keys: tuple[str, ...]) -> int | None:
    found = [v for k in keys if isinstance(v := usage.get(k), (int, float)) and not isinstance(v, bool)]
    return int(sum(found)) if found else None


def token_counts(usage: Mapping[str, Any] | None) -> tuple[int, int] | None:
    """``(tokens in, tokens out)`` of a usage mapping (a record's, a draw's or a run's), or
    None when it reports no tokens at all (a detector)."""
    usage = usage if isinstance(usage, Mapping) else {}
    tin, tout = _count(usage, TOKENS_IN), _count(usage, TOKENS_OUT)
    return None if tin is None and tout is None else (tin or 0, tout or 0)


def api_cost(usage: Mapping[str, Any] | None, display: Mapping[str, Any] | None) -> float | None:
    """Estimated cost in USD of ``usage`` at the card's prices per million tokens (None when
    the card names no price or no tokens were reported)."""
    display = display if isinstance(display, Mapping) else {}
    p_in, p_out = display.get("price_per_mtok_in"), display.get("price_per_mtok_out")
    counts = token_counts(usage)
    if (p_in is None and p_out is None) or counts is None:
        return None
    return counts[0] / 1e6 * float(p_in or 0) + counts[1] / 1e6 * float(p_out or 0)


def headline_text(run: Mapping[str, Any]) -> str:
    """``VUS-PR=0.4123`` (or ``VUS-PR=undefined``) from a run record; empty without a headline."""
    head = run.get("headline")
    if not head:
        return ""
    value = ((run.get("metrics") or {}).get(head) or {}).get("value")
    return f"{head}={'undefined' if value is None else f'{value:.4f}'}"
