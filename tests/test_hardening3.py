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
from extras import need

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
    code = cli(["run", "--model", "Sub-PCA", "--task", "tsb-ad-u-demo", "--limit", "1", "--cache", str(db),
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
    code = cli(["run", "--model", "Sub-PCA", "--task", "tsb-ad-u-demo", "--limit", "1", "--cache", "",
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


def test_item8_worker_counts_below_one_are_usage_errors_and_huge_ones_are_capped(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.core.cpus import max_workers

    sweep = _sweep_file(tmp_path, "name: w\nlimit: 1\npairs:\n  - {task: tsb-ad-u-demo, model: Sub-PCA}\n")
    for bad in ("0", "-3", "many"):
        with pytest.raises(SystemExit) as exc:
            cli(["sweep", str(sweep), "--dry-run", "--workers", bad])
        assert exc.value.code == EXIT_USAGE and "--workers" in capsys.readouterr().err
        with pytest.raises(SystemExit) as exc:
            cli(["bench", "build", "visanombench", "--out", str(tmp_path / "b"), "--workers", bad])
        assert exc.value.code == EXIT_USAGE and "--workers" in capsys.readouterr().err
    huge = "99999999999999999999"
    code = cli(["sweep", str(sweep), "--workers", huge, "--no-progress", "--no-cache",
                "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 0 and f"--workers {huge} is more than this machine can run at once" in err
    assert f"starting {max_workers()}" in err


def test_item8_and_11_a_worker_dies_with_its_parent(tmp_path: Path) -> None:
    import os
    import signal

    parent = ("import subprocess, sys; c = subprocess.Popen([sys.executable, '-c', "
              "'from harness.core.procs import die_with_parent; die_with_parent(); import time; print(1, flush=True); "
              "time.sleep(3600)'], stdout=subprocess.PIPE, text=True); c.stdout.readline(); print(c.pid, flush=True); "
              "import time; time.sleep(3600)")
    proc = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    child = int(proc.stdout.readline())
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    for _ in range(6000):  # a hang guard only (up to 60 s); the kernel ends the child at once
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        try:
            with open(f"/proc/{child}/stat") as fh:
                if fh.read().split()[2] == "Z":  # reaped by init soon; already dead
                    break
        except FileNotFoundError:  # reaped between the two looks
            break
        __import__("time").sleep(0.01)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("the child outlived its killed parent")


def test_item18_a_benchmark_of_no_items_is_an_error_not_a_success(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "not-ucr"
    (empty / "notes").mkdir(parents=True)
    (empty / "notes" / "readme.txt").write_text("no UCR series here\n")
    code = cli(["bench", "build", "visanombench", "--sources", f"ucr-tsad={empty}", "--out", str(tmp_path / "vab"),
                "--workers", "1", "--no-progress"])
    assert code == EXIT_USAGE and "found no series" in capsys.readouterr().err
    assert not (tmp_path / "vab").exists()
    for bad in ("0", "-1"):
        with pytest.raises(SystemExit) as exc:
            cli(["bench", "build", "visanombench", "--gutentag-per-domain", bad, "--out", str(tmp_path / "g")])
        assert exc.value.code == EXIT_USAGE and "--gutentag-per-domain" in capsys.readouterr().err


def test_item16_bench_build_into_a_path_under_a_file_is_exit_3(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "FILE").write_text("x")
    code = cli(["bench", "build", "visanombench", "--sources", "tsb-embedded", "--out", str(tmp_path / "FILE" / "x"),
                "--workers", "1", "--no-progress"])
    err = capsys.readouterr().err
    assert code == EXIT_IO and "cannot create the benchmark folder" in err and "internal error" not in err


def test_item18_a_huge_draw_count_is_refused_before_any_cache_is_created(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    sweep = _sweep_file(tmp_path, "name: d\ngroups:\n  - tasks: [tsb-ad-u-demo]\n    models: [Sub-PCA]\n"
                                  "    draws: 100000000\n")
    code = cli(["sweep", str(sweep), "--cache", str(tmp_path / "c.sqlite"), "--output", str(tmp_path / "o"),
                "--no-progress"])
    assert code == EXIT_USAGE and "draws must be a whole number from 1 to 1000" in capsys.readouterr().err
    assert not (tmp_path / "c.sqlite").exists()


@pytest.mark.parametrize("text, expected", [
    ("base: Qwen/Qwen2.5-VL-3B-Instruct\nlearning_rate: [\n", "not a readable YAML training config"),
    ("base: x\nlearning_rate: !!python/object/apply:os.system ['true']\n", "not a readable YAML training config"),
    ("base: x\nlearning_rate: fast\n", "learning_rate must be a number, got 'fast'"),
])
def test_item16_bad_training_configs_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      text: str, expected: str) -> None:
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(text)
    code = cli(["train", "--config", str(cfg), "--data", str(tmp_path), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and expected in err and "internal error" not in err


def test_item16_train_out_that_is_a_file_is_exit_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    need("peft", "hf")
    (tmp_path / "FILE").write_text("x")
    code = cli(["train", "--config", "visanomreasoner-3b", "--data", str(tmp_path), "--out", str(tmp_path / "FILE")])
    err = capsys.readouterr().err
    assert code == EXIT_IO and "training output folder" in err


@pytest.mark.parametrize("content", [b"{bad", "{}".encode("utf-16"), b"[" * 100_000 + b"]" * 100_000])
def test_item16_broken_selection_and_manifest_files_are_usage_errors(tmp_path: Path, content: bytes,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "elicit"
    folder.mkdir()
    (folder / "selection.json").write_bytes(content)
    assert cli(["bench", "export", str(folder), "--out", str(tmp_path / "ds")]) == EXIT_USAGE
    assert "selection" in capsys.readouterr().err
    bench = tmp_path / "vab"
    bench.mkdir()
    (bench / "manifest.json").write_bytes(content)
    assert cli(["bench", "stats", str(bench)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "manifest" in err and "internal error" not in err


def test_item15_counting_the_vlm_view_reads_no_series_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sweep's plan (and --dry-run) counts windows from row counts; the validating reader is not run."""
    from harness import registry

    task = registry.make_task("tsb-ad-u-demo-vlm")

    def no_parsing(file: str):  # noqa: ANN202
        raise AssertionError(f"{file} was parsed to be counted")

    monkeypatch.setattr(task, "_load", no_parsing)
    n = task.count()
    monkeypatch.undo()
    fresh = registry.make_task("tsb-ad-u-demo-vlm")
    assert n == len(list(fresh.samples())) > 0  # and the count is exact


def test_item3_a_second_process_writing_the_same_run_folder_is_refused(tmp_path: Path) -> None:
    """The first process holds the folder (it waits on its stdin, an event, not a clock); a second
    `visanom run` into it exits 3 naming the holder, and writes no record."""
    import json
    import os

    out = tmp_path / "out"
    args = ["run", "--model", "Sub-PCA", "--task", "tsb-ad-u-demo", "--limit", "2", "--no-cache",
            "--no-progress", "--output", str(out)]
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": root}
    first = subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, env=env, timeout=600)
    assert first.returncode == 0, first.stderr
    folder = next(out.glob("*/*/*/run.json")).parent
    holder = subprocess.Popen([sys.executable, "-c", "import sys; from pathlib import Path; "
                               "from harness.records.store import RunDir; RunDir(Path(sys.argv[1])); "
                               "print('held', flush=True); sys.stdin.read()", str(folder)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout.readline().strip() == "held"
        second = subprocess.run([sys.executable, "-m", "harness", *args, "--rerun"], capture_output=True, text=True,
                                env=env, timeout=600)
        assert second.returncode == EXIT_IO, second.stderr
        assert f"(pid {holder.pid}) is writing the run folder" in second.stderr
    finally:
        holder.communicate("", timeout=60)
    lines = (folder / "samples.jsonl").read_text().splitlines()
    assert len(lines) == 2 and len({json.loads(x)["sample_id"] for x in lines}) == 2


@pytest.mark.detectors  # Sub-PCA on the demo set: without tsb-ad every sample fails and is retried
def test_item3_a_rerun_repairs_duplicated_records(tmp_path: Path) -> None:
    """A folder two processes once wrote (each sample twice): the next run leaves one line a sample."""
    import json

    out = tmp_path / "out"
    args = ["run", "--model", "Sub-PCA", "--task", "tsb-ad-u-demo", "--limit", "3", "--no-cache", "--no-progress",
            "--output", str(out)]
    assert cli(args) == 0
    samples = next(out.glob("*/*/*/samples.jsonl"))
    lines = samples.read_text().splitlines()
    samples.write_text("\n".join(lines + lines) + "\n")  # what two simultaneous runs left before the lock
    assert cli(args) == 0
    again = samples.read_text().splitlines()
    assert len(again) == 3 and [json.loads(x)["sample_id"] for x in again] == [json.loads(x)["sample_id"] for x in lines]
