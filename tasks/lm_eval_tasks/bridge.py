"""Our tasks as lm-evaluation-harness tasks: docs, images, prompts, per-doc scores, aggregation.

The YAML configs in this folder point lm-eval at the thin ``utils.py`` shim next to them,
which calls the functions here. Nothing is re-implemented: a doc is one of the task's own
:class:`~harness.core.types.Sample` objects (the image drawn by :mod:`harness.render.plot`, the prompt
rendered from the task's jinja2 template); ``process_results`` runs the task's own
``postprocess`` (:mod:`harness.answers.parse`) and ``score_sample`` (:mod:`harness.scoring.metrics`) on the
answer, exactly as the runner does (:meth:`harness.run.record.Recorder.record`); the aggregation
functions call the task's own ``aggregate`` on those records, so ``lm_eval`` reports the
same P/R/F1/Overlap as ``visanom run`` for the same answers.

Task arguments (``data_dir``, ``split``, ``prompt``, ...) come from lm-eval's
``--metadata '{"visanom_task_args": {...}}'``; everything else lm-eval puts in the metadata
(its own ``version``, the model arguments) is ignored.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from harness.core.errors import UsageError
from harness.core.hashing import stable_hash
from harness.core.types import Prediction, Sample, Task
from harness.registry.lazy import make_task
from tasks.lm_eval_tasks import INCLUDE_PATH

IMAGE_PLACEHOLDER = "<image>"
"""lm-eval's image placeholder: hf-multimodal and vllm-vlm put the image where it stands (the
plot comes before the question, as in our own engines); API backends send the image as a
separate content part before the text."""

TASK_ARGS_KEY = "visanom_task_args"
BLANK_SIDE = 64
"""Side of the blank image lm-eval gets for a sample whose input could not be loaded."""
RECORD_KEY = "_visanom"


def include_path() -> str:
    """The ``--include_path`` folder holding the visanom task configs for lm-eval."""
    return str(INCLUDE_PATH)


def _task_args(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise UsageError(f"{TASK_ARGS_KEY} must be a JSON object, got {value!r}") from exc
    if not isinstance(value, Mapping):
        raise UsageError(f"{TASK_ARGS_KEY} must be a mapping of task arguments, got {type(value).__name__}")
    return dict(value)


@lru_cache(maxsize=16)
def _task_cached(name: str, args_json: str) -> Task:
    return make_task(name, **json.loads(args_json))


def task_for(name: str, args: Mapping[str, Any]) -> Task:
    """The registered task ``name`` built with ``args`` (one instance per name and arguments)."""
    return _task_cached(name, json.dumps(dict(args), sort_keys=True, default=str))


def sample_to_doc(task_name: str, args: Mapping[str, Any], sample: Sample) -> dict[str, Any]:
    """One lm-eval doc: the sample's id, values, offset, prompt, image bytes and meta (as JSON)."""
    return {
        "sample_id": sample.id,
        "task": task_name,
        "task_args": json.dumps(dict(args), sort_keys=True, default=str),
        "series": np.asarray(sample.series, dtype=np.float64).tolist(),
        "index_offset": int(sample.index_offset),
        "train_end": -1 if sample.train_end is None else int(sample.train_end),
        "prompt": sample.prompt or "",
        "image_png": base64.b64encode(sample.image or b"").decode("ascii"),
        "meta": json.dumps(dict(sample.meta), sort_keys=True, default=str),
        "input_hash": sample.input_hash,
        "error": sample.error or "",
    }


def doc_to_sample(doc: Mapping[str, Any]) -> Sample:
    """The :class:`Sample` a doc was made from (image and prompt included)."""
    png = base64.b64decode(doc["image_png"]) if doc.get("image_png") else None
    train_end = int(doc.get("train_end", -1))
    return Sample(
        id=str(doc["sample_id"]), series=np.asarray(doc["series"], dtype=np.float64),
        index_offset=int(doc["index_offset"]), train_end=None if train_end < 0 else train_end,
        image=png, prompt=doc.get("prompt") or None, meta=json.loads(doc.get("meta") or "{}"),
        input_hash=str(doc.get("input_hash") or ""), error=doc.get("error") or None,
    )


def load_docs(visanom_task: str, **metadata: Any) -> Any:
    """lm-eval's ``custom_dataset``: a ``DatasetDict`` with one ``test`` split of the task's samples.

    ``metadata`` is lm-eval's task metadata (YAML ``metadata``, ``--metadata`` and the model
    arguments merged); only ``visanom_task_args`` is read from it.
    """
    import datasets

    args = _task_args(metadata.get(TASK_ARGS_KEY))
    task = task_for(visanom_task, args)
    docs = [sample_to_doc(visanom_task, args, s) for s in task.samples()]
    if not docs:
        raise UsageError(f"task {visanom_task!r} has no samples with arguments {args}")
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(docs)})


