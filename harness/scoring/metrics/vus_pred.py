"""Range-based recall / precision / F averaged over windows for binary predictions.

tsb-ad ``metric_VUS_pred``: per window w in 0..sliding_window, with ramp-extended labels,
recall = min(TP / P_new, 1) (no existence factor), precision = TP / #predicted, F their
harmonic mean (0 when both are 0); each is averaged over windows.
"""

from __future__ import annotations

import numpy as np

from ._validate import as_labels, as_pred, as_window
from ._vus_kernels import ramp_hist
from .runs import runs


def vus_pred(
    pred: object, labels: object, sliding_window: int, *, tsbad_compat: bool = False
) -> tuple[float | None, float | None, float | None]:
    """``(VUS-Recall, VUS-Precision, VUS-F)``.

    All None without anomalies; precision None when nothing is predicted (recall and F are
    then 0). ``tsbad_compat`` reproduces tsb-ad's bug that carries each window's label
    weights into the next window.
    """
    y = as_labels(labels)
    p = as_pred(pred, y.size)
    max_window = as_window(sliding_window)
    seg_s, seg_e = runs(y)
    if seg_s.size == 0:
        return None, None, None
    n_pred = float(p.sum())
    if n_pred == 0:
        return 0.0, None, 0.0
    jidx = np.where(p == 1, 0, -1).astype(np.int64)
    ramp = ramp_hist(seg_s, seg_e, jidx, y.size, max_window, 1, tsbad_compat)[:, 0]
    big_p = float(y.sum())
    tp = float(np.sum(p & y)) + ramp
    p_new = (big_p + (big_p + ramp)) / 2.0
    recall = np.minimum(tp / p_new, 1.0)
    precision = tp / n_pred
    denom = precision + recall
    f = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
    return float(np.mean(recall)), float(np.mean(precision)), float(np.mean(f))
