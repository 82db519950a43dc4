"""A sweep worker: runs units of work (one job, or one shard of one) and returns records.

A worker never writes the results folder or the prediction cache: it returns records, raw
score arrays and new cache entries as messages, and the sweep's driver alone writes them.
That keeps one writer per folder and lets workers live anywhere (another Python environment
on this machine, a Ray node without a shared filesystem).

``python -m harness.sweep.worker`` reads one unit per line (JSON) on stdin and writes messages,
one JSON object per line, on stdout (anything the libraries print goes to stderr), ending
each unit with ``{"type": "end"}``. ``python -m harness.sweep.worker --probe`` reads a list of
model names and answers whether each can run in this environment.

Unit: ``{"unit": id, "parts": [{"spec": RunSpec record, "task_args": {...}, "model_args":
{...}, "shard": [i, n] | null, "done": [sample ids], "batch_size": int | null}], "cache":
path | null}``. All parts of a unit use one model, built once (a GPU model serves all its
tasks before it is unloaded). Messages: ``records`` (records, score files base64-encoded,
cache entries), ``order`` (the part's sample ids in task order), ``error`` (the part could
not run: a start-up error), ``end``.
"""

from __future__ import annotations

import base64
import io
import json
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from harness.core.errors import UsageError, VisanomError
from harness.core.procs import die_with_parent
from harness.core.spec import RunSpec
from harness.core.types import Prediction
from harness.records.store import SCORES_DIR, InputStore, json_safe, safe_name

Message = dict[str, Any]


def encode_array(arr: np.ndarray) -> str:
    """An array as base64 ``.npy`` bytes (JSON-safe)."""
    buf = io.BytesIO()
    np.save(buf, np.asarray(arr, dtype=np.float64), allow_pickle=False)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def decode_array(text: str) -> np.ndarray:
    """The inverse of :func:`encode_array` (never unpickles)."""
    return np.load(io.BytesIO(base64.b64decode(text)), allow_pickle=False)


def encode_prediction(pred: Prediction) -> dict[str, Any]:
    """A raw prediction as the driver stores it in the cache."""
    return {
        "sample_id": pred.sample_id, "text": pred.text,
        "scores": None if pred.scores is None else encode_array(pred.scores),
        "intervals": None if pred.intervals is None else [list(iv) for iv in pred.intervals],
        "usage": json_safe(pred.usage), "meta": json_safe(pred.meta), "latency_s": float(pred.latency_s or 0.0),
    }


def decode_prediction(data: Mapping[str, Any]) -> Prediction:
    """The inverse of :func:`encode_prediction`."""
    return Prediction(
        sample_id=data["sample_id"], text=data.get("text"),
        scores=None if data.get("scores") is None else decode_array(data["scores"]),
        intervals=None if data.get("intervals") is None else tuple(tuple(iv) for iv in data["intervals"]),
        usage=dict(data.get("usage") or {}), meta=dict(data.get("meta") or {}), latency_s=data.get("latency_s", 0.0),
    )


class MemoryRunDir:
    """Stands in for a run folder inside a worker: score files are kept to be returned."""

    def __init__(self) -> None:
        self.scores: list[list[Any]] = []

    def write_scores(self, sample_id: str, scores: np.ndarray, draw: int = 0) -> str:
        """Keep the scores; the relative path is the one the driver's run folder will use."""
        self.scores.append([sample_id, int(draw), encode_array(scores)])
        return f"{SCORES_DIR}/{safe_name(sample_id)}{f'.d{int(draw)}' if draw else ''}.npy"

    def take(self) -> list[list[Any]]:
        """``[sample_id, draw, base64 .npy]`` of the score files kept since the last call."""
        out, self.scores = self.scores, []
        return out


class MemoryInputStore(InputStore):
    """Stands in for the input store inside a worker: files are kept to be returned (the
    relative paths are the ones the driver's store uses)."""

    def __init__(self, task_name: str):
        super().__init__(Path("."), task_name)
        self.files: dict[str, str] = {}

    def _put(self, input_hash: str, suffix: str, data: Callable[[], bytes]) -> str:
        rel = f"{self.rel_dir}/{self._name(input_hash)}{suffix}"
        if rel not in self.files:
            self.files[rel] = base64.b64encode(data()).decode("ascii")
        return rel

    def take(self) -> dict[str, str]:
        """Files kept since the last call, by relative path (base64)."""
        out, self.files = self.files, {}
        return out


