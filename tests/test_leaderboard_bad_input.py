"""Issue 10, items 10-15: bad results folders and bad site folders never break a build.

Each test reproduces one reported defect; the rule it enforces is in docs/leaderboard.md
("Bad input").
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from lb_fixtures import write_run2

from harness.cli.main import main as cli
from leaderboard.build import build
from leaderboard.scan import scan_runs


def good(root: Path) -> Path:
    return write_run2(root, "toy", "alpha", n=3)


def run_cli(*args: str) -> int:
    return cli(["leaderboard", *args])


def test_item10_deeply_nested_run_json_is_skipped_not_fatal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "results"
    good(results)
    bomb = results / "toy" / "bomb" / "r1" / "run.json"
    bomb.parent.mkdir(parents=True)
    bomb.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    assert run_cli("build", str(results), "--out", str(tmp_path / "site")) == 0
    err = capsys.readouterr().err
    assert "skipped toy/bomb/r1/run.json: nested 100000 levels deep" in err
    assert "internal error" not in err
    assert "alpha" in (tmp_path / "site" / "index.html").read_text(encoding="utf-8")


def test_item10_deep_samples_line_is_left_out(tmp_path: Path) -> None:
    results = tmp_path / "results"
    folder = good(results)
    with open(folder / "samples.jsonl", "a", encoding="utf-8") as fh:
        fh.write("[" * 50_000 + "]" * 50_000 + "\n")
    report = build(results, tmp_path / "site")
    assert any("line 4: nested 50000 levels deep" in m for m in report.messages())


@pytest.mark.parametrize("make", ["missing", "empty", "file"])
def test_item11_missing_or_empty_results_is_usage_error_and_site_untouched(
    tmp_path: Path, make: str, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    good(results)
    site = tmp_path / "site"
    assert run_cli("build", str(results), "--out", str(site)) == 0
    before = {p: p.read_bytes() for p in site.rglob("*") if p.is_file()}
    bad = tmp_path / "typo"
    if make == "empty":
        bad.mkdir()
    elif make == "file":
        bad.write_text("x", encoding="utf-8")
    capsys.readouterr()
    assert run_cli("build", str(bad), "--out", str(site)) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "the site is unchanged" in err
    assert {p: p.read_bytes() for p in site.rglob("*") if p.is_file()} == before


def test_item12_symlink_loop_and_unfinished_run_are_listed(tmp_path: Path) -> None:
    results = tmp_path / "results"
    good(results)
    loop = results / "toy" / "loop" / "r1"
    loop.mkdir(parents=True)
    os.symlink("run.json", loop / "run.json")  # points at itself
    unfinished = results / "toy" / "beta" / "r2"
    unfinished.mkdir(parents=True)
    (unfinished / "samples.jsonl").write_text('{"sample_id": "s0"}\n', encoding="utf-8")
    _, skipped = scan_runs(results)
    reasons = {s.path: s.reason for s in skipped}
    assert reasons == {
        "toy/beta/r2/": "unfinished run: samples.jsonl without run.json",
        "toy/loop/r1/run.json": "symlink loop",
    }
    html = (build(results, tmp_path / "site").index).read_text(encoding="utf-8")
    assert "symlink loop" in html and "unfinished run" in html


def test_item13_bom_is_accepted(tmp_path: Path) -> None:
    results = tmp_path / "results"
    folder = good(results)
    path = folder / "run.json"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    runs, skipped = scan_runs(results)
    assert skipped == [] and [r["model"]["name"] for r in runs] == ["alpha"]


@pytest.mark.parametrize("content", ["", '{"sample_id": "s0000"}\n'])
def test_item13_short_samples_file_is_flagged(tmp_path: Path, content: str) -> None:
    results = tmp_path / "results"
    folder = good(results)
    (folder / "samples.jsonl").write_text(content, encoding="utf-8")
    report = build(results, tmp_path / "site")
    held = 0 if not content else 1
    expected = f"run.json says n=3 but samples.jsonl holds {held} records"
    assert any(expected in m for m in report.messages())
    html = report.index.read_text(encoding="utf-8")
    assert "samples disagree" in html and expected in html


def test_item14_skips_are_plain_messages_not_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "results"
    good(results)
    bad = results / "toy" / "bad" / "r" / "run.json"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(os.urandom(64))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning would fail the build here
        assert run_cli("build", str(results), "--out", str(tmp_path / "site")) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("visanom: skipped toy/bad/r/run.json: ")
    assert "Warning" not in err and ".py:" not in err


def test_item15_out_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "results"
    good(results)
    out = tmp_path / "site"
    out.write_text("not a folder", encoding="utf-8")
    assert run_cli("build", str(results), "--out", str(out)) == 3
    err = capsys.readouterr().err
    assert f"site folder {out} is a file, not a folder" in err and "internal error" not in err
    assert out.read_text(encoding="utf-8") == "not a folder"


@pytest.mark.skipif(not Path("/sys").is_dir(), reason="needs a read-only /sys (Linux)")
def test_item15_out_not_writable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "results"
    good(results)
    out = Path("/sys/visanom-site")  # writes there are refused even to root
    assert run_cli("build", str(results), "--out", str(out)) == 3
    err = capsys.readouterr().err
    assert f"cannot write the site to {out}" in err and "internal error" not in err


def run_cli_as_nobody(*args: str) -> tuple[int, str]:
    """``run_cli`` in a forked child that dropped root's privileges (uid/gid 65534), so folder
    permissions apply as they do to a user. The child shares the parent's imported modules."""
    import io
    import sys

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code, err = 99, ""
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            sys.stderr = buf = io.StringIO()
            code = run_cli(*args)
            err = buf.getvalue()
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            err = f"child failed: {exc!r}"
        finally:
            os.write(write, json.dumps([code, err]).encode())
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    code, err = json.loads(data)
    return code, err


