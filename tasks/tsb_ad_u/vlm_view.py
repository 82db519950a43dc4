"""The TSB-AD-U task, VLM view: windows of each series are drawn and asked the paper's question.

Each series is cut into windows of ``window`` points every ``stride`` points (the last
window is aligned to the series end, so every point is shown; a series no longer than
``window`` is one window). Each WINDOW is one sample, id ``<series>@<start>``, drawn by
:mod:`harness.render.plot` with absolute x ticks and asked the same question as VisAnomBench
(a template of ``tasks/visanombench/prompts``). Text answers are parsed inside the window;
score-producing models get one interval per window (:func:`harness.scoring.thresholds.peak_interval`).

Scoring (the paper's TSB-AD-U protocol for text models): ``aggregate`` stitches the
intervals of all windows of a series back onto the full series (their union) and scores the
binary prediction against the series' labels: point-wise P/R/F1 and affiliation P/R/F1,
averaged over series. Headline ``Point-F1`` (affiliation F1 rewards predictions merely near
an event, and an answer flagging everything scores well on it; point F1 does not). Also:
the paper's interval P/R/F1/Overlap of the stitched intervals (``Interval-*``), and the
reasoning signals averaged over windows.

A series with a failed window (model error, unreadable file) is a failed series: left out of
the means and counted as 0 in ``metrics_fail_as_zero``. ``limit`` counts SERIES (all windows
of the first ``limit`` series), so a limited run still scores whole series.

This view sits beside the score view (``tsb-ad-u``, VUS-PR of score models): the same
models run on both, text models only here, score models on both (here thresholded).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness.answers.formats import DEFAULT_ANSWER_FORMAT, AnswerFormat, answer_format
from harness.core.errors import DataError, UsageError
from harness.core.hashing import array_hash, stable_hash
from harness.core.types import Prediction, Sample, Target
from harness.scoring import reasoning
from harness.scoring.metrics import intervals_to_labels, labels_to_intervals
from harness.scoring.run_metrics import aggregate_means, interval_summary
from tasks.tsb_ad_u.files import SeriesInfo, count_rows, find_file
from tasks.tsb_ad_u.task import EmbeddedTSBADUTask, TSBADUTask
from tasks.visanombench.lazy_render import Pending, pick_workers, render_stream
from tasks.visanombench.prompts import DEFAULT_PROMPT, PromptTemplate, load_prompt
from tasks.visanombench.scoring import (
    BINARY_KEYS,
    PROTOCOL,
    AnswerParses,
    binary_metrics_of,
    interval_metrics,
    rationale_metrics,
    read_answer,
    window_of,
)
from tasks.visanombench.task import render_settings

HEADLINE = "Point-F1"
GROUP_KEYS = ("dataset", "domain")
DEFAULT_WINDOW = 5000
"""Default window length: the length of the paper's GutenTAG series, inside the range of
VisAnomBench's mean segment lengths (1.8k to 8.3k points)."""


def window_starts(n: int, window: int, stride: int) -> list[int]:
    """Starts of the windows over ``n`` points; the last one ends at the series end."""
    if n <= window:
        return [0]
    starts = list(range(0, n - window + 1, stride))
    if starts[-1] + window < n:
        starts.append(n - window)
    return starts


def window_id(series: str, start: int) -> str:
    """The sample id of a window."""
    return f"{series}@{start}"


