"""The TSB-AD-U task, score view: detectors score whole series; the official VUS-PR protocol.

Protocol (TSB-AD's ``Run_Detector_U.py``): semi-supervised detectors fit on
``data[:TrainEnd]``; ``slidingWindow = find_length_rank(data, rank=1)``; metrics from the
scores of the whole series against its labels, VUS-PR as the headline.

Policy for a series whose labels are all 0 or all 1: every score metric is undefined for it
(``None``); the series is kept in the run, counted in ``n_undefined`` and left out of the
means. The official lists contain no such series.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from harness.core.errors import DataError
from harness.core.hashing import array_hash, stable_hash
from harness.core.types import Prediction, Sample, Target
from harness.scoring.metrics import (
    SCORE_KEYS,
    interval_counts,
    interval_iou,
    labels_to_intervals,
    score_metrics,
)
from harness.scoring.run_metrics import aggregate_means, interval_summary
from harness.scoring.thresholds import threshold_prediction
from tasks.tsb_ad_u.embedded import ensure_embedded
from tasks.tsb_ad_u.files import (
    SeriesInfo,
    find_file,
    list_files,
    load_series,
    resolve_data_dir,
)
from tasks.tsb_ad_u.window import find_length_rank

HEADLINE = "VUS-PR"


def check_shard(shard: tuple[int, int]) -> tuple[int, int]:
    """Validate ``(i, n)``: ``0 <= i < n``."""
    i, n = shard
    if not (isinstance(i, int) and isinstance(n, int) and 0 <= i < n):
        raise DataError(f"shard must be (i, n) with 0 <= i < n, got {shard!r}")
    return i, n
GROUP_KEYS = ("dataset", "domain")


class TSBADUTask:
    """Score-based TSB-AD-U over an official file list (or the embedded sample set)."""

    name = "tsb-ad-u"
    version = "1"
    accepts = frozenset({"scores"})

    def __init__(self, data_dir: str | Path | None = None, file_list: str = "eva", name: str | None = None):
        self.file_list = file_list
        self._data_dir_arg = data_dir
        if name:
            self.name = name
        self._labels: dict[str, np.ndarray] = {}
        self._windows: dict[str, int] = {}

    # -- data ---------------------------------------------------------------------------
    @cached_property
    def data_dir(self) -> Path:
        return resolve_data_dir(self._data_dir_arg)

    @cached_property
    def files(self) -> list[str]:
        return list_files(self.file_list, self._data_dir_arg)

    shardable = True
    """``samples``/``count`` take ``shard=(i, n)``: series at positions ``p`` with ``p % n == i``
    (a sweep splits one detector over many series into independent units)."""

    def count(self, limit: int | None = None, shard: tuple[int, int] | None = None) -> int:
        """Number of series ``samples(limit, shard)`` yields."""
        total = len(self.files) if limit is None else min(limit, len(self.files))
        return total if shard is None else len(range(check_shard(shard)[0], total, shard[1]))

    def _load(self, file: str) -> tuple[SeriesInfo, np.ndarray, np.ndarray]:
        """Read one listed file with the validating loader (values, labels, and a TrainEnd
        inside ``1..len``); every problem is a :class:`DataError` naming the file."""
        series = load_series(find_file(self.data_dir, file))
        return series.info, series.values, series.labels

    def samples(self, limit: int | None = None, shard: tuple[int, int] | None = None) -> Iterator[Sample]:
        """One sample per listed series (only shard ``i`` of ``n`` when ``shard=(i, n)``);
        an unreadable file becomes a sample with ``error``."""
        _ = self.data_dir  # a missing data folder is a start-up error, not a failure per series
        files = self.files[: self.count(limit)]
        if shard is not None:
            files = files[check_shard(shard)[0]::shard[1]]
        for file in files:
            sid = file.removesuffix(".csv")
            try:
                info, values, labels = self._load(file)
            except DataError as exc:
                yield Sample(id=sid, series=np.empty(0), error=str(exc), meta={"file": file},
                             input_hash=stable_hash(["error", file]))
                continue
            self._labels[sid] = labels
            train_end = info.train_end
            yield Sample(
                id=sid,
                series=values,
                train_end=train_end,
                meta={"file": file, "dataset": info.dataset, "domain": info.domain, "length": int(values.size),
                      "train_end": train_end, "n_anomalous": int(labels.sum())},
                input_hash=stable_hash([array_hash(values), train_end]),
            )

    def target(self, sample_id: str) -> Target:
        """Labels and inclusive intervals of one series."""
        if sample_id not in self._labels:
            _, _, self._labels[sample_id] = self._load(sample_id + ".csv")
        labels = self._labels[sample_id]
        return Target(labels=labels, intervals=tuple(labels_to_intervals(labels)))

    def sliding_window(self, sample: Sample) -> int:
        """The official window: ``find_length_rank(data, rank=1)`` on the series."""
        if sample.id not in self._windows:
            self._windows[sample.id] = int(find_length_rank(sample.series.reshape(-1, 1), rank=1))
        return self._windows[sample.id]

    # -- scoring --------------------------------------------------------------------------
    def postprocess(self, prediction: Prediction, sample: Sample) -> Prediction:
        """Check the scores and derive the one interval per series (see harness.scoring.thresholds)."""
        if prediction.scores is None:
            prediction.error = "model returned no scores (this task needs anomaly scores)"
            return prediction
        return threshold_prediction(prediction, sample.series.size, sample.index_offset)

    def score_sample(self, prediction: Prediction, sample: Sample) -> dict[str, Any]:
        """All of tsb-ad's score metrics plus the paper's interval counts for the peak interval."""
        target = self.target(sample.id)
        window = self.sliding_window(sample)
        tp, fp, fn = interval_counts(prediction.intervals or (), target.intervals)
        iou = interval_iou(prediction.intervals or (), target.intervals)
        out: dict[str, Any] = {"sliding_window": window, "TP": tp, "FP": fp, "FN": fn, "IoU": iou}
        n_pos = int(target.labels.sum())
        if n_pos == 0 or n_pos == target.labels.size:
            out.update(dict.fromkeys(SCORE_KEYS, None))
            out["undefined"] = "labels all 0" if n_pos == 0 else "labels all 1"
            return out
        out.update(score_metrics(prediction.scores, target.labels, window))
        return out

    def aggregate(self, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Means of tsb-ad's score metrics with bootstrap CIs and breakdowns by dataset and
        domain; pooled P/R/F1 and Overlap of the one thresholded interval per series."""
        out = aggregate_means(records, headline=HEADLINE, group_keys=GROUP_KEYS, keys=SCORE_KEYS)
        intervals = interval_summary(records, prefix="Interval-")
        out["metrics"].update(intervals["metrics"])
        out["interval_counts"] = intervals["counts"]
        return out

    def input_fingerprint(self) -> str:
        """What shapes a model's input beyond the sample's input hash (series + train end):
        nothing, so predictions are shared across lists and across scoring changes."""
        return stable_hash(["tsb-ad-u/input", 1])

    def fingerprint(self) -> str:
        """Task version, list name and files, and the scoring protocol."""
        return stable_hash([self.name, self.version, self.file_list, self.files, "find_length_rank/1", "peak"])

    def describe(self) -> dict[str, Any]:
        """Display metadata."""
        return {"title": "TSB-AD-U", "view": "scores", "file_list": self.file_list, "headline": HEADLINE,
                "n_series": len(self.files)}


def tsb_ad_u(data_dir: str | None = None, file_list: str = "eva") -> TSBADUTask:
    """The official benchmark: ``file_list`` is ``eva`` (350), ``tuning`` (48) or ``all`` (870)."""
    return TSBADUTask(data_dir=data_dir, file_list=file_list)


class EmbeddedTSBADUTask(TSBADUTask):
    """The embedded sample set, in TSB-AD-U format, made at first use without network."""

    @cached_property
    def data_dir(self) -> Path:
        return ensure_embedded(self._data_dir_arg)

    @cached_property
    def files(self) -> list[str]:
        return list_files("embedded", self.data_dir)

    def describe(self) -> dict[str, Any]:
        """Display metadata."""
        return {**super().describe(), "title": "TSB-AD-U format: embedded sample set"}


def tsb_ad_u_demo(data_dir: str | None = None) -> EmbeddedTSBADUTask:
    """The embedded default data; built into the user cache at first use."""
    return EmbeddedTSBADUTask(data_dir=data_dir, file_list="embedded", name="tsb-ad-u-demo")
