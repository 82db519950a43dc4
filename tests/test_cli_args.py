"""Command-line hardening: bad flag values and model arguments are usage errors (exit 2) that
name the flag or argument, before any work; a bad cache path is a clear error, never a bug.

Issue 10, items 1, 2 (through the CLI), 3 and 4.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest
import toy  # noqa: F401  (registers the toy task and models)

from harness.cli.main import main


def _exit_code(argv: list[str]) -> int:
    """The exit code of ``visanom argv``, whether argparse exits or ``main`` returns."""
    try:
        return main(argv)
    except SystemExit as exc:  # argparse reports a bad flag value by exiting with 2
        return int(exc.code or 0)


def _toy_run(tmp_path: Path, *extra: str) -> list[str]:
    return ["run", "--model", "toy-deviation", "--task", "toy", "--task-args", "n=4", "--output",
            str(tmp_path / "out"), "--no-cache", "--no-progress", *extra]


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--limit", "-1"), ("--limit", "0"), ("--limit", "two"), ("--batch-size", "0"), ("--batch-size", "-3")],
)
def test_non_positive_counts_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              flag: str, value: str) -> None:
    code = _exit_code(_toy_run(tmp_path, flag, value))
    err = capsys.readouterr().err
    assert code == 2
    assert f"argument {flag}" in err and "at least 1" in err
    assert not list(tmp_path.glob("**/run.json"))  # nothing ran


@pytest.mark.parametrize("value", [",", " , ,", ""])
@pytest.mark.parametrize("flag", ["--model", "--task"])
def test_empty_name_lists_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           flag: str, value: str) -> None:
    argv = _toy_run(tmp_path)
    argv[argv.index(flag) + 1] = value
    code = _exit_code(argv)
    err = capsys.readouterr().err
    assert code == 2
    assert f"argument {flag}" in err and "no name" in err


def test_demo_flags_are_checked_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv, flag in ((["demo", "--limit", "0"], "--limit"), (["demo", "--models", ","], "--models")):
        code = _exit_code([*argv, "--output", str(tmp_path / "out"), "--site", str(tmp_path / "site"),
                           "--no-cache", "--no-progress"])
        assert code == 2
        assert f"argument {flag}" in capsys.readouterr().err
    assert not (tmp_path / "site").exists()


def test_valid_counts_still_run(tmp_path: Path) -> None:
    assert _exit_code(_toy_run(tmp_path, "--limit", "2", "--batch-size", "1")) == 0
    assert len(list(tmp_path.glob("**/run.json"))) == 1


# -- item 2 through the CLI: detector hyperparameters ------------------------------------------
@pytest.mark.parametrize(
    ("arg", "says"),
    [("periodicity=[[[", "periodicity"), ("periodicity=-5", "periodicity"), ("periodicity=2.5", "periodicity"),
     ("power=abc", "power"), ("colour=red", "unknown hyperparameter")],
)
@pytest.mark.detectors
def test_bad_detector_arguments_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 arg: str, says: str) -> None:
    code = _exit_code(["run", "--model", "POLY", "--task", "tsb-ad-u-demo", "--limit", "1", "--output",
                       str(tmp_path / "out"), "--no-cache", "--no-progress", "--model-args", arg])
    err = capsys.readouterr().err
    assert code == 2, err
    assert says in err and "POLY" in err
    assert not list(tmp_path.glob("**/samples.jsonl"))  # refused before any work


# -- item 3: the template reasoner's own arguments ---------------------------------------------
@pytest.mark.parametrize(
    ("arg", "says"),
    [("k=abc", "k"), ("k=nan", "k"), ("max_intervals=0", "max_intervals"), ("max_intervals=two", "max_intervals"),
     ("intervals=every", "intervals")],
)
def test_template_reasoner_bad_arguments_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          arg: str, says: str) -> None:
    code = _exit_code(["run", "--model", "template-reasoner", "--task", "visanombench-demo", "--limit", "1",
                       "--output", str(tmp_path / "out"), "--no-cache", "--no-progress", "--model-args", arg])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "internal error" not in err
    assert f"{says} must" in err


# -- item 4: cache paths that cannot be used ---------------------------------------------------
def _cache_run(tmp_path: Path, cache: Path) -> list[str]:
    return ["run", "--model", "toy-deviation", "--task", "toy", "--task-args", "n=2", "--output",
            str(tmp_path / "out"), "--cache", str(cache), "--no-progress"]


def test_cache_that_is_a_text_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = tmp_path / "notes.txt"
    cache.write_text("my notes, not a database\n" * 50)
    code = _exit_code(_cache_run(tmp_path, cache))
    err = capsys.readouterr().err
    assert code == 3, err
    assert "internal error" not in err
    assert str(cache) in err and "not a visanom prediction cache" in err
    assert cache.read_text() == "my notes, not a database\n" * 50  # left as it was


def test_cache_that_is_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = tmp_path / "cachedir"
    cache.mkdir()
    code = _exit_code(_cache_run(tmp_path, cache))
    err = capsys.readouterr().err
    assert code == 3, err
    assert str(cache) in err and "is a directory" in err


def test_cache_under_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "plain"
    blocker.write_text("x")
    code = _exit_code(_cache_run(tmp_path, blocker / "c.sqlite"))
    err = capsys.readouterr().err
    assert code == 3, err
    assert "internal error" not in err and "cannot create the cache folder" in err


def test_cache_in_a_read_only_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if os.geteuid() == 0:  # root ignores folder permissions; /proc refuses new files even to root
        folder = Path("/proc")
    else:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        code = _exit_code(_cache_run(tmp_path, folder / "c.sqlite"))
    finally:
        if folder != Path("/proc"):
            folder.chmod(stat.S_IRWXU)
    err = capsys.readouterr().err
    assert code == 3, err
    assert "internal error" not in err
    assert str(folder / "c.sqlite") in err and "cannot open or create" in err and "--no-cache" in err


def test_an_sqlite_database_of_something_else_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = tmp_path / "other.sqlite"
    with sqlite3.connect(cache) as conn:
        conn.execute("CREATE TABLE predictions (a INTEGER)")
    code = _exit_code(_cache_run(tmp_path, cache))
    err = capsys.readouterr().err
    assert code == 3, err
    assert "not a visanom prediction cache" in err
