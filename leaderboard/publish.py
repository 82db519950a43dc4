"""Publish a built site: commit it to a branch of a git repository (GitHub Pages layout) or
upload it as a static Hugging Face Space.

Both read ``SITE`` only: the files are copied into a temporary staging folder (regular files
only, no symlinks, not the build cache ``.build/``, so nothing outside SITE can be published),
with ``.nojekyll`` and the marker :data:`MARKER` added, and every file world-readable (0644).

git (:func:`publish_git`): a fresh temporary repository fetches the branch when it exists,
replaces its tree with the staged site, commits once when something changed, and pushes that
one ref (an atomic update: the remote either has the new commit or is untouched). A branch
that exists but was not made by this command (no :data:`MARKER` in its tip) is refused, so
unrelated history is never overwritten.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core.errors import OutputError, UsageError

__all__ = ["MARKER", "PublishReport", "check_site", "publish_git", "publish_space", "stage_site"]

MARKER = ".visanom-publish"
SKIP_DIRS = (".build", ".git")
SPACE_README = """---
title: {title}
emoji: 📈
colorFrom: blue
colorTo: gray
sdk: static
app_file: index.html
pinned: false
---
"""
# what `visanom leaderboard build` writes; on re-upload to a Space, remote files matching these
# and absent from the new site are deleted (README.md and .gitattributes are kept)
SPACE_DELETE = ["*.html", "*.json", "*.csv", "*.parquet", ".nojekyll", MARKER,
                "static/*", "tasks/*", "models/*", "samples/*", "inputs/*"]
_ABSOLUTE_LINK = re.compile(rb"""(?:href|src)\s*=\s*["']/(?!/)""")


@dataclass
class PublishReport:
    """What a publish did: where to, how many files, and the new commit (None: nothing changed)."""

    target: str
    files: int
    commit: str | None
    skipped: list[str]


def check_site(site: Path) -> dict[str, Any]:
    """The site's ``summary.json`` when ``site`` is a built site; a :class:`UsageError` otherwise."""
    if not site.is_dir():
        raise UsageError(f"site folder {site} does not exist or is not a folder; build it first with "
                         "`visanom leaderboard build RESULTS --out SITE` (nothing was published)")
    summary_path, index = site / "summary.json", site / "index.html"
    if not summary_path.is_file() or not index.is_file():
        raise UsageError(f"{site} is not a built leaderboard site (no summary.json and index.html); build it "
                         "first with `visanom leaderboard build` (nothing was published)")
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{summary_path} is not readable JSON ({exc}); rebuild the site (nothing was published)") from exc
    if not isinstance(summary, dict) or not str(summary.get("schema", "")).startswith("visanom.summary/"):
        raise UsageError(f"{summary_path} is not a visanom leaderboard summary (schema "
                         f"{str(summary.get('schema') if isinstance(summary, dict) else None)[:60]!r}); nothing was published")
    return summary


def _site_files(site: Path) -> Iterator[tuple[str, Path | None, str]]:
    """``(relative path, source, why skipped)`` for every entry under ``site``; source is None for
    a skipped entry."""
    for folder, dirs, files in os.walk(site):
        here = Path(folder)
        rel_dir = here.relative_to(site)
        keep = []
        for d in sorted(dirs):
            if rel_dir == Path(".") and d in SKIP_DIRS:
                continue
            if (here / d).is_symlink():
                yield (rel_dir / d).as_posix(), None, "a symlink (not followed)"
                continue
            keep.append(d)
        dirs[:] = keep
        for name in sorted(files):
            path = here / name
            rel = (rel_dir / name).as_posix()
            if path.is_symlink() or not path.is_file():
                yield rel, None, "a symlink or not a regular file"
            else:
                yield rel, path, ""


def stage_site(site: Path, dest: Path, summary: dict[str, Any]) -> tuple[int, list[str]]:
    """Copy the publishable files of ``site`` into ``dest`` (0644), add ``.nojekyll`` and the
    marker; return the number of files and the skipped entries. Refuses a page with a
    root-absolute link (it would break on a project site such as ``user.github.io/repo/``)."""
    skipped, count = [], 0
    for rel, src, why in _site_files(site):
        if src is None:
            skipped.append(f"{rel}: {why}")
            continue
        data = src.read_bytes()
        if rel.endswith(".html") and _ABSOLUTE_LINK.search(data):
            raise UsageError(f"{site / rel} links to a root-absolute path (href=\"/...\"); the site must use "
                             "relative links (nothing was published)")
        out = dest / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
        os.chmod(out, 0o644)
        count += 1
    for name, text in ((".nojekyll", ""), (MARKER, json.dumps(
            {"generated": summary.get("generated"), "visanom": summary.get("visanom")}) + "\n")):
        (dest / name).write_text(text, encoding="utf-8")
        os.chmod(dest / name, 0o644)
    return count, skipped


def _git(args: list[str], cwd: Path, what: str) -> str:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-6:]
        raise OutputError(f"{what} failed: " + " | ".join(tail) + " (nothing was published; the site is unchanged)")
    return proc.stdout


