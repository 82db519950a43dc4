"""Candidates of an elicitation folder: reward each (optionally with a judge), keep the best per segment.

* :func:`collect_candidates` reads every draw of every run listed in ``elicit.json``.
* :func:`reward_candidates` scores them (:mod:`harness.curate.reward`; a judge via :mod:`harness.scoring.judge`)
  and writes ``rewards.jsonl`` in the folder.
* :func:`select` keeps one candidate per segment: the highest reward among ELIGIBLE ones
  (parsed, with a rationale, model did not fail). Ties go to the higher accuracy term, then
  the model name (alphabetical), then the lower draw index: deterministic.
* Rule for a segment where NO candidate is eligible: it is DROPPED from the export and listed
  in ``selection.json`` under ``dropped`` with every candidate's reason (a training example
  without a rationale would teach the answer format alone).
* :func:`sensitivity` re-selects with each weight set to 0, halved and doubled and reports how
  many segments change their chosen candidate.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.errors import UsageError
from harness.core.files import atomic_write_bytes
from harness.curate.elicit import read_elicit
from harness.curate.reward import (
    DEFAULT_WEIGHTS,
    REWARD_VERSION,
    TERMS,
    RewardWeights,
    Scored,
    rescore,
    score_candidate,
)
from harness.records.store import dumps, inside
from harness.scoring.judge import JudgeItem, JudgeTemplate, judge_items, load_judge_template, model_name

REWARDS_FILE = "rewards.jsonl"
SELECTION_FILE = "selection.json"
SENSITIVITY_FACTORS = (0.0, 0.5, 2.0)


@dataclass
class Candidate:
    """One draw of one model on one segment, with what the reward and the export need."""

    key: str
    sample_id: str
    model: str
    label: str
    spec_id: str
    run: str
    draw: int
    text: str | None
    error: str | None
    parse_failed: bool
    window: tuple[int, int] | None
    truth: list[tuple[int, int]]
    image: str | None
    prompt: str | None
    meta: dict[str, Any] = field(default_factory=dict)
    scored: Scored | None = None
    judge: dict[str, Any] | None = None


def _window(rec: Mapping[str, Any]) -> tuple[int, int] | None:
    target = rec.get("target")
    if not target:
        return None
    start = int(target.get("index_offset") or 0)
    return start, start + int(target["length"]) - 1


def collect_candidates(folder: str | Path) -> list[Candidate]:
    """Every draw of every elicited run (in ``elicit.json`` order, then segment, then draw)."""
    folder = Path(folder)
    info = read_elicit(folder)
    out: list[Candidate] = []
    for row in info["runs"]:
        run_dir = inside(folder, folder / row["path"])
        samples = run_dir / "samples.jsonl"
        if not samples.is_file():
            raise UsageError(f"{run_dir} has no samples.jsonl: re-run `visanom bench elicit` to finish it")
        for line in samples.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            rec = json.loads(line)
            inp = rec.get("input") or {}
            truth = [(int(a), int(b)) for a, b in (rec.get("target") or {}).get("intervals", [])]
            for i, d in enumerate(rec.get("draws") or [rec]):
                draw = int(d.get("draw", i))
                sid = str(rec["sample_id"])
                out.append(Candidate(
                    key=f"{sid}|{row['model']}|{draw}", sample_id=sid, model=row["model"], label=row["label"],
                    spec_id=row["spec_id"], run=row["path"], draw=draw, text=d.get("text"), error=d.get("error"),
                    parse_failed=bool(d.get("parse_failed")), window=_window(rec), truth=truth,
                    image=inp.get("image"), prompt=inp.get("prompt"), meta=dict(rec.get("meta") or {}),
                ))
    return out


def image_path(folder: Path, rel: str | None) -> Path | None:
    """The stored plot of a candidate (inside the folder's results root), or None."""
    if not rel:
        return None
    root = folder / read_elicit(folder).get("results_root", "runs")
    return inside(root, root / rel)


def _judge_all(folder: Path, cands: Sequence[Candidate], judge: Any, template: JudgeTemplate) -> None:
    items = []
    for c in cands:
        if c.error or not c.text or c.window is None:
            continue
        path = image_path(folder, c.image)
        png = path.read_bytes() if path is not None and path.is_file() else None
        items.append(JudgeItem(c.key, png, c.prompt or "", c.text, c.window[0], c.window[1]))
    found = judge_items(judge, items, template)
    for c in cands:
        if c.key in found:
            c.judge = found[c.key].as_record()


def score_all(cands: Iterable[Candidate], weights: RewardWeights = DEFAULT_WEIGHTS) -> None:
    """Set ``scored`` of every candidate (judge grades used where they parsed)."""
    for c in cands:
        if c.window is None:
            c.scored = score_candidate(None, (0, 0), [], error=c.error or "segment could not be loaded",
                                       weights=weights)
            continue
        grades = (c.judge or {}).get("grades")
        c.scored = score_candidate(c.text, c.window, c.truth, error=c.error, judge=grades, weights=weights)


def reward_candidates(folder: str | Path, *, weights: RewardWeights = DEFAULT_WEIGHTS, judge: Any = None,
                      judge_template: str = "judge", echo: Callable[[str], None] | None = print) -> list[Candidate]:
    """Score every candidate of the folder and write ``rewards.jsonl``; returns the candidates."""
    folder = Path(folder)
    cands = collect_candidates(folder)
    template = load_judge_template(judge_template)
    if judge is not None:
        _judge_all(folder, cands, judge, template)
    score_all(cands, weights)
    lines = []
    for c in cands:
        assert c.scored is not None
        lines.append(dumps({"key": c.key, "sample_id": c.sample_id, "model": c.model, "label": c.label,
                            "spec_id": c.spec_id, "run": c.run, "draw": c.draw, **c.scored.as_record(),
                            "judge_reply": c.judge}))
    header = {"reward": REWARD_VERSION, "weights": weights.as_dict(),
              "judge": None if judge is None else {"model": model_name(judge), "template": template.name,
                                                   "template_hash": template.source_hash}}
    atomic_write_bytes(folder / REWARDS_FILE, ("\n".join([dumps({"header": header}), *lines]) + "\n").encode())
    if echo is not None:
        n_ok = sum(c.scored.eligible for c in cands if c.scored)
        unjudged = sum(1 for c in cands if c.judge and c.judge.get("error"))
        echo(f"{len(cands)} candidates scored, {n_ok} eligible"
             + (f"; judge {model_name(judge)}: {unjudged} repl(y/ies) unparsable or failed, those keep the "
                "rule-based reward" if judge is not None else "")
             + f" -> {folder / REWARDS_FILE}")
    return cands


def read_rewards(folder: str | Path) -> tuple[dict[str, Any], list[Candidate]]:
    """The header of ``rewards.jsonl`` and the candidates with their scores."""
    folder = Path(folder)
    path = folder / REWARDS_FILE
    if not path.is_file():
        raise UsageError(f"{folder} holds no {REWARDS_FILE}: run `visanom bench reward {folder}` first")
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    header, rows = lines[0]["header"], {r["key"]: r for r in lines[1:]}
    cands = collect_candidates(folder)
    for c in cands:
        r = rows.get(c.key)
        if r is None:
            raise UsageError(f"{path} lacks candidate {c.key}: run `visanom bench reward {folder}` again")
        c.scored = Scored(r["eligible"], r["reason"], r["rule"], r["judge"], r["terms"], r["reward"])
        c.judge = r.get("judge_reply")
    return header, cands


def _rank_key(c: Candidate) -> tuple[float, float, str, int]:
    assert c.scored is not None
    return (-c.scored.reward, -c.scored.terms.get("accuracy", 0.0), c.model, c.draw)


def select(cands: Sequence[Candidate]) -> tuple[dict[str, Candidate], dict[str, list[dict[str, Any]]]]:
    """Best eligible candidate per segment, and the dropped segments with each candidate's reason."""
    by_sample: dict[str, list[Candidate]] = {}
    for c in cands:
        by_sample.setdefault(c.sample_id, []).append(c)
    chosen: dict[str, Candidate] = {}
    dropped: dict[str, list[dict[str, Any]]] = {}
    for sid, group in by_sample.items():
        ok = [c for c in group if c.scored is not None and c.scored.eligible]
        if ok:
            chosen[sid] = min(ok, key=_rank_key)
        else:
            dropped[sid] = [{"model": c.model, "draw": c.draw, "reason": c.scored.reason if c.scored else "unscored"}
                            for c in group]
    return chosen, dropped


def sensitivity(cands: Sequence[Candidate], weights: RewardWeights,
                factors: Sequence[float] = SENSITIVITY_FACTORS) -> list[dict[str, Any]]:
    """How many segments change their chosen candidate when one weight is scaled by each factor."""
    base, _ = select(cands)
    rows = []
    for term in TERMS:
        for f in factors:
            values = {t: getattr(weights, t) for t in TERMS}
            values[term] = values[term] * f
            if sum(values.values()) <= 0:
                continue
            w = RewardWeights(**values, judge_share=weights.judge_share)
            moved = [Candidate(**{**c.__dict__, "scored": rescore(c.scored, w) if c.scored else None})
                     for c in cands]
            chosen, _ = select(moved)
            changed = sorted(s for s in base if chosen.get(s) is None or chosen[s].key != base[s].key)
            models: dict[str, int] = {}
            for c in chosen.values():
                models[c.model] = models.get(c.model, 0) + 1
            rows.append({"term": term, "factor": f, "weight": values[term], "changed": len(changed),
                         "of": len(base), "changed_segments": changed, "chosen_by_model": models})
    return rows


def format_sensitivity(rows: Sequence[Mapping[str, Any]]) -> str:
    """The sensitivity table."""
    lines = [f"{'term':10s} {'factor':>6s} {'weight':>7s} {'changed':>8s}  chosen by model"]
    for r in rows:
        models = ", ".join(f"{m}={n}" for m, n in sorted(r["chosen_by_model"].items()))
        lines.append(f"{r['term']:10s} {r['factor']:6.1f} {r['weight']:7.3f} {r['changed']:4d}/{r['of']:<3d}  {models}")
    return "\n".join(lines)


def select_folder(folder: str | Path, *, weights: RewardWeights | None = None,
                  echo: Callable[[str], None] | None = print) -> dict[str, Any]:
    """Select from ``rewards.jsonl`` (re-weighted when ``weights`` is given, no re-judging) and
    write ``selection.json`` with the sensitivity report; returns its content."""
    folder = Path(folder)
    header, cands = read_rewards(folder)
    weights = weights or RewardWeights(**header["weights"])
    for c in cands:
        if c.scored is not None:
            c.scored = rescore(c.scored, weights)
    chosen, dropped = select(cands)
    sens = sensitivity(cands, weights)
    record = {
        "schema": "visanom.selection/1", "reward": REWARD_VERSION, "weights": weights.as_dict(),
        "judge": header.get("judge"),
        "rule_all_failed": "dropped: a segment without an eligible candidate is not exported",
        "selected": [{"sample_id": sid, "key": c.key, "model": c.model, "label": c.label, "spec_id": c.spec_id,
                      "run": c.run, "draw": c.draw, "reward": c.scored.reward if c.scored else None,
                      "terms": c.scored.terms if c.scored else None}
                     for sid, c in sorted(chosen.items())],
        "dropped": [{"sample_id": sid, "candidates": why} for sid, why in sorted(dropped.items())],
        "sensitivity": sens,
    }
    atomic_write_bytes(folder / SELECTION_FILE, dumps(record, indent=1).encode())
    if echo is not None:
        counts: dict[str, int] = {}
        for c in chosen.values():
            counts[c.model] = counts.get(c.model, 0) + 1
        echo(f"selected {len(chosen)} segment(s) ({', '.join(f'{m}={n}' for m, n in sorted(counts.items()))}); "
             f"dropped {len(dropped)} (no eligible candidate)")
        for sid, why in sorted(dropped.items()):
            echo(f"  dropped {sid}: " + "; ".join(f"{w['model']}#{w['draw']}: {w['reason']}" for w in why))
        echo("sensitivity (segments whose choice changes when one weight is scaled):")
        echo(format_sensitivity(sens))
        echo(f"-> {folder / SELECTION_FILE}")
    return record
