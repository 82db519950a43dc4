"""A hand-made VisAnomBench folder (4 test segments, 1 train segment) and a scripted text model."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from harness.core.hashing import stable_hash
from harness.core.types import Prediction, Sample
from harness.scoring.metrics import intervals_to_labels
from tasks.visanombench.manifest import SEGMENTS, Manifest, ManifestItem, segment_csv, write_manifest

# id: (source, domain, split, start, length, intervals (absolute, inclusive), anomaly kinds)
SEGMENTS_SPEC: dict[str, tuple[str, str, str, int, int, tuple[tuple[int, int], ...], tuple[str, ...]]] = {
    "kpi-a": ("KPI", "AIOps", "test", 1000, 300, ((1100, 1119),), ("spike",)),
    "gt-b": ("GutenTAG", "Sine", "test", 0, 400, ((50, 59), (300, 339)), ("extremum", "variance")),
    "ucr-c": ("UCR-TSAD", "Medical", "test", 5000, 300, (), ()),
    "ucr-d": ("UCR-TSAD", "Medical", "test", 200, 300, ((220, 229),), ("spike",)),
    "kpi-train": ("KPI", "AIOps", "train", 0, 300, ((150, 155),), ("spike",)),
}


def segment_values(sid: str, start: int, length: int, intervals: Sequence[tuple[int, int]]) -> np.ndarray:
    """A noisy sine with a clear bump on each interval (deterministic per id)."""
    rng = np.random.default_rng(int(stable_hash(sid, 8), 16))
    idx = np.arange(start, start + length)
    x = np.sin(idx / 6.0) + 0.05 * rng.standard_normal(length)
    for a, b in intervals:
        x[a - start: b - start + 1] += 4.0
    return x


def build_bench(root: Path) -> Path:
    """Write manifest.json + segments/<id>.csv in the VisAnomBench folder format."""
    (root / SEGMENTS).mkdir(parents=True, exist_ok=True)
    items = []
    for sid, (source, domain, split, start, length, intervals, kinds) in SEGMENTS_SPEC.items():
        index = np.arange(start, start + length)
        values = segment_values(sid, start, length, intervals)
        labels = intervals_to_labels(intervals, length, offset=start)
        data = segment_csv(index, values, labels)
        file = f"{SEGMENTS}/{sid}.csv"
        (root / file).write_bytes(data)
        items.append(ManifestItem(
            id=sid, source=source, domain=domain, series=f"{sid}-series", split=split, start=start,
            end=start + length - 1, length=length, intervals=intervals, anomaly_kinds=kinds, file=file,
            sha256=hashlib.sha256(data).hexdigest(),
        ))
    write_manifest(root, Manifest(settings={}, sources={}, split={}, created_by="tests", items=tuple(items)))
    return root


class ScriptedModel:
    """Returns a fixed text per sample id (``texts``); records what it was shown."""

    provides = frozenset({"text"})

    def __init__(self, texts: Mapping[str, str], name: str = "scripted"):
        self.texts, self.name = dict(texts), name
        self.seen: list[Sample] = []

    def fingerprint(self) -> str:
        return stable_hash(["scripted", self.texts])

    def predict(self, batch: Sequence[Sample]) -> list[Prediction]:
        self.seen.extend(batch)
        return [Prediction(sample_id=s.id, text=self.texts.get(s.id, "")) for s in batch]
