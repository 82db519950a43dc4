"""What each metric on the leaderboard means: definition, direction and source.

One entry per metric name as runs record it (``run.json`` ``metrics`` keys). The text follows
``docs/metrics.md`` and the code in ``harness/scoring/metrics/`` (the "source" of each entry names the
function); the glossary page (``glossary.html``) lists them and every metric header of every
table links to its entry. A name without an entry still gets an anchor that says so.
"""

from __future__ import annotations

import re
from typing import Any

_INTERVAL = ("Interval level, the paper's VisAnomBench protocol: per sample, TP = true intervals overlapped "
             "by at least one predicted interval, FN = true intervals overlapped by none, FP = predicted "
             "intervals that overlap no true interval (inclusive ends). Counts are summed over the run (pooled), then ")
_POINT = "Point-wise over the series' points (a predicted interval marks every index in it): "
_AFF = ("Affiliation metric (Huet et al. 2022): each true event owns the zone up to the midpoints with its "
        "neighbours; distances from predicted to true events inside the zone are turned into probabilities. ")
_ORACLE = " Threshold: tsb-ad's oracle, the best value over 100 thresholds between the score's min and max."
_TSBAD = "harness.scoring.metrics (tsb-ad 1.5 get_metrics; docs/metrics.md, 'Scores')"

METRICS: dict[str, dict[str, str]] = {
    "F1": {"definition": _INTERVAL + "F1 = 2TP / (2TP + FP + FN).",
           "source": "harness.scoring.metrics.prf, pooled_interval_metrics (PAPER.md VisAnomBench table)"},
    "P": {"definition": _INTERVAL + "P = TP / (TP + FP).", "source": "harness.scoring.metrics.prf"},
    "R": {"definition": _INTERVAL + "R = TP / (TP + FN).", "source": "harness.scoring.metrics.prf"},
    "Overlap": {"definition": "Mean over samples of the IoU of the union of predicted and the union of true "
                              "intervals (|A ∩ B| / |A ∪ B|); samples with neither are left out. The paper's "
                              "'Overlap (%)' as a fraction.", "source": "harness.scoring.metrics.interval_iou"},
    "IoU": {"definition": "One sample's intersection over union of predicted and true intervals (None when "
                          "both are empty).", "source": "harness.scoring.metrics.interval_iou"},
    "Point-P": {"definition": _POINT + "precision = predicted anomalous points that are anomalous / predicted "
                                       "points; mean over series.", "source": "harness.scoring.metrics.point_prf"},
    "Point-R": {"definition": _POINT + "recall = anomalous points predicted / anomalous points; mean over series.",
                "source": "harness.scoring.metrics.point_prf"},
    "Point-F1": {"definition": _POINT + "F1 of point precision and recall, per series, then the mean over "
                                        "series (the paper's TSB-AD-U table).", "source": "harness.scoring.metrics.point_prf"},
    "Affiliation-P": {"definition": _AFF + "Precision part; mean over series.",
                      "source": "harness.scoring.metrics.affiliation_prf"},
    "Affiliation-R": {"definition": _AFF + "Recall part; mean over series.",
                      "source": "harness.scoring.metrics.affiliation_prf"},
    "Affiliation-F1": {"definition": _AFF + "F1 of affiliation precision and recall of a binary prediction "
                                            "(the VLM's answer), per series, then the mean.",
                       "source": "harness.scoring.metrics.affiliation_prf"},
    "Affiliation-F": {"definition": _AFF + "F-score of a score vector at tsb-ad's oracle threshold; not the "
                                           "same number as Affiliation-F1 of a binary answer." + _ORACLE,
                      "source": _TSBAD},
    "VUS-PR": {"definition": "Volume under the precision-recall surface (Paparrizos et al. 2022): the PR AUC "
                             "with buffer-weighted labels, averaged over buffer windows 0..sliding window. "
                             "Threshold-free.", "source": _TSBAD},
    "VUS-ROC": {"definition": "Volume under the ROC surface: as VUS-PR with the ROC AUC.", "source": _TSBAD},
    "AUC-PR": {"definition": "Area under the precision-recall curve of the scores (average precision).",
               "source": _TSBAD},
    "AUC-ROC": {"definition": "Area under the ROC curve of the scores.", "source": _TSBAD},
    "Standard-F1": {"definition": "Best point-wise F1 over every distinct score threshold (tsb-ad's "
                                  "2PR / (P + R + 1e-5)).", "source": _TSBAD},
    "PA-F1": {"definition": "Point-adjusted F1: a true run with one predicted point counts as fully found. "
                            "Known to inflate scores of noisy detectors." + _ORACLE, "source": _TSBAD},
    "Event-based-F1": {"definition": "Recall over true runs (found if any point is predicted), precision "
                                     "point-wise; their F1." + _ORACLE, "source": _TSBAD},
    "R-based-F1": {"definition": "Range-based F1 (Tatbul et al. 2018, tsb-ad's settings: existence 0.2, "
                                 "overlap 0.8, flat bias)." + _ORACLE, "source": _TSBAD},
    "reason-axis": {"definition": "Judge-free reasoning signal: 1 when the rationale states the x-axis range "
                                  "actually shown (within half a tick spacing), else 0; mean over samples "
                                  "with a rationale.", "source": "harness.scoring.reasoning"},
    "reason-in-window": {"definition": "Judge-free reasoning signal: the fraction of indices the rationale "
                                       "cites that lie inside the window shown.", "source": "harness.scoring.reasoning"},
    "reason-consistent": {"definition": "Judge-free reasoning signal: the fraction of answer intervals that "
                                        "the rationale cites (IoU >= 0.5).", "source": "harness.scoring.reasoning"},
    "judge-grounded": {"definition": "Judge grade: does the rationale refer to what the plot shows? Grade 0-10 "
                                     "divided by 10; mean over judged samples.", "source": "harness.scoring.judge (visanom run --judge)"},
    "judge-axis": {"definition": "Judge grade: does the rationale read the axes correctly? Grade 0-10 divided by "
                                 "10; mean over judged samples.", "source": "harness.scoring.judge (visanom run --judge)"},
    "judge-clarity": {"definition": "Judge grade: is the rationale clear? Mean over judged samples.",
                      "source": "harness.scoring.judge (visanom run --judge)"},
}
for _name in ("P", "R", "F1", "Overlap"):
    METRICS[f"Interval-{_name}"] = {
        "definition": METRICS[_name]["definition"] + " Here the one interval per series (the thresholded "
                      "peak of a score, or the stitched answer of the windows) against the series' true intervals.",
        "source": METRICS[_name]["source"]}
