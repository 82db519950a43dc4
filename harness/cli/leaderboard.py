"""``visanom leaderboard build | serve | export | publish``: argument parsing, then :mod:`leaderboard`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from harness.core.errors import EXIT_OK, UsageError
from harness.core.text import printable


def cmd_leaderboard(args: argparse.Namespace) -> int:
    """Build the static site from run records."""
    from leaderboard.build import build

    report = build(Path(args.results), Path(args.out), title=args.title, base_url=args.base_url, force=args.force)
    for message in report.messages():
        print(printable(f"visanom: {message}"), file=sys.stderr)
    print(printable(f"leaderboard written to {report.index} ({report.written} files written, "
                    f"{report.unchanged} unchanged)"))
    return EXIT_OK


def cmd_leaderboard_serve(args: argparse.Namespace) -> int:
    """Preview a built site on 127.0.0.1."""
    from leaderboard.build import serve

    try:
        serve(Path(args.site), port=args.port)
    except OSError as exc:
        raise UsageError(f"cannot serve on port {args.port}: {exc.strerror or exc}") from exc
    return EXIT_OK


def cmd_leaderboard_export(args: argparse.Namespace) -> int:
    """Write per-sample records as a parquet dataset (and push it when asked)."""
    from leaderboard.export import export_results, push_to_hub

    exported = export_results(Path(args.results), Path(args.out), force=args.force)
    for message in exported.skipped:
        print(printable(f"visanom: {message}"), file=sys.stderr)
    for config, n in exported.counts.items():
        print(f"{config}: {n} records")
    print(printable(f"dataset written to {args.out}"))
    if args.push_to_hub:
        url = push_to_hub(Path(args.out), args.push_to_hub, private=not args.public)
        print(f"pushed to {url}")
    return EXIT_OK


def cmd_leaderboard_publish(args: argparse.Namespace) -> int:
    """Commit a built site to a git branch, or upload it as a static Hugging Face Space."""
    from leaderboard.publish import publish_git, publish_space

    if bool(args.repo) == bool(args.hf_space):
        raise UsageError("give exactly one of --repo URL or --hf-space OWNER/NAME")
    if args.repo:
        report = publish_git(Path(args.site), args.repo, branch=args.branch, message=args.message)
    else:
        report = publish_space(Path(args.site), args.hf_space, message=args.message, private=args.private)
    for line in report.skipped:
        print(f"visanom: not published: {line}", file=sys.stderr)
    done = f"new commit {report.commit[:12]}" if report.commit else "nothing changed, no new commit"
    print(f"published {report.files} files to {report.target}: {done}")
    return EXIT_OK


def add_leaderboard_cli(sub: Any) -> None:
    """Add ``visanom leaderboard ...`` to the CLI's sub-commands."""
    lb = sub.add_parser("leaderboard", help="build the static leaderboard")
    lb_sub = lb.add_subparsers(dest="action", required=True)
    build = lb_sub.add_parser("build", help="build the site from run records")
    build.add_argument("results", help="results folder")
    build.add_argument("--out", default="site", help="site folder (default: %(default)s)")
    build.add_argument("--title", default=None, help="site title (default: visanom leaderboard)")
    build.add_argument("--base-url", default=None, help="public URL of the site (http/https), for canonical links")
    build.add_argument("--force", action="store_true",
                       help="write into --out even if it holds other files and is not a site visanom built")
    build.set_defaults(func=cmd_leaderboard)
    serve = lb_sub.add_parser("serve", help="preview a built site on http://127.0.0.1:PORT/")
    serve.add_argument("site", help="site folder")
    serve.add_argument("--port", type=int, default=8000, help="port (default: %(default)s; 0 picks a free one)")
    serve.set_defaults(func=cmd_leaderboard_serve)
    export = lb_sub.add_parser("export", help="per-sample records as a Hugging Face dataset (parquet)")
    export.add_argument("results", help="results folder")
    export.add_argument("--out", required=True, help="dataset folder")
    export.add_argument("--push-to-hub", default=None, metavar="REPO", help="also push to this Hub dataset repo")
    export.add_argument("--public", action="store_true",
                        help="create the Hub repo public (default: private, like `bench export`)")
    export.add_argument("--force", action="store_true",
                        help="write into --out even if it holds other files and is not a dataset visanom exported")
    export.set_defaults(func=cmd_leaderboard_export)
    publish = lb_sub.add_parser("publish", help="commit a built site to a git branch (GitHub Pages) or a HF Space")
    publish.add_argument("site", help="a site folder made by `visanom leaderboard build`")
    publish.add_argument("--repo", default=None, metavar="URL", help="git repository URL or path to push to")
    publish.add_argument("--branch", default="gh-pages", help="branch to commit to (default: %(default)s)")
    publish.add_argument("--hf-space", default=None, metavar="OWNER/NAME", help="upload as a static HF Space")
    publish.add_argument("--private", action="store_true", help="create the Space as private (default: public)")
    publish.add_argument("--message", default=None, help="commit message")
    publish.set_defaults(func=cmd_leaderboard_publish)