def test_item15_out_in_readonly_folder_as_user(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if os.geteuid() != 0:
        results = tmp_path / "results"
        good(results)
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        try:
            assert run_cli("build", str(results), "--out", str(locked / "site")) == 3
        finally:
            locked.chmod(0o700)
        assert "cannot write the site" in capsys.readouterr().err
        return
    # root ignores folder permissions: drop privileges for the build, in a folder it may read
    base = Path(tempfile.mkdtemp(prefix="visanom-lb-"))
    try:
        base.chmod(0o755)
        results = base / "results"
        good(results)
        locked = base / "locked"  # root's, 0o555: nobody may not write there
        locked.mkdir()
        locked.chmod(0o555)
        assert run_cli("build", str(results), "--out", str(base / "warm")) == 0  # imports done as root
        code, err = run_cli_as_nobody("build", str(results), "--out", str(locked / "site"))
        assert code == 3 and f"cannot write the site to {locked / 'site'}" in err and "internal error" not in err, err
        assert not (locked / "site").exists()
        code, err = run_cli_as_nobody("build", str(results), "--out", str(base / "missing" / "x"))
        assert code == 3, err  # base is root's too: the same refusal one level up
    finally:
        shutil.rmtree(base)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\x00\xff\xfe random bytes", "not UTF-8 text"),
        (b'{"schema": "visanom.run/1", "status": "compl', "not valid JSON"),
        (b'{"schema": "visanom.run/9", "status": "complete"}', "unsupported schema"),
        (b'{"schema": "visanom.run/2", "status": "running"}', "partial run"),
        (b"", "empty file"),
    ],
)
def test_bad_records_are_listed_and_the_site_still_builds(tmp_path: Path, content: bytes, reason: str) -> None:
    results = tmp_path / "results"
    good(results)
    bad = results / "toy" / "bad" / "r" / "run.json"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(content)
    report = build(results, tmp_path / "site")
    assert len(report.skipped) == 1 and reason in report.skipped[0].reason
    summary = json.loads((tmp_path / "site" / "summary.json").read_text(encoding="utf-8"))
    assert [r["model"] for r in summary["tasks"][0]["rows"]] == ["alpha"]
