"""``visanom run --judge MODEL``: each rationale graded with the judge template, judge named in run.json."""

from __future__ import annotations

import json
from pathlib import Path

from extras import requires

from harness.cli.main import main

API = requires("openai", extra="api")


@API
def test_run_with_judge_records_grades_and_the_judge(tmp_path: Path, srv, monkeypatch) -> None:
    asked: list[str] = []

    def responder(image: str, prompt: str) -> str:
        asked.append(prompt)
        assert image  # the judge sees the plot the answer was given for
        return "not a grade" if len(asked) == 1 else '{"grounded": 6, "axis": 10, "clarity": 8}'

    monkeypatch.setattr(srv, "answer", responder)
    out = tmp_path / "results"
    rc = main(["run", "--task", "visanombench-demo", "--model", "template-reasoner", "--limit", "3",
               "--no-progress", "--no-cache", "--output", str(out), "--judge", "openai-compat", "--judge-args",
               f"base_url={srv.base_url}", "api_key=test", "model=judge-vlm", "max_retries=0"])
    assert rc == 0
    run_dir = next(out.rglob("run.json")).parent
    run = json.loads((run_dir / "run.json").read_text())
    assert run["judge"]["model"] == "openai-compat" and run["judge"]["template"] == "judge"
    assert run["judge"]["n_judged"] == 3 and run["judge"]["n_unparsable"] == 1
    assert run["judge"]["args"]["model"] == "judge-vlm" and "api_key" not in run["judge"]["args"]  # no secrets
    assert run["metrics"]["judge-axis"]["value"] == 1.0 and run["metrics"]["judge-axis"]["n"] == 2
    assert run["metrics"]["judge-grounded"]["value"] == 0.6
    lines = [json.loads(x) for x in (run_dir / "judge.jsonl").read_text().splitlines()]
    assert sum(x["error"] is not None for x in lines) == 1
    assert all(p.startswith("You are grading") and "Step 1" in p for p in asked)
    assert run["counts"]["n"] == 3  # the run itself is untouched
    assert main(["leaderboard", "build", str(out), "--out", str(tmp_path / "site")]) == 0
    summary = json.loads((tmp_path / "site" / "summary.json").read_text())
    (row,) = [r for t in summary["tasks"] for r in t["rows"]]
    assert row["metrics"]["judge-axis"]["value"] == 1.0  # the judged means reach the leaderboard row
    assert row["judge"]["label"] == "openai-compat (judge-vlm)" and "judge-axis" in summary["tasks"][0]["reasoning"]
    assert summary["tasks"][0]["judges"] == ["openai-compat (judge-vlm)"]


def test_unknown_judge_is_refused_before_any_work(tmp_path: Path) -> None:
    rc = main(["run", "--task", "visanombench-demo", "--model", "template-reasoner", "--limit", "1",
               "--no-progress", "--no-cache", "--output", str(tmp_path / "r"), "--judge", "no-such-judge"])
    assert rc == 2 and not (tmp_path / "r").exists()


@API
def test_a_sweep_file_names_a_judge_per_group(tmp_path: Path, srv, monkeypatch) -> None:
    monkeypatch.setattr(srv, "answer", lambda image, prompt: '{"grounded": 8, "axis": 10, "clarity": 6}')
    sweep = tmp_path / "judged.yaml"
    sweep.write_text(json.dumps({"name": "judged", "limit": 2, "groups": [
        {"name": "graded", "tasks": ["visanombench-demo"], "models": ["template-reasoner"],
         "judge": "openai-compat", "judge_args": {"base_url": srv.base_url, "api_key": "test", "model": "judge-vlm",
                                                  "max_retries": 0}},
        {"name": "plain", "tasks": ["tsb-ad-u-demo-vlm"], "models": ["template-reasoner"]}]}))
    out = tmp_path / "results"
    assert main(["sweep", str(sweep), "--output", str(out), "--no-cache", "--no-progress", "--workers", "1"]) == 0
    runs = {json.loads(p.read_text())["task"]["name"]: json.loads(p.read_text()) for p in out.rglob("run.json")}
    graded, plain = runs["visanombench-demo"], runs["tsb-ad-u-demo-vlm"]
    assert graded["judge"]["model"] == "openai-compat" and graded["judge"]["n_judged"] == 2
    assert graded["metrics"]["judge-grounded"]["value"] == 0.8 and "api_key" not in graded["judge"]["args"]
    assert "judge" not in plain and "judge-grounded" not in plain["metrics"]
    # the judge is part of the recorded spec (so of the run id), without secrets
    assert graded["spec"]["judge"] == {"model": "openai-compat", "args": {"model": "judge-vlm", "max_retries": 0}}


def test_a_sweep_file_with_an_unknown_judge_stops_before_any_work(tmp_path: Path, capsys) -> None:
    sweep = tmp_path / "bad.yaml"
    sweep.write_text("name: bad\ngroups:\n  - name: g\n    tasks: [visanombench-demo]\n"
                     "    models: [template-reasoner]\n    judge: no-such-judge\n")
    rc = main(["sweep", str(sweep), "--output", str(tmp_path / "r"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and f"{sweep}:6" in err and "no-such-judge" in err, err
    assert not (tmp_path / "r").exists()
