"""Published numbers shown beside ours as "reported" rows.

Facts, not measurements: the paper's VisAnomBench and TSB-AD-U tables (arXiv 2605.30344,
values in percent in the paper, stored here as fractions like our metrics) and TSB-AD's
published mean VUS-PR per detector over the official evaluation list (computed from TSB-AD's
per-series table by :func:`published_means`; the result ships as
``leaderboard/data/tsb_ad_u_published.json`` so a build needs no network or reference files).

A reported row matches a measured row when the model's display ``paper_row`` or its name
equals the reported name after :func:`match_key` normalisation.
"""

from __future__ import annotations

import csv
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data" / "tsb_ad_u_published.json"
PAPER = "paper (arXiv 2605.30344)"

# group, name, P, R, F1, Overlap (percent, as published)
_VAB = (
    ("ours", "VisAnomReasoner-7B", 72.09, 75.88, 73.94, 25.35),
    ("ours", "VisAnomReasoner-3B", 70.15, 74.30, 72.17, 27.07),
    ("large VLM", "Grok-4-Fast", 22.43, 31.88, 26.33, 3.26),
    ("large VLM", "Llama-4-Maverick-17B", 28.15, 58.23, 37.96, 12.92),
    ("small VLM", "Qwen2.5-VL-7B", 22.47, 68.12, 33.79, 14.04),
    ("small VLM", "Idefics3-8B", 5.64, 16.21, 8.37, 2.25),
    ("small VLM", "SmolVLM", 3.34, 6.46, 4.41, 1.29),
    ("small VLM", "LLaVA-7B", 1.69, 1.19, 1.39, 0.23),
    ("TS foundation", "TimesFM", 26.52, 25.82, 26.17, 2.03),
    ("TS foundation", "Chronos", 27.10, 26.35, 26.72, 2.27),
    ("LLM/VLM detector", "AnomLLM", 14.74, 19.63, 16.84, 4.04),
    ("LLM/VLM detector", "LLM-TSAD", 7.82, 66.53, 14.00, 20.81),
    ("LLM/VLM detector", "LLMAD", 46.47, 45.98, 46.23, 17.31),
    ("LLM/VLM detector", "VLM4TS", 40.39, 57.31, 47.39, 17.94),
    ("classical", "Sub-PCA", 44.46, 43.35, 43.90, 17.41),
    ("classical", "Matrix Profile", 39.19, 38.21, 38.69, 8.33),
    ("classical", "IForest", 48.92, 47.69, 48.30, 20.53),
)
# name, point P/R/F1, affiliation P/R/F1 (percent)
_TSB_VLM = (
    ("ours", "VisAnomReasoner-7B", 75.75, 60.91, 62.91, 95.27, 81.51, 85.58),
    ("ours", "VisAnomReasoner-3B", 77.93, 40.46, 49.59, 95.05, 71.69, 78.36),
    ("small VLM", "Qwen2.5-VL-7B", 66.18, 48.85, 49.52, 75.90, 74.93, 74.36),
)
_TSB_GROUPS = {"Chronos": "TS foundation", "TimesFM": "TS foundation", "Lag-Llama": "TS foundation",
               "MOMENT (ZS)": "TS foundation", "MOMENT (FT)": "TS foundation"}
_DEEP = {"AutoEncoder", "CNN", "LSTMAD", "TranAD", "AnomalyTransformer", "OmniAnomaly", "USAD", "Donut",
         "TimesNet", "FITS", "OFA"}
# task name -> which published table applies
TASKS = {"visanombench": "vab", "tsb-ad-u-vlm": "tsb-vlm", "tsb-ad-u": "tsb-ad"}


def match_key(name: str) -> str:
    """Case- and punctuation-insensitive name for matching (``Matrix Profile`` = ``MatrixProfile``)."""
    return re.sub(r"[^a-z0-9.]+", "", name.lower())


def published_means(per_series_csv: Path, eval_list_csv: Path) -> dict[str, float]:
    """Mean VUS-PR per detector over the files of the evaluation list (TSB-AD's published table)."""
    with open(eval_list_csv, newline="") as fh:
        wanted = {row["file_name"] for row in csv.DictReader(fh)}
    sums: dict[str, float] = {}
    count = 0
    meta = {"file", "ts_len", "anomaly_len", "num_anomaly", "avg_anomaly_len", "anomaly_ratio",
            "point_anomaly", "seq_anomaly"}
    with open(per_series_csv, newline="") as fh:
        for row in csv.DictReader(fh):
            if row["file"] not in wanted:
                continue
            count += 1
            for key, value in row.items():
                if key not in meta:
                    sums[key] = sums.get(key, 0.0) + float(value)
    if count != len(wanted):
        raise ValueError(f"{per_series_csv} covers {count} of the {len(wanted)} listed series")
    return {k: v / count for k, v in sums.items()}


@lru_cache(maxsize=1)
def _tsb_ad() -> dict[str, Any]:
    return json.loads(DATA.read_text(encoding="utf-8"))


def reported_rows(task_name: str) -> list[dict[str, Any]]:
    """The published rows for ``task_name`` (empty for a task without a published table)."""
    table = TASKS.get(task_name)
    if table == "vab":
        return [
            {"name": name, "group": group, "source": PAPER + ", VisAnomBench test",
             "metrics": {"P": p / 100, "R": r / 100, "F1": f / 100, "Overlap": o / 100}}
            for group, name, p, r, f, o in _VAB
        ]
    if table == "tsb-vlm":
        keys = ("Point-P", "Point-R", "Point-F1", "Affiliation-P", "Affiliation-R", "Affiliation-F1")
        return [
            {"name": name, "group": group, "source": PAPER + ", TSB-AD-U",
             "metrics": {k: v / 100 for k, v in zip(keys, values, strict=True)}}
            for group, name, *values in _TSB_VLM
        ]
    if table == "tsb-ad":
        data = _tsb_ad()
        return [
            {"name": name, "group": _TSB_GROUPS.get(name, "deep" if name in _DEEP else "classical"),
             "source": f"TSB-AD published, mean of {data['n_series']} series", "metrics": {"VUS-PR": value}}
            for name, value in data["means"].items()
        ]
    return []
