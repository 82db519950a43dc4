"""Issue 22's attacks on runs, caches, sweeps and benchmarks (items 3, 4, 7, 8, 12, 15, 16, 18),
registered into :mod:`attacks` (``benchmarks/attacks.py`` imports this module, so its table and
``tests/test_attacks_replay.py`` replay them with the others, under the same limits)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from attacks import HANG_S, Outcome, _summary, attack, run_python, visanom

RUN = ["run", "--model", "Sub-PCA", "--task", "tsb-ad-u-demo", "--no-progress"]


def _bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    return "\n".join("          " + line for line in lines)


def _sweep(tmp: Path, body: str) -> Path:
    path = tmp / "s.yaml"
    path.write_text("name: s\n" + body, encoding="utf-8")
    return path


@attack("3")
def two_runs_into_one_folder(tmp: Path) -> Outcome:
    """While one process holds a run folder, a second ``visanom run`` into it is refused (exit 3)."""
    first = visanom(*RUN, "--limit", "2", "--no-cache", "--output", str(tmp / "out"), cwd=tmp)
    folder = next((tmp / "out").glob("*/*/*/run.json")).parent
    code = ("import sys; from pathlib import Path; from harness.records.store import RunDir; "
            "RunDir(Path(sys.argv[1])); print('held', flush=True); sys.stdin.read()")
    holder = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env={"PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    try:
        holder.stdout.readline()
        second = visanom(*RUN, "--limit", "2", "--no-cache", "--rerun", "--output", str(tmp / "out"), cwd=tmp)
    finally:
        holder.communicate("", timeout=HANG_S)
    lines = (folder / "samples.jsonl").read_text().splitlines()
    # the first run may record failed samples under the attack memory cap (exit 4); what counts is the second
    return Outcome(first.rc in (0, 4) and second.rc == 3 and len(lines) == 2, _summary(second, "writing the run folder"))


@attack("4")
def foreign_database_as_cache(tmp: Path) -> Outcome:
    """Another application's SQLite file given as ``--cache`` is refused and left byte-identical."""
    db = tmp / "app.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE contacts (name TEXT)")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    p = visanom(*RUN, "--limit", "1", "--cache", str(db), "--output", str(tmp / "out"), cwd=tmp)
    same = db.read_bytes() == before and not Path(f"{db}-wal").exists()
    return Outcome(p.rc == 3 and same, _summary(p, "not a visanom prediction cache"))


@attack("4")
def empty_cache_name(tmp: Path) -> Outcome:
    """``--cache ''`` is a usage error, not the default cache."""
    p = visanom(*RUN, "--limit", "1", "--cache", "", "--output", str(tmp / "out"), cwd=tmp)
    return Outcome(p.rc == 2 and "--cache needs a file name" in p.err, _summary(p))


@attack("7")
def yaml_bomb_in_model_args(tmp: Path) -> Outcome:
    """A 9-level alias bomb inside a model's args: refused with its line, within 1.5 GB."""
    path = _sweep(tmp, "groups:\n  - tasks: [tsb-ad-u-demo]\n    models:\n      - name: Sub-PCA\n        args:\n"
                       "          bomb:\n" + "\n".join("  " + x for x in _bomb().splitlines()) + "\n")
    p = visanom("sweep", str(path), "--dry-run", "--no-progress", cwd=tmp)
    return Outcome(p.rc == 2 and "expands to more than" in p.err, _summary(p))


@attack("7")
def deep_sweep_file(tmp: Path) -> Outcome:
    """A 100,000-deep list in a sweep file: a usage error, not RecursionError."""
    path = _sweep(tmp, "pairs:\n  - {task: tsb-ad-u-demo, model: Sub-PCA}\nx: " + "[" * 100_000 + "]" * 100_000 + "\n")
    p = visanom("sweep", str(path), "--dry-run", "--no-progress", cwd=tmp)
    return Outcome(p.rc == 2 and "nested" in p.err and "internal error" not in p.err, _summary(p))


@attack("8")
def workers_out_of_range(tmp: Path) -> Outcome:
    """``--workers -3`` (bench build) is refused; ``--workers 99999999999999999999`` is capped, said."""
    low = visanom("bench", "build", "visanombench", "--out", str(tmp / "b"), "--workers", "-3", cwd=tmp)
    path = _sweep(tmp, "limit: 1\npairs:\n  - {task: tsb-ad-u-demo, model: Sub-PCA}\n")
    huge = visanom("sweep", str(path), "--workers", "99999999999999999999", "--no-progress", "--no-cache",
                   "--output", str(tmp / "o"), cwd=tmp)
    return Outcome(low.rc == 2 and huge.rc == 0 and "more than this machine can run" in huge.err,
                   _summary(huge, "starting"))