LOWER_IS_BETTER: frozenset[str] = frozenset()


def anchor(metric: str) -> str:
    """The glossary fragment id of a metric (``m-`` plus a slug; distinct names stay distinct
    enough for the known metrics)."""
    return "m-" + (re.sub(r"[^A-Za-z0-9_-]+", "-", metric).strip("-").lower() or "x")


def entry(metric: str) -> dict[str, Any]:
    """A metric's glossary entry: name, anchor, definition (None when unknown), direction, source."""
    known = METRICS.get(metric)
    return {"name": metric, "anchor": anchor(metric), "known": known is not None,
            "definition": known["definition"] if known else None,
            "direction": "lower is better" if metric in LOWER_IS_BETTER else "higher is better",
            "source": known["source"] if known else None}


def ci_unit(task: dict[str, Any], metric: str) -> str:
    """What the 95% bootstrap CI of ``metric`` resamples on ``task``: series or plot windows.

    A score task (display ``view: scores``) averages over series; the windowed VLM view of a
    series benchmark averages its task metrics over stitched series and its reasoning signals
    over windows; a windowed benchmark (VisAnomBench) resamples its samples, the plot windows."""
    view = str((task.get("display") or {}).get("view") or "")
    reasoning = metric.startswith(("reason-", "judge-"))
    if view == "scores":
        return "series"
    if view == "image+text windows":
        return "windows" if reasoning else "series"
    return "samples (plot windows)" if view.startswith("image") else "samples"
