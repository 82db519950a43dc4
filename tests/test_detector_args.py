"""Detector hyperparameters are checked against the detector's signature, the types of its
defaults and the documented ranges, before any work (issue 10, item 2)."""

from __future__ import annotations

import pytest

from baselines.tsbad.adapter import TsbAdDetector, accepted_hyperparameters, tuned_hyperparameters
from baselines.tsbad.catalog import SPECS
from baselines.tsbad.hparams import check_hyperparameters, rule_for
from harness.core.errors import UsageError


@pytest.mark.parametrize(
    ("detector", "args", "says"),
    [
        ("POLY", {"periodicity": "[[["}, "periodicity must be a whole number >= 1, got '[[['"),
        ("POLY", {"periodicity": "-5"}, "periodicity must be a whole number >= 1, got -5"),
        ("POLY", {"periodicity": "0"}, "periodicity must be"),
        ("POLY", {"periodicity": "2.0"}, "periodicity must be"),
        ("POLY", {"periodicity": "true"}, "periodicity must be"),
        ("POLY", {"power": "abc"}, "power must be"),
        ("IForest", {"n_estimators": "[1, 2]"}, "n_estimators must be"),
        ("IForest", {"max_features": "1.5"}, "max_features must be"),
        ("LOF", {"n_neighbors": "None"}, "n_neighbors must be"),
        ("Sub-OCSVM", {"kernel": "rbff"}, "kernel must be one of"),
        ("Sub-OCSVM", {"nu": "0"}, "nu must be"),
        ("Sub-KNN", {"method": "max"}, "method must be"),
        ("Sub-PCA", {"n_components": "-1"}, "n_components must be"),
        ("Sub-MCD", {"support_fraction": "2"}, "support_fraction must be"),
        ("FFT", {"local_outlier_threshold": "nan"}, "local_outlier_threshold must be a finite number"),
        ("AutoEncoder", {"hidden_neurons": "[64, 0]"}, "hidden_neurons must be"),
        ("AutoEncoder", {"lr": "0.001"}, "unknown hyperparameter(s) lr"),
        ("LSTMAD", {"lr": "-0.1"}, "lr must be a number > 0"),
        ("POLY", {"seed": "abc"}, "seed must be"),
        ("POLY", {"minmax": "maybe"}, "minmax must be"),
        ("Sub-MCD", {"train_fraction": "abc"}, "train_fraction must be"),
        ("Sub-MCD", {"min_train": "0"}, "min_train must be"),
    ],
)
@pytest.mark.detectors
def test_bad_values_are_usage_errors_naming_detector_and_argument(detector: str, args: dict, says: str) -> None:
    with pytest.raises(UsageError) as exc:
        TsbAdDetector(detector, **args)
    assert says in str(exc.value) and str(exc.value).startswith(detector)


@pytest.mark.parametrize(
    ("detector", "args"),
    [("POLY", {"periodicity": "2", "power": "3"}), ("IForest", {"max_features": "0.5", "n_jobs": "-1"}),
     ("Sub-PCA", {"n_components": "mle"}), ("Sub-MCD", {"support_fraction": "0.8", "train_fraction": "None"}),
     ("LSTMAD", {"lr": "1"}), ("AutoEncoder", {"hidden_neurons": "(32, 16)"}), ("NORMA", {"clustering": "kshape"})],
)
@pytest.mark.detectors
def test_good_values_are_accepted(detector: str, args: dict) -> None:
    TsbAdDetector(detector, **args)


@pytest.mark.detectors
def test_every_default_and_tuned_value_passes_its_own_rule() -> None:
    """The rules never refuse what tsb-ad itself uses."""
    for spec in SPECS:
        signature = accepted_hyperparameters(spec.tsb_name)
        tuned = tuned_hyperparameters(spec.tsb_name)
        check_hyperparameters(spec.name, tuned, signature, tuned)
        defaults = {k: v for k, v in signature.items() if v is not None}
        check_hyperparameters(spec.name, defaults, signature, {})


def test_types_come_from_the_defaults_when_no_rule_names_them() -> None:
    rule = rule_for("local_outlier_threshold", None, 0.6)
    assert rule is not None and rule.check(0.5) and rule.check(1) and not rule.check("x")
    assert rule_for("something_new", None, None) is None  # a None default says nothing: any value
