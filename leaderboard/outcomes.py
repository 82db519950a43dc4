"""Interval outcomes: what happened to each true and each predicted interval of a sample.

Intervals are inclusive index pairs ``[start, end]``. Two intervals *overlap* when they share
at least one index. For each **true interval** ``T`` of two or more points:

* ``missed``: no predicted interval overlaps ``T``;
* ``fragmented``: two or more predicted intervals overlap ``T``;
* otherwise exactly one predicted interval ``P`` overlaps ``T``, and with
  ``IoU = |P ∩ T| / |P ∪ T|`` (counted in indices):

  * ``hit``: IoU >= :data:`HIT_IOU` (0.5);
  * ``early``: IoU < 0.5 and P's centre lies before T's centre;
  * ``late``: IoU < 0.5 and P's centre lies after T's centre;
  * ``loose``: IoU < 0.5 and the centres coincide (P is centred on T but far too wide or narrow).

A **point anomaly** (a true interval of one index ``t``) is classed separately:

* ``point hit``: a predicted interval contains ``t``;
* ``point near``: none contains it, but one comes within ``tol = max(1, round(0.01 * length))``
  indices of ``t`` (``length`` is the sample's length; 1% of a 1,000-point window is 10);
* ``point missed``: otherwise.

Each **predicted interval** that overlaps no true interval (and, for points, is not within
``tol`` of one) is a ``false alarm``. A predicted interval that overlaps a true one is not
classed on its own: its true interval's class says how well it did.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["CLASSES", "HIT_IOU", "INTERVAL_CLASSES", "POINT_CLASSES", "classify"]

HIT_IOU = 0.5
INTERVAL_CLASSES = ("hit", "early", "late", "loose", "fragmented", "missed")
POINT_CLASSES = ("point hit", "point near", "point missed")
CLASSES = (*INTERVAL_CLASSES, *POINT_CLASSES, "false alarm")

Interval = Sequence[int]


def _overlap(a: Interval, b: Interval) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]) + 1)


def _gap(point: int, p: Interval) -> int:
    """Indices between ``point`` and interval ``p`` (0 when ``p`` contains it)."""
    return max(p[0] - point, point - p[1], 0)


def classify(true: Sequence[Interval], pred: Sequence[Interval], length: int | None = None) -> dict[str, int]:
    """Count each outcome class (see the module docstring) for one sample.

    ``true`` and ``pred`` are inclusive ``[start, end]`` pairs (any order; a reversed pair is
    read as its sorted form); ``length`` sets the point tolerance (unknown: 1 index)."""
    truth = [(min(a, b), max(a, b)) for a, b in true]
    preds = [(min(a, b), max(a, b)) for a, b in pred]
    tol = max(1, round(0.01 * length)) if length else 1
    counts = dict.fromkeys(CLASSES, 0)
    for t in truth:
        if t[0] == t[1]:
            if any(_gap(t[0], p) == 0 for p in preds):
                counts["point hit"] += 1
            elif any(_gap(t[0], p) <= tol for p in preds):
                counts["point near"] += 1
            else:
                counts["point missed"] += 1
            continue
        touching = [p for p in preds if _overlap(p, t)]
        if not touching:
            counts["missed"] += 1
        elif len(touching) > 1:
            counts["fragmented"] += 1
        else:
            p = touching[0]
            inter = _overlap(p, t)
            union = (p[1] - p[0] + 1) + (t[1] - t[0] + 1) - inter
            centre_p, centre_t = p[0] + p[1], t[0] + t[1]  # doubled centres: exact in integers
            if inter / union >= HIT_IOU:
                counts["hit"] += 1
            elif centre_p < centre_t:
                counts["early"] += 1
            elif centre_p > centre_t:
                counts["late"] += 1
            else:
                counts["loose"] += 1
    for p in preds:
        near_point = any(t[0] == t[1] and _gap(t[0], p) <= tol for t in truth)
        if not near_point and not any(_overlap(p, t) for t in truth):
            counts["false alarm"] += 1
    return counts
