"""Several answers (draws) per sample: their seeds, the per-draw model, and their reduction.

A run spec may ask ``draws`` answers per sample. Draw ``i`` uses seed ``spec.seed + i``
(``DEFAULT_DRAW_SEED + i`` when the spec has no seed and asks more than one draw; a single
draw without a seed leaves the model as built). The runner asks ``model.with_draw(seed)``
for the model of each draw: a VLM returns a copy with that sampling seed, a detector a copy
seeded with it. A model without the hook can only run one unseeded draw.

Reducers (``RunSpec.reducer``), per sample and per run:

* ``first``: the first draw is the answer (per sample and per run);
* ``mean``: per run, the task aggregates each draw's records on their own and every metric
  is the mean over draws (``ci95`` left out: the draws are not independent samples); per
  sample, the mean of each numeric metric over the draws that did not fail;
* ``majority``: per sample, the points flagged by more than half of the draws that did not
  fail become the intervals, scored again by the task (scores, when all draws give them,
  are their mean); the run aggregates those;
* ``best``: per sample, the draw with the highest ``reduce_by`` metric (an ORACLE upper
  bound: it looks at the labels), the run aggregates those.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from harness.core.errors import UsageError
from harness.core.spec import RunSpec

DEFAULT_DRAW_SEED = 0
"""The seed of draw 0 when a spec asks several draws without a seed (draw ``i``: ``i``)."""

VIEW_KEYS = ("text", "scores_file", "intervals", "error", "parse_failed", "metrics", "pred_meta", "parse_issues")
"""The per-draw keys that make a sample line's headline view."""

Rescore = Callable[[list[list[int]], Sequence[int]], "dict[str, Any] | None"]
"""Scores majority intervals for a task: ``(intervals, voting draw indices) -> metrics``."""


def draw_seeds(spec: RunSpec) -> list[int | None]:
    """The seed of each draw (``[None]`` for one draw without a seed: the model as built)."""
    if spec.seed is None and spec.draws == 1:
        return [None]
    base = DEFAULT_DRAW_SEED if spec.seed is None else spec.seed
    return [base + i for i in range(spec.draws)]


def model_for_draw(model: Any, seed: int | None) -> Any:
    """The model that answers a draw with ``seed`` (``model`` itself for ``None``).

    Uses the model's ``with_draw(seed)`` hook; a model without it cannot be re-seeded, which
    is a usage error before any work."""
    if seed is None:
        return model
    hook = getattr(model, "with_draw", None)
    if not callable(hook):
        raise UsageError(
            f"model {getattr(model, 'name', model)!r} cannot be re-seeded (no with_draw hook), so it can run "
            "only one draw without --seed"
        )
    return hook(seed)


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _ok(draw: Mapping[str, Any]) -> bool:
    return draw.get("error") is None and draw.get("metrics") is not None


def reduce_sample(
    draws: Sequence[Mapping[str, Any]], reducer: str, reduce_by: str | None = None, rescore: Rescore | None = None,
) -> dict[str, Any]:
    """The headline view (``VIEW_KEYS`` plus ``reduced``) of one sample's per-draw records.

    ``rescore(intervals, voters)`` scores majority intervals for the task (``voters``: the
    draw indices that voted); without it ``majority`` keeps the intervals unscored. For
    ``best``, a ``reduce_by`` that no scored draw has among its metrics is a
    :class:`UsageError` (raised at the first scored sample, before its record is written)."""
    if not draws:
        raise ValueError("a sample needs at least one draw")
    ok = [d for d in draws if _ok(d)]
    first_ok = ok[0] if ok else draws[0]
    view = {k: draws[0].get(k) for k in VIEW_KEYS}
    note: dict[str, Any] = {"reducer": reducer, "n_ok": len(ok)}
    if reducer == "first" or len(draws) == 1:
        note["draw"] = draws[0].get("draw", 0)
    elif reducer == "best":
        if ok and not any(reduce_by in d["metrics"] for d in ok):  # a typo would silently mean "first"
            raise UsageError(f"reduce_by {reduce_by!r} is not a metric of this task; its sample metrics are: "
                             f"{', '.join(sorted(ok[0]['metrics']))}")
        scored = [d for d in ok if _numeric((d["metrics"] or {}).get(reduce_by))]
        chosen = max(scored, key=lambda d: d["metrics"][reduce_by]) if scored else first_ok
        view = {k: chosen.get(k) for k in VIEW_KEYS}
        note.update(draw=chosen.get("draw"), reduce_by=reduce_by)
        if not scored:
            note["note"] = f"no draw has a numeric {reduce_by!r}; the first usable draw is shown"
    elif reducer == "mean":
        view = {k: first_ok.get(k) for k in VIEW_KEYS}
        if ok:
            view["metrics"] = mean_metrics([d["metrics"] for d in ok])
        note["draw"] = first_ok.get("draw")
    elif reducer == "majority":
        view = {k: first_ok.get(k) for k in VIEW_KEYS}
        if ok:
            voters = [int(d.get("draw", i)) for i, d in enumerate(ok)]
            intervals = majority_intervals([d.get("intervals") or [] for d in ok])
            view.update(text=None, intervals=intervals, parse_failed=False, parse_issues=None, scores_file=None)
            if rescore is not None:
                view["metrics"] = rescore(intervals, voters)
            note["voters"] = voters
    else:
        raise UsageError(f"unknown reducer {reducer!r}")
    view["reduced"] = note
    return view


