"""``visanom bench stats``: a built benchmark's numbers beside the paper's source table.

Everything is computed from the manifest (item lengths and intervals), never from the
segment files, so it is quick and works on any benchmark folder, old or new. The paper's
"series" are our items (its 160 + 810 + 2,097 + 249 = 3,316 series are the benchmark's
items, the same 3,316 its split divides).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .manifest import Manifest, ManifestItem, read_manifest
from .profiles import manifest_profile
from .sources.base import SKIP_KINDS

PAPER_SOURCES: dict[str, dict[str, float]] = {
    "KPI": {"series": 160, "domains": 1, "mean_length": 1777, "anomaly_rate": 0.043},
    "GutenTAG": {"series": 810, "domains": 10, "mean_length": 5000, "anomaly_rate": 0.022},
    "UCR-EGI": {"series": 2097, "domains": 5, "mean_length": 8268, "anomaly_rate": 0.058},
    "UCR-TSAD": {"series": 249, "domains": 8, "mean_length": 2755, "anomaly_rate": 0.069},
}
"""The paper's source table (PAPER.md); keys are our source labels."""
PAPER_SPLIT = {"train_items": 2576, "test_items": 740, "test_intervals": 759}
"""The paper's split (series = items) and the ground-truth intervals of its test split."""
LENGTH_TOLERANCE = 0.5
"""The paper rounds mean lengths to whole points."""
RATE_TOLERANCE = 0.0005
"""The paper rounds anomaly rates to 0.1 points; ours within 0.05 points count as equal."""


def _part(items: Iterable[ManifestItem]) -> dict[str, Any]:
    items = list(items)
    points = sum(it.length for it in items)
    anomalous = sum(e - s + 1 for it in items for s, e in it.intervals)
    return {
        "items": len(items),
        "series": len({(it.source, it.series) for it in items}),
        "domains": len({it.domain for it in items}),
        "mean_length": points / len(items) if items else None,
        "min_length": min((it.length for it in items), default=None),
        "max_length": max((it.length for it in items), default=None),
        "anomaly_rate": anomalous / points if points else None,
        "intervals": sum(len(it.intervals) for it in items),
        "normal_share": sum(not it.intervals for it in items) / len(items) if items else None,
    }


def _paper_total(sources: Iterable[str]) -> dict[str, Any]:
    rows = [PAPER_SOURCES[s] for s in sources]
    n = sum(r["series"] for r in rows)
    points = sum(r["series"] * r["mean_length"] for r in rows)
    return {"items": n, "mean_length": points / n if n else None,
            "anomaly_rate": sum(r["series"] * r["mean_length"] * r["anomaly_rate"] for r in rows) / points
            if points else None}


def _skipped(manifest: Manifest) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, str]]]:
    """Skipped inputs per source and kind (manifests before kinds: ``unknown`` / ``unreadable``),
    and the first reason of each (source, kind) as an example."""
    out: dict[str, Counter[str]] = defaultdict(Counter)
    examples: dict[str, dict[str, str]] = defaultdict(dict)
    for s in manifest.skipped:
        source, kind = str(s.get("source") or "unknown"), str(s.get("kind") or "unreadable")
        out[source][kind] += 1
        examples[source].setdefault(kind, f"{s.get('path', '')}: {s.get('reason', '')}")
    return ({k: dict(sorted(v.items())) for k, v in sorted(out.items())},
            {k: dict(sorted(v.items())) for k, v in sorted(examples.items())})


