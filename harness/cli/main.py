"""The ``visanom`` command line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from harness import __version__, registry
from harness.cli.args import (
    DEFAULT_CACHE,
    name_list,
    open_cache,
    parse_kv,
    split_names,
)
from harness.cli.leaderboard import add_leaderboard_cli
from harness.core.argtypes import positive_int, worker_count
from harness.core.cpus import cap_workers, default_workers
from harness.core.errors import EXIT_INTERNAL, EXIT_OK, EXIT_SAMPLE_FAILURES, UsageError, VisanomError
from harness.core.spec import REDUCERS
from harness.core.text import PrintableFormatter, printable

log = logging.getLogger("visanom")

BUILTIN_PLUGINS = ("tasks.catalog", "baselines.catalog")
"""visanom's own tasks and models: loaded by every command (and, through $VISANOM_PLUGINS, by every
worker it starts) even where the distribution's entry points are not installed."""
PLUGIN_HELP = ("a module that registers tasks, models or engines (repeatable; also $VISANOM_PLUGINS; "
               "sweep workers load it too; docs/adding-a-model.md)")
DEMO_SWEEP = "demo"
"""The embedded default sweep (``baselines/sweeps/demo.yaml``) that ``visanom demo`` runs."""


def cmd_ls(args: argparse.Namespace) -> int:
    """List tasks, or models with their group, engine and whether they can run here now."""
    import json

    from harness.inference.availability import model_availability

    if args.what == "tasks":
        for name in registry.task_names():
            desc = registry.task_entry(name).display.get("description", "")
            print(f"{name:24s} {desc}")
        return EXIT_OK
    rows = []
    for name in registry.model_names():
        try:
            d = registry.describe_model(name)
        except VisanomError:  # a card over an adapter that is not registered
            d = registry.model_entry(name).display
        ok, reason = model_availability(name)
        rows.append({"name": name, "group": str(d.get("group", "-")),
                     "engine": str(d.get("engine") or d.get("source") or "-"),
                     "runs_here": ok, "reason": reason})
    if getattr(args, "json", False):
        print(json.dumps(rows, indent=1))
        return EXIT_OK
    head = {"name": "NAME", "group": "GROUP", "engine": "ENGINE"}
    width = {k: max(len(head[k]), *(len(r[k]) for r in rows)) for k in head} if rows else {k: 8 for k in head}
    print(f"{head['name']:{width['name']}}  {head['group']:{width['group']}}  {head['engine']:{width['engine']}}"
          "  RUNS HERE NOW")
    for r in rows:
        runs = "yes" if r["runs_here"] else f"no: {r['reason']}"
        print(f"{r['name']:{width['name']}}  {r['group']:{width['group']}}  {r['engine']:{width['engine']}}  {runs}")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    """Parse ``visanom run`` into run specs and run them (``harness.run.orchestrate``)."""
    from harness.run.orchestrate import matrix_specs
    from harness.sweep.envrun import run_across_environments

    specs = matrix_specs(
        split_names(args.model), split_names(args.task),
        model_args=parse_kv(args.model_args), task_args=parse_kv(args.task_args),
        limit=args.limit, generation=parse_kv(args.gen), seed=args.seed, draws=args.draws,
        reducer=args.reducer, reduce_by=args.reduce_by,
        judge=args.judge, judge_args=parse_kv(args.judge_args),
    )
    # each spec in its Python environment (docs/environments.md); one results folder and cache;
    # the judge (when named) grades each run's rationales as a scoring step of the run
    result = run_across_environments(specs, output=Path(args.output), batch_size=args.batch_size,
                                     cache=open_cache(args), rerun=args.rerun, progress=not args.no_progress)
    return EXIT_SAMPLE_FAILURES if result.n_failed else EXIT_OK


def _workers(requested: int | None) -> int:
    """The sweep's worker count: the default, or ``--workers`` capped by cores and memory (said)."""
    if requested is None:
        return default_workers()
    workers, note = cap_workers(requested)
    if note:
        print(f"visanom: {note}", file=sys.stderr)
    return workers


