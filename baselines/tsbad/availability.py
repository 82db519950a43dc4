"""Can a tsb-ad detector run here? Its extra modules, its weights, a GPU where tsb-ad demands one.

The one check both ``visanom ls models`` (through the card's ``check``) and building the
detector use; it reads the catalogue (plain data) and imports no detector.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from baselines.tsbad.catalog import BY_TSB_NAME, DetectorSpec
from harness.inference.availability import Availability, cuda_available, has_module, in_hf_cache


def detector_availability(spec: DetectorSpec) -> Availability:
    """``(True, "")`` when the detector ``spec`` can run in this environment, else the reason."""
    if not has_module("TSB_AD"):
        return False, ("tsb-ad is not installed in this environment (the detectors extra, numpy<2): run it "
                       "in the detectors environment (`make setup` creates .venv; `visanom env` lists them)")
    missing = [m for m in spec.requires if not has_module(m)]
    if missing:
        weights = f"; it also downloads {spec.weights}" if spec.weights else ""
        return False, f"missing module(s): {', '.join(missing)}{weights}"
    if spec.hub_repo and not in_hf_cache(spec.hub_repo):
        return False, (f"weights not in local cache; needs network ({spec.hub_repo}; "
                       f"e.g. `huggingface-cli download {spec.hub_repo}`)")
    if spec.needs_gpu and not cuda_available():
        return False, "no CUDA GPU visible (tsb-ad moves it to CUDA)"
    return True, ""


def card_check(card: Any, args: Mapping[str, Any]) -> Availability:
    """The card-level check: the catalogue entry the card's ``tsb_ad_name`` names."""
    spec = BY_TSB_NAME.get(str(card.display.get("tsb_ad_name")))
    if spec is None:
        return False, f"{card.name}: no tsb-ad catalogue entry {card.display.get('tsb_ad_name')!r}"
    return detector_availability(spec)
