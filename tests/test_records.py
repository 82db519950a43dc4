"""Sample records carry what a reader needs (target, input store, prompt, render settings,
raw answer, parse result and issues), and a leaderboard builds from a copied results folder
without importing tasks/."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from vab_tiny import SEGMENTS_SPEC, ScriptedModel, build_bench, segment_values

from harness.core.spec import slug
from harness.records.store import read_run
from harness.run.runner import Runner
from tasks.visanombench.task import VisAnomBenchTask

REPO = Path(__file__).resolve().parent.parent
TEXTS = {
    "kpi-a": "<anomaly>True</anomaly>\n<index>(1095, 1110)</index>\nStep 1: x from 1000 to 1299.",
    "gt-b": "Looking at the plot, the anomaly is between index 290 and 345.",
    "ucr-c": "<anomaly>False</anomaly>\nStep 1: nothing.",
    "ucr-d": "The plot is pretty.",
}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("records")
    bench = build_bench(root / "bench")
    out = root / "results"
    model = ScriptedModel(TEXTS)
    res = Runner(VisAnomBenchTask(data_dir=bench, workers=1), model, out, cache=None, progress=False).run()
    other = Runner(VisAnomBenchTask(data_dir=bench, workers=1), ScriptedModel(TEXTS, name="scripted-2"), out,
                   cache=None, progress=False).run()
    return {"out": out, "bench": bench, "res": res, "other": other, "seen": {s.id: s for s in model.seen}}


def _lines(path: Path) -> dict[str, dict]:
    return {r["sample_id"]: r for r in map(json.loads, (path / "samples.jsonl").read_text().splitlines())}


def test_sample_lines_carry_target_input_prompt_render_answer_and_parse(results: dict) -> None:
    out, seen = results["out"], results["seen"]
    lines = _lines(results["res"].path)
    assert set(lines) == {k for k, v in SEGMENTS_SPEC.items() if v[2] == "test"}
    for sid, r in lines.items():
        _, _, _, start, length, intervals, _ = SEGMENTS_SPEC[sid]
        assert r["target"] == {"intervals": [list(iv) for iv in intervals], "length": length, "index_offset": start}
        inp = r["input"]
        assert inp["index_offset"] == start and inp["prompt"] == seen[sid].prompt and "anomal" in inp["prompt"]
        assert inp["image"] == f"{slug('visanombench')}/inputs/{r['input_hash']}.png"
        assert (out / inp["image"]).read_bytes() == seen[sid].image
        np.testing.assert_array_equal(np.load(out / inp["series"]), segment_values(sid, start, length, intervals))
        assert inp["render"]["width_in"] == 10.0 and inp["render"]["dpi"] == 100 and "n_xticks" in inp["render"]
        assert r["text"] == TEXTS[sid] and len(r["draws"]) == 1 and r["draws"][0]["text"] == TEXTS[sid]
        assert r["draws"][0]["seed"] is None and r["draws"][0]["metrics"] == r["metrics"]
    assert lines["kpi-a"]["intervals"] == [[1095, 1110]] and not lines["kpi-a"]["parse_failed"]
    assert lines["ucr-d"]["parse_failed"] and lines["ucr-d"]["intervals"] == []
    assert isinstance(lines["gt-b"]["parse_issues"], list) and lines["gt-b"]["parse_issues"]
    assert lines["gt-b"]["parse_issues"] == lines["gt-b"]["pred_meta"]["parse_issues"]


def test_input_store_is_shared_and_written_once(results: dict) -> None:
    store = results["out"] / slug("visanombench") / "inputs"
    files = sorted(p.name for p in store.iterdir())
    assert len(files) == 8 and not [f for f in files if f.startswith(".")]  # 4 PNG + 4 npy, no temp files
    mine, other = _lines(results["res"].path), _lines(results["other"].path)
    assert {k: v["input"] for k, v in mine.items()} == {k: v["input"] for k, v in other.items()}


BLOCKED_BUILD = textwrap.dedent("""
    import json, sys
    from pathlib import Path

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("tasks", "baselines"):
                raise ImportError("blocked in this test: " + name)
            return None

    sys.meta_path.insert(0, Blocker())
    from harness.records.store import read_run
    from leaderboard.build import build_site

    results, site = Path(sys.argv[1]), Path(sys.argv[2])
    build_site(results, site)
    summary = json.loads((site / "summary.json").read_text())
    shown = []
    for run_json in sorted(results.rglob("run.json")):
        run = read_run(run_json)
        for line in (run_json.parent / "samples.jsonl").read_text().splitlines():
            rec = json.loads(line)
            png = (results / rec["input"]["image"]).read_bytes()
            npy = (results / rec["input"]["series"]).read_bytes()
            shown.append([run["label"], rec["sample_id"], png[:4].hex(), len(npy) > 0, rec["target"]["intervals"]])
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tasks", "baselines"))
    print(json.dumps({"rows": [r["label"] for t in summary["tasks"] for r in t["rows"]], "shown": shown,
                      "loaded": loaded}))
""")


def test_leaderboard_from_a_copied_results_folder_without_tasks(results: dict, tmp_path: Path) -> None:
    copy = shutil.copytree(results["out"], tmp_path / "elsewhere" / "results-copy")
    proc = subprocess.run([sys.executable, "-c", BLOCKED_BUILD, str(copy), str(tmp_path / "site")],
                          capture_output=True, text=True, cwd=tmp_path, env={"PYTHONPATH": str(REPO)}, timeout=300)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["loaded"] == []
    assert sorted(got["rows"]) == ["scripted", "scripted-2"]
    assert len(got["shown"]) == 8 and all(s[2] == "89504e47" and s[3] for s in got["shown"])
    assert ["scripted", "kpi-a", "89504e47", True, [[1100, 1119]]] in got["shown"]
    assert read_run(copy.joinpath(*results["res"].path.relative_to(results["out"]).parts, "run.json"))["label"]
