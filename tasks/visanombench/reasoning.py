"""The judge-free reasoning signals, kept importable from here; they live in :mod:`harness.scoring.reasoning`
(the reward in :mod:`harness.curate.reward` uses them too, without importing tasks)."""

from harness.scoring.reasoning import (  # noqa: F401
    KEYS,
    KIND_TERMS,
    MIN_IOU,
    TEMPLATE_MET,
    ReasoningSignals,
    axis_signal,
    axis_tolerance,
    consistency_signal,
    in_window_signal,
    kind_signal,
    reasoning_signals,
    value_claims,
    values_signal,
)
