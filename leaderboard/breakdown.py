"""The breakdown page's cells: each group's headline with its n and, where the samples allow
it, a 95% bootstrap CI computed at build time from the run's ``samples.jsonl``.

``run.json`` records a group's value and n but no interval. The CI is recomputed from the
samples of the group (the samples whose ``meta[key]`` is the group's name), the same way the
run's own CI is made: a pooled ratio (``F1``, ``P``, ``R``, ``Interval-*``) resamples samples and
re-sums TP/FP/FN (``pooled_interval_metrics``); any other headline is the mean of a per-sample
value (``bootstrap_ci``). A CI is given only when the samples found are exactly the group's n,
and never for a task whose groups are made of stitched series rather than samples.
"""

from __future__ import annotations

import math
from typing import Any

from harness.scoring.metrics import bootstrap_ci, pooled_interval_metrics

MIN_N = 5
"""Cells from fewer samples than this are greyed out."""
POOLED = {"F1": "f1_ci", "P": "precision_ci", "R": "recall_ci"}


def group_cis(entries: list[dict[str, Any]], headline: str | None, keys: list[str], view: str) -> dict[str, Any]:
    """``{key: {group: [lo, hi]}}`` for the groups whose CI can be recomputed (see the module)."""
    if not headline or view == "image+text windows":
        return {}
    out: dict[str, Any] = {}
    base = headline.removeprefix("Interval-")
    for key in keys:
        groups: dict[str, list[dict[str, Any]]] = {}
        for e in entries:
            name = e["meta"].get(key)
            if name is not None:
                groups.setdefault(str(name), []).append(e)
        cis = {}
        for name, members in groups.items():
            ok = [e for e in members if e["status"] != "failed"]
            ci = _ci(ok, headline, base)
            if ci is not None:
                cis[name] = {"ci": ci, "n": len(members)}
        if cis:
            out[key] = cis
    return out


def _ci(ok: list[dict[str, Any]], headline: str, base: str) -> list[float] | None:
    if not ok:
        return None
    if base in POOLED and all(all(k in e["counts"] for k in ("TP", "FP", "FN")) for e in ok):
        result = pooled_interval_metrics([[e["counts"][k] for k in ("TP", "FP", "FN")] for e in ok])
        ci = result[POOLED[base]]
        return [float(ci[0]), float(ci[1])] if ci is not None else None
    values = [e["metrics"].get(headline) for e in ok]
    if not any(isinstance(v, float) and math.isfinite(v) for v in values):
        return None
    lo, hi = bootstrap_ci(values)
    return [lo, hi]


def cell(raw: Any, headline: str | None, ci: dict[str, Any] | None) -> dict[str, Any]:
    """One breakdown cell: ``value``, ``n`` and ``ci`` (when recomputed for exactly this n)."""
    if not isinstance(raw, dict):
        return {"value": None, "n": None, "ci": None}
    value = raw.get(headline) if headline else None
    if isinstance(value, dict):
        value = value.get("value")
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        value = None
    n = raw.get("n")
    n = n if isinstance(n, int) and not isinstance(n, bool) else None
    good = ci is not None and n is not None and ci.get("n") == n and value is not None
    return {"value": value, "n": n, "ci": ci["ci"] if good else None}
