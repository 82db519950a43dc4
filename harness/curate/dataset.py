"""Export the selected rationales as a Hugging Face ``datasets`` dataset ready for fine-tuning.

One row per selected segment (dropped segments are not exported; see
:mod:`harness.curate.selection`): ``image`` (the exact plot the model saw), ``messages`` (a user
turn with the image and the question, an assistant turn with the chosen answer, verbatim),
``intervals`` (the segment's true intervals, absolute inclusive), ``window`` and provenance
of the chosen rationale (model, run label, spec id, run folder, draw, reward and its terms,
the weights and the judge). Written with ``save_to_disk`` into a temporary folder next to
``out`` and renamed into place, so a crash leaves no half dataset; an existing ``out`` is
refused unless ``overwrite``, and ``overwrite`` replaces only an earlier export (a folder with
``visanom_export.json``), never another folder. ``push_to_hub`` uploads the same dataset (needs network and a token).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.core.errors import DataError, OutputError, UsageError
from harness.core.files import make_temp_dir, read_json
from harness.curate.selection import SELECTION_FILE, collect_candidates, image_path

EXPORT_INFO = "visanom_export.json"


def features() -> Any:
    """The dataset's ``datasets.Features``."""
    from datasets import Features, Image, Value

    # ``[feature]`` is a list in every datasets version our pin allows (3.x and 4.0)
    part = {"type": Value("string"), "text": Value("string")}
    return Features({
        "image": Image(),
        "messages": [{"role": Value("string"), "content": [part]}],
        "intervals": [[Value("int64")]],
        "window": [Value("int64")],
        "sample_id": Value("string"),
        "source": Value("string"),
        "domain": Value("string"),
        "provenance": {
            "model": Value("string"), "label": Value("string"), "spec_id": Value("string"), "run": Value("string"),
            "draw": Value("int64"), "reward": Value("float64"), "terms": Value("string"), "weights": Value("string"),
            "judge": Value("string"),
        },
    })


def chat_messages(prompt: str, answer: str) -> list[dict[str, Any]]:
    """The conversation of one example: user (image + question), assistant (answer)."""
    return [
        {"role": "user", "content": [{"type": "image", "text": None}, {"type": "text", "text": prompt}]},
        {"role": "assistant", "content": [{"type": "text", "text": answer}]},
    ]


def _rows(folder: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    sel_path = folder / SELECTION_FILE
    if not sel_path.is_file():
        raise UsageError(f"{folder} holds no {SELECTION_FILE}: run `visanom bench select {folder}` first")
    selection = read_json(sel_path, "selection")
    if not isinstance(selection, dict) or not isinstance(selection.get("selected"), list):
        raise DataError(f"{sel_path}: not a visanom selection (no 'selected' list); "
                        f"run `visanom bench select {folder}` again")
    cands = {c.key: c for c in collect_candidates(folder)}
    rows, missing = [], []
    for s in selection["selected"]:
        c = cands.get(s["key"])
        img = image_path(folder, c.image) if c is not None else None
        if c is None or c.window is None or img is None or not img.is_file() or not c.text:
            missing.append(s["sample_id"])
            continue
        rows.append({
            "image": {"bytes": img.read_bytes(), "path": None},
            "messages": chat_messages(c.prompt or "", c.text.strip()),
            "intervals": [[a, b] for a, b in c.truth],
            "window": list(c.window),
            "sample_id": c.sample_id,
            "source": str(c.meta.get("source", "")),
            "domain": str(c.meta.get("domain", "")),
            "provenance": {"model": c.model, "label": c.label, "spec_id": c.spec_id, "run": c.run, "draw": c.draw,
                           "reward": float(s["reward"]), "terms": json.dumps(s["terms"], sort_keys=True),
                           "weights": json.dumps(selection["weights"], sort_keys=True),
                           "judge": json.dumps(selection.get("judge"))},
        })
    if missing:
        raise UsageError(f"{len(missing)} selected candidate(s) lost their run record or plot ({', '.join(missing[:5])}); "
                         f"run `visanom bench elicit` again to restore them, then reward and select")
    return rows, selection


def export_dataset(folder: str | Path, out: str | Path, *, overwrite: bool = False,
                   echo: Callable[[str], None] | None = print) -> Path:
    """Write the dataset of ``folder``'s selection to ``out`` (see the module docstring)."""
    from datasets import Dataset

    folder, out = Path(folder), Path(out)
    if out.exists() and not overwrite:
        raise UsageError(f"export folder {out} exists; pass --overwrite to replace it (nothing was written)")
    if out.exists() and not (out / EXPORT_INFO).is_file():
        raise UsageError(f"export folder {out} exists and is not a visanom export (no {EXPORT_INFO}); "
                         "--overwrite only replaces an earlier export (nothing was written)")
    rows, selection = _rows(folder)
    if not rows:
        raise UsageError(f"{folder}: no selected segment to export ({len(selection['dropped'])} dropped)")
    ds = Dataset.from_list(rows, features=features())
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(out.parent, f".{out.name}.")
    try:
        ds.save_to_disk(str(tmp / "data"))
        info = {"schema": "visanom.export/1", "elicit": str(folder.resolve()), "rows": len(rows),
                "dropped": [d["sample_id"] for d in selection["dropped"]], "weights": selection["weights"],
                "judge": selection.get("judge")}
        (tmp / "data" / EXPORT_INFO).write_text(json.dumps(info, indent=1), encoding="utf-8")
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(out, old)
            os.replace(tmp / "data", out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp / "data", out)
    except OSError as exc:
        raise OutputError(f"cannot write the dataset to {out}: {exc}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if echo is not None:
        echo(f"exported {len(rows)} example(s) to {out} ({len(selection['dropped'])} segment(s) dropped); "
             f"reload with datasets.load_from_disk({str(out)!r})")
    return out


def push_dataset(path: str | Path, repo_id: str, *, private: bool = True, token: str | None = None) -> str:
    """Upload an exported dataset to the hub (``repo_id`` = ``user/name``); errors name the repo,
    and the local copy is kept whatever happens."""
    from datasets import load_from_disk

    ds = load_from_disk(str(path))
    try:
        ds.push_to_hub(repo_id, private=private, token=token)
    except Exception as exc:  # network, auth, repo name: all become one clear message
        raise OutputError(f"push_to_hub({repo_id!r}) failed: {type(exc).__name__}: {exc}; the dataset is kept "
                          f"in {path}") from exc
    return f"https://huggingface.co/datasets/{repo_id}"
