"""Checks of detector hyperparameters before any work: each value's type and range.

A value's type comes from the detector's signature: the default of tsb-ad's ``run_<name>``
and the tuned value in ``HP_list`` (an ``int`` default takes a whole number, a ``float`` any
finite number, a ``str`` text, a list a list of the same kind). Where the meaning of a name
is clear, :data:`RULES` narrows it further (a window or period is a whole number of at least
1, a learning rate is positive, a fraction lies in ``(0, 1]``, a choice is one of its known
words); see docs/detectors.md. A value that fails raises :class:`UsageError` naming the
detector, the hyperparameter, what it takes and what it got.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.core.errors import UsageError

Check = Callable[[Any], bool]


def is_int(v: Any) -> bool:
    """A whole number (``bool`` is not one)."""
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v: Any) -> bool:
    """A finite int or float (``bool`` is not one)."""
    return (is_int(v) or isinstance(v, float)) and math.isfinite(v)


def _int_at_least(lo: int) -> Check:
    return lambda v: is_int(v) and v >= lo


def _number_in(lo: float, hi: float, lo_open: bool = True, hi_open: bool = False) -> Check:
    def check(v: Any) -> bool:
        if not is_number(v):
            return False
        return (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)

    return check


def _positive_number(v: Any) -> bool:
    return is_number(v) and v > 0


def _one_of(*words: str) -> Check:
    return lambda v: isinstance(v, str) and v in words


def _list_of_positive_ints(v: Any) -> bool:
    return isinstance(v, list) and len(v) > 0 and all(is_int(x) and x >= 1 for x in v)


@dataclass(frozen=True)
class Rule:
    """What one hyperparameter takes: a check and its wording for messages and docs."""

    check: Check
    takes: str


_COUNT = Rule(_int_at_least(1), "a whole number >= 1")

RULES: dict[str, Rule] = {
    # sizes and counts
    **{name: _COUNT for name in (
        "periodicity", "window_size", "win_size", "slidingWindow", "n_estimators", "n_neighbors", "n_clusters",
        "n_bins", "n_trees", "max_iter", "batch_size", "power", "ifft_parameters", "local_neighbor_window",
        "max_region_size", "max_sign_change_distance",
    )},
    "n_jobs": Rule(lambda v: is_int(v) and (v >= 1 or v == -1), "a whole number >= 1, or -1 (all cores)"),
    "lr": Rule(_positive_number, "a number > 0"),
    "nu": Rule(_number_in(0.0, 1.0), "a number in (0, 1]"),
    "tol": Rule(_number_in(0.0, 1.0, lo_open=False), "a number in [0, 1]"),
    "support_fraction": Rule(lambda v: v is None or _number_in(0.0, 1.0)(v), "None or a number in (0, 1]"),
    "max_features": Rule(lambda v: (is_int(v) and v >= 1) or (isinstance(v, float) and 0.0 < v <= 1.0),
                         "a whole number >= 1 or a fraction in (0, 1]"),
    "n_components": Rule(lambda v: v is None or v == "mle" or (is_int(v) and v >= 1)
                         or (isinstance(v, float) and 0.0 < v < 1.0),
                         "None, 'mle', a whole number >= 1 or a fraction in (0, 1)"),
    "hidden_neurons": Rule(_list_of_positive_ints, "a non-empty list of whole numbers >= 1"),
    "num_channel": Rule(_list_of_positive_ints, "a non-empty list of whole numbers >= 1"),
    "kernel": Rule(_one_of("linear", "poly", "rbf", "sigmoid"), "one of 'linear', 'poly', 'rbf', 'sigmoid'"),
    "method": Rule(_one_of("largest", "mean", "median"), "one of 'largest', 'mean', 'median'"),
    "clustering": Rule(_one_of("hierarchical", "kshape"), "one of 'hierarchical', 'kshape'"),
    "metric": Rule(lambda v: isinstance(v, str) and bool(v.strip()), "a distance name (text)"),
}
"""Hyperparameters whose range is clear from their meaning, across all tsb-ad detectors."""


def rule_from_default(default: Any) -> Rule | None:
    """The rule a default value implies (None for a ``None`` default: any value)."""
    if isinstance(default, bool):
        return Rule(lambda v: isinstance(v, bool), "true or false")
    if is_int(default):
        return Rule(is_int, "a whole number")
    if isinstance(default, float):
        return Rule(is_number, "a finite number")
    if isinstance(default, str):
        return Rule(lambda v: isinstance(v, str), "text")
    if isinstance(default, list):
        inner = rule_from_default(default[0]) if default else None
        return Rule(lambda v: isinstance(v, list) and (inner is None or all(inner.check(x) for x in v)),
                    "a list" + (f" of {inner.takes.removeprefix('a ')}s" if inner else ""))
    return None


def rule_for(name: str, *defaults: Any) -> Rule | None:
    """The rule of hyperparameter ``name``: :data:`RULES`, else the first non-None default's type."""
    if name in RULES:
        return RULES[name]
    for default in defaults:
        if default is not None:
            return rule_from_default(default)
    return None


def check_hyperparameters(detector: str, values: Mapping[str, Any], signature: Mapping[str, Any],
                          tuned: Mapping[str, Any]) -> None:
    """Raise :class:`UsageError` for a name ``signature`` lacks or a value its rule refuses.

    ``signature`` maps each accepted name to its default; ``tuned`` holds tsb-ad's tuned values.
    """
    unknown = sorted(set(values) - set(signature))
    if unknown:
        raise UsageError(
            f"{detector}: unknown hyperparameter(s) {', '.join(unknown)}; "
            f"accepted: {', '.join(sorted(signature)) or '(none)'}"
        )
    for name, value in values.items():
        rule = rule_for(name, tuned.get(name), signature.get(name))
        if rule is not None and not rule.check(value):
            raise UsageError(f"{detector}: hyperparameter {name} must be {rule.takes}, got {value!r}")
