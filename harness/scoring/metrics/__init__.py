"""Evaluation metrics for visanom: interval-level (VisAnomBench), binary and score-based (TSB-AD).

Intervals are ``(start, end)`` with BOTH ends INCLUSIVE, in absolute series indices.
Undefined values are returned as None, never NaN (see docs/metrics.md).
"""

from .affiliation import affiliation_prf
from .aggregate import (
    bootstrap_ci,
    group_breakdown,
    interval_run_metrics,
    mean_with_ci,
    pooled_interval_metrics,
)
from .auc import auc_pr, auc_roc, best_point_f1
from .binary import event_f1, pa_f1, point_prf, range_f1, range_pr
from .degenerate import degenerate_scores
from .intervals import (
    interval_counts,
    interval_iou,
    intervals_to_labels,
    labels_to_intervals,
    merge_intervals,
    prf,
)
from .suite import BINARY_KEYS, SCORE_KEYS, binary_metrics, score_metrics
from .vus import vus, vus_pr, vus_roc
from .vus_pred import vus_pred

__all__ = [
    "BINARY_KEYS",
    "SCORE_KEYS",
    "affiliation_prf",
    "auc_pr",
    "auc_roc",
    "best_point_f1",
    "binary_metrics",
    "bootstrap_ci",
    "degenerate_scores",
    "event_f1",
    "group_breakdown",
    "interval_counts",
    "interval_iou",
    "interval_run_metrics",
    "intervals_to_labels",
    "labels_to_intervals",
    "mean_with_ci",
    "merge_intervals",
    "pa_f1",
    "point_prf",
    "pooled_interval_metrics",
    "prf",
    "range_f1",
    "range_pr",
    "score_metrics",
    "vus",
    "vus_pr",
    "vus_pred",
    "vus_roc",
]
