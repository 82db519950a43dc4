"""Classical, deep and foundation detectors from tsb-ad, registered under leaderboard names.

Importing this module registers one model per entry of
:data:`baselines.tsbad.catalog.SPECS` (``visanom run --model Sub-PCA ...``). Each factory
builds a :class:`~baselines.tsbad.adapter.TsbAdDetector`; keyword arguments are
hyperparameter overrides or adapter settings (``seed``, ``minmax``, ``train_fraction``,
``min_train``). Detectors whose extra packages are missing stay registered and fail at
construction with a message naming what to install (see ``docs/detectors.md``); without tsb-ad
itself (the ``detectors`` extra) they stay registered and fail at construction naming the
environment to use (``docs/environments.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from baselines.tsbad.adapter import TsbAdDetector, effective_hyperparameters, tsb_ad_installed
from baselines.tsbad.catalog import SPECS, DetectorSpec
from harness.registry import register_model

_HP_DEFAULTS_SOURCE = "tsb-ad HP_list.Optimal_Uni_algo_HP_dict over the run_<name> defaults"


def _factory(spec: DetectorSpec) -> Callable[..., TsbAdDetector]:
    def make(**args: Any) -> TsbAdDetector:
        return TsbAdDetector(spec.name, **args)

    make.__name__ = make.__qualname__ = f"make_{spec.tsb_name}"
    make.__doc__ = f"Build the tsb-ad detector {spec.name} (tsb-ad name {spec.tsb_name})."
    return make


def _display(spec: DetectorSpec) -> dict[str, Any]:
    return {
        "group": spec.group,
        "supervision": spec.supervision,
        "provides": ["scores"],
        "source": "tsb-ad",
        "tsb_ad_name": spec.tsb_name,
        # without tsb-ad (a numpy-2 environment) the detectors stay listed, with no defaults to show
        "hyperparameters": effective_hyperparameters(spec.tsb_name) if tsb_ad_installed() else None,
        "hyperparameters_source": _HP_DEFAULTS_SOURCE,
        "on_tsb_ad_u_leaderboard": spec.on_leaderboard,
        "requires": list(spec.requires),
        "weights": spec.weights,
        "note": spec.note,
    }


def register_all() -> list[str]:
    """Register every catalogue detector (idempotent); returns the registered names."""
    for spec in SPECS:
        register_model(spec.name, **_display(spec))(_factory(spec))
    return [s.name for s in SPECS]


REGISTERED: list[str] = register_all()
