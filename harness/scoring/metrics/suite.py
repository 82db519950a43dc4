"""The two entry points that mirror tsb-ad's ``get_metrics`` and ``get_metrics_pred``."""

from __future__ import annotations

from ._validate import as_labels, as_pred, as_scores, as_window
from .affiliation import affiliation_prf
from .auc import curve_metrics
from .binary import event_f1, pa_f1, point_prf, range_f1
from .oracle import oracle_affiliation_f, oracle_event_f1, oracle_pa_f1, oracle_range_f1, threshold_counts
from .vus import vus
from .vus_pred import vus_pred

SCORE_KEYS = (
    "AUC-PR", "AUC-ROC", "VUS-PR", "VUS-ROC",
    "Standard-F1", "PA-F1", "Event-based-F1", "R-based-F1", "Affiliation-F",
)  # fmt: skip
BINARY_KEYS = (
    "Standard-F1", "PA-F1", "Event-based-F1", "R-based-F1", "Affiliation-F",
    "VUS-Recall", "VUS-Precision", "VUS-F",
)  # fmt: skip


def score_metrics(
    scores: object, labels: object, sliding_window: int, *, thre: int = 250, tsbad_compat: bool = False
) -> dict[str, float | None]:
    """tsb-ad ``get_metrics(scores, labels, slidingWindow=sliding_window)``: same keys and values.

    Oracle thresholds for the F-scores, ``version='opt'`` VUS with ``thre`` thresholds. A value
    is None where it is undefined (no anomaly; no normal point for the ROC metrics).
    Standard-F1 keeps tsb-ad's 1e-5 in the F1 denominator (a perfect detector: 0.999995).
    ``tsbad_compat`` reproduces tsb-ad's PA-F1 / Event-F1 edge bugs (docs/metrics.md).
    """
    y = as_labels(labels)
    s = as_scores(scores, y.size)
    w = as_window(sliding_window)
    v_roc, v_pr = vus(s, y, w, thre)
    c = threshold_counts(s)
    roc, ap, best_f1 = curve_metrics(s, y)
    return unit_interval({
        "AUC-PR": ap,
        "AUC-ROC": roc,
        "VUS-PR": v_pr,
        "VUS-ROC": v_roc,
        "Standard-F1": best_f1,
        "PA-F1": oracle_pa_f1(c, y, tsbad_compat=tsbad_compat),
        "Event-based-F1": oracle_event_f1(c, y, tsbad_compat=tsbad_compat),
        "R-based-F1": oracle_range_f1(c, y),
        "Affiliation-F": oracle_affiliation_f(c, y),
    })


def binary_metrics(
    pred: object, labels: object, sliding_window: int = 100, *, tsbad_compat: bool = False
) -> dict[str, float | None]:
    """tsb-ad ``get_metrics_pred`` on 0/1 (or bool) predictions: same keys and values.

    R-based-F1 is computed on the runs of ``pred`` whatever its dtype (tsb-ad gets it wrong for
    boolean ``pred``). ``tsbad_compat`` reproduces tsb-ad's PA-F1 / Event-F1 edge bugs, its
    R-based-F1 of an all-ones ``pred`` (0) and its VUS-pred label-buffer carry-over.
    """
    y = as_labels(labels)
    p = as_pred(pred, y.size)
    w = as_window(sliding_window)
    v_r, v_p, v_f = vus_pred(p, y, w, tsbad_compat=tsbad_compat)
    return unit_interval({
        "Standard-F1": point_prf(p, y)[2],
        "PA-F1": pa_f1(p, y, tsbad_compat=tsbad_compat),
        "Event-based-F1": event_f1(p, y, tsbad_compat=tsbad_compat),
        "R-based-F1": range_f1(p, y, tsbad_compat=tsbad_compat),
        "Affiliation-F": affiliation_prf(p, y)[2],
        "VUS-Recall": v_r,
        "VUS-Precision": v_p,
        "VUS-F": v_f,
    })


def unit_interval(values: dict[str, float | None]) -> dict[str, float | None]:
    """Every value clipped into [0, 1]: float rounding must not report a score of 1.0000000000000002
    (the definitions are bounded; a clip moves a value by at most a few ulps)."""
    return {k: None if v is None else min(1.0, max(0.0, float(v))) for k, v in values.items()}
