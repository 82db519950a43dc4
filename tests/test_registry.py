"""Registry: decorators, model cards, entry points, helpful errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import toy  # noqa: F401

from harness.core.errors import UnknownNameError, UsageError
from harness.registry import lazy as registry


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
        "from harness.core.types import Prediction\n"
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


HEAVY = ("TSB_AD", "torch", "transformers", "matplotlib", "baselines.classical", "baselines.tsbad.adapter",
         "tasks.tsb_ad_u.task", "tasks.tsb_ad_u.vlm_view", "tasks.visanombench.task", "harness.render.plot")


def test_listing_tasks_and_help_import_nothing_heavy() -> None:
    """``visanom ls tasks`` and ``--help`` import no task, detector, tsb-ad, torch or plotting code."""
    import os
    import subprocess

    code = (
        "import contextlib, io, sys\n"
        "import harness.registry.lazy, harness.cli.main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    assert harness.cli.main.main(['ls', 'tasks']) == 0\n"
        "    try:\n"
        "        harness.cli.main.main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "assert 'tsb-ad-u-demo' in out.getvalue() and 'usage: visanom' in out.getvalue()\n"
        "assert len(harness.registry.lazy.model_names()) > 40\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    root = Path(__file__).resolve().parent.parent
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root,
                         env={**os.environ, "PYTHONPATH": str(root)}, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == ""


@pytest.mark.detectors
def test_a_name_is_imported_on_use_only() -> None:
    entry = registry.model_entry("Sub-PCA")
    assert entry.ref == "baselines.classical:make_Sub_PCA" and entry.source.startswith("plugin baselines.catalog")
    assert registry.task_entry("tsb-ad-u-demo").ref == "tasks.tsb_ad_u.task:tsb_ad_u_demo"
    model = registry.make_model("Sub-PCA")
    assert entry.factory is not None and model.name == "Sub-PCA"


def test_a_decorated_name_registered_twice_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))

    @registry.register_model("test-twice")
    def first() -> None: ...

    def second() -> None: ...

    with pytest.raises(UsageError, match=r"'test-twice' is registered twice: by .*first and by .*second"):
        registry.register_model("test-twice")(second)
    registry.register_model("test-twice")(first)  # the same object again is the same registration
    with pytest.raises(UsageError, match="'IForest' is registered twice: by plugin baselines.catalog"):
        registry.register_model("IForest")(second)


class _Dist:
    def __init__(self, name: str) -> None:
        self.metadata = {"Name": name}
        self.version = "1.0"


class _EP:
    def __init__(self, name: str, value: str, group: str, dist: str) -> None:
        self.name, self.value, self.group, self.dist = name, value, group, _Dist(dist)


def _fake_entry_points(monkeypatch: pytest.MonkeyPatch, eps: list[_EP]) -> None:
    """Entry points ``eps`` beside the real plugin entry points (visanom's built-ins)."""
    real = registry.metadata.entry_points
    monkeypatch.setattr(registry.metadata, "entry_points", lambda group=None: [
        *(real(group=group) if group == registry.PLUGIN_GROUP else []), *(e for e in eps if e.group == group)])
    monkeypatch.setattr(registry, "_PLUGINS", {})
    monkeypatch.setattr(registry, "_loaded", False)
    monkeypatch.setattr(registry, "_MODELS", {})
    monkeypatch.setattr(registry, "_TASKS", {})


def test_an_entry_point_clashing_with_a_builtin_is_refused_before_any_work(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_entry_points(monkeypatch, [_EP("tsb-ad-u-demo", "evil_pkg.tasks:Demo", "visanom.tasks", "evil-pkg")])
    with pytest.raises(UsageError) as err:
        registry.task_names()
    msg = str(err.value)
    assert "task name 'tsb-ad-u-demo' is registered twice" in msg
    assert "plugin tasks.catalog: tasks.tsb_ad_u.task:tsb_ad_u_demo" in msg and "evil-pkg 1.0" in msg
    assert "evil_pkg" not in sys.modules  # refused at load, nothing imported or run
    with pytest.raises(UsageError, match="registered twice"):  # and again, not half-loaded
        registry.make_task("tsb-ad-u-demo")


def test_two_packages_registering_one_name_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_entry_points(monkeypatch, [_EP("shared-name", "pkg_a:Model", "visanom.models", "pkg-a"),
                                     _EP("shared-name", "pkg_b:Model", "visanom.models", "pkg-b")])
    with pytest.raises(UsageError, match=r"'shared-name' is registered twice: by entry point .*pkg-a 1\.0 "
                                         r"and by entry point .*pkg-b 1\.0"):
        registry.model_names()


def test_an_entry_point_with_the_builtin_reference_is_the_same_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """This distribution declaring its own built-ins as entry points is not a clash."""
    _fake_entry_points(monkeypatch, [_EP("Sub-PCA", "baselines.classical:make_Sub_PCA", "visanom.models",
                                         "visanom")])
    assert "Sub-PCA" in registry.model_names()


def test_a_card_named_like_an_adapter_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cards = tmp_path / "models.yaml"
    cards.write_text("models:\n  IForest:\n    adapter: Sub-PCA\n")
    plugin = tmp_path / "cards_plugin.py"
    plugin.write_text(f"MODEL_CARD_FILES = ({str(cards)!r},)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(registry.PLUGINS_ENV, "cards_plugin")
    monkeypatch.setattr(registry, "_PLUGINS", {})
    monkeypatch.setattr(registry, "_loaded", False)
    monkeypatch.setattr(registry, "_MODELS", {})
    monkeypatch.setattr(registry, "_TASKS", {})
    with pytest.raises(UsageError, match=r"model name 'IForest' is registered twice: by "
                                         r"plugin baselines\.catalog: baselines\.classical:make_IForest and by model card 'IForest'"):
        registry.model_names()


def test_listing_models_imports_no_detector_or_tsb_ad() -> None:
    """``visanom ls models`` tells availability from metadata: no detector module, no tsb-ad."""
    import os
    import subprocess

    code = (
        "import contextlib, io, sys\n"
        "import harness.cli.main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    assert harness.cli.main.main(['ls', 'models']) == 0\n"
        "assert 'Sub-PCA' in out.getvalue()\n"
        "print(','.join(m for m in ('TSB_AD', 'baselines.classical', 'baselines.tsbad.adapter', 'matplotlib',\n"
        "                           'transformers', 'tasks.tsb_ad_u.task') if m in sys.modules))\n"
    )
    root = Path(__file__).resolve().parent.parent
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root,
                         env={**os.environ, "PYTHONPATH": str(root)}, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == ""
