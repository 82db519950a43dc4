"""The judge-free reasoning signals, kept importable from here; they live in :mod:`harness.scoring.reasoning`
(the reward in :mod:`harness.curate.reward` uses them too, without importing tasks)."""

from harness.scoring.reasoning import (  # noqa: F401
    KEYS,
    MIN_IOU,
    ReasoningSignals,
    axis_signal,
    axis_tolerance,
    consistency_signal,
    in_window_signal,
    reasoning_signals,
)
