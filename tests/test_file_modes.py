"""Files visanom writes follow the process umask (0644 / 0755 under umask 022), so a results
folder on a shared disk and a site served by another user are readable."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import toy  # noqa: F401  (registers the toy task and models)

from harness import registry
from harness.core.files import atomic_write_bytes, make_temp_dir
from harness.run.cache import PredictionCache
from harness.run.runner import Runner
from leaderboard.build import build


@pytest.fixture()
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode) for p in root.rglob("*")}


def test_atomic_writes_and_temp_folders_follow_the_umask(tmp_path: Path, umask_022: None) -> None:
    atomic_write_bytes(tmp_path / "a.json", b"{}")
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o644
    assert stat.S_IMODE(make_temp_dir(tmp_path, ".x").stat().st_mode) == 0o755
    os.umask(0o077)
    atomic_write_bytes(tmp_path / "b.json", b"{}")
    assert stat.S_IMODE((tmp_path / "b.json").stat().st_mode) == 0o600  # a private umask is honoured too


def test_a_run_and_its_site_are_world_readable_under_umask_022(tmp_path: Path, umask_022: None) -> None:
    task, model = registry.make_task("toy", n=4), registry.make_model("toy-deviation")
    Runner(task, model, tmp_path / "results", cache=PredictionCache(tmp_path / "cache.sqlite"), progress=False).run()
    build(tmp_path / "results", tmp_path / "site")
    for root in (tmp_path / "results", tmp_path / "site"):
        modes = _modes(root)
        assert any(name.endswith("run.json") for name in modes) or root.name == "site"
        assert any(name.endswith("index.html") for name in modes) or root.name == "results"
        wrong = {name: oct(m) for name, m in modes.items()
                 if m != (0o755 if (root / name).is_dir() else 0o644)}
        assert wrong == {}, wrong