def publish_git(site: str | Path, repo: str, *, branch: str = "gh-pages", message: str | None = None) -> PublishReport:
    """Commit ``site`` to ``branch`` of the git repository ``repo`` and push it (module docstring).

    :class:`UsageError` (exit 2) for a folder that is not a built site, a bad branch name or a
    branch with unrelated history; :class:`OutputError` (exit 3) when git cannot fetch, commit
    or push (a rejected push leaves the remote as it was)."""
    site = Path(site)
    summary = check_site(site)
    if shutil.which("git") is None:
        raise OutputError("git is not installed (nothing was published)")
    if not re.fullmatch(r"[A-Za-z0-9._/-]+", branch) or ".." in branch or branch.startswith(("-", "/")):
        raise UsageError(f"invalid branch name {branch!r}")
    if repo.startswith("-"):
        raise UsageError(f"invalid repository {repo!r}")
    with tempfile.TemporaryDirectory(prefix="visanom-publish-") as tmp:
        work = Path(tmp) / "work"
        work.mkdir()
        _git(["init", "-q"], work, "git init")
        heads = _git(["ls-remote", "--heads", "--", repo, f"refs/heads/{branch}"], work,
                     f"reading the branches of {repo}")
        exists = bool(heads.strip())
        if exists:
            _git(["fetch", "-q", "--", repo, f"refs/heads/{branch}:refs/remotes/origin/{branch}"], work,
                 f"fetching {branch} from {repo}")
            listed = _git(["ls-tree", "--name-only", f"refs/remotes/origin/{branch}"], work, "reading the branch")
            if MARKER not in listed.split("\n"):
                raise UsageError(
                    f"branch {branch!r} of {repo} exists and was not made by `visanom leaderboard publish` "
                    f"(no {MARKER} in its tip): its history is unrelated; choose another --branch or delete "
                    "that branch (nothing was published)")
            _git(["checkout", "-q", "-b", branch, f"refs/remotes/origin/{branch}"], work, "checking out the branch")
            _git(["rm", "-r", "-q", "--ignore-unmatch", "."], work, "clearing the old site")
        else:
            _git(["checkout", "-q", "--orphan", branch], work, "creating the branch")
        files, skipped = stage_site(site, work, summary)
        _git(["add", "-A", "."], work, "staging the site")
        changed = subprocess.run(["git", "diff", "--cached", "--quiet"], cwd=work, check=False).returncode != 0
        if not changed and exists:
            return PublishReport(f"{repo} {branch}", files, None, skipped)
        text = message or f"Publish the leaderboard (built {summary.get('generated')}, visanom {summary.get('visanom')})"
        ident = ["-c", "user.name=visanom leaderboard", "-c", "user.email=visanom@localhost"]
        has_ident = subprocess.run(["git", "config", "user.email"], cwd=work, capture_output=True,
                                   check=False).returncode == 0
        _git([*([] if has_ident else ident), "commit", "-q", "--no-verify", "-m", text], work, "committing the site")
        commit = _git(["rev-parse", "HEAD"], work, "reading the commit").strip()
        _git(["push", "-q", "--", repo, f"HEAD:refs/heads/{branch}"], work, f"pushing to {repo} ({branch})")
        return PublishReport(f"{repo} {branch}", files, commit, skipped)


def publish_space(site: str | Path, space_id: str, *, message: str | None = None, private: bool = False,
                  api: Any = None) -> PublishReport:
    """Upload ``site`` as a static Hugging Face Space ``OWNER/NAME`` (created when missing):
    ``HfApi.create_repo(repo_type="space", space_sdk="static")`` then ``upload_folder`` of the
    staged site with a ``README.md`` that declares ``sdk: static``. ``api`` defaults to
    ``huggingface_hub.HfApi()`` (token from the usual place: ``HF_TOKEN`` or ``hf auth login``)."""
    site = Path(site)
    summary = check_site(site)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*", space_id):
        raise UsageError(f"--hf-space must be OWNER/NAME, got {space_id!r}")
    if api is None:
        try:
            from huggingface_hub import HfApi
        except ImportError as exc:
            raise UsageError("publishing to a Space needs huggingface_hub (pip install 'visanom[hf]')") from exc
        api = HfApi()
    with tempfile.TemporaryDirectory(prefix="visanom-space-") as tmp:
        stage = Path(tmp)
        files, skipped = stage_site(site, stage, summary)
        if not (stage / "README.md").exists():
            (stage / "README.md").write_text(SPACE_README.format(title=space_id.split("/")[1][:60]), encoding="utf-8")
            os.chmod(stage / "README.md", 0o644)
        text = message or f"Publish the leaderboard (built {summary.get('generated')})"
        try:
            api.create_repo(repo_id=space_id, repo_type="space", space_sdk="static", exist_ok=True, private=private)
            info = api.upload_folder(folder_path=str(stage), repo_id=space_id, repo_type="space",
                                     commit_message=text, delete_patterns=SPACE_DELETE)
        except Exception as exc:  # the hub client raises many types (HTTP, auth, validation)
            raise OutputError(f"uploading to the Space {space_id} failed: {exc} (the site is unchanged)") from exc
        commit = getattr(info, "oid", None) or (str(info) if info is not None else None)
        return PublishReport(f"https://huggingface.co/spaces/{space_id}", files, commit, skipped)