def bench_stats(root: str | Path) -> dict[str, Any]:
    """The stats of the benchmark folder ``root`` (DataError when it holds no manifest)."""
    manifest = read_manifest(root)
    by_source: dict[str, list[ManifestItem]] = defaultdict(list)
    for it in manifest.items:
        by_source[it.source].append(it)
    order = [s for s in PAPER_SOURCES if s in by_source] + sorted(s for s in by_source if s not in PAPER_SOURCES)
    skipped, examples = _skipped(manifest)
    sources: dict[str, Any] = {}
    for src in [*order, *(s for s in PAPER_SOURCES if s not in by_source)]:
        ours = _part(by_source.get(src, []))
        info = manifest.sources.get(src, {}) if isinstance(manifest.sources, Mapping) else {}
        sources[src] = {"ours": ours, "paper": PAPER_SOURCES.get(src), "rule": info.get("rule"),
                        "skipped": skipped.get(src, {}), "capped": int(info.get("capped", 0) or 0)}
    built_paper = [s for s in PAPER_SOURCES if s in by_source]
    scale = len(manifest.items) / sum(r["series"] for r in PAPER_SOURCES.values())
    train, test = (_part(manifest.by_split(name)) for name in ("train", "test"))
    split = {
        "ours": {"train_items": train["items"], "test_items": test["items"], "test_intervals": test["intervals"],
                 "test_intervals_per_item": test["intervals"] / test["items"] if test["items"] else None,
                 "train_series": train["series"], "test_series": test["series"],
                 "test_normal_share": test["normal_share"]},
        "paper": {**PAPER_SPLIT, "test_intervals_per_item": PAPER_SPLIT["test_intervals"] / PAPER_SPLIT["test_items"]},
        "paper_scaled": {**{k: v * scale for k, v in PAPER_SPLIT.items()},
                         "test_intervals_per_item": PAPER_SPLIT["test_intervals"] / PAPER_SPLIT["test_items"]},
    }
    stats = {
        "folder": str(root), "profile": manifest_profile(manifest.settings), "created_by": manifest.created_by,
        "sources": sources,
        "total": {"ours": _part(manifest.items), "paper": _paper_total(PAPER_SOURCES),
                  "paper_built_sources": _paper_total(built_paper) if built_paper else None},
        "split": split,
        "skipped": {"total": len(manifest.skipped), "by_source": skipped, "examples": examples},
    }
    stats["differences"] = differences(stats)
    return stats


def differences(stats: Mapping[str, Any]) -> list[str]:
    """Plain sentences for every number of ours that differs from the paper's."""
    out: list[str] = []
    for src, row in stats["sources"].items():
        ours, paper = row["ours"], row["paper"]
        if paper is None:
            out.append(f"{src}: not a source of the paper ({ours['items']:,} items)")
            continue
        if not ours["items"]:
            out.append(f"{src}: not built (paper: {int(paper['series']):,} series)")
            continue
        if ours["items"] != paper["series"]:
            out.append(f"{src}: {ours['items']:,} items, paper {int(paper['series']):,} "
                       f"({ours['items'] - paper['series']:+,.0f})")
        if ours["domains"] != paper["domains"]:
            out.append(f"{src}: {ours['domains']} domains, paper {int(paper['domains'])}")
        if abs(ours["mean_length"] - paper["mean_length"]) > LENGTH_TOLERANCE:
            out.append(f"{src}: mean length {ours['mean_length']:,.1f}, paper {paper['mean_length']:,.0f} "
                       f"({ours['mean_length'] - paper['mean_length']:+,.1f})")
        if abs(ours["anomaly_rate"] - paper["anomaly_rate"]) > RATE_TOLERANCE:
            out.append(f"{src}: anomaly rate {ours['anomaly_rate']:.2%}, paper {paper['anomaly_rate']:.1%} "
                       f"({100 * (ours['anomaly_rate'] - paper['anomaly_rate']):+.2f} points)")
    split = stats["split"]
    ref = split["paper_scaled"]
    what = "the paper's proportions at our size"
    for key, label in (("train_items", "train items"), ("test_items", "test items"),
                       ("test_intervals", "ground-truth intervals in the test split")):
        if round(ref[key]) != split["ours"][key]:
            out.append(f"split: {split['ours'][key]:,} {label}, {what} {ref[key]:,.0f}")
    per_item, paper_per_item = split["ours"].get("test_intervals_per_item"), split["paper"]["test_intervals_per_item"]
    if per_item is not None and round(per_item, 3) != round(paper_per_item, 3):
        out.append(f"split: {per_item:.3f} true intervals per test item, paper {paper_per_item:.3f} "
                   f"(759 / 740)")
    for src, kinds in stats["skipped"]["by_source"].items():
        for kind, n in kinds.items():
            out.append(f"{src}: {n:,} skipped ({kind}: {SKIP_KINDS.get(kind, kind)})")
    return out


def _num(v: Any, fmt: str = ",.0f") -> str:
    return "-" if v is None else format(v, fmt)


def _pct(v: Any, digits: int = 2) -> str:
    return "-" if v is None else f"{100 * v:.{digits}f}%"