class ForwardingCache:
    """The prediction cache as a worker sees it: reads from the driver's cache file when it
    is on this machine (read-only), and hands every write back to the driver."""

    def __init__(self, path: str | None):
        self.puts: list[tuple[str, dict[str, Any]]] = []
        self._reader = None
        if path and Path(path).is_file():
            from harness.run.cache import PredictionCache

            try:
                self._reader = PredictionCache(path, read_only=True)
            except sqlite3.Error:
                self._reader = None

    def get(self, key: str, sample_id: str) -> Prediction | None:
        """A cached prediction, or None."""
        if self._reader is None:
            return None
        try:
            return self._reader.get(key, sample_id)
        except sqlite3.Error:
            return None

    def put(self, key: str, pred: Prediction) -> bool:
        """Hand the entry to the driver (copied now, before post-processing changes it)."""
        if pred.error is not None:
            return False
        self.puts.append((key, encode_prediction(pred)))
        return True

    def take(self) -> list[tuple[str, dict[str, Any]]]:
        """Entries handed over since the last call."""
        out, self.puts = self.puts, []
        return out


def build_task(spec: Mapping[str, Any], task_args: Mapping[str, Any]) -> Any:
    """The task of a spec record (full arguments, secrets included)."""
    from harness import registry

    return registry.make_task(spec["task"], **dict(task_args))


def build_model(spec: Mapping[str, Any], model_args: Mapping[str, Any]) -> Any:
    """The model of a spec record with its generation overrides applied; refuses draws the
    model cannot re-seed (as ``harness.run.orchestrate.run_specs`` does)."""
    from harness import registry
    from harness.run.draws import draw_seeds, model_for_draw
    from harness.run.orchestrate import apply_generation

    model = apply_generation(registry.make_model(spec["model"], **dict(model_args)), spec.get("generation") or {})
    for seed in draw_seeds(RunSpec.from_record(spec)):
        model_for_draw(model, seed)
    return model


def make_runner(spec: Mapping[str, Any], task: Any, model: Any, **options: Any) -> Any:
    """A runner over in-memory stores (nothing written here); ``options`` go to ``Runner``."""
    from harness.run.runner import Runner

    return Runner(task, model, Path("."), spec=RunSpec.from_record(spec), progress=False,
                  run_dir=MemoryRunDir(), inputs=MemoryInputStore(spec["task"]), **options)  # type: ignore[arg-type]


def _shard_samples(task: Any, limit: int | None, shard: tuple[int, int] | None, done: frozenset[str]) -> Iterator:
    kwargs: dict[str, Any] = {}
    if getattr(task, "accepts_skip", False):
        kwargs["skip"] = done
    if shard is not None and shard[1] > 1:
        if not getattr(task, "shardable", False):
            raise VisanomError(f"task {task.name!r} cannot be split into shards")
        kwargs["shard"] = tuple(shard)
    return task.samples(limit, **kwargs)


def run_part(part: Mapping[str, Any], model: Any, cache: ForwardingCache) -> Iterator[Message]:
    """Run one part of a unit with an already-built model; yields messages."""
    from harness.run.runner import _batches

    spec = part["spec"]
    task = build_task(spec, part.get("task_args") or spec.get("task_args") or {})
    from harness.run.orchestrate import check_compatible

    check_compatible(task, model)
    runner = make_runner(spec, task, model, batch_size=part.get("batch_size"), cache=cache)
    done = frozenset(part.get("done") or ())
    order: list[str] = []

    def pending() -> Iterator:
        for s in _shard_samples(task, spec.get("limit"), part.get("shard"), done):
            order.append(s.id)
            if s.id not in done:
                yield s

    for batch in _batches(pending(), runner.batch_size):
        records = runner.process(batch)
        yield {"type": "records", "records": records, "scores": runner.dir.take(), "inputs": runner.inputs.take(),
               "cache": cache.take()}
    yield {"type": "order", "ids": order}


