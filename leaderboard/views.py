"""The task-level analysis pages: ranks and CD diagram, rank agreement, interval outcomes,
paired comparisons and resolution (docs/leaderboard.md, "Analysis pages").

Every number here is computed from the runs' :func:`leaderboard.analysis.run_fragment` data at
build time; the pages are static HTML with inline SVG (no script).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from markupsafe import Markup, escape

from leaderboard import stats
from leaderboard.analysis import CD_FALLBACK, PIXEL_BUCKETS, RANK_METRICS
from leaderboard.outcomes import CLASSES
from leaderboard.pages import _render, environment

__all__ = ["analysis_pages", "block_matrix"]

ALPHA = 0.05
RESAMPLES = 1000
TOP_PAIRS = 5
VISIBLE_PX = 2.0
WIDE_PX = 8.0


def row_blocks(fragment: Mapping[str, Any] | None, metric: str) -> tuple[dict[str, float], dict[str, str]]:
    """One run's block means of ``metric`` and each block's first sample id."""
    sums: dict[str, list[float]] = {}
    first: dict[str, str] = {}
    for sid, item in ((fragment or {}).get("samples") or {}).items():
        value = (item.get("v") or {}).get(metric)
        if value is None:
            continue
        acc = sums.get(item["b"])
        if acc is None:
            sums[item["b"]] = [value, 1]
            first[item["b"]] = sid
        else:
            acc[0] += value
            acc[1] += 1
    return {k: v[0] / v[1] for k, v in sums.items()}, first


def block_matrix(
    rows: Sequence[Mapping[str, Any]], fragments: Mapping[str, Any], metric: str,
    memo: dict[tuple[str, str], tuple[dict[str, float], dict[str, str]]] | None = None,
) -> tuple[list[str], np.ndarray, dict[str, str]]:
    """Blocks (series) x rows matrix of ``metric``, each block the mean over its samples, keeping
    only blocks every row has a value for. Returns block ids, the matrix and each block's first
    sample id (for links). ``memo`` keeps each run's block means between calls."""
    memo = {} if memo is None else memo
    per_row = []
    for row in rows:
        key = (row["key"], metric)
        if key not in memo:
            memo[key] = row_blocks(fragments.get(row["key"]), metric)
        per_row.append(memo[key])
    if not per_row:
        return [], np.zeros((0, 0)), {}
    common = sorted(set.intersection(*(set(means) for means, _ in per_row)))
    matrix = np.array([[means[k] for means, _ in per_row] for k in common], dtype=np.float64)
    first = per_row[0][1]
    return common, matrix.reshape(len(common), len(rows)), {k: first[k] for k in common}


def _has(rows: Sequence[Mapping[str, Any]], fragments: Mapping[str, Any], metric: str) -> bool:
    return any(
        (item.get("v") or {}).get(metric) is not None
        for row in rows for item in ((fragments.get(row["key"]) or {}).get("samples") or {}).values()
    )


def cd_metric(task: Mapping[str, Any], fragments: Mapping[str, Any]) -> str | None:
    """The metric the CD diagram ranks by: the headline when samples record it, else the first
    of :data:`leaderboard.analysis.CD_FALLBACK` they record."""
    for name in ([task["headline"]] if task.get("headline") else []) + list(CD_FALLBACK):
        if _has(task["rows"], fragments, name):
            return name
    return None


def cd_view(task: Mapping[str, Any], fragments: Mapping[str, Any], memo: dict[Any, Any] | None = None) -> dict[str, Any]:
    """Friedman + Nemenyi over blocks, with the CD diagram's geometry."""
    metric = cd_metric(task, fragments)
    rows = list(task["rows"])
    if metric is None or len(rows) < 2:
        return {"metric": metric, "ok": False, "why": "fewer than two models with per-sample values"}
    blocks, matrix, _ = block_matrix(rows, fragments, metric, memo)
    if len(blocks) < 2:
        return {"metric": metric, "ok": False, "why": f"fewer than two series scored by every model ({len(blocks)})"}
    ranks = stats.average_ranks(matrix)
    test = stats.friedman(matrix)
    cd = stats.nemenyi_cd(len(rows), len(blocks), ALPHA)
    order = sorted(range(len(rows)), key=lambda i: (ranks[i], rows[i]["label"]))
    table = [{"row": rows[i], "rank": float(ranks[i]), "mean": float(matrix[:, i].mean()),
              "same": [rows[j]["label"] for j in order if j != i and abs(ranks[j] - ranks[i]) < cd]}
             for i in order]
    return {"metric": metric, "ok": True, "n_blocks": len(blocks), "k": len(rows), "friedman": test, "cd": cd,
            "alpha": ALPHA, "q": stats.q_alpha(len(rows), ALPHA), "table": table,
            "svg": cd_svg([r["row"]["label"] for r in table], [r["rank"] for r in table], cd)}