def format_stats(stats: Mapping[str, Any]) -> str:
    """The stats as a text table: ours beside the paper's, per source, split, then the differences."""
    lines = [f"VisAnomBench stats: {stats['folder']} (profile {stats['profile']})", ""]
    head = (f"{'source':<16}{'items':>8}{'paper':>8}{'domains':>9}{'paper':>7}{'mean length':>13}{'paper':>8}"
            f"{'anomaly rate':>14}{'paper':>7}{'normal':>8}")
    lines += [head, "-" * len(head)]
    for src, row in stats["sources"].items():
        o, p = row["ours"], row["paper"] or {}
        lines.append(f"{src:<16}{_num(o['items']):>8}{_num(p.get('series')):>8}{_num(o['domains']):>9}"
                     f"{_num(p.get('domains')):>7}{_num(o['mean_length'], ',.1f'):>13}{_num(p.get('mean_length')):>8}"
                     f"{_pct(o['anomaly_rate']):>14}{_pct(p.get('anomaly_rate'), 1):>7}{_pct(o['normal_share'], 1):>8}")
    t = stats["total"]
    o, p = t["ours"], t["paper"]
    lines.append(f"{'total':<16}{_num(o['items']):>8}{_num(p['items']):>8}{_num(o['domains']):>9}{'':>7}"
                 f"{_num(o['mean_length'], ',.1f'):>13}{_num(p['mean_length']):>8}{_pct(o['anomaly_rate']):>14}"
                 f"{_pct(p['anomaly_rate'], 1):>7}{_pct(o['normal_share'], 1):>8}")
    lines.append("(paper: its table; 'normal' = share of items without any anomaly, not published by the paper; "
                 "the paper's total mean length and rate are derived from its rows)")
    s = stats["split"]
    scaled = s["paper_scaled"]
    lines += ["", f"{'split':<40}{'ours':>8}{'paper':>8}{'paper at our size':>19}"]
    for key, label in (("train_items", "train items"), ("test_items", "test items"),
                       ("test_intervals", "ground-truth intervals in test")):
        lines.append(f"{label:<40}{_num(s['ours'][key]):>8}{_num(s['paper'][key]):>8}{_num(scaled[key]):>19}")
    lines.append(f"{'true intervals per test item':<40}{_num(s['ours'].get('test_intervals_per_item'), '.3f'):>8}"
                 f"{_num(s['paper']['test_intervals_per_item'], '.3f'):>8}{_num(scaled['test_intervals_per_item'], '.3f'):>19}")
    lines.append(f"{'normal items in test':<40}{_pct(s['ours']['test_normal_share'], 1):>8}{'n/a':>8}")
    lines.append(f"(split by series: {_num(s['ours']['train_series'])} train / {_num(s['ours']['test_series'])} "
                 "test series; 'paper at our size': the paper's 2,576 : 740 split and 759 intervals per 740 test "
                 "items applied to our item count)")
    rules = [(src, row["rule"]) for src, row in stats["sources"].items() if row["rule"]]
    if rules:
        lines += ["", "rules:"]
        lines += [f"  {src}: {_rule_text(rule)}" + (f"; {row_capped} windows over the cap dropped"
                                                     if (row_capped := stats["sources"][src]["capped"]) else "")
                  for src, rule in rules]
    sk = stats["skipped"]
    if sk["total"]:
        lines += ["", f"skipped: {sk['total']:,}"]
        for src, kinds in sk["by_source"].items():
            lines.append(f"  {src}: " + ", ".join(f"{n:,} {k} ({SKIP_KINDS.get(k, k)})" for k, n in kinds.items()))
            lines += [f"    e.g. {_clip(sk['examples'][src][k])}" for k in kinds if sk.get("examples", {}).get(src, {}).get(k)]
    lines += ["", "differences from the paper:" if stats["differences"] else "differences from the paper: none"]
    lines += [f"  - {d}" for d in stats["differences"]]
    return "\n".join(lines)


def _clip(text: str, n: int = 240) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


def _rule_text(rule: Mapping[str, Any]) -> str:
    kind = rule.get("rule")
    if kind == "whole":
        return f"whole series (at least {rule.get('min_length')} points)"
    if kind == "fixed":
        return (f"fixed windows of {rule.get('window')} every {rule.get('stride')}"
                + ("" if rule.get("keep_normal", True) else ", anomalous only"))
    if kind == "around-anomalies":
        caps = [f"{rule['per_series']} per series" if rule.get("per_series") else "",
                f"at most {rule['max_items']:,}" if rule.get("max_items") else ""]
        cap = ", ".join(c for c in caps if c)
        return f"windows of {rule.get('length'):,} around anomalies" + (f" ({cap})" if cap else "")
    return str(dict(rule))
