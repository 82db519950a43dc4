"""Build the static leaderboard site: ``results/ -> summary.json -> pages``.

Two steps: :func:`leaderboard.summary.summarise` makes ``summary.json`` (the documented
contract) from the run records, then every page is rendered from it plus, for the sample
viewer, each chosen run's ``samples.jsonl`` and the results folder's input store.

Incremental: each page is written only when its bytes change, and a run's sample pages are
not even re-rendered when the run (its id, ``samples.jsonl`` size and mtime) and the viewer
code are unchanged (``SITE/.build/manifest.json`` remembers what made each page).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.core.errors import OutputError, UsageError
from harness.core.files import atomic_write_bytes
from harness.core.paths import folder_problem
from harness.core.procs import die_with_parent
from harness.core.spec import slug
from harness.core.text import printable
from harness.records.samples import read_samples
from harness.records.store import RUN_FILE, SAMPLES_FILE
from leaderboard import breakdown, pages
from leaderboard.analysis import run_fragment
from leaderboard.comparable import attach_paired
from leaderboard.samples import SampleViews
from leaderboard.scan import Skipped, scan_runs
from leaderboard.summary import summarise
from leaderboard.views import analysis_pages

EXPORT_DIR = "dataset"
"""Where in the site a parquet export (``leaderboard export``) is linked from."""
__all__ = ["BuildReport", "build", "build_site", "write_summary"]

MANIFEST = ".build/manifest.json"
CACHE_DIR = ".build/runs"


@dataclass
class BuildReport:
    """What a build did: the index path, what was skipped, and how many files it wrote."""

    index: Path
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    written: int = 0
    unchanged: int = 0
    runs_rendered: int = 0
    runs_reused: int = 0

    def messages(self) -> list[str]:
        """Plain lines for the user: each skipped record and each disagreement, with its reason."""
        return [item.message() for item in self.skipped] + self.notes


@dataclass(frozen=True)
class OutKind:
    """What a command writes into its ``--out`` folder: words for messages, and the marker
    file that says a folder is one of ours (safe to overwrite)."""

    noun: str
    untouched: str
    marker: str
    legacy: str
    """A file that folders made before the marker existed hold (also accepted as ours)."""


SITE = OutKind("site", "nothing was built (the site is unchanged)", ".visanom-site", MANIFEST)
DATASET = OutKind("dataset", "nothing was exported (the dataset folder is unchanged)", ".visanom-dataset", "")


def check_results(results: Path, kind: OutKind = SITE) -> None:
    """A usage error for a results folder that is missing, not a folder, or holds no run at all."""
    problem = folder_problem(results)
    if problem:
        raise UsageError(f"results folder {results} {problem}; {kind.untouched}")
    for _folder, _dirs, files in os.walk(results):
        if RUN_FILE in files or SAMPLES_FILE in files:
            return
    raise UsageError(f"results folder {results} holds no run records (run.json); {kind.untouched}")


def prepare_out(out: Path, kind: OutKind = SITE, *, force: bool = False) -> None:
    """Create ``out`` and check it can be written; an :class:`OutputError` (exit 3) otherwise.

    A folder that exists, is not empty and holds no marker file of ``kind`` (it is not one we
    wrote) is refused unless ``force``: its files could be overwritten. The marker is written
    here, so later builds into the same folder go ahead."""
    problem = folder_problem(out)
    if problem and problem != "does not exist":
        raise OutputError(f"{kind.noun} folder {out} {problem}")
    if not problem and not force and not _ours(out, kind):
        raise OutputError(f"{kind.noun} folder {out} is not empty and was not written by visanom (no "
                          f"{kind.marker} file in it), so its files could be overwritten; choose an empty or "
                          f"new folder, or pass --force to write into it anyway")
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=out, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)
        marker = out / kind.marker
        if not marker.is_file():
            marker.write_text(f"written by visanom ({kind.noun}); `visanom leaderboard` may overwrite "
                              "files in this folder\n", encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write the {kind.noun} to {out}: {exc.strerror or exc}") from exc


def _ours(out: Path, kind: OutKind) -> bool:
    """Whether ``out`` is empty or holds our marker (or, for a site, a pre-marker build's manifest)."""
    try:
        entries = [entry.name for entry in os.scandir(out)]
    except OSError:
        return True  # unreadable: the write probe says why
    if kind is SITE:  # the dataset exported into the site (`export --out SITE/dataset`) is ours too
        entries = [name for name in entries if not (name == EXPORT_DIR and (out / name).is_dir())]
    if not [name for name in entries if not name.startswith(".probe-")]:
        return True
    return (out / kind.marker).is_file() or bool(kind.legacy and (out / kind.legacy).is_file())


class SiteWriter:
    """Writes files under the site folder only when their bytes change; counts both."""

    def __init__(self, root: Path, manifest: dict[str, Any]) -> None:
        self.root = root
        self.old = manifest.get("files", {}) if isinstance(manifest.get("files"), dict) else {}
        self.files: dict[str, str] = {}
        self.written = 0
        self.unchanged = 0

    def write(self, rel: str, data: str | bytes) -> None:
        """Write ``data`` to ``root/rel`` unless the file there already holds exactly it."""
        raw = data.encode("utf-8") if isinstance(data, str) else data
        digest = hashlib.sha256(raw).hexdigest()
        path = self.root / rel
        self.files[rel] = digest
        if self.old.get(rel) == digest and path.is_file():
            self.unchanged += 1
            return
        write_atomic(path, raw)
        self.written += 1

    def keep(self, rel: str) -> None:
        """Record a file that was left as it is (its page inputs did not change)."""
        self.files[rel] = self.old.get(rel, "")
        self.unchanged += 1


def write_atomic(path: Path, raw: bytes) -> None:
    """Write via a temporary file in the same folder and a rename (readers never see half),
    readable as the umask says (the site is served by other users)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, raw, fsync=False)


def write_summary(summary: dict[str, Any], path: Path) -> None:
    """Write ``summary`` as strict JSON (NaN is refused, never written)."""
    write_atomic(path, summary_bytes(summary))


def summary_bytes(summary: dict[str, Any]) -> bytes:
    """``summary.json``'s bytes."""
    return (json.dumps(summary, indent=1, allow_nan=False, ensure_ascii=False) + "\n").encode("utf-8")


def _code_version() -> str:
    """Hash of everything that shapes a sample page (templates, static files, this package's code)."""
    digest = hashlib.sha256()
    here = Path(__file__).parent
    for path in sorted([*here.glob("*.py"), *pages.TEMPLATES.glob("*"), *pages.STATIC.glob("*")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Render one run's sample page (runs in a worker process); returns the page and compact rows."""
    results, site = Path(job["results"]), Path(job["site"])
    run_dir = results / job["run_dir"]
    records, problems = read_samples(run_dir / SAMPLES_FILE, results)
    views = SampleViews(results, site, job["task_slug"])
    entries = []
    for record in records:
        entry = views.entry(record, run_dir)
        problem = not_json(entry)
        if problem:
            problems.append(f"sample {printable(entry['id'])[:200]}: {problem}")
            continue
        entries.append(entry)
    fragment = run_fragment(records, entries, job["headline"])
    for entry in entries:  # the viewer's ?outcome= filter reads these
        entry["outcomes"] = sorted((fragment["samples"].get(entry["id"]) or {}).get("o") or {})
    page = pages.render_samples(job["context"], entries, problems)
    group_ci = breakdown.group_cis(entries, job["headline"], job["breakdowns"], job["view"])
    return {"page": page, "compact": pages.compare_fragments(entries, job["headline"]), "problems": problems,
            "notes": views.notes, "group_ci": group_ci, "analysis": fragment}


def build(
    results_dir: str | Path,
    out_dir: str | Path,
    *,
    title: str | None = None,
    base_url: str | None = None,
    generated: datetime | None = None,
    workers: int | None = None,
    force: bool = False,
) -> BuildReport:
    """Build (or update) the site in ``out_dir`` from ``results_dir``; see the module docstring.

    Raises :class:`UsageError` for a missing or empty results folder and :class:`OutputError`
    for a site folder that cannot be written, or that holds other files and is not a site we
    built (unless ``force``); in these cases nothing in ``out_dir`` changes. A bad record
    never stops the build: it is in the report and on the page.
    """
    results, out = Path(results_dir), Path(out_dir)
    check_results(results)
    prepare_out(out, force=force)
    manifest = _read_manifest(out)
    stats = manifest.get("stats") if isinstance(manifest.get("stats"), dict) else {}
    stats = {k: v for k, v in stats.items() if isinstance(v, list) and len(v) == 3}
    runs, skipped = scan_runs(results, stats)
    summary = summarise(runs, skipped, generated=generated)
    attach_paired(summary, results)
    site = {"title": title or "visanom leaderboard", "base_url": pages.safe_url(base_url) if base_url else None}
    writer = SiteWriter(out, manifest)
    report = BuildReport(index=out / "index.html", skipped=list(skipped))
    version = _code_version()
    old_runs = manifest.get("runs", {}) if isinstance(manifest.get("runs"), dict) else {}
    new_runs: dict[str, Any] = {}
    jobs: list[tuple[str, str, dict[str, Any]]] = []
    compact_by_task: dict[str, dict[str, dict[str, Any]]] = {}
    analysis_by_task: dict[str, dict[str, dict[str, Any]]] = {}
    old_analysis = manifest.get("analysis") if isinstance(manifest.get("analysis"), dict) else {}
    new_analysis: dict[str, Any] = {}
    for task in summary["tasks"]:
        task_slug = slug(task["name"])
        task["slug"] = task_slug
        task["export"] = _export_link(out, task["name"])
        for row in task["rows"]:
            row["slug"] = slug(row["key"])
            row["pages"] = {
                "model": f"models/{task_slug}/{row['slug']}.html",
                "samples": f"samples/{task_slug}/{row['slug']}.html",
            }
    for task in summary["tasks"]:
        compact_by_task[task["name"]] = {}
        for row in task["rows"]:
            page = row["pages"]["samples"]
            stat = next((r.get("_samples") for r in runs if r.get("_source") == row["run_dir"]), None)
            key = hashlib.sha256(json.dumps(
                [version, row["run_id"], row["run_dir"], stat, task["headline"], site], sort_keys=True
            ).encode()).hexdigest()
            new_runs[page] = key
            cache = out / CACHE_DIR / f"{row['slug']}-{task['slug']}.json"
            if (old_runs.get(page) == key and (out / page).is_file() and cache.is_file()
                    and cache.with_suffix(".analysis.json").is_file()):
                try:
                    cached = json.loads(cache.read_bytes())  # fragments are strings: quick to load
                    compact_by_task[task["name"]][row["key"]] = cached["compact"]
                    row["sample_problems"] = cached["problems"]
                    row["sample_notes"] = cached.get("notes", [])
                    row["group_ci"] = cached["group_ci"]
                    writer.keep(page)
                    report.runs_reused += 1
                    continue
                except (OSError, ValueError, KeyError):
                    pass
            context = pages.samples_context(summary, task, row, site)
            jobs.append((task["name"], row["key"], {
                "results": str(results), "site": str(out), "run_dir": row["run_dir"], "task_slug": task["slug"],
                "headline": task["headline"], "context": context, "page": page, "cache": str(cache),
                "breakdowns": task["breakdowns"], "view": str((task["display"] or {}).get("view") or ""),
            }))
    for (task_name, key, job), result in zip(jobs, _map(_run_job, [j for _, _, j in jobs], workers), strict=True):
        writer.write(job["page"], result["page"])
        write_atomic(Path(job["cache"]), json.dumps(
            {"compact": result["compact"], "problems": result["problems"], "notes": result["notes"],
             "group_ci": result["group_ci"]}, ensure_ascii=False).encode("utf-8"))
        write_atomic(Path(job["cache"]).with_suffix(".analysis.json"),
                     json.dumps(result["analysis"], ensure_ascii=False).encode("utf-8"))
        compact_by_task[task_name][key] = result["compact"]
        analysis_by_task.setdefault(task_name, {})[key] = result["analysis"]
        row = next(r for t in summary["tasks"] if t["name"] == task_name for r in t["rows"] if r["key"] == key)
        row["sample_problems"], row["sample_notes"] = result["problems"], result["notes"]
        row["group_ci"] = result["group_ci"]
        report.runs_rendered += 1
    for task in summary["tasks"]:
        for row in task["rows"]:
            for problem in row.get("sample_problems") or []:
                report.notes.append(f"{row['run_dir']}/{SAMPLES_FILE}: {problem} (left out of the sample viewer)")
            for note in row.get("sample_notes") or []:
                report.notes.append(f"{row['run_dir']}/{SAMPLES_FILE}: {note}")
            writer.write(row["pages"]["model"], pages.render_model(summary, task, row, site))
        writer.write(f"tasks/{task['slug']}/breakdown.html", pages.render_breakdown(summary, task, site))
        writer.write(f"tasks/{task['slug']}/compare.html",
                     pages.render_compare(summary, task, compact_by_task[task["name"]], site))
        new_analysis[task["slug"]] = _analysis(writer, summary, task, site, [version, new_runs],
                                               analysis_by_task.get(task["name"], {}), old_analysis.get(task["slug"]))
    report.notes[:0] = [f"{note['path']}: {note['reason']}" for note in summary["notes"]] + [
        f"chose {row['run_dir']} for {task['name']} / {row['label']}: {row['choice']}"
        for task in summary["tasks"] for row in task["rows"] if row["superseded"]
    ]
    for rel, raw in _static_files():
        writer.write(rel, raw)
    writer.write("summary.json", summary_bytes(_public_summary(summary)))
    writer.write("leaderboard.csv", pages.leaderboard_csv(summary))
    writer.write("glossary.html", pages.render_glossary(summary, site))
    writer.write("index.html", pages.render_index(summary, site=site))
    _remove_stale(out, writer.old, writer.files)
    write_atomic(out / MANIFEST, json.dumps({"files": writer.files, "runs": new_runs, "stats": stats,
                                             "analysis": new_analysis}).encode("utf-8"))
    report.written, report.unchanged = writer.written, writer.unchanged
    return report


def _analysis(
    writer: SiteWriter, summary: dict[str, Any], task: dict[str, Any], site: dict[str, Any], inputs: list[Any],
    fresh: dict[str, Any], old: Any,
) -> dict[str, Any]:
    """Write the task's analysis pages (leaderboard.views), or keep them when the task's rows, their
    runs and the code are what made them last time; returns the manifest entry."""
    version, run_keys = inputs
    rows = [[r["key"], r["label"], r["slug"], r["pages"], run_keys.get(r["pages"]["samples"])] for r in task["rows"]]
    key = hashlib.sha256(json.dumps([version, site, task["name"], task["headline"], task["display"], rows],
                                    sort_keys=True, default=str).encode()).hexdigest()
    if (isinstance(old, dict) and old.get("key") == key and isinstance(old.get("pages"), list)
            and all(isinstance(rel, str) and (writer.root / rel).is_file() for rel in old["pages"])):
        for rel in old["pages"]:
            writer.keep(rel)
        return old
    fragments = dict(fresh)
    for row in task["rows"]:
        if row["key"] not in fragments:
            path = writer.root / CACHE_DIR / f"{row['slug']}-{task['slug']}.analysis.json"
            try:
                fragments[row["key"]] = json.loads(path.read_bytes())
            except (OSError, ValueError):
                fragments[row["key"]] = {}
    pages = analysis_pages(summary, task, fragments, site)
    for rel, page_html in pages:
        writer.write(rel, page_html)
    return {"key": key, "pages": [rel for rel, _ in pages]}


def build_site(results_dir: str | Path, out_dir: str | Path, *, generated: datetime | None = None,
               force: bool = False) -> Path:
    """Build the site and return the index path (the report's messages are dropped; see :func:`build`)."""
    return build(results_dir, out_dir, generated=generated, force=force).index


def not_json(value: Any) -> str:
    """Why ``value`` cannot go into a page as strict JSON (a NaN or infinite number), or ``""``."""
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:
        return "holds a NaN or infinite number"
    except (TypeError, RecursionError) as exc:
        return f"cannot be shown ({type(exc).__name__})"
    return ""


def _export_link(out: Path, task: str) -> str | None:
    """The site path of the task's per-sample parquet export (``visanom leaderboard export
    RESULTS --out SITE/dataset``) when it is there, else None."""
    from leaderboard.export import config_name  # export imports this module

    rel = f"{EXPORT_DIR}/{config_name(task)}/train.parquet"
    return rel if (out / rel).is_file() else None


def _public_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary as published (build-internal keys dropped)."""
    out = dict(summary)
    out["tasks"] = []
    for task in summary["tasks"]:
        internal = ("sample_problems", "sample_notes", "group_ci")
        rows = [{k: v for k, v in row.items() if k not in internal} for row in task["rows"]]
        out["tasks"].append({**task, "rows": rows})
    return out


def _static_files() -> Iterable[tuple[str, bytes]]:
    for path in sorted(pages.STATIC.iterdir()):
        if path.is_file():
            yield f"static/{path.name}", path.read_bytes()


def _map(fn: Any, jobs: Sequence[dict[str, Any]], workers: int | None) -> list[dict[str, Any]]:
    n = workers if workers is not None else min(len(jobs), os.cpu_count() or 1, 4)
    if n <= 1 or len(jobs) <= 1:
        return [fn(job) for job in jobs]
    with ProcessPoolExecutor(max_workers=n, initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
        return list(pool.map(fn, jobs, chunksize=1))


def _read_manifest(out: Path) -> dict[str, Any]:
    try:
        data = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _remove_stale(out: Path, old: dict[str, str], new: dict[str, str]) -> None:
    """Delete pages a previous build wrote that this build no longer makes (a row that went away)."""
    for rel in old:
        if rel in new or rel.startswith(("/", "..")) or ".." in Path(rel).parts:
            continue
        path = out / rel
        try:
            if path.is_file() and out.resolve() in path.resolve().parents:
                path.unlink()
        except OSError:
            pass


def serve(site: Path, port: int = 8000, host: str = "127.0.0.1") -> None:
    """Serve ``site`` on http://host:port/ until interrupted (a local preview)."""
    import functools
    import http.server

    if not (site / "index.html").is_file():
        raise UsageError(f"{site} holds no index.html; build it first with `visanom leaderboard build`")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    with http.server.ThreadingHTTPServer((host, port), handler) as server:
        print(f"serving {site} at http://{host}:{server.server_address[1]}/ (Ctrl-C to stop)", flush=True)
        server.serve_forever()
