"""Per-sample results as a Hugging Face ``datasets`` dataset (parquet, one config per task).

``export_results(RESULTS, OUT)`` writes, for the runs the leaderboard shows (the newest
complete run of each spec), ``OUT/<config>/train.parquet`` with one row per sample and a
``README.md`` whose YAML header declares the configs, so both
``datasets.load_dataset("parquet", data_files=OUT/<config>/train.parquet)`` and
``datasets.load_dataset(str(OUT), name=<config>)`` read it. ``push_to_hub`` uploads the folder
with ``huggingface_hub`` (needs network and a token).

Columns are the same for every task: fields whose shape varies between tasks (metrics, usage,
meta, draws) are JSON text.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.errors import OutputError, UsageError
from harness.core.hashing import stable_hash
from harness.core.optional import import_extra
from harness.records.samples import read_samples
from harness.records.store import SAMPLES_FILE
from leaderboard.build import DATASET, check_results, prepare_out
from leaderboard.scan import SOURCE_KEY, scan_runs
from leaderboard.summary import row_key, select_newest

COLUMNS = (
    "task", "spec_id", "label", "model", "run_id", "sample_id", "input_hash", "status", "text", "error",
    "parse_failed", "parse_issues", "intervals", "target_intervals", "target_length", "index_offset",
    "latency_s", "cached", "metrics_json", "usage_json", "meta_json", "draws_json",
)


MAX_CONFIG_CHARS = 80
"""Longest config name kept as it is (it is a folder name); longer ones are cut and hashed."""
_INT64 = 2**63


@dataclass
class Exported:
    """What an export wrote (rows per config) and what it left out (one plain line each)."""

    counts: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def config_name(task: str) -> str:
    """A Hub config name for a task: letters, digits, ``-`` and ``_`` only. A name that had to
    change (other characters, or longer than :data:`MAX_CONFIG_CHARS`) gets a short hash of
    the real name, so two tasks never share a config ("a b" and "a/b" stay apart)."""
    clean = re.sub(r"[^A-Za-z0-9_-]+", "_", task).strip("_") or "task"
    if clean == task and len(clean) <= MAX_CONFIG_CHARS:
        return clean
    return f"{clean[:MAX_CONFIG_CHARS].rstrip('_-')}-{stable_hash(['config', task], 8)}"


def _int(value: Any) -> int | None:
    """An int64 value from a JSON number (bools, NaN, infinities and overflows: None)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return int(value) if -_INT64 <= value < _INT64 else None


def _intervals(raw: Any) -> list[list[int]]:
    out = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, (list, tuple)) and len(item) == 2:
            pair = [_int(item[0]), _int(item[1])]
            if None not in pair:
                out.append(pair)
    return out


