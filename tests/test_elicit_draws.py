"""Elicitation with several draws per segment: every draw is a candidate; ties go to the lower draw."""

from __future__ import annotations

import json
from pathlib import Path

from harness.cli.main import main


def test_every_draw_is_a_candidate(tmp_path: Path, srv, monkeypatch) -> None:
    def responder(image: str, prompt: str) -> str:
        return ("<anomaly>True</anomaly>\n<index>(100, 140)</index>\nStep 1: The x-axis represents the index, "
                "ranging from 0 to 4999. Step 2: a region around index 100 to 140 departs. Step 3: it is odd.")

    monkeypatch.setattr(srv, "answer", responder)
    out = tmp_path / "elicit"
    rc = main(["bench", "elicit", "--bench", "demo", "--split", "train", "--limit", "2", "--draws", "2",
               "--seed", "7", "--gen", "temperature=0.7", "--no-progress", "--no-cache", "--out", str(out),
               "--models", "openai-compat", "--model-args", f"base_url={srv.base_url}", "api_key=t",
               "model=scripted", "max_retries=0"])
    assert rc == 0
    seeds = sorted(r["body"].get("seed") for r in srv.requests)
    assert seeds == [7, 7, 8, 8]  # two draws per segment, each with its own seed
    assert main(["bench", "reward", str(out)]) == 0 and main(["bench", "select", str(out)]) == 0
    rows = [json.loads(x) for x in (out / "rewards.jsonl").read_text().splitlines()[1:]]
    assert sorted((r["sample_id"], r["draw"]) for r in rows) == sorted(
        (sid, d) for sid in {r["sample_id"] for r in rows} for d in (0, 1))
    sel = json.loads((out / "selection.json").read_text())
    assert len(sel["selected"]) == 2 and all(s["draw"] == 0 for s in sel["selected"])  # equal rewards: draw 0