class TSBADUVLMTask(TSBADUTask):
    """TSB-AD-U windows as image+text samples; stitched back per series for scoring."""

    name = "tsb-ad-u-vlm"
    version = "1"
    accepts = frozenset({"text", "scores"})
    accepts_skip = True
    shardable = False  # windows of one series are not split across sweep units
    title = "TSB-AD-U (VLM view)"

    def __init__(
        self,
        data_dir: str | Path | None = None,
        file_list: str = "eva",
        window: int = DEFAULT_WINDOW,
        stride: int | None = None,
        width: float = 10.0,
        height: float = 4.0,
        dpi: int = 100,
        prompt: str = DEFAULT_PROMPT,
        workers: int | None = None,
        name: str | None = None,
        *,
        answer: str = DEFAULT_ANSWER_FORMAT,
    ):
        super().__init__(data_dir=data_dir, file_list=file_list, name=name)
        self.window = int(window)
        self.stride = self.window if stride is None else int(stride)
        if self.window < 2 or not 1 <= self.stride <= self.window:
            raise UsageError(f"need window >= 2 and 1 <= stride <= window, got window={window} stride={stride}")
        self.settings = render_settings(width, height, dpi)
        self.prompt: PromptTemplate = load_prompt(str(prompt))
        self.answer: AnswerFormat = answer_format(str(answer))
        self.workers = None if workers is None else int(workers)
        self._lengths: dict[str, int | None] = {}  # by file; None when it cannot be read
        self._series_labels: dict[str, np.ndarray] = {}  # by series id
        self._parses = AnswerParses(self.answer)

    # -- data ---------------------------------------------------------------------------
    def _series_files(self, limit: int | None) -> list[str]:
        return self.files if limit is None else self.files[: int(limit)]

    def _read(self, file: str) -> tuple[SeriesInfo, np.ndarray, np.ndarray]:
        """Read a series file and keep its labels, so scoring need not read it again (the values
        are not kept: windows still to run read them)."""
        n = self._length(file)
        info, values, labels = self._load(file)
        if n != values.size:  # rows the quick count saw but the reader did not keep: never guess
            raise DataError(f"{file}: {values.size} values read but {n} data rows counted")
        self._series_labels[file.removesuffix(".csv")] = labels
        return info, values, labels

    def _length(self, file: str) -> int | None:
        """Points in a series, counted from its rows without parsing them (a sweep plans a thousand
        series in seconds), or None when the file cannot be opened; the validating read comes when
        the windows are rendered. Counted once."""
        if file not in self._lengths:
            try:
                self._lengths[file] = count_rows(find_file(self.data_dir, file))
            except DataError:
                self._lengths[file] = None
        return self._lengths[file]

    def _n_windows(self, file: str) -> int:
        n = self._length(file)
        return len(window_starts(n, self.window, self.stride)) if n else 1

    def count(self, limit: int | None = None) -> int:
        """Windows of the first ``limit`` series (``limit`` counts series)."""
        return sum(self._n_windows(f) for f in self._series_files(limit))

    def _pending(self, file: str, skip: Collection[str]) -> Iterator[Pending]:
        sid = file.removesuffix(".csv")
        n = self._lengths.get(file)
        if n is not None and all(window_id(sid, s) in skip for s in window_starts(n, self.window, self.stride)):
            for s in window_starts(n, self.window, self.stride):  # whole series done: no need to read it
                yield Pending((file, None, s), s, skipped=True)
            return
        try:
            info, values, _ = self._read(file)
        except DataError as exc:  # every window counted for it fails with the reason (count stays exact)
            n = self._lengths.get(file)
            for s in window_starts(n, self.window, self.stride) if n else (0,):
                yield Pending((file, None, s), s, error=str(exc))
            return
        for s in window_starts(values.size, self.window, self.stride):
            if window_id(sid, s) in skip:
                yield Pending((file, info, s), s, skipped=True)
            else:
                yield Pending((file, info, s), s, values=values[s: s + self.window])

    def samples(self, limit: int | None = None, skip: Collection[str] = ()) -> Iterator[Sample]:
        """The windows of each series in list order; ids in ``skip`` come as unrendered stubs."""
        _ = self.data_dir  # a missing data folder is a start-up error
        files = self._series_files(limit)
        skip = frozenset(skip)
        due = max(self.count(limit) - len(skip), 0)
        entries = (e for f in files for e in self._pending(f, skip))
        for entry, png in render_stream(entries, self.settings, pick_workers(self.workers, due)):
            yield self._sample(entry, png)

    def _sample(self, entry: Pending, png: bytes | None) -> Sample:
        file, info, start = entry.key
        sid = file.removesuffix(".csv")
        wid = window_id(sid, start)
        if entry.skipped:
            return Sample(id=wid, series=np.empty(0), meta={"skipped": True})
        if entry.values is None or png is None or info is None:  # unreadable file, or a window not drawn
            meta: dict[str, Any] = {"series": sid, "file": file, "start": start}
            if info is not None:
                meta.update(dataset=info.dataset, domain=info.domain, series_length=self._lengths[file])
            return Sample(id=wid, series=np.empty(0), meta=meta, error=entry.error or "not rendered",
                          input_hash=stable_hash(["error", wid]))
        values = entry.values
        end = start + values.size - 1
        train_end = min(info.train_end - start, values.size) if info.train_end > start else None
        prompt = self.prompt.render(start=start, end=end, length=values.size, **self.answer.prompt_variables())
        meta = {"series": sid, "file": file, "dataset": info.dataset, "domain": info.domain, "start": start,
                "end": end, "length": int(values.size), "series_length": self._lengths[file]}
        return Sample(id=wid, series=values, index_offset=start, train_end=train_end, image=png, prompt=prompt,
                      meta=meta, input_hash=stable_hash([array_hash(values), start, train_end, png, prompt]))

    def series_labels(self, series: str) -> np.ndarray:
        """Labels of a whole series (read from its file when not already loaded)."""
        if series not in self._series_labels:
            self._read(series + ".csv")
        return self._series_labels[series]

    def target(self, sample_id: str) -> Target:
        """Labels and inclusive intervals of one window (``<series>@<start>``)."""
        series, _, start_text = sample_id.rpartition("@")
        start = int(start_text)
        labels = self.series_labels(series)[start: start + self.window]
        return Target(labels=labels, intervals=tuple(labels_to_intervals(labels, offset=start)))

    # -- scoring ------------------------------------------------------------------------
    def postprocess(self, prediction: Prediction, sample: Sample) -> Prediction:
        """Parse the text (or threshold the scores) into intervals inside the window."""
        window = window_of(sample)
        return read_answer(prediction, window, self._parses.parse(sample.id, prediction, window))

    def score_sample(self, prediction: Prediction, sample: Sample) -> dict[str, Any]:
        """Per-window interval counts and reasoning signals (series metrics come in aggregate)."""
        window = window_of(sample)
        out = interval_metrics(tuple(prediction.intervals or ()), self.target(sample.id).intervals)
        out.update(rationale_metrics(self._parses.take(sample.id, prediction, window), window,
                                     self.settings.n_xticks, sample.series))
        return out

    def stitch(self, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """One record per series: the union of its windows' intervals scored on the full series."""
        by_series: dict[str, list[Mapping[str, Any]]] = {}
        for r in records:
            series = (r.get("meta") or {}).get("series") or str(r["sample_id"]).rpartition("@")[0]
            by_series.setdefault(series, []).append(r)
        return [self._series_record(series, recs) for series, recs in by_series.items()]

    def _series_record(self, series: str, recs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        meta = dict(recs[0].get("meta") or {})
        out: dict[str, Any] = {"sample_id": series, "error": None, "metrics": None,
                               "meta": {k: meta.get(k) for k in ("dataset", "domain", "file", "series_length")}}
        failed = [r for r in recs if r.get("error") is not None]
        n = meta.get("series_length")
        expected = len(window_starts(int(n), self.window, self.stride)) if n else None
        if failed:
            out["error"] = f"{len(failed)} of {len(recs)} windows failed: {failed[0]['error']}"
            return out
        if expected is not None and len(recs) < expected:
            out["error"] = f"only {len(recs)} of {expected} windows were run"
            return out
        labels = self.series_labels(series)
        pred = [(int(a), int(b)) for r in recs for a, b in (r.get("intervals") or ())]
        merged = labels_to_intervals(intervals_to_labels(pred, labels.size))  # union, clipped to the series
        metrics = interval_metrics(merged, labels_to_intervals(labels))
        metrics.update(binary_metrics_of(merged, labels, 0))
        out["metrics"] = metrics
        return out

    def aggregate(self, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Series means of point and affiliation P/R/F1 (headline Point-F1), stitched interval
        metrics, window means of the reasoning signals, breakdowns by dataset and domain."""
        series = self.stitch(records)
        out = aggregate_means(series, headline=HEADLINE, group_keys=GROUP_KEYS, keys=BINARY_KEYS)
        pooled = interval_summary(series, prefix="Interval-")
        out["metrics"].update(pooled["metrics"])
        out["interval_counts"] = pooled["counts"]
        reasons = aggregate_means(records, headline=reasoning.KEYS[0], keys=reasoning.KEYS)
        out["metrics"].update(reasons["metrics"])
        n_failed = sum(s["error"] is not None for s in series)
        out["series_counts"] = {"n_series": len(series), "n_scored": len(series) - n_failed, "n_failed": n_failed}
        return out

    def input_fingerprint(self) -> str:
        """The input hash already covers series, offset, image bytes and prompt text, so
        predictions are shared across scoring changes (and with the other image+prompt view)."""
        return stable_hash(["image+prompt/input", 1])

    def fingerprint(self) -> str:
        """List and files, windowing, render settings, prompt template text, protocol."""
        return stable_hash({
            "name": self.name, "version": self.version, "list": self.file_list, "files": self.files,
            "window": self.window, "stride": self.stride, "render": self.settings.fingerprint(),
            "prompt": [self.prompt.name, self.prompt.source_hash],
            "answer": self.answer.fingerprint(), "protocol": PROTOCOL,
            "stitch": "union/1", "reasoning": [reasoning.MIN_IOU, "half-tick"],
        })

    def describe(self) -> dict[str, Any]:
        """Display metadata (the score view of the same data is ``tsb-ad-u``)."""
        return {"title": self.title, "view": "image+text windows", "file_list": self.file_list,
                "headline": HEADLINE, "n_series": len(self.files), "window": self.window, "stride": self.stride,
                "prompt": self.prompt.name, "answer_format": self.answer.name, "companion": "tsb-ad-u (score view, VUS-PR)"}


def tsb_ad_u_vlm(data_dir: str | None = None, file_list: str = "eva", window: int = DEFAULT_WINDOW,
                 stride: int | None = None, width: float = 10.0, height: float = 4.0, dpi: int = 100,
                 prompt: str = DEFAULT_PROMPT, workers: int | None = None,
                 answer: str = DEFAULT_ANSWER_FORMAT) -> TSBADUVLMTask:
    """The official list in the VLM view (needs the data folder)."""
    return TSBADUVLMTask(data_dir, file_list, window, stride, width, height, dpi, prompt, workers, answer=answer)


class EmbeddedTSBADUVLMTask(TSBADUVLMTask, EmbeddedTSBADUTask):
    """The embedded sample set in the VLM view (data folder and list from the embedded set)."""

    title = "TSB-AD-U format: embedded sample set (VLM view)"


def tsb_ad_u_demo_vlm(data_dir: str | None = None, window: int = DEFAULT_WINDOW, stride: int | None = None,
                      width: float = 10.0, height: float = 4.0, dpi: int = 100, prompt: str = DEFAULT_PROMPT,
                      workers: int | None = None, answer: str = DEFAULT_ANSWER_FORMAT) -> EmbeddedTSBADUVLMTask:
    """The embedded default data in the VLM view; built into the user cache at first use."""
    return EmbeddedTSBADUVLMTask(data_dir, "embedded", window, stride, width, height, dpi, prompt, workers,
                                 name="tsb-ad-u-demo-vlm", answer=answer)
