"""Replay of issue 22's attacks: a hostile or careless user against a fresh clone.

Each attack is a small function that sets up its own folder, does what the issue reports
(mostly through the ``visanom`` command line, in a child process under resource limits),
and returns whether the attack ``held`` (the tool refused, skipped or escaped it, and said
so) or ``broke``, with what the user saw. Every child process runs with a cap on its
address space, file size and process count and a generous timeout that only a hang
reaches, so a regression cannot exhaust the machine.

    .venv/bin/python benchmarks/attacks.py [--only SUBSTRING] [--keep DIR]

prints a table (item, attack, result, what the user saw) and exits 1 when any attack broke.
``tests/test_attacks_replay.py`` runs the same functions as regression tests. To add an
attack: write ``def name(tmp: Path) -> Outcome`` and decorate it with ``@attack(item)``.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from lb_fixtures import write_run2  # noqa: E402

MEM_MB = 1500
"""Address-space cap of each child (a build of a few runs needs a few hundred MB)."""
HANG_S = 120.0
"""Hang guard: only a child that hangs runs this long."""
ESCAPES = "\x1b]0;pwned by a folder name\x07\x1b[2J"


@dataclass
class Outcome:
    """How an attack ended: ``held`` or not, and what the user saw (one line)."""

    held: bool
    seen: str
    ran: bool = True

    @property
    def result(self) -> str:
        """``held``, ``broke`` or ``not run`` (a package the attack needs is not installed)."""
        return "not run" if not self.ran else "held" if self.held else "broke"


@dataclass(frozen=True)
class Attack:
    """One registered attack: the issue item it replays and the function that runs it."""

    item: str
    name: str
    run: Callable[[Path], Outcome]
    needs: tuple[str, ...] = ()
    """Modules this interpreter must have for the attack to mean anything, e.g. ``datasets``."""
    extra: str = ""
    """The visanom extra that installs ``needs``."""

    def missing(self) -> list[str]:
        """The modules of ``needs`` that are not installed here (found, not imported)."""
        return [m for m in self.needs if importlib.util.find_spec(m) is None]


ATTACKS: list[Attack] = []


def attack(item: str, needs: tuple[str, ...] = (), extra: str = ""
           ) -> Callable[[Callable[[Path], Outcome]], Callable[[Path], Outcome]]:
    """Register ``fn`` as the replay of issue item ``item`` (``needs``: modules of ``extra`` it uses)."""

    def register(fn: Callable[[Path], Outcome]) -> Callable[[Path], Outcome]:
        ATTACKS.append(Attack(item, fn.__name__, fn, needs, extra))
        return fn

    return register


# -- running the command line, bounded --------------------------------------------------------
@dataclass
class Proc:
    """A finished child: exit status, output, and whether the hang guard stopped it."""

    rc: int
    out: str
    err: str
    hung: bool = False

    def last(self, *needles: str) -> str:
        """The last stderr/stdout line holding every needle (else the last stderr line)."""
        lines = (self.err + self.out).splitlines()
        hits = [line for line in lines if all(n in line for n in needles)]
        return (hits or lines or [""])[-1][:300]


def _limits(mem_mb: int, nproc: int | None) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (mem_mb << 20, mem_mb << 20))
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 30, 1 << 30))
        if nproc is not None:
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))

    return apply


def run_python(args: list[str], *, cwd: Path, mem_mb: int = MEM_MB, timeout: float = HANG_S,
               nproc: int | None = None) -> Proc:
    """``python ARGS`` of this checkout in a new session, capped; killed (whole group) on hang."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "VISANOM_NO_PROGRESS": "1"}
    proc = subprocess.Popen([sys.executable, *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True, preexec_fn=_limits(mem_mb, nproc))
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return Proc(-9, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), hung=True)
    return Proc(proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


def visanom(*args: str, cwd: Path, **kw: object) -> Proc:
    """``visanom ARGS`` (``python -m harness``), bounded as :func:`run_python`."""
    return run_python(["-m", "harness", *args], cwd=cwd, **kw)  # type: ignore[arg-type]


def results_with_run(tmp: Path, n: int = 3, **kw: object) -> tuple[Path, Path]:
    """A results folder with one good text run; returns ``(results, run folder)``."""
    results = tmp / "results"
    folder = write_run2(results, "visanombench", "IForest", n=n, **kw)  # type: ignore[arg-type]
    return results, folder


def site_text(site: Path) -> str:
    """Every text file the build wrote, joined (to look for leaked text)."""
    return "\n".join(p.read_text("utf-8", "replace") for p in site.rglob("*") if p.is_file()
                     and p.suffix in (".html", ".json", ".js"))


def _build(results: Path, tmp: Path, *extra: str, **kw: object) -> Proc:
    return visanom("leaderboard", "build", str(results), "--out", str(tmp / "site"), *extra, cwd=tmp, **kw)


def _summary(p: Proc, *needles: str) -> str:
    if p.hung:
        return f"hung (killed after {HANG_S:.0f} s)"
    return f"rc {p.rc}: {p.last(*needles)}"


# -- item 1: files outside RESULTS ------------------------------------------------------------
SECRET = "TOP-SECRET-OUTSIDE-RESULTS"


def _linked_outside(tmp: Path, name: str, **kw: object) -> Outcome:
    """Move the run's ``name`` file out of RESULTS (it holds :data:`SECRET`), link it back, build."""
    results, folder = results_with_run(tmp, **kw)
    outside = tmp / "elsewhere"
    outside.mkdir()
    if name == "run.json":
        run = json.loads((folder / name).read_text())
        run["label"] = SECRET
        (folder / name).write_text(json.dumps(run))
    (folder / name).rename(outside / name)
    (folder / name).symlink_to(outside / name)
    p = _build(results, tmp)
    leaked = SECRET in site_text(tmp / "site")
    return Outcome(p.rc == 0 and not leaked and "outside" in p.err, _summary(p, name))


@attack("1")
def run_json_symlinked_outside(tmp: Path) -> Outcome:
    """run.json is a symlink to a record outside RESULTS whose label is a secret."""
    return _linked_outside(tmp, "run.json")


@attack("1")
def samples_symlinked_outside(tmp: Path) -> Outcome:
    """samples.jsonl is a symlink to records outside RESULTS whose answers are a secret."""
    return _linked_outside(tmp, "samples.jsonl", answer=SECRET)


@attack("1")
def run_folder_symlinked_to_copy(tmp: Path) -> Outcome:
    """A run folder replaced by a symlink to a copy elsewhere: it must be listed, not vanish."""
    results, folder = results_with_run(tmp)
    write_run2(results, "visanombench", "LOF", n=2)  # keeps the results folder non-empty
    copy = tmp / "copy"
    folder.rename(copy)
    folder.symlink_to(copy, target_is_directory=True)
    p = _build(results, tmp)
    return Outcome(p.rc == 0 and "symbolic link to a folder" in p.err, _summary(p, "symbolic link"))


# -- item 2: file_list escapes data_dir -------------------------------------------------------
_SERIES = "001_X_id_1_D_tr_100_1st_300.csv"
_READ = ("import sys; from tasks.tsb_ad_u.task import TSBADUTask\n"
         "try:\n    s = list(TSBADUTask(data_dir=sys.argv[1], file_list='mine').samples())\n"
         "except Exception as e:\n    print('refused:', e); raise SystemExit(2)\n"
         "print('error:' if s[0].error else 'read:', s[0].error or len(s[0].series))\n")


def _outside_series(tmp: Path, line: str, link: bool) -> Proc:
    """A series CSV outside data_dir, a list ``mine.csv`` in data_dir holding ``line``
    (a link to the CSV by its name when ``link``); the task reads the list."""
    data, outside = tmp / "data", tmp / "outside"
    data.mkdir(), outside.mkdir()
    (outside / _SERIES).write_text("Data,Label\n" + "".join(f"{i % 7},{int(300 <= i < 310)}\n" for i in range(400)))
    if link:
        (data / _SERIES).symlink_to(outside / _SERIES)
    (data / "mine.csv").write_text(f"file_name\n{line}\n")
    return run_python(["-c", _READ, str(data)], cwd=tmp)


@attack("2")
def file_list_escapes_data_dir(tmp: Path) -> Outcome:
    """A list line ``../outside/<official name>`` in a file list inside data_dir."""
    p = _outside_series(tmp, f"../outside/{_SERIES}", link=False)
    return Outcome(p.rc == 2 and "is a path, not a file name" in p.out, _summary(p))


@attack("2")
def data_file_symlinked_outside(tmp: Path) -> Outcome:
    """A listed name that is a symlink inside data_dir to a CSV outside it."""
    p = _outside_series(tmp, _SERIES, link=True)
    return Outcome(p.rc == 0 and "outside the data folder" in p.out, _summary(p))


# -- item 5: overwrites -----------------------------------------------------------------------
@attack("5")
def build_over_foreign_folder(tmp: Path) -> Outcome:
    """``leaderboard build --out`` a folder holding a user's own index.html and CSS."""
    results, _ = results_with_run(tmp)
    site = tmp / "site"
    (site / "static").mkdir(parents=True)
    (site / "index.html").write_text("my page")
    (site / "static" / "leaderboard.css").write_text("my css")
    p = _build(results, tmp)
    kept = (site / "index.html").read_text() == "my page" and (site / "static/leaderboard.css").read_text() == "my css"
    forced = _build(results, tmp, "--force")
    return Outcome(p.rc == 3 and kept and "--force" in p.err and forced.rc == 0, _summary(p))


@attack("5", needs=("datasets",), extra="hf")
def export_over_readme(tmp: Path) -> Outcome:
    """``leaderboard export --out`` a folder holding a user's README.md."""
    results, _ = results_with_run(tmp)
    out = tmp / "ds"
    out.mkdir()
    (out / "README.md").write_text("my notes")
    p = visanom("leaderboard", "export", str(results), "--out", str(out), cwd=tmp)
    kept = (out / "README.md").read_text() == "my notes"
    return Outcome(p.rc == 3 and kept and "--force" in p.err, _summary(p))


# -- item 6: terminal escapes -----------------------------------------------------------------
def _raw_controls(text: str) -> bool:
    return any(c in text for c in "\x1b\x07\x9b")


@attack("6")
def escapes_in_skipped_line(tmp: Path) -> Outcome:
    """A results sub-folder named with OSC title and clear-screen escapes holding a bad run.json."""
    results, _ = results_with_run(tmp)
    bad = results / ESCAPES
    bad.mkdir()
    (bad / "run.json").write_text("{not json")
    p = _build(results, tmp)
    return Outcome(p.rc == 0 and not _raw_controls(p.err + p.out) and "\\e]0;" in p.err, _summary(p, "skipped \\e"))


@attack("6")
def escapes_in_sweep_table(tmp: Path) -> Outcome:
    """A sweep whose task argument (shown in the table's reason column) holds terminal escapes: ``--dry-run``."""
    sweep = tmp / "s.yaml"
    sweep.write_text(json.dumps({"name": "x" + ESCAPES, "output": str(tmp / "r"), "groups": [
        {"name": "g", "tasks": [{"name": "visanombench", "args": {"data_dir": ESCAPES}}], "models": ["IForest"]}]}))
    p = visanom("sweep", str(sweep), "--dry-run", "--no-cache", cwd=tmp)
    return Outcome(not p.hung and not _raw_controls(p.err + p.out) and "\\e" in p.err + p.out, _summary(p, "\\e"))


@attack("6")
def escapes_in_run_summary(tmp: Path) -> Outcome:
    """The run summary line (``visanom run``) of a run whose task name and label hold escapes."""
    code = ("from pathlib import Path; from harness.run.orchestrate import summary_line\n"
            "from harness.run.runner import RunResult\n"
            f"run = {{'task': {{'name': {ESCAPES!r}}}, 'label': {ESCAPES!r}, 'headline': 'F1',"
            " 'metrics': {'F1': {'value': 0.5}}, 'counts': {'n': 1, 'n_failed': 0, 'n_cached': 0}}\n"
            f"print(summary_line(RunResult(Path({ESCAPES!r}), run)))\n")
    p = run_python(["-c", code], cwd=tmp)
    return Outcome(p.rc == 0 and not _raw_controls(p.out) and "\\e]0;" in p.out, _summary(p))


# -- item 9: devices, FIFOs, huge records ------------------------------------------------------
def _samples_replaced(tmp: Path, make: Callable[[Path], None], needle: str) -> Outcome:
    results, folder = results_with_run(tmp)
    (folder / "samples.jsonl").unlink()
    make(folder / "samples.jsonl")
    p = _build(results, tmp)
    return Outcome(p.rc == 0 and needle in p.err, _summary(p, "samples.jsonl"))


@attack("9")
def samples_is_dev_zero(tmp: Path) -> Outcome:
    """samples.jsonl symlinked to /dev/zero (reads until memory runs out)."""
    return _samples_replaced(tmp, lambda path: path.symlink_to("/dev/zero"), "/dev/zero")


@attack("9")
def samples_is_fifo(tmp: Path) -> Outcome:
    """samples.jsonl is a FIFO nobody writes to (an open for reading blocks)."""
    return _samples_replaced(tmp, os.mkfifo, "FIFO")


@attack("9")
def run_json_is_fifo(tmp: Path) -> Outcome:
    """run.json is a FIFO."""
    results, _ = results_with_run(tmp)
    other = results / "x" / "y"
    other.mkdir(parents=True)
    os.mkfifo(other / "run.json")
    p = _build(results, tmp)
    return Outcome(p.rc == 0 and "FIFO" in p.err, _summary(p, "run.json"))


@attack("9")
def huge_label_run_json(tmp: Path) -> Outcome:
    """A 30 MB run.json whose label is ``"<b>" * 10,000,000``: the build must stay bounded."""
    results, folder = results_with_run(tmp)
    run = json.loads((folder / "run.json").read_text())
    run["label"] = "<b>" * 10_000_000
    run["env"]["extra"] = [[] for _ in range(40)]  # over 64 brackets: the depth check scans the text
    (folder / "run.json").write_text(json.dumps(run))
    write_run2(results, "visanombench", "LOF", n=2)
    p = _build(results, tmp, mem_mb=1000)
    return Outcome(p.rc == 0 and "characters long" in p.err, _summary(p, "run.json"))


# -- item 10: one bad number ------------------------------------------------------------------
def _bad_sample(tmp: Path, edit: Callable[[dict], None]) -> Outcome:
    results, folder = results_with_run(tmp)
    lines = (folder / "samples.jsonl").read_text().splitlines()
    record = json.loads(lines[1])
    edit(record)
    lines[1] = json.dumps(record)  # json writes NaN/Infinity as Python's json does
    (folder / "samples.jsonl").write_text("\n".join(lines) + "\n")
    p = _build(results, tmp)
    return Outcome(p.rc == 0 and "s0001" in p.err and (tmp / "site/index.html").is_file(), _summary(p, "s0001"))


@attack("10")
def latency_nan(tmp: Path) -> Outcome:
    """``latency_s`` = NaN in one sample."""
    return _bad_sample(tmp, lambda r: r.update(latency_s=float("nan")))


@attack("10")
def latency_infinity(tmp: Path) -> Outcome:
    """``latency_s`` = -Infinity in one sample."""
    return _bad_sample(tmp, lambda r: r.update(latency_s=float("-inf")))


@attack("10")
def render_margin_nan(tmp: Path) -> Outcome:
    """A render margin of NaN in one sample."""
    return _bad_sample(tmp, lambda r: r["input"]["render"].update(left=float("nan")))


@attack("10")
def render_margin_huge(tmp: Path) -> Outcome:
    """A render margin of 1e308 in one sample (overflows to infinity in the overlay)."""
    return _bad_sample(tmp, lambda r: r["input"]["render"].update(right=1e308, left=-1e308))


# -- item 11 (build side): pool workers after kill -9 -----------------------------------------
def block_forever(job: dict) -> dict:
    """A build job that never ends (stands for a worker blocked on its queue): writes its pid."""
    Path(job["dir"], f"worker-{os.getpid()}").write_text("")
    while True:
        signal.pause()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@attack("11")
def build_workers_die_with_parent(tmp: Path) -> Outcome:
    """kill -9 of the build while its 2 pool workers are busy: the workers must not live on."""
    code = ("import os, signal, sys, threading, time\n"
            f"sys.path.insert(0, {str(ROOT / 'benchmarks')!r})\n"
            "from attacks import block_forever\n"
            "from leaderboard.build import _map\n"
            "d = sys.argv[1]\n"
            "def killer():\n"
            "    while len([n for n in os.listdir(d) if n.startswith('worker-')]) < 2:\n"
            "        time.sleep(0.05)\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n"
            "threading.Thread(target=killer, daemon=True).start()\n"
            "_map(block_forever, [{'dir': d}, {'dir': d}], 2)\n")
    p = run_python(["-c", code, str(tmp)], cwd=tmp, timeout=60)
    pids = [int(n.split("-")[1]) for n in os.listdir(tmp) if n.startswith("worker-")]
    deadline = time.monotonic() + 60  # a hang guard: workers that outlive their parent never leave
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in pids if _alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    seen = f"parent rc {p.rc}; {len(pids)} workers started, {len(left)} left running"
    if p.hung:
        seen += " (orphans held its output open until the 60 s hang guard killed them)"
    return Outcome(p.rc == -9 and not p.hung and len(pids) == 2 and not left and not p.err.strip(), seen)


# -- item 13: zip bombs and --archive ----------------------------------------------------------
def _official_zip(extra: dict[str, bytes] | None = None) -> bytes:
    from tasks.tsb_ad_u.files import list_files

    buf = io.BytesIO()
    csv = b"Data,Label\n" + b"".join(b"%d,%d\n" % (i % 5, int(i == 7)) for i in range(20))
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in list_files("all"):
            zf.writestr(f"TSB-AD-U/{name}", (extra or {}).get(name, csv))
    return buf.getvalue()


@attack("13")
def zip_bomb_download(tmp: Path) -> Outcome:
    """``data download tsb-ad-u --url file://bomb.zip``: one official name unpacks 1,000x."""
    from tasks.tsb_ad_u.files import list_files

    first = list_files("all")[0]
    bomb = tmp / "bomb.zip"
    bomb.write_bytes(_official_zip({first: b"Data,Label\n" + b"0,0\n" * 8_000_000}))
    p = visanom("data", "download", "tsb-ad-u", "--url", bomb.as_uri(), "--out", str(tmp / "d"), cwd=tmp)
    unpacked = sum(f.stat().st_size for f in (tmp / "d").rglob("*") if f.is_file()) if (tmp / "d").exists() else 0
    return Outcome(p.rc == 2 and unpacked == 0 and "zip bomb" in p.err,
                   f"{_summary(p)} ({bomb.stat().st_size:,} byte zip; {unpacked:,} bytes unpacked)")


@attack("13")
def archive_flag_as_documented(tmp: Path) -> Outcome:
    """docs/data.md documents ``--archive FILE.zip``; the command must accept it."""
    archive = tmp / "TSB-AD-U.zip"
    archive.write_bytes(_official_zip())
    p = visanom("data", "download", "tsb-ad-u", "--archive", str(archive), "--out", str(tmp / "d"), cwd=tmp)
    return Outcome(p.rc == 0 and len(list((tmp / "d" / "TSB-AD-U").glob("*.csv"))) == 870, _summary(p))


# -- item 14: one record aborts an export ------------------------------------------------------
@attack("14", needs=("datasets",), extra="hf")
def export_long_task_name(tmp: Path) -> Outcome:
    """A task.name of 5,000 characters next to a good run: the export writes the good one."""
    results, _ = results_with_run(tmp)
    write_run2(results, "t" * 5000, "IForest", n=2)
    out = tmp / "ds"
    p = visanom("leaderboard", "export", str(results), "--out", str(out), cwd=tmp)
    return Outcome(p.rc == 0 and (out / "visanombench" / "train.parquet").is_file() and "5,000 characters" in p.err,
                   _summary(p, "characters"))


@attack("14", needs=("datasets",), extra="hf")
def export_names_that_sanitise_alike(tmp: Path) -> Outcome:
    """Task names "tsb ad u demo" and "tsb/ad/u/demo" must stay two configs."""
    results = tmp / "results"
    write_run2(results, "tsb ad u demo", "IForest", n=2)
    write_run2(results, "tsb/ad/u/demo", "IForest", n=3)
    out = tmp / "ds"
    p = visanom("leaderboard", "export", str(results), "--out", str(out), cwd=tmp)
    configs = sorted(d.name for d in out.iterdir() if (d / "train.parquet").is_file()) if out.is_dir() else []
    return Outcome(p.rc == 0 and len(configs) == 2, f"rc {p.rc}: configs {configs}")


# -- item 17: wrong words ---------------------------------------------------------------------
@attack("17")
def fifo_as_data_dir(tmp: Path) -> Outcome:
    """A FIFO given as the TSB-AD-U data folder."""
    os.mkfifo(tmp / "pipe")
    p = visanom("run", "--model", "Sub-PCA", "--task", "tsb-ad-u", "--task-args", f"data_dir={tmp / 'pipe'}",
                "file_list=tuning", "--output", str(tmp / "r"), "--no-cache", "--no-progress", cwd=tmp)
    return Outcome(not p.hung and "FIFO" in p.err and "does not exist" not in p.err, _summary(p))


@attack("17")
def file_as_bench_source(tmp: Path) -> Outcome:
    """``bench build --sources egi=<a file>``."""
    (tmp / "a.csv").write_text("x\n")
    p = visanom("bench", "build", "visanombench", "--sources", f"egi={tmp / 'a.csv'}", "--out", str(tmp / "b"),
                cwd=tmp)
    return Outcome(not p.hung and "is a file, not a folder" in p.err and "does not exist" not in p.err, _summary(p))


@attack("17")
def export_error_words(tmp: Path) -> Outcome:
    """``leaderboard export`` of a missing results folder: its error must not talk of a site."""
    p = visanom("leaderboard", "export", str(tmp / "missing"), "--out", str(tmp / "ds"), cwd=tmp)
    return Outcome(p.rc == 2 and "site" not in p.err and "nothing was exported" in p.err, _summary(p))


# -- the table --------------------------------------------------------------------------------
def _load_more() -> None:
    """Register the attacks kept in their own modules (runs, caches, sweeps, benchmarks)."""
    sys.modules.setdefault("attacks", sys.modules[__name__])  # run as a script: one ATTACKS list
    import attacks_harness  # noqa: F401  (registers with @attack)


def run_all(only: str | None = None, keep: Path | None = None) -> list[tuple[Attack, Outcome]]:
    """Run every attack (those whose name holds ``only``), each in its own temporary folder."""
    _load_more()
    done = []
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
    for item in ATTACKS:
        if only and only not in item.name:
            continue
        if item.missing():
            done.append((item, Outcome(False, f"needs {', '.join(item.missing())}: the {item.extra} extra", ran=False)))
            continue
        base = Path(tempfile.mkdtemp(prefix=f"attack-{item.name}-", dir=keep))
        try:
            outcome = item.run(base)
        except Exception as exc:  # an attack that cannot even be set up counts as broke
            outcome = Outcome(False, f"attack crashed: {type(exc).__name__}: {exc}")
        finally:
            if keep is None:
                shutil.rmtree(base, ignore_errors=True)
        done.append((item, outcome))
    return done


def main(argv: list[str] | None = None) -> int:
    """Print the table; exit 1 when any attack broke."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=None, help="only attacks whose name holds this text")
    ap.add_argument("--keep", type=Path, default=None, help="keep each attack's folder under this one")
    args = ap.parse_args(argv)
    rows = run_all(args.only, args.keep)

    def printable(text: str) -> str:  # (self-contained, so the script also replays against old code)
        return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)

    width = max((len(a.name) for a, _ in rows), default=6)
    print(f"{'ITEM':4}  {'ATTACK':{width}}  RESULT   WHAT THE USER SAW")
    for item, outcome in rows:
        print(f"{item.item:4}  {item.name:{width}}  {outcome.result:7}  {printable(outcome.seen)[:160]}")
    broke = sum(o.ran and not o.held for _, o in rows)
    held = sum(o.held for _, o in rows)
    print(f"{len(rows)} attacks: {held} held, {broke} broke, {len(rows) - held - broke} not run")
    return 1 if broke else 0


if __name__ == "__main__":
    sys.exit(main())
