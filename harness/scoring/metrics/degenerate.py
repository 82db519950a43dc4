"""Degenerate score vectors: anomaly scores that rank no point above another.

TSB-AD scores a constant vector like any other (its VUS-PR is whatever the metric gives a
tie everywhere, often far from zero on a short series), and visanom keeps that value so its
numbers stay comparable with TSB-AD's. It flags such a sample instead, so a run can say how
many of its results carry no information and which ones (docs/records.md).
"""

from __future__ import annotations

import numpy as np

ROUNDING_ULPS = 64
"""A spread within this many float64 epsilons of the largest magnitude is rounding noise."""


def degenerate_scores(scores: np.ndarray) -> str | None:
    """Why ``scores`` carry no ranking information, or None when they do.

    ``"constant scores"``: every finite score is equal (a one-point series included);
    ``"scores vary only by float rounding"``: the spread is within :data:`ROUNDING_ULPS`
    epsilons of the largest magnitude, so min-max normalisation would only amplify noise;
    ``"no finite score"``: nothing to rank. Non-finite values are ignored otherwise (a task
    refuses them as an error before this matters).
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    finite = s[np.isfinite(s)]
    if finite.size == 0:
        return "no finite score" if s.size else None
    lo, hi = float(finite.min()), float(finite.max())
    if lo == hi:
        return f"constant scores (every point scores {lo + 0.0:.6g})"  # + 0.0: no "-0"
    with np.errstate(over="ignore"):
        spread = hi - lo
    scale = max(abs(lo), abs(hi))
    if spread <= ROUNDING_ULPS * np.finfo(np.float64).eps * scale:
        return f"scores vary only by float rounding (spread {spread:.3g} at magnitude {scale:.3g})"
    return None
