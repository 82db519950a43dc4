"""The VisAnomBench task: one rendered segment per sample, asked the paper's question.

Data: a built benchmark folder (``tasks.visanombench.manifest``: ``manifest.json`` plus one
segment file per item), one sample per manifest item of the chosen split. Each sample shows
the segment's values drawn by :mod:`harness.render.plot` with ABSOLUTE x tick labels
(``index_offset = item.start``) and carries the prompt rendered from a jinja2 template of
``tasks/visanombench/prompts``. Labels never enter a sample (not even the anomaly kinds: the
scorer looks them up by sample id).

Answers: text is parsed inside the shown window; scores (classical detectors) are
thresholded to ONE interval per segment (see :mod:`tasks.visanombench.scoring`).

Scores: per sample the paper's TP/FP/FN and IoU, point-wise and affiliation P/R/F1 against
the segment's labels, and the reasoning signals (:mod:`harness.scoring.reasoning`). Per
run: pooled P/R/F1 and Overlap (mean IoU) with TP/FP/FN, the headline ``F1``; means of the
other metrics; breakdowns by source, domain and anomaly kind. A parse failure is an empty
prediction (one FN per true interval) and is counted in ``n_parse_failed``. A failed sample
(model error, unreadable segment) is left out of ``metrics`` and counted as an empty
prediction in ``metrics_fail_as_zero``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from harness.answers.formats import DEFAULT_ANSWER_FORMAT, AnswerFormat, answer_format
from harness.core.errors import DataError, UsageError
from harness.core.hashing import array_hash, stable_hash
from harness.core.paths import folder_problem
from harness.core.types import Prediction, Sample, Target
from harness.render.plot import RenderSettings
from harness.scoring import reasoning
from harness.scoring.metrics import group_breakdown, prf
from harness.scoring.run_metrics import aggregate_means, interval_summary
from tasks.visanombench.lazy_render import Pending, pick_workers, render_stream
from tasks.visanombench.manifest import ManifestItem, read_manifest, read_segment
from tasks.visanombench.profiles import manifest_profile
from tasks.visanombench.prompts import DEFAULT_PROMPT, PromptTemplate, load_prompt
from tasks.visanombench.scoring import (
    BINARY_KEYS,
    PROTOCOL,
    AnswerParses,
    as_flag,
    binary_metrics_of,
    group_summary,
    interval_metrics,
    rationale_metrics,
    read_answer,
    window_of,
)

HEADLINE = "F1"
GROUP_KEYS = ("source", "domain")
MEAN_KEYS = (*BINARY_KEYS, *reasoning.KEYS)
HF_DATASET = "PLAN-Lab/VisAnomBench"


def published_dataset_dir(split: str) -> Path:
    """HOOK for ``data_dir=hf``: a local benchmark folder made from the published dataset.

    The published dataset (``PLAN-Lab/VisAnomBench`` on the Hugging Face hub) needs network
    access (or a cached copy) and the ``datasets`` package; the data side converts it with its
    ``hf`` source (``visanom bench build visanombench --sources hf --out DIR``). To load it
    here directly, return such a folder (e.g. built once into the user cache); until then this
    says how to do it by hand.
    """
    raise UsageError(
        f"data_dir=hf (the published dataset {HF_DATASET}) is not wired to a local copy yet: build one with "
        "`visanom bench build visanombench --sources hf --out DIR` (needs the dataset cached or network, "
        "and `pip install 'visanom[hf]'`), then pass data_dir=DIR"
    )


def render_settings(width: float = 10.0, height: float = 4.0, dpi: int = 100) -> RenderSettings:
    """The renderer's settings from the task arguments (the paper's look otherwise)."""
    try:
        return RenderSettings(width_in=float(width), height_in=float(height), dpi=int(dpi))
    except (TypeError, ValueError) as exc:
        raise UsageError(f"bad render settings: {exc}") from exc


class VisAnomBenchTask:
    """VisAnomBench over a built benchmark folder (one sample per segment of a split)."""

    name = "visanombench"
    version = "1"
    accepts = frozenset({"text", "scores"})
    accepts_skip = True
    """``samples(limit, skip=ids)`` yields cheap stubs for ``ids`` (not loaded, not rendered)."""

    def __init__(
        self,
        data_dir: str | Path | None = None,
        split: str = "test",
        width: float = 10.0,
        height: float = 4.0,
        dpi: int = 100,
        prompt: str = DEFAULT_PROMPT,
        workers: int | None = None,
        name: str | None = None,
        *,
        answer: str = DEFAULT_ANSWER_FORMAT,
        merge_predictions: bool | str = False,
    ):
        self._data_dir_arg = data_dir
        self.split = str(split)
        self.settings = render_settings(width, height, dpi)
        self.prompt: PromptTemplate = load_prompt(str(prompt))
        self.answer: AnswerFormat = answer_format(str(answer))
        self.workers = None if workers is None else int(workers)
        if name:
            self.name = name
        self._labels: dict[str, np.ndarray] = {}
        self.merge_predictions = as_flag(merge_predictions, "merge_predictions")
        self._parses = AnswerParses(self.answer, merge=self.merge_predictions)

    # -- data ---------------------------------------------------------------------------
    def _resolve_dir(self) -> Path:
        arg = self._data_dir_arg
        if arg is None:
            raise UsageError(
                f"{self.name} needs data_dir=PATH (a built VisAnomBench folder) or data_dir=hf; "
                "visanombench-demo builds a small one offline"
            )
        if str(arg).lower() == "hf":
            return published_dataset_dir(self.split)
        path = Path(arg).expanduser()
        if problem := folder_problem(path):
            raise DataError(f"VisAnomBench folder {path} {problem}")
        return path

    @cached_property
    def data_dir(self) -> Path:
        return self._resolve_dir()

    @cached_property
    def _manifest(self) -> Any:
        return read_manifest(self.data_dir)

    @property
    def profile(self) -> str:
        """The build profile of the benchmark (``fixed-1000 (legacy)`` for manifests written before profiles)."""
        return manifest_profile(self._manifest.settings)

    @cached_property
    def items(self) -> list[ManifestItem]:
        """The manifest items of the split, in manifest order (any profile: items may differ in length)."""
        items = [it for it in self._manifest.items if it.split == self.split]
        if not items:
            raise DataError(f"{self.data_dir}: no item in split {self.split!r}")
        return items

    @cached_property
    def _by_id(self) -> dict[str, ManifestItem]:
        return {it.id: it for it in self.items}

    def count(self, limit: int | None = None) -> int:
        """Number of samples ``samples(limit)`` yields."""
        return len(self.items) if limit is None else min(int(limit), len(self.items))

    def _read(self, item: ManifestItem) -> tuple[np.ndarray, np.ndarray]:
        """Values and labels of one segment (``read_segment`` checks its sha256 and bounds)."""
        _, values, labels = read_segment(self.data_dir, item)
        if values.size == 0:
            raise DataError(f"segment {item.id} is empty")
        return values.astype(np.float64), labels.astype(np.int8)

    def examples(self, n: int, kind: str = "labelled") -> list[tuple[str, np.ndarray, np.ndarray]]:
        """Labelled TRAIN-split series for in-context examples (``(id, values, labels)``), at most
        ``n`` spread evenly over the split in id order; none when this task evaluates the train
        split itself (its examples would be the samples). ``kind``: ``labelled`` (all),
        ``anomalous`` (with at least one labelled point) or ``normal`` (none). An unreadable
        train segment is simply not an example. Test labels are never read."""
        if kind not in ("labelled", "anomalous", "normal"):
            raise ValueError(f"unknown example kind {kind!r}; known: labelled, anomalous, normal")
        if self.split == "train" or n < 1:
            return []
        items = sorted((it for it in self._manifest.items if it.split == "train"), key=lambda it: it.id)
        if len(items) > n:
            items = [items[i] for i in np.unique(np.linspace(0, len(items) - 1, n).round().astype(int))]
        out = []
        for it in items:
            try:
                values, labels = self._read(it)
            except Exception:  # noqa: BLE001 - an unreadable train segment is not an example
                continue
            if kind == "labelled" or (kind == "anomalous") == bool(labels.any()):
                out.append((it.id, values, labels))
        return out

    def _load(self, item: ManifestItem, skip: Collection[str]) -> Pending:
        sid, start = item.id, item.start
        if sid in skip:
            return Pending(item, start, skipped=True)
        try:
            values, labels = self._read(item)
        except (DataError, OSError, ValueError, KeyError) as exc:
            return Pending(item, start, error=str(exc) or type(exc).__name__)
        self._labels[sid] = labels
        return Pending(item, start, values=values)

    def _meta(self, item: ManifestItem) -> dict[str, Any]:
        return {"source": item.source, "domain": item.domain, "series": item.series, "start": item.start,
                "end": item.end, "length": item.length, "file": item.file}

    def samples(self, limit: int | None = None, skip: Collection[str] = ()) -> Iterator[Sample]:
        """One sample per item of the split, rendered lazily; ids in ``skip`` come as stubs."""
        items = self.items[: self.count(limit)]
        skip = frozenset(skip)
        due = sum(it.id not in skip for it in items)
        workers = pick_workers(self.workers, due)
        entries = (self._load(it, skip) for it in items)
        for entry, png in render_stream(entries, self.settings, workers):
            yield self._sample(entry, png)

    def _sample(self, entry: Pending, png: bytes | None) -> Sample:
        item = entry.key
        sid = item.id
        if entry.skipped:
            return Sample(id=sid, series=np.empty(0), meta={"skipped": True})
        meta = self._meta(item)
        if png is None or entry.values is None:
            return Sample(id=sid, series=np.empty(0), meta=meta, error=entry.error or "not rendered",
                          input_hash=stable_hash(["error", sid]))
        start = item.start
        prompt = self.prompt.render(start=start, end=item.end, length=entry.values.size, **self.answer.prompt_variables())
        return Sample(
            id=sid, series=entry.values, index_offset=start, image=png, prompt=prompt, meta=meta,
            input_hash=stable_hash([array_hash(entry.values), start, png, prompt]),
        )

    def target(self, sample_id: str) -> Target:
        """Labels of the segment and the manifest's inclusive intervals (absolute indices)."""
        item = self._by_id[sample_id]
        if sample_id not in self._labels:
            self._labels[sample_id] = self._read(item)[1]
        intervals = tuple((int(a), int(b)) for a, b in item.intervals)
        return Target(labels=self._labels[sample_id], intervals=intervals)

    def anomaly_kinds(self, sample_id: str) -> list[str]:
        """The manifest's anomaly kinds of a segment (empty for a normal one)."""
        item = self._by_id.get(sample_id)
        return [] if item is None else [str(k) for k in item.anomaly_kinds or ()]

    # -- scoring ------------------------------------------------------------------------
    def postprocess(self, prediction: Prediction, sample: Sample) -> Prediction:
        """Parse the text (or threshold the scores) into intervals inside the window."""
        window = window_of(sample)
        return read_answer(prediction, window, self._parses.parse(sample.id, prediction, window),
                           merge=self.merge_predictions)

    def score_sample(self, prediction: Prediction, sample: Sample) -> dict[str, Any]:
        """Interval counts and IoU, point and affiliation P/R/F1, reasoning signals."""
        target = self.target(sample.id)
        window = window_of(sample)
        pred = tuple(prediction.intervals or ())
        out = interval_metrics(pred, target.intervals)
        out.update(binary_metrics_of(pred, target.labels, window[0]))
        kinds = self.anomaly_kinds(sample.id)
        out.update(rationale_metrics(self._parses.take(sample.id, prediction, window), window,
                                     self.settings.n_xticks, sample.series, kinds))
        out["anomaly_kinds"] = kinds
        return out

    def _kinds_of(self, record: Mapping[str, Any]) -> list[str]:
        kinds = (record.get("metrics") or {}).get("anomaly_kinds")
        if kinds is None:
            kinds = self.anomaly_kinds(str(record.get("sample_id")))
        return [str(k) for k in kinds] or ["normal"]

    def _kind_breakdown(self, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Group summaries per anomaly kind; a segment with several kinds is in each group."""
        by_kind: dict[str, list[Mapping[str, Any]]] = {}
        for r in records:
            for k in dict.fromkeys(self._kinds_of(r)):
                by_kind.setdefault(k, []).append(r)
        return {k: group_summary(by_kind[k]) for k in sorted(by_kind)}

    def _fail_as_empty(self, records: Sequence[Mapping[str, Any]]) -> dict[str, float | None]:
        """Pooled P/R/F1 when every failed sample counts as an empty prediction (its true
        intervals become FN), as a table over the whole split would count it."""
        counts = []
        for r in records:
            m = r.get("metrics")
            if r.get("error") is None and m is not None:
                counts.append((m["TP"], m["FP"], m["FN"]))
            else:
                item = self._by_id.get(str(r.get("sample_id")))
                counts.append((0, 0, len(item.intervals) if item is not None else 0))
        tp, fp, fn = (int(sum(c[i] for c in counts)) for i in range(3))
        return dict(zip(("P", "R", "F1"), prf(tp, fp, fn), strict=True))

    def aggregate(self, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Pooled interval metrics (headline F1), means of the others, breakdowns."""
        means = aggregate_means(records, headline="Point-F1", keys=MEAN_KEYS)
        pooled = interval_summary(records)
        groups = {key: group_breakdown(records, key, group_summary) for key in GROUP_KEYS}
        groups["anomaly_kind"] = self._kind_breakdown(records)
        ok = [r for r in records if r.get("error") is None and r.get("metrics") is not None]
        return {
            "headline": HEADLINE,
            "metrics": {**pooled["metrics"], **means["metrics"]},
            "metrics_fail_as_zero": {**means["metrics_fail_as_zero"], **self._fail_as_empty(records)},
            "groups": groups,
            # this task's undefined count: segments whose Overlap (IoU) is undefined (normal, nothing predicted)
            "n_undefined": sum(r["metrics"].get("IoU") is None for r in ok),
            "interval_counts": pooled["counts"],
        }

    def input_fingerprint(self) -> str:
        """The input hash already covers series, offset, image bytes and prompt text, so
        predictions are shared across scoring changes (and with the other image+prompt view)."""
        return stable_hash(["image+prompt/input", 1])

    def fingerprint(self) -> str:
        """Version, split, manifest content, render settings, prompt template text, protocol."""
        manifest = [[it.id, it.start, it.end, [list(iv) for iv in it.intervals], it.sha256] for it in self.items]
        return stable_hash({
            "name": self.name, "version": self.version, "split": self.split, "manifest": stable_hash(manifest),
            "render": self.settings.fingerprint(), "prompt": [self.prompt.name, self.prompt.source_hash],
            "answer": self.answer.fingerprint(), "merge_predictions": self.merge_predictions,
            "protocol": PROTOCOL, "reasoning": [reasoning.MIN_IOU, "half-tick"],
        })

    def describe(self) -> dict[str, Any]:
        """Display metadata."""
        return {"title": "VisAnomBench", "view": "image+text", "split": self.split, "headline": HEADLINE,
                "n_segments": len(self.items), "profile": self.profile, "sources": sorted(self._manifest.sources),
                "prompt": self.prompt.name,
                "answer_format": self.answer.name, "merge_predictions": self.merge_predictions,
                "render": {"width_in": self.settings.width_in, "height_in": self.settings.height_in,
                           "dpi": self.settings.dpi}}


def visanombench(data_dir: str | None = None, split: str = "test", width: float = 10.0, height: float = 4.0,
                 dpi: int = 100, prompt: str = DEFAULT_PROMPT, workers: int | None = None,
                 answer: str = DEFAULT_ANSWER_FORMAT, merge_predictions: bool | str = False) -> VisAnomBenchTask:
    """A built VisAnomBench folder (``data_dir``), one split, the paper's plot and question."""
    return VisAnomBenchTask(data_dir, split, width, height, dpi, prompt, workers, answer=answer,
                            merge_predictions=merge_predictions)


class EmbeddedVisAnomBenchTask(VisAnomBenchTask):
    """The small benchmark built offline at first use (``ensure_embedded_bench``)."""

    def _resolve_dir(self) -> Path:
        from tasks.visanombench.build import ensure_embedded_bench

        return Path(ensure_embedded_bench(self._data_dir_arg))

    def describe(self) -> dict[str, Any]:
        """Display metadata."""
        return {**super().describe(), "title": "VisAnomBench format: embedded small benchmark"}


def visanombench_demo(data_dir: str | None = None, split: str = "test", width: float = 10.0, height: float = 4.0,
                      dpi: int = 100, prompt: str = DEFAULT_PROMPT, workers: int | None = None,
                      answer: str = DEFAULT_ANSWER_FORMAT,
                      merge_predictions: bool | str = False) -> EmbeddedVisAnomBenchTask:
    """The embedded benchmark (``data_dir`` = where to build or find it; default: user cache)."""
    return EmbeddedVisAnomBenchTask(data_dir, split, width, height, dpi, prompt, workers, name="visanombench-demo",
                                    answer=answer, merge_predictions=merge_predictions)
