"""Sweep files: parsing, checks with file:line, planning (can-run-here and why not)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from baselines.catalog import MODEL_CARD_FILES
from baselines.tsbad.catalog import SPECS
from harness.core.errors import UsageError
from harness.environments.jobs import JobEnv
from harness.sweep.driver import api_cost, run_sweep
from harness.sweep.file import load_sweep, named_sweeps
from harness.sweep.plan import plan_sweep


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(path: Path) -> str:
    with pytest.raises(UsageError) as info:
        load_sweep(str(path))
    return str(info.value)


def test_matrix_and_pairs_expand_to_specs(tmp_path: Path) -> None:
    path = write(tmp_path, """
name: t
limit: 3
groups:
  - tasks: [tsb-ad-u-demo]
    models: [Sub-PCA, {name: IForest, args: {n_estimators: 50}}]
pairs:
  - {task: visanombench-demo, model: template-reasoner, limit: 2}
""")
    sweep = load_sweep(str(path))
    names = [j.name for j in sweep.jobs]
    assert names == ["tsb-ad-u-demo / Sub-PCA (limit=3)", "tsb-ad-u-demo / IForest (n_estimators=50, limit=3)",
                     "visanombench-demo / template-reasoner (limit=2)"]
    assert sweep.jobs[1].spec.model_args == {"n_estimators": 50}
    assert sweep.jobs[0].where == f"{path}:6"


@pytest.mark.parametrize(("text", "line", "words"), [
    ("groups:\n  - tasks: [tsb-ad-u-demo]\n    models: [Sub-PCA\n", 4, "YAML syntax error"),
    ("groups:\n  - tasks: [tsb-ad-u-demo]\n    models:\n      - Sub-PCA\n      - NoSuchModel\n", 5,
     "unknown model 'NoSuchModel'"),
    ("groups:\n  - tasks: [no-such-task]\n    models: [Sub-PCA]\n", 2, "unknown task 'no-such-task'"),
    ("groups:\n  - tasks: [tsb-ad-u-demo]\n    modles: [Sub-PCA]\n", 3, "unknown key 'modles'"),
    ("groups:\n  - tasks: [tsb-ad-u-demo]\n    models: [Sub-PCA]\n    limit: 0\n", 3, "limit must be"),
    ("groups:\n  - tasks: [tsb-ad-u-demo]\n    models: [Sub-PCA]\npairs:\n  - {task: tsb-ad-u-demo, model: Sub-PCA}\n",
     5, "duplicate job"),
    ("groups:\n  - tasks: [tsb-ad-u-demo]\n    models: [Sub-PCA]\ngroups: []\n", 4, "duplicate key 'groups'"),
    ("name: x\n", 1, "no jobs"),
    ("groups:\n  - tasks: [tsb-ad-u-demo]\n    models:\n      - IForest: {n_estimators: 5}\n", 4,
     "an item of 'models' is a name or a mapping with 'name'"),
])
def test_bad_files_name_the_file_and_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = write(tmp_path, text)
    msg = error_of(path)
    assert f"{path}:{line}:" in msg and words in msg


def test_bad_argument_is_caught_before_any_work(tmp_path: Path) -> None:
    path = write(tmp_path, "groups:\n  - tasks: [tsb-ad-u-demo]\n    models:\n      - {name: IForest, args: {no_such: 1}}\n")
    sweep = load_sweep(str(path))
    with pytest.raises(UsageError) as info:
        plan_sweep(sweep, tmp_path / "out")
    assert f"{path}:4:" in str(info.value) and "no_such" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_incompatible_pair_is_refused(tmp_path: Path) -> None:
    # the score view of TSB-AD-U cannot score a text-only answer
    path = write(tmp_path, "pairs:\n  - {task: tsb-ad-u-demo, model: GPT-4o}\n")
    with pytest.raises(UsageError) as info:
        plan_sweep(load_sweep(str(path)), tmp_path / "out")
    assert f"{path}:2:" in str(info.value) and "accepts" in str(info.value)


@pytest.mark.detectors  # expects Sub-PCA to be refused only for its data folder
def test_what_cannot_run_here_is_skipped_with_reasons(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("VISANOM_TSB_AD_U_DIR", raising=False)
    path = write(tmp_path, """
planned: {RecipeX: "recipe not built yet"}
pairs:
  - {task: visanombench-demo, model: GPT-4o}
  - {task: visanombench-demo, model: RecipeX}
  - {task: tsb-ad-u, model: Sub-PCA}
  - {task: visanombench-demo, model: template-reasoner, limit: 2}
