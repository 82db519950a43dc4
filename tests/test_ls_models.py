"""``visanom ls models``: name, group, engine and whether the model runs here now (and why not)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

import baselines.vllm_models  # noqa: F401  (registers vllm-vlm, which the vLLM cards use)
from harness.cli.main import cmd_ls, main
from harness.inference import availability as av
from harness.registry import lazy as registry
from harness.registry.lazy import Entry

SECRET = "sk-test-0123456789-do-not-print"


def ls_rows(capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """Run ``visanom ls models``; map each name to the rest of its line."""
    assert main(["ls", "models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "GROUP", "ENGINE", "RUNS", "HERE", "NOW"]
    width = lines[0].index("GROUP")
    return {line[:width].strip(): line[width:] for line in lines[1:]}


@pytest.fixture()
def fake_cards(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An API card, a transformers card on cached (local) weights and one on unreachable weights."""
    registry.model_names()  # load the built-ins first
    local = tmp_path / "tiny-weights"
    local.mkdir()
    cards = {
        "test-api-card": Entry("test-api-card", None, display={"group": "large VLM", "engine": "openai"}),
        "test-hf-local": Entry("test-hf-local", None, args={"model_id": str(local)},
                               display={"group": "small VLM", "engine": "transformers"}),
        "test-hf-remote": Entry("test-hf-remote", None, args={"model_id": "no-such-org/no-such-model-xyz"},
                                display={"group": "small VLM", "engine": "transformers"}),
    }
    for name, entry in cards.items():
        monkeypatch.setitem(registry._MODELS, name, entry)
    return local


@pytest.mark.detectors
def test_classical_detectors_run_here(capsys: pytest.CaptureFixture[str]) -> None:
    rows = ls_rows(capsys)
    for name in ("IForest", "Sub-PCA", "MatrixProfile", "IForest-500"):
        assert rows[name].split()[:2] == ["classical", "tsb-ad"]
        assert rows[name].rstrip().endswith("yes")


def test_vllm_cards_say_why_not(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(av, "has_module", lambda name: name != "vllm")
    rows = ls_rows(capsys)
    for name in ("VisAnomReasoner-7B-vllm", "VisAnomReasoner-3B-vllm", "Qwen2.5-VL-7B-vllm", "Qwen2.5-VL-3B-vllm"):
        assert " vllm " in rows[name]
        assert rows[name].split("  ")[-1].strip().startswith("no: vllm not installed")


def test_vllm_needs_a_gpu_then_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(av, "has_module", lambda name: True)
    monkeypatch.setattr(av, "cuda_available", lambda: False)
    assert av.model_availability("Qwen2.5-VL-3B-vllm") == (False, "no CUDA GPU visible (vLLM needs an NVIDIA GPU)")
    monkeypatch.setattr(av, "cuda_available", lambda: True)
    monkeypatch.setattr(av, "in_hf_cache", lambda repo, filename="config.json", revision=None: repo.startswith("Qwen/"))
    ok, reason = av.model_availability("VisAnomReasoner-3B-vllm")
    assert not ok and reason == "weights not in local cache; needs network (PLAN-Lab/VisAnomReasoner-3B)"
    assert av.model_availability("Qwen2.5-VL-3B-vllm") == (True, "")


def test_api_card_needs_its_key_variable(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                         fake_cards: Path) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert ls_rows(capsys)["test-api-card"].rstrip().endswith("no: OPENAI_API_KEY not set")
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    assert main(["ls", "models"]) == 0
    out = capsys.readouterr().out
    assert SECRET not in out
    (line,) = [x for x in out.splitlines() if x.startswith("test-api-card")]
    assert line.rstrip().endswith("yes")


def test_api_key_variable_from_card_or_provider() -> None:
    assert av.availability({"engine": "anthropic"})[1] in ("", "ANTHROPIC_API_KEY not set")
    assert av.availability({"engine": "openai", "key_env": "VISANOM_TEST_UNSET_KEY"}) == (
        False, "VISANOM_TEST_UNSET_KEY not set")
    assert av.availability({"engine": "openai"}, {"api_key_env": "VISANOM_TEST_UNSET_KEY"})[0] is False
    assert av.availability({"engine": "openai"}, {"api_key": "inline"}) == (True, "")


def test_transformers_cards_check_the_local_cache(capsys: pytest.CaptureFixture[str], fake_cards: Path) -> None:
    rows = ls_rows(capsys)
    assert rows["test-hf-local"].rstrip().endswith("yes")
    assert rows["test-hf-remote"].rstrip().endswith(
        "no: weights not in local cache; needs network (no-such-org/no-such-model-xyz)")


@pytest.mark.detectors
def test_requires_and_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert av.availability({"requires": ["json"]}) == (True, "")
    assert av.availability({"requires": ["no_such_module_xyz"]}) == (False, "missing module(s): no_such_module_xyz")
    assert av.availability({"group": "classical"}) == (True, "")
    assert cmd_ls(argparse.Namespace(what="models", json=True)) == 0
    rows: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    by_name = {r["name"]: r for r in rows}
    assert by_name["IForest"]["runs_here"] is True and by_name["IForest"]["group"] == "classical"
    assert by_name["Qwen2.5-VL-7B-vllm"]["engine"] == "vllm"
    assert set(by_name["LOF"]) == {"name", "group", "engine", "runs_here", "reason"}


def test_ls_and_building_a_detector_give_one_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    """``visanom ls models`` and the detector's constructor use the same check."""
    from baselines.tsbad.adapter import TsbAdDetector
    from harness.core.errors import UsageError

    monkeypatch.setattr(av, "has_module", lambda name: name != "momentfm")
    ok, reason = av.model_availability("MOMENT (ZS)")
    assert not ok and reason.startswith("missing module(s): momentfm; it also downloads AutonLab/MOMENT-1-large")
    with pytest.raises(UsageError) as err:
        TsbAdDetector("MOMENT (ZS)")
    assert str(err.value) == f"MOMENT (ZS) cannot run here: {reason}"