def cd_svg(labels: Sequence[str], ranks: Sequence[float], cd: float, width: int = 760) -> dict[str, Any]:
    """Geometry of a critical-difference diagram (Demšar 2006, fig. 1): an axis of average rank
    (1 on the left), each model's tick joined to its label (better half on the left, the rest on
    the right), the CD as a scale bar, and a thick bar over each group of models whose ranks are
    within one CD. ``labels``/``ranks`` sorted by rank."""
    k = len(ranks)
    margin = 190
    lo, hi = 1, max(k, 2)
    axis_y, step = 56, 20

    def x(r: float) -> float:
        return round(margin + (r - lo) / (hi - lo) * (width - 2 * margin), 1)

    runs = stats.cliques(list(ranks), cd)
    bars_y = axis_y + 12
    bars = [{"x0": x(ranks[a]) - 3, "x1": x(ranks[b]) + 3, "y": bars_y + 8 * n,
             "text": f"{labels[a]} … {labels[b]}: no significant difference"} for n, (a, b) in enumerate(runs)]
    first_label_y = bars_y + 8 * len(runs) + 22
    half = (k + 1) // 2
    items = []
    for i, (label, r) in enumerate(zip(labels, ranks, strict=True)):
        left = i < half
        y = first_label_y + step * (i if left else k - 1 - i)
        items.append({"label": label, "rank": r, "x": x(r), "y": y, "left": left,
                      "end": 16 if left else width - 16, "text_x": 20 if left else width - 20,
                      "rank_text": f"{r:.2f}"})
    ticks = [{"x": x(t), "text": str(t)} for t in range(lo, hi + 1) if k <= 20 or t == 1 or t % 5 == 0 or t == hi]
    height = first_label_y + step * half + 10
    cd_x0 = x(lo)
    return {"width": width, "height": height, "axis_y": axis_y, "ticks": ticks, "items": items, "bars": bars,
            "cd": {"x0": cd_x0, "x1": round(cd_x0 + cd / (hi - lo) * (width - 2 * margin), 1),
                   "text": f"CD = {cd:.2f}"}, "x0": x(lo), "x1": x(hi)}


def agreement_view(task: Mapping[str, Any], fragments: Mapping[str, Any],
                   memo: dict[Any, Any] | None = None) -> dict[str, Any]:
    """Each row's rank under each of :data:`RANK_METRICS` (by the mean over common blocks) with a
    bootstrap interval, and a flag where PA-F1 ranks a model clearly above the reference metric."""
    rows = list(task["rows"])
    metrics = [m for m in RANK_METRICS if _has(rows, fragments, m)]
    columns, ranks_by = [], {}
    for metric in metrics:
        blocks, matrix, _ = block_matrix(rows, fragments, metric, memo)
        if len(blocks) < 2:
            continue
        means = matrix.mean(axis=0)
        point = stats.rank_rows(means[None, :])[0]
        lo, hi = stats.bootstrap_rank_intervals(matrix, resamples=RESAMPLES, seed=0)
        columns.append({"metric": metric, "n": len(blocks)})
        ranks_by[metric] = (point, lo, hi, means)
    reference = next((m for m in ("VUS-PR", "Affiliation-F1", "Event-F1") if m in ranks_by), None)
    body = []
    for i, row in enumerate(rows):
        cells = [{"rank": ranks_by[c["metric"]][0][i], "lo": ranks_by[c["metric"]][1][i],
                  "hi": ranks_by[c["metric"]][2][i], "mean": ranks_by[c["metric"]][3][i]} for c in columns]
        flag = None
        if reference and "PA-F1" in ranks_by and reference != "PA-F1":
            pa_hi, ref_lo = ranks_by["PA-F1"][2][i], ranks_by[reference][1][i]
            if pa_hi < ref_lo:
                flag = (f"PA-F1 ranks it {ranks_by['PA-F1'][0][i]:g} (interval up to {pa_hi:g}); "
                        f"{reference} ranks it {ranks_by[reference][0][i]:g} (interval from {ref_lo:g})")
        body.append({"row": row, "cells": cells, "flag": flag})
    return {"columns": columns, "rows": body, "reference": reference, "resamples": RESAMPLES,
            "n_flagged": sum(1 for b in body if b["flag"])}


