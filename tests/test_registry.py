"""Registry: decorators, model cards, entry points, helpful errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import toy  # noqa: F401

from harness import registry
from harness.errors import UnknownNameError, UsageError


def test_builtin_names_are_registered() -> None:
    assert {"tsb-ad-u", "tsb-ad-u-demo"} <= set(registry.task_names())
    assert {"Sub-PCA", "IForest", "MatrixProfile", "KShapeAD", "POLY", "Series2Graph", "SAND", "Sub-KNN",
            "KMeansAD", "LOF", "CNN"} <= set(registry.model_names())


@pytest.mark.detectors
def test_model_card_overrides_adapter_args_and_keeps_its_name() -> None:
    model = registry.make_model("IForest-500")
    assert model.name == "IForest-500"
    assert model.hp["n_estimators"] == 500
    assert model.fingerprint() != registry.make_model("IForest").fingerprint()
    assert registry.make_model("IForest-500", n_estimators=50).hp["n_estimators"] == 50
    assert registry.describe_model("IForest-500")["adapter"] == "IForest"


def test_unknown_names_list_known_ones() -> None:
    with pytest.raises(UnknownNameError, match="known models: .*IForest"):
        registry.make_model("IForst")
    with pytest.raises(UnknownNameError, match="known tasks: .*tsb-ad-u"):
        registry.make_task("tsb-ad")


def test_bad_card_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "models.yaml"
    bad.write_text("models:\n  x:\n    args: {}\n")
    with pytest.raises(UsageError, match="model card 'x' has no 'adapter'"):
        registry.load_model_cards(bad)


def test_entry_point_plugins_are_discovered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "visanom_plugin_demo.py"
    pkg.write_text(
        "from harness.types import Prediction\n"
        "class Plugin:\n"
        "    name = 'plugin-model'\n"
        "    provides = frozenset({'scores'})\n"
        "    def __init__(self, level=1): self.level = level\n"
        "    def fingerprint(self): return f'plugin/{self.level}'\n"
        "    def predict(self, batch): return [Prediction(sample_id=s.id, scores=s.series * 0) for s in batch]\n"
    )
    dist = tmp_path / "visanom_plugin_demo-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: visanom-plugin-demo\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[visanom.models]\nplugin-model = visanom_plugin_demo:Plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_loaded", False)
    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))
    assert "plugin-model" in registry.model_names()
    model = registry.make_model("plugin-model", level=3)
    assert model.fingerprint() == "plugin/3"
    assert "visanom_plugin_demo" in sys.modules