def _sweep(args: argparse.Namespace, name: str) -> int:
    from harness.sweep.driver import run_sweep
    from harness.sweep.file import load_sweep

    sweep = load_sweep(name)
    models = getattr(args, "models", None)
    if models:  # demo --models: only these models of the sweep
        unknown = sorted(set(models) - {j.spec.model for j in sweep.jobs})
        if unknown:
            raise UsageError(f"--models: {', '.join(unknown)} not in sweep {sweep.name!r} "
                             f"({', '.join(sorted({j.spec.model for j in sweep.jobs}))})")
        sweep.jobs = [j for j in sweep.jobs if j.spec.model in models]
    if args.limit is not None:  # --limit overrides every job's limit
        from dataclasses import replace

        sweep.jobs = [replace(j, spec=j.spec.with_(limit=args.limit)) for j in sweep.jobs]
    result = run_sweep(
        sweep, output=Path(args.output) if args.output else None, executor=getattr(args, "executor", "local"),
        workers=_workers(args.workers), only=getattr(args, "only", None),
        dry_run=getattr(args, "dry_run", False), json_out=getattr(args, "json", False),
        progress=not args.no_progress, cache=open_cache(args), ray_address=getattr(args, "ray_address", None),
        rerun=args.rerun, batch_size=getattr(args, "batch_size", None),
    )
    if result.dry_run:  # non-zero when some job would be skipped
        return EXIT_OK if result.ok else EXIT_SAMPLE_FAILURES
    if not result.ok:
        bad = [j for j in result.jobs if j.state not in ("done", "cached")]
        print(f"visanom: {len(bad)} job(s) of sweep {sweep.name!r} did not complete (failed or skipped; "
              "see the table)", file=sys.stderr)
        return EXIT_SAMPLE_FAILURES
    return EXIT_OK


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run a sweep file (``baselines/sweeps/NAME.yaml`` or a path)."""
    return _sweep(args, args.sweep)


def cmd_demo(args: argparse.Namespace) -> int:
    """The embedded default sweep, then the leaderboard."""
    from leaderboard.build import build_site

    code = _sweep(args, DEMO_SWEEP)
    index = build_site(Path(args.output or "results"), Path(args.site))
    print(printable(f"leaderboard written to {index}"))
    return code


def cmd_data(args: argparse.Namespace) -> int:
    from tasks.tsb_ad_u.download import DEFAULT_URL, download_tsb_ad_u, install_archive

    if args.archive is not None and args.url is not None:
        raise UsageError("give --archive FILE.zip or --url URL, not both")
    if args.archive is not None:
        path = install_archive(Path(args.archive), Path(args.out), force=args.force)
    else:
        path = download_tsb_ad_u(Path(args.out), url=args.url or DEFAULT_URL, force=args.force)
    print(printable(f"TSB-AD-U unpacked in {path}; use --task-args data_dir={path} or VISANOM_TSB_AD_U_DIR={path}"))
    return EXIT_OK


def cmd_lm_eval_path(args: argparse.Namespace) -> int:
    """Print the folder to pass to ``lm_eval --include_path`` (docs/lm-eval.md)."""
    from tasks.lm_eval_tasks import INCLUDE_PATH

    print(INCLUDE_PATH)
    return EXIT_OK


def _add_run_options(p: argparse.ArgumentParser, output_default: str | None = "results") -> None:
    p.add_argument("--plugin", dest="plugins", action="append", default=[], metavar="MODULE", help=PLUGIN_HELP)
    p.add_argument("--output", default=output_default,
                   help="results folder (default: %(default)s)" if output_default else
                   "results folder (default: the sweep file's 'output', else results)")
    p.add_argument("--limit", type=positive_int, default=None, help="only the first N samples of each task")
    p.add_argument("--cache", default=None, help=f"prediction cache file (default: {DEFAULT_CACHE})")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the prediction cache")
    p.add_argument("--rerun", action="store_true", help="start the run folder afresh instead of resuming")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _add_sweep_options(p: argparse.ArgumentParser) -> None:
    _add_run_options(p, output_default=None)
    p.add_argument("--workers", type=worker_count, default=None,
                   help="CPU worker processes (default: the number of cores, at most 8; capped by cores and memory)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``visanom`` command."""
    p = argparse.ArgumentParser(prog="visanom", description="Evaluate anomaly detectors and VLM reasoners.")
    p.add_argument("--version", action="version", version=f"visanom {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    p.add_argument("--plugin", dest="plugins_global", action="append", default=[], metavar="MODULE",
                   help=PLUGIN_HELP)
    sub = p.add_subparsers(dest="command", required=True)

    ls = sub.add_parser("ls", help="list registered tasks or models")
    ls.add_argument("what", choices=["tasks", "models"])
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.add_argument("--plugin", dest="plugins", action="append", default=[], metavar="MODULE", help=PLUGIN_HELP)
    ls.set_defaults(func=cmd_ls)

    run = sub.add_parser("run", help="run models on tasks (resumes an interrupted run)")
    run.add_argument("--model", required=True, type=name_list, help="model name(s), comma-separated")
    run.add_argument("--task", required=True, type=name_list, help="task name(s), comma-separated")
    run.add_argument("--model-args", nargs="*", default=[], metavar="K=V", help="arguments for the model(s)")
    run.add_argument("--task-args", nargs="*", default=[], metavar="K=V", help="arguments for the task(s)")
    run.add_argument("--batch-size", type=positive_int, default=None, help="samples per predict call")
    run.add_argument("--gen", nargs="*", default=[], metavar="K=V",
                     help="decoding overrides for text models (temperature=0.7 top_p=0.9 max_new_tokens=256)")
    run.add_argument("--seed", type=int, default=None, help="seed of draw 0 (draw i uses seed+i)")
    run.add_argument("--draws", type=positive_int, default=1, help="answers asked per sample (default: %(default)s)")
    run.add_argument("--reducer", default="first", choices=REDUCERS,
                     help="how draws become one answer (default: %(default)s; see docs/records.md)")
    run.add_argument("--reduce-by", default=None, metavar="METRIC", help="the metric --reducer best picks by")
    run.add_argument("--judge", default=None, metavar="MODEL",
                     help="a registered model that grades each rationale (harness/scoring/templates/judge.j2)")
    run.add_argument("--judge-args", nargs="*", default=[], metavar="K=V", help="arguments for the judge model")
    _add_run_options(run)
    run.set_defaults(func=cmd_run)

    add_leaderboard_cli(sub)

    sw = sub.add_parser("sweep", help="run a sweep file: models x tasks, parallel and resumable (docs/sweeps.md)")
    sw.add_argument("sweep", help="a sweep name (baselines/sweeps/NAME.yaml: demo, paper, tsb-ad-u) or a .yaml file")
    sw.add_argument("--executor", choices=["local", "ray"], default="local",
                    help="worker processes on this machine, or a Ray cluster (default: %(default)s)")
    sw.add_argument("--ray-address", default=None, help="Ray cluster to connect to (default: $RAY_ADDRESS, "
                    "else a local Ray starts)")
    _add_sweep_options(sw)
    sw.add_argument("--only", default=None, metavar="PATTERN",
                    help="only jobs whose 'task / label', model or task matches this glob")
    sw.add_argument("--dry-run", action="store_true", help="list every job, whether it can run here and why not")
    sw.add_argument("--json", action="store_true", help="machine-readable progress on stdout (JSON lines)")
    sw.add_argument("--batch-size", type=int, default=None, help="samples per predict call")
    sw.set_defaults(func=cmd_sweep)

    demo = sub.add_parser("demo", help="the embedded default sweep (baselines/sweeps/demo.yaml), then site/index.html")
    demo.add_argument("--models", type=name_list, default=None, help="run only these models of the demo sweep")
    demo.add_argument("--site", default="site", help="site folder (default: %(default)s)")
    _add_sweep_options(demo)
    demo.set_defaults(func=cmd_demo)

    data = sub.add_parser("data", help="fetch published datasets (needs network)")
    data_sub = data.add_subparsers(dest="action", required=True)
    dl = data_sub.add_parser("download", help="download and unpack a dataset")
    dl.add_argument("dataset", choices=["tsb-ad-u"])
    dl.add_argument("--out", required=True, help="folder to unpack into")
    dl.add_argument("--url", default=None, help="archive URL (default: the official one)")
    dl.add_argument("--archive", default=None, metavar="FILE.zip", help="install a zip downloaded by hand instead")
    dl.add_argument("--force", action="store_true", help="replace an existing TSB-AD-U/ folder")
    dl.set_defaults(func=cmd_data)

    lmp = sub.add_parser("lm-eval-path", help="print the lm_eval --include_path of visanom's task configs")
    lmp.set_defaults(func=cmd_lm_eval_path)

    from harness.cli.bench import add_reasoning_cli
    from harness.cli.env import add_env_cli
    from tasks.visanombench.build import add_bench_cli

    add_reasoning_cli(add_bench_cli(sub), sub)
    add_env_cli(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``visanom`` console script."""
    args = build_parser().parse_args(argv)
    handler = logging.StreamHandler()
    handler.setFormatter(PrintableFormatter("%(levelname)s %(message)s"))
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, handlers=[handler])
    try:
        registry.add_plugins([*BUILTIN_PLUGINS, *args.plugins_global, *getattr(args, "plugins", [])])
        return args.func(args)
    except VisanomError as exc:
        print(printable(f"visanom: error: {exc}", keep_newlines=True), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("visanom: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: say so plainly, with the traceback under --verbose
        log.debug("internal error", exc_info=True)
        print(printable(f"visanom: internal error: {type(exc).__name__}: {exc}", keep_newlines=True), file=sys.stderr)
        if args.verbose:
            raise
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