@attack("12")
def environment_that_never_answers(tmp: Path) -> Outcome:
    """An environment whose python is a script that sleeps: ``env --check`` names it and returns."""
    py = tmp / "env" / "bin" / "python"
    py.parent.mkdir(parents=True)
    py.write_text("#!/bin/sh\nsleep 3600\n")
    py.chmod(0o755)
    cfg = tmp / "envs.toml"
    cfg.write_text(f'[environments.default]\npython = "{sys.executable}"\nprovides = ["detectors"]\n'
                   f'[environments.sleepy]\npython = "{py}"\nprovides = ["vllm"]\n')
    code = ("import os, sys; os.environ.update(VISANOM_ENVS=sys.argv[1], VISANOM_ENV_TIMEOUT='3'); "
            "from harness.cli.main import main; sys.exit(main(['env', '--check']))")
    p = run_python(["-c", code, str(cfg)], cwd=tmp)
    return Outcome(not p.hung and "did not answer within 3 s" in p.out, _summary(p, "sleepy"))


@attack("16")
def date_as_hyperparameter(tmp: Path) -> Outcome:
    """A YAML date as a hyperparameter: a usage error naming its line."""
    path = _sweep(tmp, "groups:\n  - tasks: [tsb-ad-u-demo]\n    models:\n      - name: Sub-PCA\n"
                       "        args: {n_components: 2024-01-01}\n")
    p = visanom("sweep", str(path), "--dry-run", "--no-progress", cwd=tmp)
    return Outcome(p.rc == 2 and "quote it" in p.err, _summary(p))


@attack("16")
def bench_out_under_a_file(tmp: Path) -> Outcome:
    """``bench build --out FILE/x``: exit 3, not FileExistsError."""
    (tmp / "FILE").write_text("x")
    p = visanom("bench", "build", "visanombench", "--sources", "tsb-embedded", "--out", str(tmp / "FILE" / "x"),
                "--workers", "1", "--no-progress", cwd=tmp)
    return Outcome(p.rc == 3 and "internal error" not in p.err, _summary(p))


@attack("16")
def broken_selection_and_manifest(tmp: Path) -> Outcome:
    """``selection.json`` that is ``{bad``, a UTF-16 manifest, a 100,000-deep manifest: usage errors."""
    (tmp / "e").mkdir()
    (tmp / "e" / "selection.json").write_text("{bad")
    sel = visanom("bench", "export", str(tmp / "e"), "--out", str(tmp / "ds"), cwd=tmp)
    rcs = [sel.rc]
    for name, data in (("u16", "{}".encode("utf-16")), ("deep", b"[" * 100_000 + b"]" * 100_000)):
        (tmp / name).mkdir()
        (tmp / name / "manifest.json").write_bytes(data)
        rcs.append(visanom("bench", "stats", str(tmp / name), cwd=tmp).rc)
    return Outcome(rcs == [2, 2, 2], f"exit codes {rcs}; {sel.last('selection')}")


@attack("16")
def bad_training_config(tmp: Path) -> Outcome:
    """A training config with a python tag, and ``learning_rate: fast``: usage errors."""
    rcs = []
    for text in ("base: x\nlearning_rate: !!python/object/apply:os.system ['true']\n", "base: x\nlearning_rate: fast\n"):
        cfg = tmp / "cfg.yaml"
        cfg.write_text(text)
        rcs.append(visanom("train", "--config", str(cfg), "--data", str(tmp), "--out", str(tmp / "o"), cwd=tmp).rc)
    return Outcome(rcs == [2, 2], f"exit codes {rcs}")


@attack("18")
def empty_benchmark_is_an_error(tmp: Path) -> Outcome:
    """``bench build --sources ucr-tsad=<a folder with no series>`` writes nothing and fails."""
    (tmp / "etc" / "x").mkdir(parents=True)
    (tmp / "etc" / "x" / "passwd").write_text("root:x:0:0\n")
    p = visanom("bench", "build", "visanombench", "--sources", f"ucr-tsad={tmp / 'etc'}", "--out", str(tmp / "vab"),
                "--workers", "1", "--no-progress", cwd=tmp)
    return Outcome(p.rc == 2 and not (tmp / "vab").exists(), _summary(p, "found no series"))


@attack("18")
def gutentag_per_domain_zero(tmp: Path) -> Outcome:
    """``--gutentag-per-domain 0`` is refused, not an empty benchmark."""
    p = visanom("bench", "build", "visanombench", "--gutentag-per-domain", "0", "--out", str(tmp / "g"), cwd=tmp)
    return Outcome(p.rc == 2 and not (tmp / "g").exists(), _summary(p))


@attack("18")
def huge_draw_count(tmp: Path) -> Outcome:
    """``draws: 100000000`` is refused before any work, and no cache file is created."""
    path = _sweep(tmp, "groups:\n  - tasks: [tsb-ad-u-demo]\n    models: [Sub-PCA]\n    draws: 100000000\n")
    p = visanom("sweep", str(path), "--cache", str(tmp / "c.sqlite"), "--output", str(tmp / "o"), "--no-progress",
                cwd=tmp)
    return Outcome(p.rc == 2 and not (tmp / "c.sqlite").exists(), _summary(p, "draws"))
