"""Issue 22 (hardening, round 3), the harness side: each test fails on the code before the fix."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.cli.main import main as cli
from harness.core.errors import EXIT_IO, EXIT_USAGE, CacheError
from harness.core.types import Prediction
from harness.run.cache import PredictionCache


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _foreign_db(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE contacts (name TEXT, phone TEXT)")
    conn.execute("INSERT INTO contacts VALUES ('Ada', '555')")
    conn.commit()
    conn.close()
    return path


def test_item4_a_foreign_database_given_as_cache_is_refused_and_left_byte_identical(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = _foreign_db(tmp_path / "app.db")
    before = _digest(db)
    with pytest.raises(CacheError, match="is not a visanom prediction cache .*contacts.*left untouched"):
        PredictionCache(db)
    code = cli(["run", "--model", "template-reasoner", "--task", "tsb-ad-u-demo", "--limit", "1", "--cache", str(db),
                "--output", str(tmp_path / "out"), "--no-progress"])
    assert code == EXIT_IO and "not a visanom prediction cache" in capsys.readouterr().err
    assert _digest(db) == before and sorted(p.name for p in tmp_path.iterdir()) == ["app.db"]  # no -wal / -shm either


def test_item4_an_empty_file_or_database_becomes_a_cache_and_ours_reopens(tmp_path: Path) -> None:
    (tmp_path / "empty.sqlite").write_bytes(b"")
    sqlite3.connect(tmp_path / "blank.sqlite").close()  # a database with no table
    for name in ("empty.sqlite", "blank.sqlite", "new.sqlite"):
        cache = PredictionCache(tmp_path / name)
        cache.put("k", Prediction(sample_id="s", scores=np.arange(3.0)))
        cache.close()
        again = PredictionCache(tmp_path / name)
        assert again.get("k", "s") is not None
        again.close()


def test_item4_an_empty_cache_name_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    code = cli(["run", "--model", "template-reasoner", "--task", "tsb-ad-u-demo", "--limit", "1", "--cache", "",
                "--output", str(tmp_path / "out"), "--no-progress"])
    assert code == EXIT_USAGE and "--cache needs a file name" in capsys.readouterr().err
    assert not (tmp_path / "xdg").exists()


@pytest.mark.skipif(shutil.which("chattr") is None, reason="chattr is not installed")
def test_item16_an_immutable_cache_file_is_exit_3_not_an_internal_error(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    cache = PredictionCache(path)
    cache.close()
    for f in tmp_path.iterdir():
        if subprocess.run(["chattr", "+i", str(f)], capture_output=True).returncode != 0:
            pytest.skip("this file system does not support immutable files")
    try:
        cache = PredictionCache(path)
        with pytest.raises(CacheError, match="cannot"):
            cache.put("k", Prediction(sample_id="s", scores=np.arange(3.0)))
    except CacheError:
        pass  # refused already when opening: also exit 3
    finally:
        for f in tmp_path.iterdir():
            subprocess.run(["chattr", "-i", str(f)], capture_output=True)


def _sweep_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    return "\n".join("    " + line for line in lines)


def _dry_run(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli(["sweep", str(path), "--dry-run", "--no-progress"])
    return code, capsys.readouterr().err


def test_item7_an_alias_bomb_in_model_args_is_refused_with_its_line(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Run in a child with a 1 GiB address-space cap: the old code expanded it to gigabytes."""
    path = _sweep_file(tmp_path, "name: bomb\ngroups:\n  - tasks: [tsb-ad-u-demo]\n    models:\n      - name: Sub-PCA\n"
                       "        args:\n          bomb:\n" + "\n".join("      " + line for line in _bomb().splitlines())
                       + "\n")
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30)); "
            "from harness.cli.main import main; sys.exit(main(['sweep', sys.argv[1], '--dry-run', '--no-progress']))")
    res = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=600)
    assert res.returncode == EXIT_USAGE, res.stderr[-2000:]
    assert f"{path}:" in res.stderr and "expands to more than 100,000 values" in res.stderr


def test_item7_and_16_deep_nesting_and_dates_are_usage_errors(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    deep = _sweep_file(tmp_path, "name: deep\npairs:\n  - {task: tsb-ad-u-demo, model: Sub-PCA}\nx: "
                       + "[" * 100_000 + "]" * 100_000 + "\n")
    code, err = _dry_run(deep, capsys)
    assert code == EXIT_USAGE and "nested" in err and "internal error" not in err
    dated = _sweep_file(tmp_path, "name: dated\ngroups:\n  - tasks: [tsb-ad-u-demo]\n    models:\n"
                        "      - name: Sub-PCA\n        args: {n_components: 2024-01-01}\n")
    code, err = _dry_run(dated, capsys)
    assert code == EXIT_USAGE and f"{dated}:6:" in err and "2024-01-01" in err and "quote it" in err