""")
    planned = plan_sweep(load_sweep(str(path)), tmp_path / "out")
    reasons = {pj.job.spec.model + "@" + pj.job.spec.task: (pj.runnable, pj.reason) for pj in planned}
    assert reasons["GPT-4o@visanombench-demo"] == (False, "OPENAI_API_KEY not set")
    assert reasons["RecipeX@visanombench-demo"][0] is False
    assert "not registered yet: recipe not built yet" in reasons["RecipeX@visanombench-demo"][1]
    assert reasons["Sub-PCA@tsb-ad-u"][0] is False and "data folder" in reasons["Sub-PCA@tsb-ad-u"][1]
    assert reasons["template-reasoner@visanombench-demo"] == (True, "")
    kinds = {pj.job.spec.model: (pj.kind, pj.provider) for pj in planned}
    assert kinds["GPT-4o"] == ("api", "openai") and kinds["template-reasoner"] == ("cpu", None)


def test_missing_environment_is_a_skip_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import harness.sweep.plan as plan

    broken = JobEnv("gpu", "/nonexistent/.venv-gpu/bin/python", False,
                    "environment 'gpu' has no interpreter at /nonexistent/.venv-gpu/bin/python; create it with make setup-gpu")
    monkeypatch.setattr(plan, "env_for_model", lambda model, args=None: broken)
    path = write(tmp_path, "pairs:\n  - {task: visanombench-demo, model: template-reasoner, limit: 2}\n")
    (pj,) = plan_sweep(load_sweep(str(path)), tmp_path / "out")
    assert not pj.runnable and "'gpu'" in pj.reason and "make setup-gpu" in pj.reason


def test_dry_run_skips_exit_non_zero_and_write_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture) -> None:
    from harness.cli.main import main

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    path = write(tmp_path, "pairs:\n  - {task: visanombench-demo, model: GPT-4o}\n"
                           "  - {task: visanombench-demo, model: template-reasoner, limit: 2}\n")
    code = main(["sweep", str(path), "--dry-run", "--output", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 4
    assert "no: OPENAI_API_KEY not set" in out and "2 jobs: 1 can run here, 1 would be skipped" in out
    assert not (tmp_path / "out").exists()


def test_only_pattern_must_match(tmp_path: Path) -> None:
    sweep = load_sweep("demo")
    with pytest.raises(UsageError, match="matches no job"):
        run_sweep(sweep, output=tmp_path, only="nothing-like-this", dry_run=True, print_fn=lambda s: None)
    result = run_sweep(sweep, output=tmp_path, only="visanombench-demo / *", dry_run=True, print_fn=lambda s: None)
    assert [j.pj.job.spec.model for j in result.jobs] == ["template-reasoner", "Sub-PCA", "IForest", "MatrixProfile"]


def test_shipped_sweeps_load_and_paper_lists_every_row() -> None:
    assert set(named_sweeps()) >= {"demo", "paper", "tsb-ad-u"}
    demo = load_sweep("demo")
    assert len(demo.jobs) == 13
    paper = load_sweep("paper")
    vab = {j.spec.model for j in paper.jobs if j.spec.task == "visanombench"}
    assert vab == {"VisAnomReasoner-7B", "VisAnomReasoner-3B", "Grok-4-Fast", "Llama-4-Maverick", "Qwen2.5-VL-7B",
                   "Idefics3-8B", "SmolVLM", "LLaVA-1.5-7B", "TimesFM", "Chronos", "AnomLLM", "LLM-TSAD", "LLMAD",
                   "VLM4TS", "Sub-PCA", "MatrixProfile", "IForest"}
    transfer = {j.spec.model for j in paper.jobs if j.spec.task == "tsb-ad-u-vlm"}
    assert transfer == {"VisAnomReasoner-7B", "VisAnomReasoner-3B", "Qwen2.5-VL-7B"}
    # the paper's decoding: greedy with up to 1024 new tokens (more for reasoning API models), from the cards
    cards = yaml.safe_load(MODEL_CARD_FILES[0].read_text())["models"]
    for job in paper.jobs:
        card = cards.get(job.spec.model)
        if card and "max_new_tokens" in card.get("args", {}):
            assert card["args"].get("temperature", 0.0) == 0.0
            assert card["args"]["max_new_tokens"] >= 1024
    tsb = load_sweep("tsb-ad-u")
    assert {j.spec.model for j in tsb.jobs} == {s.name for s in SPECS if s.on_leaderboard}
    assert {j.spec.task for j in tsb.jobs} == {"tsb-ad-u"}


def test_api_cost_from_card_prices() -> None:
    run = {"usage": {"prompt_tokens": 2_000_000, "completion_tokens": 100_000}}
    assert api_cost(run, {"price_per_mtok_in": 2.5, "price_per_mtok_out": 10.0}) == pytest.approx(6.0)
    assert api_cost(run, {}) is None


def test_a_binary_sweep_file_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(b"\xff\xfe groups: []\n")
    with pytest.raises(UsageError, match=r"s\.yaml: not a UTF-8 text file"):
        load_sweep(str(path))


@pytest.mark.parametrize("workers", ["0", "-2"])
def test_workers_below_one_is_a_usage_error(workers: str, capsys: pytest.CaptureFixture) -> None:
    from harness.cli.main import main

    assert main(["sweep", "demo", "--dry-run", "--workers", workers]) == 2
    assert f"--workers must be at least 1, got {workers}" in capsys.readouterr().err
