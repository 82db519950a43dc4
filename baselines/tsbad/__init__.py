"""Adapters over tsb-ad's detector pools (unsupervised and semi-supervised)."""

from baselines.tsbad.adapter import TsbAdDetector, seed_everything, tuned_hyperparameters
from baselines.tsbad.catalog import SPECS, DetectorSpec, lookup

__all__ = ["SPECS", "DetectorSpec", "TsbAdDetector", "lookup", "seed_everything", "tuned_hyperparameters"]
