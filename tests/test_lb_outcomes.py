"""Interval outcome classes, one case per class and its boundaries (docs/leaderboard.md)."""

from __future__ import annotations

import pytest

from leaderboard.outcomes import CLASSES, classify


def only(counts: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if v}


@pytest.mark.parametrize(("pred", "expected"), [
    ([], {"missed": 1}),
    ([[100, 119]], {"hit": 1}),                      # exact
    ([[105, 119]], {"hit": 1}),                      # IoU 15/20 = 0.75
    ([[110, 129]], {"late": 1}),                     # IoU 10/30 < 0.5, centre after
    ([[90, 109]], {"early": 1}),                     # IoU 10/30, centre before
    ([[100, 109]], {"hit": 1}),                      # IoU 10/20 = 0.5 exactly: a hit
    ([[100, 108]], {"early": 1}),                    # IoU 9/20: inside but early
    ([[60, 159]], {"loose": 1}),                     # centred, IoU 20/100
    ([[100, 104], [110, 119]], {"fragmented": 1}),
    ([[300, 310]], {"missed": 1, "false alarm": 1}),
    ([[119, 100]], {"hit": 1}),                      # a reversed pair is read sorted
])
def test_interval_classes(pred: list[list[int]], expected: dict[str, int]) -> None:
    assert only(classify([[100, 119]], pred, 1000)) == expected


def test_points_are_separate_with_a_tolerance_of_one_percent() -> None:
    truth = [[500, 500]]
    assert only(classify(truth, [[495, 505]], 1000)) == {"point hit": 1}
    assert only(classify(truth, [[510, 520]], 1000)) == {"point near": 1}   # 10 away, tol 10
    assert only(classify(truth, [[511, 520]], 1000)) == {"point missed": 1, "false alarm": 1}
    assert only(classify(truth, [[502, 503]], None)) == {"point missed": 1, "false alarm": 1}  # tol 1


def test_one_prediction_over_two_anomalies_and_no_truth() -> None:
    counts = classify([[10, 19], [30, 39]], [[10, 39]], 100)
    assert only(counts) == {"late": 1, "early": 1}  # IoU 10/30 each, the centre beyond each
    assert only(classify([], [[1, 2], [5, 9]], 100)) == {"false alarm": 2}
    assert set(classify([], [], 10)) == set(CLASSES)