def outcomes_view(task: Mapping[str, Any], fragments: Mapping[str, Any]) -> dict[str, Any]:
    """Per row the count of each outcome class (intervals) and of samples showing it."""
    body = []
    for row in task["rows"]:
        samples = (fragments.get(row["key"]) or {}).get("samples") or {}
        count, seen, n = dict.fromkeys(CLASSES, 0), dict.fromkeys(CLASSES, 0), 0
        for item in samples.values():
            if "o" not in item:
                continue
            n += 1
            for cls, k in item["o"].items():
                if cls in count:
                    count[cls] += k
                    seen[cls] += 1
        if not n:
            continue
        cells = [{"cls": c, "count": count[c], "samples": seen[c]} for c in CLASSES]
        body.append({"row": row, "n": n, "cells": cells,
                     "href": "../../" + row["pages"]["samples"]})
    present = [c for c in CLASSES if any(r["cells"][CLASSES.index(c)]["count"] for r in body)] or list(CLASSES)
    for r in body:
        r["cells"] = [cell for cell in r["cells"] if cell["cls"] in present]
    return {"classes": present, "rows": body}


def pairs_of(task: Mapping[str, Any]) -> list[tuple[int, int]]:
    """Which pairs get a page: every row against the first (best headline), and every pair of
    the top :data:`TOP_PAIRS` rows."""
    n = len(task["rows"])
    pairs = [(0, j) for j in range(1, n)]
    pairs += [(i, j) for i in range(1, min(n, TOP_PAIRS)) for j in range(i + 1, min(n, TOP_PAIRS))]
    return pairs


def pair_view(task: Mapping[str, Any], fragments: Mapping[str, Any], metric: str, i: int, j: int,
              size: int = 360, memo: dict[Any, Any] | None = None) -> dict[str, Any]:
    """Per-series values of two rows: scatter geometry, the mean paired difference with its
    bootstrap CI, and the blocks where they disagree most (linked to the compare page)."""
    a, b = task["rows"][i], task["rows"][j]
    blocks, matrix, first = block_matrix([a, b], fragments, metric, memo)
    out: dict[str, Any] = {"a": a, "b": b, "metric": metric, "n": len(blocks), "rel": pair_page(a, b)}
    if not blocks:
        return {**out, "ok": False}
    diff = matrix[:, 0] - matrix[:, 1]
    ci = stats.paired_bootstrap_ci(diff, seed=0)
    lo = min(0.0, float(matrix.min()))
    hi = max(1.0 if matrix.max() <= 1 else float(matrix.max()), lo + 1e-9)
    pad = 56

    def pos(v: float) -> float:
        return round(pad + (v - lo) / (hi - lo) * (size - pad - 24), 1)

    scale = (size - pad - 24) / (hi - lo)
    xs, ys = matrix[:, 0].tolist(), matrix[:, 1].tolist()
    points = Markup("".join(
        f'<circle class="sc-dot" cx="{pad + (x - lo) * scale:.1f}" cy="{size - pad - (y - lo) * scale:.1f}" r="4">'
        f"<title>{escape(block)}: {x:.3f} vs {y:.3f}</title></circle>"
        for block, x, y in zip(blocks, xs, ys, strict=True)))
    dl = diff.tolist()
    order = sorted(range(len(blocks)), key=lambda k: (-abs(dl[k]), blocks[k]))[:10]
    worst = [{"block": blocks[k], "a": float(matrix[k, 0]), "b": float(matrix[k, 1]), "diff": float(diff[k]),
              "href": f"compare.html#s={_quote(first[blocks[k]])}"} for k in order if diff[k] != 0]
    ticks = [{"v": lo + (hi - lo) * f, "p": pos(lo + (hi - lo) * f), "text": f"{lo + (hi - lo) * f:.2g}"}
             for f in (0, 0.5, 1)]
    wins = int(np.sum(diff > 0)), int(np.sum(diff < 0)), int(np.sum(diff == 0))
    return {**out, "ok": True, "mean": float(diff.mean()), "ci": ci, "points": points, "worst": worst,
            "size": size, "pad": pad, "ticks": ticks, "wins": wins,
            "diag": [pos(lo), size - pos(lo), pos(hi), size - pos(hi)]}


