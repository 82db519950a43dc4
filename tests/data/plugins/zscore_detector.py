"""A plugin adding a detector (docs/adding-a-model.md, example 2): one file, one class."""

from __future__ import annotations

import numpy as np

from harness.core.hashing import stable_hash
from harness.core.types import Prediction
from harness.registry import register_model


@register_model("zscore", group="classical", provides=["scores"])
class ZScore:
    """|x - mean| / std over the series: the higher, the more anomalous."""

    name = "zscore"
    provides = frozenset({"scores"})

    def __init__(self, clip: float = 10.0):
        self.clip = float(clip)

    def fingerprint(self) -> str:
        return stable_hash(["zscore", 1, self.clip])

    def predict(self, batch):
        out = []
        for s in batch:
            x = np.asarray(s.series, dtype=np.float64).ravel()
            std = x.std() or 1.0
            out.append(Prediction(sample_id=s.id, scores=np.minimum(np.abs(x - x.mean()) / std, self.clip)))
        return out