def mean_metrics(metrics: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Mean of each numeric metric over ``metrics`` (None values left out; a metric None in
    all stays None); a non-numeric value is taken from the first."""
    out: dict[str, Any] = {}
    for name in dict.fromkeys(k for m in metrics for k in m):
        values = [m.get(name) for m in metrics]
        nums = [float(v) for v in values if _numeric(v)]
        if nums:
            out[name] = float(np.mean(nums))
        elif all(v is None for v in values):
            out[name] = None
        else:
            out[name] = next(v for v in values if v is not None)
    return out


def majority_intervals(per_draw: Sequence[Sequence[Sequence[int]]]) -> list[list[int]]:
    """Inclusive absolute intervals of the points inside the intervals of more than half of
    ``per_draw`` (one interval list per voting draw)."""
    from harness.scoring.metrics.runs import runs  # imported on use: harness.scoring.metrics is heavy

    spans = [(int(a), int(b)) for ivs in per_draw for a, b in ivs if int(b) >= int(a)]
    if not spans:
        return []
    lo, hi = min(a for a, _ in spans), max(b for _, b in spans)
    votes = np.zeros(hi - lo + 1, dtype=np.int64)
    for ivs in per_draw:
        mask = np.zeros_like(votes, dtype=bool)
        for a, b in ivs:
            if int(b) >= int(a):
                mask[int(a) - lo: int(b) - lo + 1] = True
        votes += mask
    starts, ends = runs(votes * 2 > len(per_draw))
    return [[int(s) + lo, int(e) + lo] for s, e in zip(starts, ends, strict=True)]


def draw_view(records: Sequence[Mapping[str, Any]], index: int) -> list[dict[str, Any]]:
    """The records as if only draw ``index`` had been asked (a record without ``draws`` is
    its own only draw)."""
    out = []
    for r in records:
        draws = r.get("draws") or []
        d = draws[index] if index < len(draws) else None
        out.append({**r, **{k: d.get(k) for k in VIEW_KEYS}} if d is not None else dict(r))
    return out


def aggregate_draws(
    aggregate: Callable[[Sequence[Mapping[str, Any]]], Mapping[str, Any]],
    records: Sequence[Mapping[str, Any]],
    spec: RunSpec,
    seeds: Sequence[int | None],
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The task's run-level aggregate under the spec's reducer, and the ``reduced`` block of
    ``run.json`` (None for one draw): ``{n, reducer, reduce_by, headline, value, per_draw:
    [{draw, seed, metrics: {name: value}}]}``."""
    if spec.draws == 1:
        return dict(aggregate(records)), None
    per_draw = [dict(aggregate(draw_view(records, i))) for i in range(spec.draws)]
    if spec.reducer == "mean":
        out = dict(per_draw[0])
        names = dict.fromkeys(k for p in per_draw for k in (p.get("metrics") or {}))
        out["metrics"] = {name: _mean_entry([(p.get("metrics") or {}).get(name) for p in per_draw])
                          for name in names}
        fz = dict.fromkeys(k for p in per_draw for k in (p.get("metrics_fail_as_zero") or {}))
        out["metrics_fail_as_zero"] = {
            k: _mean_value([(p.get("metrics_fail_as_zero") or {}).get(k) for p in per_draw]) for k in fz}
    else:
        out = dict(aggregate(records))
    headline = out.get("headline")
    value = ((out.get("metrics") or {}).get(headline) or {}).get("value") if headline else None
    reduced = {
        "n": spec.draws, "reducer": spec.reducer, "reduce_by": spec.reduce_by, "oracle": spec.reducer == "best",
        "headline": headline, "value": value,
        "per_draw": [{"draw": i, "seed": seeds[i] if i < len(seeds) else None,
                      "metrics": {k: (v or {}).get("value") for k, v in (p.get("metrics") or {}).items()}}
                     for i, p in enumerate(per_draw)],
    }
    return out, reduced


def _mean_value(values: Sequence[Any]) -> float | None:
    nums = [float(v) for v in values if _numeric(v)]
    return float(np.mean(nums)) if nums else None


def _mean_entry(entries: Sequence[Any]) -> dict[str, Any]:
    vals = [e.get("value") if isinstance(e, Mapping) else e for e in entries]
    ns = [e.get("n") for e in entries if isinstance(e, Mapping) and _numeric(e.get("n"))]
    return {"value": _mean_value(vals), "ci95": None, "n": int(min(ns)) if ns else None}