def pair_page(a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    """Site path of a pair's page, relative to the task folder."""
    return f"paired/{a['slug']}--{b['slug']}.html"


def resolution_view(task: Mapping[str, Any], fragments: Mapping[str, Any]) -> dict[str, Any]:
    """Per row (samples shown as images only) the share of true anomalies found per pixel-width
    bucket, and the two numbers that tell "could not see it" from "could not reason"."""
    edges = list(PIXEL_BUCKETS)
    names = [f"{lo:g}–{hi:g} px" for lo, hi in zip(edges, edges[1:], strict=False)] + [f"≥ {edges[-1]:g} px"]
    body = []
    pooled = [[0, 0] for _ in edges]
    for row in task["rows"]:
        widths = [w for item in ((fragments.get(row["key"]) or {}).get("samples") or {}).values()
                  for w in item.get("px") or []]
        if not widths:
            continue
        cells = [[0, 0] for _ in edges]
        for width, found in widths:
            k = max(n for n, e in enumerate(edges) if width >= e) if width >= 0 else 0
            cells[k][0] += int(found)
            cells[k][1] += 1
            pooled[k][0] += int(found)
            pooled[k][1] += 1
        narrow = _share([c for c, e in zip(cells, edges, strict=True) if e < VISIBLE_PX])
        wide = _share([c for c, e in zip(cells, edges, strict=True) if e >= WIDE_PX])
        body.append({"row": row, "cells": [_cell(c) for c in cells], "narrow": narrow, "wide": wide,
                     "verdict": _verdict(narrow, wide)})
    return {"buckets": names, "rows": body, "pooled": [_cell(c) for c in pooled],
            "visible_px": VISIBLE_PX, "wide_px": WIDE_PX}


def _share(cells: Sequence[Sequence[int]]) -> dict[str, Any]:
    found, total = sum(c[0] for c in cells), sum(c[1] for c in cells)
    return {"found": found, "n": total, "rate": found / total if total else None}


def _cell(c: Sequence[int]) -> dict[str, Any]:
    return {"found": c[0], "n": c[1], "rate": c[0] / c[1] if c[1] else None}


def _verdict(narrow: Mapping[str, Any], wide: Mapping[str, Any]) -> str:
    """One line reading a row's found rates: narrow (< VISIBLE_PX) against wide (>= WIDE_PX)."""
    if wide["n"] < 5:
        return f"too few anomalies drawn {WIDE_PX:g} px or wider ({wide['n']}) to tell reasoning from resolution"
    if wide["rate"] < 0.5:
        return f"finds {wide['rate']:.0%} of anomalies it could see (≥ {WIDE_PX:g} px): could not reason"
    if narrow["n"] >= 5 and narrow["rate"] < wide["rate"] - 0.25:
        return (f"finds {wide['rate']:.0%} of wide anomalies but {narrow['rate']:.0%} of those under "
                f"{VISIBLE_PX:g} px: could not see them")
    narrow_text = f"{narrow['rate']:.0%} under {VISIBLE_PX:g} px" if narrow["n"] else "none drawn narrow"
    return f"finds {wide['rate']:.0%} of wide anomalies, {narrow_text}: no clear resolution effect"


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def analysis_pages(
    summary: Mapping[str, Any], task: Mapping[str, Any], fragments: Mapping[str, Any], site: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """Every analysis page of ``task`` as ``(site path, html)``."""
    environment().filters.setdefault("rank", fmt_rank)
    base = f"tasks/{task['slug']}"
    common = {"summary": summary, "task": task, "site": site, "root": "../../"}
    memo: dict[Any, Any] = {}
    cd = cd_view(task, fragments, memo)
    pages = [(f"{base}/ranks.html", _render("ranks.html.j2", **common, page="ranks", cd=cd,
                                             agreement=agreement_view(task, fragments, memo))),
             (f"{base}/outcomes.html", _render("outcomes.html.j2", **common, page="outcomes",
                                                outcomes=outcomes_view(task, fragments)))]
    metric = cd["metric"]
    pairs = [pair_view(task, fragments, metric, i, j, memo=memo) for i, j in pairs_of(task)] if metric else []
    pages.append((f"{base}/paired.html", _render("paired.html.j2", **common, page="paired", pairs=pairs,
                                                 metric=metric)))
    for pair in pairs:
        pages.append((f"{base}/{pair['rel']}", _render("pair.html.j2", **{**common, "root": "../../../"},
                                                      page="pair", pair=pair)))
    pages.append((f"{base}/resolution.html", _render("resolution.html.j2", **common, page="resolution",
                                                     res=resolution_view(task, fragments))))
    return pages


def fmt_rank(value: float) -> str:
    """An average rank with two decimals; a whole rank without."""
    return f"{value:g}" if float(value).is_integer() else f"{value:.2f}" if math.isfinite(value) else "—"