def sample_row(run: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """One dataset row from a run and one of its sample records."""
    target = record.get("target") if isinstance(record.get("target"), dict) else {}
    error = record.get("error")
    parse_failed = bool(record.get("parse_failed"))
    length = target.get("length")
    offset = target.get("index_offset")
    latency = record.get("latency_s")
    return {
        "task": run["task"]["name"],
        "spec_id": row_key(run),
        "label": str(run.get("label") or run["model"]["name"]),
        "model": run["model"]["name"],
        "run_id": str(run.get("run_id") or ""),
        "sample_id": str(record.get("sample_id")),
        "input_hash": str(record.get("input_hash") or ""),
        "status": "failed" if error else ("parse failed" if parse_failed else "ok"),
        "text": record.get("text") if isinstance(record.get("text"), str) else None,
        "error": str(error) if error else None,
        "parse_failed": parse_failed,
        "parse_issues": [str(i) for i in record.get("parse_issues") or []] if isinstance(
            record.get("parse_issues"), list) else [],
        "intervals": _intervals(record.get("intervals")),
        "target_intervals": _intervals(target.get("intervals")),
        "target_length": _int(length) if isinstance(length, int) else None,
        "index_offset": _int(offset) if isinstance(offset, int) else None,
        "latency_s": float(latency) if _int(latency) is not None else None,
        "cached": bool(record.get("cached")),
        "metrics_json": _json(record.get("metrics")),
        "usage_json": _json(record.get("usage") or {}),
        "meta_json": _json(record.get("meta") or {}),
        "draws_json": _json(record.get("draws") or []),
    }


def _json(value: Any) -> str:
    """Strict JSON text (a NaN or infinity is written as null, as JSON has no such number)."""
    try:
        return json.dumps(value, allow_nan=False, default=str)
    except ValueError:
        return json.dumps(_no_nan(value), allow_nan=False, default=str)


def _no_nan(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _no_nan(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_no_nan(item) for item in value]
    return value


def _features() -> Any:
    from datasets import Features, Sequence, Value

    text, flag, num = Value("string"), Value("bool"), Value("float64")
    pairs = Sequence(Sequence(Value("int64")))
    return Features({
        "task": text, "spec_id": text, "label": text, "model": text, "run_id": text, "sample_id": text,
        "input_hash": text, "status": text, "text": text, "error": text, "parse_failed": flag,
        "parse_issues": Sequence(text), "intervals": pairs, "target_intervals": pairs,
        "target_length": Value("int64"), "index_offset": Value("int64"), "latency_s": num, "cached": flag,
        "metrics_json": text, "usage_json": text, "meta_json": text, "draws_json": text,
    })


def export_results(results_dir: str | Path, out_dir: str | Path, *, force: bool = False) -> Exported:
    """Write the dataset; return the rows per config and what was left out.

    A bad record (skipped by the scan, a sample line that cannot be read or made a row) is
    listed and left out; the others are exported. ``OUT`` must be empty, new, or an earlier
    export (its marker file), unless ``force``."""
    results, out = Path(results_dir), Path(out_dir)
    check_results(results, DATASET)
    datasets = import_extra("datasets", "hf", "exporting the results as a dataset")
    prepare_out(out, DATASET, force=force)
    runs, skipped = scan_runs(results)
    report = Exported(skipped=[item.message() for item in skipped])
    rows: dict[str, list[dict[str, Any]]] = {}
    tasks: dict[str, str] = {}
    for run, _older in select_newest(runs):
        source = f"{run[SOURCE_KEY]}/{SAMPLES_FILE}"
        records, problems = read_samples(results / source, results)
        report.skipped += [f"skipped {source}: {problem}" for problem in problems]
        config = config_name(run["task"]["name"])
        tasks[config] = run["task"]["name"]
        bucket = rows.setdefault(config, [])
        for record in records:
            try:
                bucket.append(sample_row(run, record))
            except (ValueError, TypeError, OverflowError, RecursionError) as exc:
                report.skipped.append(f"skipped {source} sample {str(record.get('sample_id'))[:200]}: "
                                      f"cannot be made a row ({type(exc).__name__}: {str(exc)[:200]})")
    if not rows:
        raise UsageError(f"no complete runs under {results}; {DATASET.untouched}")
    features = _features()
    try:
        for config in sorted(rows):
            dataset = datasets.Dataset.from_list(rows[config], features=features)
            (out / config).mkdir(parents=True, exist_ok=True)
            dataset.to_parquet(str(out / config / "train.parquet"))
            report.counts[config] = len(dataset)
        (out / "README.md").write_text(dataset_card(report.counts, tasks), encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write the dataset to {out}: {exc.strerror or exc}") from exc
    return report


def dataset_card(counts: dict[str, int], tasks: dict[str, str]) -> str:
    """README.md with the YAML ``configs`` block the Hub and ``load_dataset`` read."""
    lines = ["---", "configs:"]
    for config in sorted(counts):
        lines += [f"- config_name: {config}", "  data_files:", "  - split: train", f"    path: {config}/train.parquet"]
    lines += ["---", "", "# visanom per-sample results", "",
              "One row per sample of the newest complete run of each run spec, as built by "
              "`visanom leaderboard export`. Variable-shape fields are JSON text.", ""]
    lines += [f"- `{config}`: task `{json.dumps(tasks[config])[1:-1]}`, {counts[config]} rows" for config in sorted(counts)]
    return "\n".join(lines) + "\n"


UPLOAD_PATTERNS = ["README.md", "*/train.parquet"]
"""What a push uploads: the card and the configs' parquet files, never other files in ``--out``."""


def push_to_hub(folder: str | Path, repo: str, *, private: bool = True, token: str | None = None) -> str:
    """Create the dataset repo if needed and upload the exported dataset in ``folder`` (only
    :data:`UPLOAD_PATTERNS`: ``--out`` may be an existing folder holding other files); return the repo URL."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*", repo):
        raise UsageError(f"--push-to-hub expects OWNER/NAME, got {repo!r}")
    hub = import_extra("huggingface_hub", "hf", "pushing to the Hugging Face Hub")
    api = hub.HfApi(token=token)
    try:
        url = api.create_repo(repo_id=repo, repo_type="dataset", private=private, exist_ok=True)
        api.upload_folder(folder_path=str(folder), repo_id=repo, repo_type="dataset",
                          allow_patterns=UPLOAD_PATTERNS, commit_message="visanom leaderboard export")
    except OSError as exc:  # requests/httpx connection errors are OSErrors
        raise OutputError(f"cannot push to the Hugging Face Hub ({repo}): {exc}") from exc
    return str(url)
