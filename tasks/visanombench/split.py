"""A seeded train/test split at the SERIES level, stratified by (source, domain).

Split units are groups (a series, or the series that share a ``group``, e.g. one KPI in
two files), so no window of one series lands on both sides. Each stratum gives
``floor(n * test_fraction)`` groups to test; the remaining test slots (to reach
``round(N * test_fraction)`` overall) go to the strata with the largest remainders, ties
broken by a seeded order. Inside a stratum the groups are shuffled with a generator
seeded by (seed, source, domain), so the result depends only on the set of groups and
the seed, never on input order or worker count. Groups whose source prescribes a split
keep it and are not counted.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping

import numpy as np

from harness.core.hashing import stable_hash

TRAIN, TEST = "train", "test"
PAPER_TEST_FRACTION = 740 / 3316
"""The paper's split: 2,576 train / 740 test series (about 0.223)."""

GroupKey = tuple[str, str, str]
"""(source, domain, group)."""


def _rng(seed: int, *parts: str) -> np.random.Generator:
    return np.random.default_rng(int(stable_hash(["visanombench-split", seed, *parts], 16), 16))


def split_groups(
    groups: Iterable[GroupKey], test_fraction: float, seed: int,
    prescribed: Mapping[GroupKey, str] | None = None,
) -> dict[GroupKey, str]:
    """Assign "train" or "test" to each (source, domain, group) key."""
    if not 0.0 <= test_fraction <= 1.0:
        raise ValueError(f"test_fraction must be in [0, 1], got {test_fraction}")
    prescribed = dict(prescribed or {})
    out: dict[GroupKey, str] = {k: v for k, v in prescribed.items() if v in (TRAIN, TEST)}
    strata: dict[tuple[str, str], list[str]] = defaultdict(list)
    for key in sorted(set(groups)):
        if key not in out:
            strata[(key[0], key[1])].append(key[2])
    total = sum(len(v) for v in strata.values())
    target = int(math.floor(total * test_fraction + 0.5))
    quota = {s: int(math.floor(len(v) * test_fraction)) for s, v in strata.items()}
    spare = target - sum(quota.values())
    if spare > 0:
        order = sorted(strata, key=lambda s: (-(len(strata[s]) * test_fraction - quota[s]),
                                              stable_hash([seed, *s], 16)))
        for s in order[:spare]:
            quota[s] += 1
    for (source, domain), names in strata.items():
        perm = _rng(seed, source, domain).permutation(len(names))
        test = {names[i] for i in perm[: quota[(source, domain)]]}
        for name in names:
            out[(source, domain, name)] = TEST if name in test else TRAIN
    return out
