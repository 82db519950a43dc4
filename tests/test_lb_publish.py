"""`visanom leaderboard publish`: into a real local bare git repository, and to a Space up to HfApi."""

from __future__ import annotations

import hashlib
import inspect
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from lb_fixtures import write_run2

from harness.cli.main import main as cli_main
from leaderboard.build import build
from leaderboard.publish import MARKER, SPACE_DELETE, publish_git, publish_space

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def snapshot(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("pub")
    results = root / "results"
    write_run2(results, "visanombench", "A", value=0.6, n=3)
    write_run2(results, "visanombench", "B", value=0.4, n=3)
    build(results, root / "site")
    return results, root / "site"


def bare(tmp: Path, name: str = "remote.git") -> Path:
    repo = tmp / name
    git("init", "-q", "--bare", str(repo))
    return repo


def test_round_trip_then_one_changed_page_is_one_commit(built: tuple[Path, Path], tmp_path: Path) -> None:
    results, site0 = built
    site = tmp_path / "site"
    shutil.copytree(site0, site)
    repo = bare(tmp_path)
    before = snapshot(site)
    assert cli_main(["leaderboard", "publish", str(site), "--repo", str(repo), "--message", "first"]) == 0
    assert snapshot(site) == before  # the local site is only read
    assert not (site / ".git").exists()
    log = git("--git-dir", str(repo), "log", "--format=%s", "gh-pages").split("\n")
    assert log[0] == "first"
    tree = git("--git-dir", str(repo), "ls-tree", "-r", "gh-pages").splitlines()
    modes = {line.split()[0] for line in tree}
    names = {line.split("\t")[1] for line in tree}
    assert modes == {"100644"}  # regular, world-readable, not executable
    assert {".nojekyll", MARKER, "index.html", "summary.json"} <= names
    assert not any(n.startswith(".build/") for n in names)  # the build cache stays local
    published = {n for n in names if n not in (".nojekyll", MARKER)}
    assert published == {k for k in before if not k.startswith(".build/")}
    # a clone checks out world-readable files under an ordinary umask
    clone = tmp_path / "clone"
    old = os.umask(0o022)
    try:
        git("clone", "-q", "--branch", "gh-pages", str(repo), str(clone))
    finally:
        os.umask(old)
    assert (clone / "index.html").stat().st_mode & 0o004
    # re-publish unchanged: no commit
    report = publish_git(site, str(repo))
    assert report.commit is None
    assert len(git("--git-dir", str(repo), "log", "--format=%H", "gh-pages").split()) == 1
    # change one page: exactly one new commit on top of the first, touching that page only
    page = next(p for p in sorted(site.rglob("models/*/*.html")))
    page.write_text(page.read_text(encoding="utf-8") + "<!-- edited -->", encoding="utf-8")
    report = publish_git(site, str(repo), message="second")
    commits = git("--git-dir", str(repo), "log", "--format=%H %s", "gh-pages").splitlines()
    assert [c.split(" ", 1)[1] for c in commits] == ["second", "first"]
    assert commits[0].startswith(report.commit or "?")
    changed = git("--git-dir", str(repo), "diff", "--name-only", "gh-pages~1", "gh-pages").split()
    assert changed == [page.relative_to(site).as_posix()]


def test_rejected_push_says_so_and_changes_nothing(built: tuple[Path, Path], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    _, site = built
    repo = bare(tmp_path)
    hook = repo / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'denied by policy' >&2\nexit 1\n", encoding="utf-8")
    hook.chmod(0o755)
    before = snapshot(site)
    assert cli_main(["leaderboard", "publish", str(site), "--repo", str(repo)]) == 3
    err = capsys.readouterr().err
    assert "pushing to" in err and "denied by policy" in err and "nothing was published" in err
    assert git("--git-dir", str(repo), "for-each-ref").strip() == ""  # no half-pushed ref
    assert snapshot(site) == before


def test_branch_with_unrelated_history_is_refused(built: tuple[Path, Path], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    _, site = built
    repo = bare(tmp_path)
    other = tmp_path / "other"
    git("init", "-q", str(other))
    (other / "README.md").write_text("docs\n", encoding="utf-8")
    git("-c", "user.name=t", "-c", "user.email=t@t", "add", ".", cwd=other)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "theirs", cwd=other)
    git("push", "-q", str(repo), "HEAD:refs/heads/gh-pages", cwd=other)
    tip = git("--git-dir", str(repo), "rev-parse", "gh-pages")
    assert cli_main(["leaderboard", "publish", str(site), "--repo", str(repo)]) == 2
    assert "unrelated" in capsys.readouterr().err
    assert git("--git-dir", str(repo), "rev-parse", "gh-pages") == tip


def test_not_a_built_site_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = bare(tmp_path)
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "index.html").write_text("<p>hi</p>", encoding="utf-8")
    for target in (plain, tmp_path / "missing"):
        assert cli_main(["leaderboard", "publish", str(target), "--repo", str(repo)]) == 2
        assert "nothing was published" in capsys.readouterr().err
    assert git("--git-dir", str(repo), "for-each-ref").strip() == ""
    assert cli_main(["leaderboard", "publish", str(plain)]) == 2  # neither --repo nor --hf-space


def test_symlink_out_of_the_site_is_not_published(built: tuple[Path, Path], tmp_path: Path) -> None:
    _, site0 = built
    site = tmp_path / "site"
    shutil.copytree(site0, site)
    secret = tmp_path / "secret.txt"
    secret.write_text("token", encoding="utf-8")
    (site / "leak.txt").symlink_to(secret)
    repo = bare(tmp_path)
    report = publish_git(site, str(repo))
    assert any(s.startswith("leak.txt") for s in report.skipped)
    assert "leak.txt" not in git("--git-dir", str(repo), "ls-tree", "-r", "--name-only", "gh-pages").split()


class FakeHfApi:
    """Records calls; checks each against the real HfApi method's signature."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.uploaded: dict[str, bytes] = {}

    def _check(self, name: str, kwargs: dict[str, Any]) -> None:
        hub = pytest.importorskip("huggingface_hub")
        inspect.signature(getattr(hub.HfApi, name)).bind(None, **kwargs)  # raises on a drifted name
        self.calls.append((name, kwargs))

    def create_repo(self, **kwargs: Any) -> str:
        self._check("create_repo", kwargs)
        return f"https://huggingface.co/spaces/{kwargs['repo_id']}"

    def upload_folder(self, **kwargs: Any) -> Any:
        self._check("upload_folder", kwargs)
        folder = Path(kwargs["folder_path"])
        for p in folder.rglob("*"):
            if p.is_file():
                assert p.stat().st_mode & 0o044 == 0o044, p
                self.uploaded[p.relative_to(folder).as_posix()] = p.read_bytes()
        return type("CommitInfo", (), {"oid": "abc123"})()


def test_space_upload_up_to_hfapi(built: tuple[Path, Path]) -> None:
    _, site = built
    api = FakeHfApi()
    report = publish_space(site, "someone/lb", api=api, message="m")
    names = [c[0] for c in api.calls]
    assert names == ["create_repo", "upload_folder"]
    create, upload = api.calls[0][1], api.calls[1][1]
    assert create["repo_type"] == "space" and create["space_sdk"] == "static" and create["exist_ok"] is True
    assert upload["repo_type"] == "space" and upload["repo_id"] == "someone/lb" and upload["commit_message"] == "m"
    assert upload["delete_patterns"] == SPACE_DELETE and "README.md" not in SPACE_DELETE
    assert b"sdk: static" in api.uploaded["README.md"]
    assert "index.html" in api.uploaded and not any(k.startswith(".build/") for k in api.uploaded)
    assert report.commit == "abc123"


def test_space_upload_failure_is_a_clear_error(built: tuple[Path, Path]) -> None:
    from harness.core.errors import OutputError

    class Refusing(FakeHfApi):
        def create_repo(self, **kwargs: Any) -> str:
            raise RuntimeError("401 Unauthorized")

    with pytest.raises(OutputError, match="401 Unauthorized"):
        publish_space(built[1], "someone/lb", api=Refusing())
    with pytest.raises(Exception, match="OWNER/NAME"):
        publish_space(built[1], "../etc", api=FakeHfApi())