def doc_to_text(doc: Mapping[str, Any]) -> str:
    """The task's prompt text, after lm-eval's image placeholder."""
    return f"{IMAGE_PLACEHOLDER}{doc['prompt']}"


def doc_to_image(doc: Mapping[str, Any]) -> list[Any]:
    """The plot the task drew for this doc (:mod:`harness.render.plot`), as a PIL image."""
    from PIL import Image

    png = base64.b64decode(doc["image_png"])
    if not png:  # an unreadable sample: a blank stand-in keeps lm-eval going; process_results
        return [Image.new("RGB", (BLANK_SIDE, BLANK_SIDE), "white")]  # records the sample as failed
    with Image.open(io.BytesIO(png)) as img:
        return [img.convert("RGB")]


def score_answer(task: Task, sample: Sample, text: str | None) -> dict[str, Any]:
    """The runner's per-sample record for one answer: the task's postprocess (our parser) and
    score_sample (our metrics); a scoring exception is a ``scoring:`` error, as in the runner."""
    pred = Prediction(sample_id=sample.id, text=text)
    if sample.error:
        pred.error = f"input not loaded: {sample.error}"
    elif text is None or not str(text).strip():
        pred.error = "empty completion"
    metrics = None
    if pred.error is None:
        try:
            pred = task.postprocess(pred, sample)
            if pred.error is None:
                metrics = task.score_sample(pred, sample)
        except Exception as exc:  # noqa: BLE001 - a per-sample scoring failure is recorded
            pred.error, metrics = f"scoring: {type(exc).__name__}: {exc}", None
    return {
        "sample_id": sample.id, "meta": dict(sample.meta), "text": text,
        "intervals": None if pred.intervals is None else [list(iv) for iv in pred.intervals],
        "error": pred.error, "parse_failed": bool(pred.meta.get("parse_failed", False)), "metrics": metrics,
    }


def process_results(doc: Mapping[str, Any], results: Sequence[Any]) -> dict[str, Any]:
    """lm-eval's per-doc step: the record of :func:`score_answer`, once per reported metric
    (each metric's aggregation then reads the metric it names from ``task.aggregate``)."""
    task = task_for(str(doc["task"]), json.loads(doc["task_args"]))
    text = results[0] if results else None
    record = score_answer(task, doc_to_sample(doc), None if text is None else str(text))
    record[RECORD_KEY] = {"task": doc["task"], "task_args": doc["task_args"]}
    names = metric_names(task)
    return dict.fromkeys(names, record)


def metric_names(task: Task) -> tuple[str, ...]:
    """The run metrics reported to lm-eval for a task (its YAML ``metric_list`` names them too)."""
    if str(getattr(task, "name", "")).startswith("tsb-ad-u"):
        return TSB_AD_U_METRICS
    return VISANOMBENCH_METRICS


VISANOMBENCH_METRICS = ("F1", "P", "R", "Overlap", "Point-F1", "Affiliation-F1", "n_parse_failed", "n_failed")
TSB_AD_U_METRICS = ("Point-F1", "Point-P", "Point-R", "Affiliation-F1", "Interval-F1", "Interval-Overlap",
                    "n_parse_failed", "n_failed")


_AGG_CACHE: dict[str, dict[str, Any]] = {}


def run_metrics(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The task's own ``aggregate`` of the records, flattened to ``{name: value}`` plus the
    parse-failure and failure counts (computed once per set of records)."""
    key = stable_hash([[r["sample_id"], r.get("text"), r.get("error")] for r in records])
    if key in _AGG_CACHE:
        return _AGG_CACHE[key]
    if not records:
        return {}
    origin = records[0][RECORD_KEY]
    task = task_for(str(origin["task"]), json.loads(origin["task_args"]))
    plain = [{k: v for k, v in r.items() if k != RECORD_KEY} for r in records]
    agg = task.aggregate(plain)
    out: dict[str, Any] = {}
    for name, entry in (agg.get("metrics") or {}).items():
        out[name] = entry.get("value") if isinstance(entry, Mapping) else entry
    out["n_parse_failed"] = sum(bool(r.get("parse_failed")) for r in plain)
    out["n_failed"] = sum(r.get("error") is not None for r in plain)
    _AGG_CACHE.clear()
    _AGG_CACHE[key] = out
    return out


def aggregate_metric(name: str, records: Sequence[Mapping[str, Any]]) -> float:
    """One run metric for lm-eval (NaN when the task leaves it undefined, e.g. no sample scored)."""
    value = run_metrics(records).get(name)
    return float("nan") if value is None else float(value)