def run_unit(unit: Mapping[str, Any]) -> Iterator[Message]:
    """Run every part of a unit (one model built once, closed at the end); yields messages.
    A start-up error of a part becomes an ``error`` message for that part."""
    cache = ForwardingCache(unit.get("cache"))
    model = None
    try:
        for index, part in enumerate(unit["parts"]):
            try:
                if model is None:
                    model = build_model(part["spec"], part.get("model_args") or part["spec"].get("model_args") or {})
                for msg in run_part(part, model, cache):
                    yield {**msg, "part": index}
            except Exception as exc:  # a start-up error of this part (a missing key, a bad data folder)
                from harness.run.runner import describe_error

                text = str(exc) if isinstance(exc, VisanomError) else describe_error(exc)
                yield {"type": "error", "part": index, "message": text}
    finally:
        close: Callable[[], None] | None = getattr(model, "close", None)
        if callable(close):
            close()
    yield {"type": "end"}


def probe(jobs: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """For each job ``{spec, task_args, model_args}``: can it run in this environment
    (``ok``, ``reason``), its sample count and run folder relative to the results folder
    (``count``, ``folder``), or a bad argument / incompatible pair (``error``)."""
    from harness import registry
    from harness.inference.availability import availability
    from harness.run.orchestrate import check_compatible
    from harness.run.runner import run_dir_for, run_id_for

    out = []
    for job in jobs:
        answer: dict[str, Any] = {"ok": False, "reason": "", "folder": None, "error": None}
        try:
            spec = job["spec"]
            args = {**dict(job.get("model_args") or {}), **dict(spec.get("generation") or {})}
            ok, reason = availability(registry.model_card(spec["model"]), args)
            answer.update(ok=ok, reason=reason)
            if ok:
                task = build_task(spec, job.get("task_args") or {})
                answer["count"] = int(task.count(spec.get("limit")))
                model = build_model(spec, job.get("model_args") or {})
                check_compatible(task, model)
                rs = RunSpec.from_record(spec)
                answer["folder"] = str(run_dir_for(Path("."), rs, run_id_for(rs, task.fingerprint(),
                                                                             model.fingerprint())))
        except UsageError as exc:
            answer.update(ok=False, error=str(exc))
        except VisanomError as exc:
            answer.update(ok=False, reason=str(exc))
        except Exception as exc:
            answer.update(ok=False, reason=f"{type(exc).__name__}: {exc}")
        out.append(answer)
    return out


def summarise(request: Mapping[str, Any]) -> Message:
    """The ``run.json`` of finished records, made where the task and model can be built."""
    spec = request["spec"]
    task = build_task(spec, request.get("task_args") or {})
    model = build_model(spec, request.get("model_args") or {})
    runner = make_runner(spec, task, model, cache=None)
    return {"type": "run", "run": runner.summarise(list(request["records"]), request["started"],
                                                  float(request["wall_s"]))}


def _exit_with_parent(interval_s: float = 1.0) -> None:
    """Stop this worker when the driver that started it is gone (killed, crashed): its work
    could not be written anyway."""
    import threading
    import time

    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(interval_s)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def main() -> int:
    """Serve units from stdin until it closes (see the module docstring); exits quietly when the
    driver is gone (killed: the kernel ends this process too; its pipe closed: no traceback)."""
    die_with_parent()
    _exit_with_parent()
    try:
        return _serve()
    except BrokenPipeError:  # the driver stopped reading: its records could not be written anyway
        os._exit(1)


def _serve() -> int:
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # whatever a library prints goes to stderr, never into the protocol
    sys.stdout = sys.stderr
    if "--probe" in sys.argv[1:]:
        proto.write(json.dumps(probe(json.loads(sys.stdin.read() or "[]"))) + "\n")
        proto.flush()
        return 0
    from harness.records.store import dumps

    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        messages = [summarise(request["summarise"])] if "summarise" in request else run_unit(request)
        for msg in messages:
            proto.write(dumps(msg) + "\n")
            proto.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
