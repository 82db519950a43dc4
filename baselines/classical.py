"""Classical, deep and foundation detectors from tsb-ad: one factory per catalogue entry.

The registry lists one model per entry of :data:`baselines.tsbad.catalog.SPECS` (see
:func:`baselines.tsbad.catalog.registry_rows`) with the lazy reference
``baselines.classical:make_<tsb name>``; this module is imported only when a detector is
built (``visanom run --model Sub-PCA ...``). Each factory builds a
:class:`~baselines.tsbad.adapter.TsbAdDetector`; keyword arguments are hyperparameter
overrides or adapter settings (``seed``, ``minmax``, ``train_fraction``, ``min_train``).
Detectors whose extra packages are missing stay listed and fail at construction with a
message naming what to install (see ``docs/detectors.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from baselines.tsbad.adapter import TsbAdDetector
from baselines.tsbad.catalog import SPECS, DetectorSpec, factory_name


def _factory(spec: DetectorSpec) -> Callable[..., TsbAdDetector]:
    def make(**args: Any) -> TsbAdDetector:
        return TsbAdDetector(spec.name, **args)

    make.__name__ = make.__qualname__ = factory_name(spec)
    make.__doc__ = f"Build the tsb-ad detector {spec.name} (tsb-ad name {spec.tsb_name})."
    return make


FACTORIES: dict[str, Callable[..., TsbAdDetector]] = {spec.name: _factory(spec) for spec in SPECS}
"""Registered name to factory."""

globals().update({f.__name__: f for f in FACTORIES.values()})
