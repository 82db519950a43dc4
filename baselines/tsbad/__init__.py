"""Adapters over tsb-ad's detector pools (unsupervised and semi-supervised).

Names are resolved lazily (PEP 562): importing this package, or its plain-data
:mod:`~baselines.tsbad.catalog`, does not import the adapter, numpy or tsb-ad.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "SPECS": "baselines.tsbad.catalog",
    "DetectorSpec": "baselines.tsbad.catalog",
    "lookup": "baselines.tsbad.catalog",
    "TsbAdDetector": "baselines.tsbad.adapter",
    "seed_everything": "baselines.tsbad.adapter",
    "tuned_hyperparameters": "baselines.tsbad.adapter",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)
