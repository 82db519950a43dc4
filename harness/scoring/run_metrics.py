"""Run-level aggregation of per-sample metric records: means, bootstrap CIs, breakdowns.

Policy for undefined values: a per-sample metric that is ``None`` (undefined for that
sample, e.g. VUS-PR on a series without anomalies) is left out of the mean and counted in
``n_undefined``; a failed sample is left out of ``metrics`` and counted as 0 in
``metrics_fail_as_zero`` (TSB-AD's convention for a detector that crashed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from harness.scoring.metrics import group_breakdown, interval_run_metrics
from harness.scoring.metrics import mean_with_ci as _mean_with_ci


def _metric_names(records: Sequence[Mapping[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for r in records:
        for k, v in (r.get("metrics") or {}).items():
            if v is None or isinstance(v, (int, float)) and not isinstance(v, bool):
                names.setdefault(k, None)
    return list(names)


def metric_entry(values: Sequence[float], *, seed: int = 0, n_boot: int = 1000) -> dict[str, Any]:
    """The record form ``{"value", "ci95", "n"}`` of a mean with its bootstrap CI."""
    m = _mean_with_ci(values, n_boot=n_boot, seed=seed)
    ci = None if m["mean"] is None else [m["ci_low"], m["ci_high"]]
    return {"value": m["mean"], "ci95": ci, "n": m["n"]}


def aggregate_means(
    records: Sequence[Mapping[str, Any]],
    *,
    headline: str,
    group_keys: Sequence[str] = (),
    keys: Sequence[str] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Mean of each per-sample metric in ``keys`` (default: every numeric one), with CIs
    and breakdowns of the headline by ``group_keys``."""
    names = list(keys) if keys is not None else _metric_names(records)
    ok = [r for r in records if r.get("error") is None and r.get("metrics") is not None]
    metrics, fail_zero = {}, {}
    n_undefined = 0
    for name in names:
        vals = [r["metrics"][name] for r in ok if r["metrics"].get(name) is not None]
        metrics[name] = metric_entry(vals, seed=seed)
        if name == headline:
            n_undefined = sum(1 for r in ok if r["metrics"].get(name) is None)
        # a failed sample counts 0; an undefined one stays out
        zeros = vals + [0.0] * (len(records) - len(ok))
        fail_zero[name] = float(np.mean(zeros)) if zeros else None
    def headline_of(group: list[Mapping[str, Any]]) -> dict[str, Any]:
        vals = [r["metrics"][headline] for r in group
                if r.get("error") is None and (r.get("metrics") or {}).get(headline) is not None]
        return {headline: float(np.mean(vals)) if vals else None, "n": len(group), "n_scored": len(vals)}

    groups = {key: group_breakdown(records, key, headline_of) for key in group_keys}
    return {
        "headline": headline,
        "metrics": metrics,
        "metrics_fail_as_zero": fail_zero,
        "groups": groups,
        "n_undefined": n_undefined,
    }


def interval_summary(records: Sequence[Mapping[str, Any]], *, prefix: str = "", seed: int = 0) -> dict[str, Any]:
    """Pooled interval P/R/F1 and mean Overlap (IoU) from per-sample ``TP``/``FP``/``FN``/``IoU``.

    Returns ``{"metrics": {prefix+"P": entry, ...}, "counts": {"TP", "FP", "FN"}}``; failed
    samples are left out (their count is in the run's ``n_failed``).
    """
    ok = [r["metrics"] for r in records if r.get("error") is None and r.get("metrics") is not None]
    counts = [(m["TP"], m["FP"], m["FN"]) for m in ok]
    if not counts:
        empty = {"value": None, "ci95": None, "n": 0}
        return {"metrics": {f"{prefix}{k}": dict(empty) for k in ("P", "R", "F1", "Overlap")},
                "counts": {"TP": 0, "FP": 0, "FN": 0}}
    out = interval_run_metrics(counts, [m.get("IoU") for m in ok], seed=seed)
    n = out["n_samples"]

    def entry(value: float | None, ci: Sequence[float] | None) -> dict[str, Any]:
        return {"value": value, "ci95": None if ci is None or value is None else list(ci), "n": n}

    ov = out["overlap"]
    metrics = {
        f"{prefix}P": entry(out["precision"], out["precision_ci"]),
        f"{prefix}R": entry(out["recall"], out["recall_ci"]),
        f"{prefix}F1": entry(out["f1"], out["f1_ci"]),
        f"{prefix}Overlap": {"value": ov["mean"], "ci95": None if ov["mean"] is None else [ov["ci_low"], ov["ci_high"]],
                             "n": ov["n"]},
    }
    return {"metrics": metrics, "counts": {"TP": out["tp"], "FP": out["fp"], "FN": out["fn"]}}
