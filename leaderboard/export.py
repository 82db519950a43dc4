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
import re
from pathlib import Path
from typing import Any

from harness.core.errors import OutputError, UsageError
from harness.records.store import SAMPLES_FILE
from leaderboard.build import check_results, prepare_out
from leaderboard.records import SOURCE_KEY, read_samples, scan_runs
from leaderboard.summary import row_key, select_newest

COLUMNS = (
    "task", "spec_id", "label", "model", "run_id", "sample_id", "input_hash", "status", "text", "error",
    "parse_failed", "parse_issues", "intervals", "target_intervals", "target_length", "index_offset",
    "latency_s", "cached", "metrics_json", "usage_json", "meta_json", "draws_json",
)


def config_name(task: str) -> str:
    """A Hub config name for a task: letters, digits, ``-`` and ``_`` only."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", task).strip("_") or "task"


def _intervals(raw: Any) -> list[list[int]]:
    out = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, (list, tuple)) and len(item) == 2 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in item
        ):
            out.append([int(item[0]), int(item[1])])
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
        "target_length": int(length) if isinstance(length, int) else None,
        "index_offset": int(offset) if isinstance(offset, int) else None,
        "latency_s": float(latency) if isinstance(latency, (int, float)) and not isinstance(latency, bool) else None,
        "cached": bool(record.get("cached")),
        "metrics_json": json.dumps(record.get("metrics"), allow_nan=False, default=str),
        "usage_json": json.dumps(record.get("usage") or {}, default=str),
        "meta_json": json.dumps(record.get("meta") or {}, default=str),
        "draws_json": json.dumps(record.get("draws") or [], default=str),
    }


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


def export_results(results_dir: str | Path, out_dir: str | Path) -> dict[str, int]:
    """Write the dataset; return the number of rows per config."""
    from datasets import Dataset

    results, out = Path(results_dir), Path(out_dir)
    check_results(results)
    prepare_out(out)
    runs, _skipped = scan_runs(results)
    rows: dict[str, list[dict[str, Any]]] = {}
    tasks: dict[str, str] = {}
    for run, _older in select_newest(runs):
        records, _problems = read_samples(results / run[SOURCE_KEY] / SAMPLES_FILE)
        config = config_name(run["task"]["name"])
        tasks[config] = run["task"]["name"]
        rows.setdefault(config, []).extend(sample_row(run, record) for record in records)
    if not rows:
        raise UsageError(f"no complete runs under {results}; nothing to export")
    features = _features()
    counts = {}
    try:
        for config in sorted(rows):
            dataset = Dataset.from_list(rows[config], features=features)
            (out / config).mkdir(parents=True, exist_ok=True)
            dataset.to_parquet(str(out / config / "train.parquet"))
            counts[config] = len(dataset)
        (out / "README.md").write_text(dataset_card(counts, tasks), encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write the dataset to {out}: {exc.strerror or exc}") from exc
    return counts


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
    from huggingface_hub import HfApi

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*", repo):
        raise UsageError(f"--push-to-hub expects OWNER/NAME, got {repo!r}")
    api = HfApi(token=token)
    try:
        url = api.create_repo(repo_id=repo, repo_type="dataset", private=private, exist_ok=True)
        api.upload_folder(folder_path=str(folder), repo_id=repo, repo_type="dataset",
                          allow_patterns=UPLOAD_PATTERNS, commit_message="visanom leaderboard export")
    except OSError as exc:  # requests/httpx connection errors are OSErrors
        raise OutputError(f"cannot push to the Hugging Face Hub ({repo}): {exc}") from exc
    return str(url)
