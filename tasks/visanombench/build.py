"""Build a VisAnomBench folder: load sources, cut segments, split series, write files + manifest.

Sources are loaded and segmented unit by unit (a file, a generated series) in worker
processes; results are gathered in unit order, so the output is byte-identical for any
worker count. The folder is written under a temporary sibling and renamed into place at
the end: an interrupted or failed build leaves no half-built benchmark at ``out``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.metadata
import os
import shutil
import sys
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from harness.core.argtypes import positive_int, worker_count
from harness.core.cpus import available_cpus, cap_workers
from harness.core.errors import DataError, OutputError, UsageError
from harness.core.hashing import stable_hash
from harness.core.procs import die_with_parent

from .manifest import (
    MANIFEST,
    SEGMENTS,
    Manifest,
    ManifestItem,
    item_id,
    read_manifest,
    segment_csv,
    write_manifest,
)
from .profiles import DEFAULT_PROFILE, Profile, get_profile, known_profiles
from .segment import Rule, SegmentSettings
from .sources import Skipped, Unit, canonical, load_unit, loader
from .split import PAPER_TEST_FRACTION, TEST, TRAIN, split_groups

DEFAULT_TEST_FRACTION = PAPER_TEST_FRACTION
"""740 / 3,316 from the paper's counts (0.223 gave 739 test items at full size, not 740)."""


@dataclass(frozen=True)
class BuildSettings:
    """Everything besides the sources that decides the built benchmark.

    ``profile`` names the segmentation profile (:mod:`tasks.visanombench.profiles`; None:
    ``paper``, or ``fixed-1000`` when a fixed-window setting is given). ``window``,
    ``stride``, ``min_length`` and ``keep_normal`` adjust a fixed-window profile (None:
    the profile's value). ``seed`` seeds the split and the placement of windows around
    anomalies. UsageError for an unknown profile or bad numbers.
    """

    profile: str | None = None
    window: int | None = None
    stride: int | None = None
    min_length: int | None = None
    keep_normal: bool | None = None
    seed: int = 0
    test_fraction: float = DEFAULT_TEST_FRACTION

    def __post_init__(self) -> None:
        _ = self.resolved  # validates the profile and its settings
        tf = self.test_fraction
        if isinstance(tf, bool) or not isinstance(tf, (int, float)) or not 0.0 <= tf <= 1.0:
            raise UsageError(f"test fraction must be a number from 0 to 1, got {tf!r}")

    @property
    def _overrides(self) -> dict[str, Any]:
        return {k: v for k, v in (("window", self.window), ("stride", self.stride), ("min_length", self.min_length),
                                  ("keep_normal", self.keep_normal)) if v is not None}

    @property
    def resolved(self) -> Profile:
        """The profile with the fixed-window settings applied."""
        overrides = self._overrides
        name = self.profile or ("fixed-1000" if overrides else DEFAULT_PROFILE)
        return get_profile(name, overrides)

    def to_dict(self) -> dict[str, Any]:
        """Plain form for the manifest: the resolved profile (plus the flat fixed-window settings
        for fixed profiles, as manifests had them before profiles), seed and test fraction."""
        prof = self.resolved
        out: dict[str, Any] = {"profile": prof.to_dict(), "seed": self.seed, "test_fraction": self.test_fraction}
        if isinstance(prof.default, SegmentSettings) and not prof.rules:
            out.update(asdict(prof.default))
        return out


@dataclass(frozen=True)
class _SeriesResult:
    """A worker's output for one series: its identity and its encoded segments."""

    source: str
    domain: str
    name: str
    group: str
    split: str | None
    anomaly_kinds: tuple[str, ...]
    origin: str
    n_points: int
    segments: tuple[tuple[int, int, tuple[tuple[int, int], ...], tuple[str, ...], bytes, str], ...]
    rule: Rule


def _work(unit: Unit, profile: Profile, seed: int) -> tuple[list[_SeriesResult], list[Skipped]]:
    """Load one unit and segment its series by the profile's rules (runs in a worker process).
    DataError propagates."""
    try:
        loaded = load_unit(unit)
    except DataError:
        raise
    except Exception as exc:  # a loader bug must not sink the build: record it with the unit
        return [], [Skipped(unit.key, f"unexpected loader error {type(exc).__name__}: {exc}", "loader-error",
                            unit.source)]
    results, skipped = [], []
    for item in loaded:
        if isinstance(item, Skipped):
            skipped.append(item if item.source else replace(item, source=unit.source))
            continue
        rule = profile.rule_for(item.source, unit.source)
        segments, skips = rule.segment(item, seed)
        skipped.extend(skips)
        encoded = []
        for s in segments:
            data = segment_csv(s.index, s.values, s.labels)
            encoded.append((s.start, s.end, s.intervals, s.anomaly_kinds, data, hashlib.sha256(data).hexdigest()))
        results.append(_SeriesResult(item.source, item.domain, item.name, str(item.group), item.split,
                                     item.anomaly_kinds, item.origin, int(item.values.size), tuple(encoded), rule))
    return results, skipped


def _spec_json(spec: Any) -> Any:
    """A source spec in manifest form: paths absolute, mappings sorted."""
    if spec is None:
        return None
    if isinstance(spec, Mapping):
        return {str(k): _spec_json(v) for k, v in sorted(spec.items())}
    if isinstance(spec, (list, tuple)):
        return [_spec_json(v) for v in spec]
    if isinstance(spec, Path):
        return str(spec.expanduser().resolve())
    return spec


def _resolve_specs(sources: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, spec in sources.items():
        key = canonical(name)
        if key in out:
            raise UsageError(f"source {name!r} given twice")
        if isinstance(spec, (str, os.PathLike)) and key not in ("hf",):
            spec = Path(spec).expanduser().resolve()
        elif isinstance(spec, (str, os.PathLike)):
            spec = Path(spec).expanduser().resolve() if str(spec) else None
        out[key] = spec
    if not out:
        raise UsageError("no sources given")
    return out


def _run_units(units: Sequence[Unit], profile: Profile, seed: int, workers: int,
               progress: bool) -> Iterator[tuple[list[_SeriesResult], list[Skipped]]]:
    from tqdm import tqdm

    bar = tqdm(total=len(units), desc="visanombench", unit="unit", disable=not progress, dynamic_ncols=True)
    try:
        if workers <= 1 or len(units) <= 1:
            for u in units:
                yield _work(u, profile, seed)
                bar.update()
        else:
            pool = ProcessPoolExecutor(max_workers=workers, initializer=die_with_parent, initargs=(os.getpid(),))
            try:
                for res in pool.map(_work, units, [profile] * len(units), [seed] * len(units), chunksize=1):
                    yield res
                    bar.update()
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
    finally:
        bar.close()


def _created_by() -> str:
    try:
        return f"visanom {importlib.metadata.version('visanom')}"
    except importlib.metadata.PackageNotFoundError:
        return "visanom unknown"


def build_benchmark(
    sources: Mapping[str, Any], out: str | os.PathLike[str], settings: BuildSettings | None = None,
    workers: int | None = None, progress: bool = True, overwrite: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> Manifest:
    """Build a benchmark folder at ``out`` and return its manifest.

    ``sources`` maps a source name (gutentag, ucr-tsad, kpi, egi, hf, tsb-embedded) to a path
    or a settings dict (None for defaults). ``workers`` processes load and segment (default:
    CPU count, at most 8). An existing benchmark at ``out`` is replaced only with
    ``overwrite``; a non-empty folder that holds no benchmark is never touched.
    """
    settings = settings or BuildSettings()
    out = Path(out).expanduser()
    _check_out(out, overwrite)
    specs = _resolve_specs(sources)
    units: list[Unit] = []
    for key, spec in specs.items():
        units.extend(loader(key).units(spec))
    if workers is None:
        workers = min(8, available_cpus())
    else:
        workers, note = cap_workers(int(workers))
        if note and progress:
            print(f"visanom: {note}", file=sys.stderr)
    tmp = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex}"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        (tmp / SEGMENTS).mkdir(parents=True)
    except OSError as exc:
        raise OutputError(f"cannot create the benchmark folder {out}: {exc.strerror or exc}") from None
    try:
        manifest = _build_into(tmp, units, specs, settings, workers, progress, dict(extra or {}))
        if not manifest.items:
            raise DataError(f"the build found no series to segment in {', '.join(_described(specs))}; "
                            f"nothing was written to {out} (an empty benchmark is not a benchmark)")
        _install(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def _described(specs: Mapping[str, Any]) -> list[str]:
    """Each source as the user gave it (``ucr-tsad=/data/UCR``)."""
    return [f"{k}={v}" if isinstance(v, (str, os.PathLike)) else k for k, v in specs.items()]


def _build_into(tmp: Path, units: Sequence[Unit], specs: Mapping[str, Any], settings: BuildSettings,
                workers: int, progress: bool, extra: dict[str, Any]) -> Manifest:
    profile = settings.resolved
    seen: dict[tuple[str, str], str] = {}
    series: list[_SeriesResult] = []
    skipped: list[Skipped] = []
    with contextlib.closing(_run_units(units, profile, settings.seed, workers, progress)) as stream:
        for results, skips in stream:
            skipped.extend(skips)
            series.extend(_write_new(tmp, results, seen, skipped))
    series, capped = _apply_caps(tmp, series, settings.seed)
    splits = _split(series, settings)
    items = sorted(
        (ManifestItem(id=(iid := item_id(r.source, r.name, start)), source=r.source, domain=r.domain,
                      series=r.name, split=splits[(r.source, r.group)], start=start, end=end,
                      length=end - start + 1, intervals=iv, anomaly_kinds=kinds,
                      file=f"{SEGMENTS}/{iid}.csv", sha256=sha, origin=r.origin)
         for r in series for start, end, iv, kinds, _data, sha in r.segments),
        key=lambda it: (it.source, it.domain, it.series, it.start),
    )
    split_counts = {
        f"{name}_{what}": count
        for name in (TRAIN, TEST)
        for what, count in (("series", len({(r.source, r.name) for r in series if splits[(r.source, r.group)] == name})),
                            ("segments", sum(it.split == name for it in items)))
    }
    manifest = Manifest(
        settings={**settings.to_dict(), "sources": {k: _spec_json(v) for k, v in sorted(specs.items())}},
        sources=_source_counts(series, items, splits, skipped, capped, profile),
        split={"seed": settings.seed, "test_fraction": settings.test_fraction, "unit": "series",
               "stratified_by": ["source", "domain"], **split_counts},
        created_by=_created_by(), items=tuple(items),
        skipped=tuple(s.to_dict() for s in sorted(set(skipped), key=lambda s: (s.path, s.reason))),
        extra=extra,
    )
    write_manifest(tmp, manifest)
    return manifest


def _write_new(tmp: Path, results: Iterable[_SeriesResult], seen: dict[tuple[str, str], str],
               skipped: list[Skipped]) -> list[_SeriesResult]:
    """Write the segment files of series not seen before; return them without the file bytes."""
    kept = []
    for r in results:
        key = (r.source, r.name)
        if key in seen:
            skipped.append(Skipped(r.origin, f"duplicate series {r.source}:{r.name} (first: {seen[key]})",
                                   "duplicate", r.source))
            continue
        seen[key] = r.origin
        if not r.segments:
            continue
        for start, _end, _iv, _kinds, data, _sha in r.segments:
            (tmp / SEGMENTS / f"{item_id(r.source, r.name, start)}.csv").write_bytes(data)
        kept.append(replace(r, segments=tuple((s, e, iv, k, b"", sha) for s, e, iv, k, _d, sha in r.segments)))
    return kept


def _apply_caps(tmp: Path, series: list[_SeriesResult], seed: int) -> tuple[list[_SeriesResult], dict[str, int]]:
    """Keep at most ``rule.max_items`` segments per source: those with the smallest seeded hash of
    (source, series, start), so the choice depends only on the candidates and the seed. The
    files of dropped segments are removed; returns the kept series and the number dropped per source."""
    caps: dict[str, int] = {}
    for r in series:
        if r.rule.max_items is not None:
            caps[r.source] = min(caps.get(r.source, r.rule.max_items), r.rule.max_items)
    ranked: dict[str, list[tuple[str, int, int]]] = defaultdict(list)
    for i, r in enumerate(series):
        if r.rule.max_items is not None:
            for start, *_rest in r.segments:
                ranked[r.source].append((stable_hash(["visanombench-cap", seed, r.source, r.name, start], 16), i, start))
    drop: set[tuple[int, int]] = set()
    capped: dict[str, int] = {}
    for source, cands in ranked.items():
        cands.sort()
        over = cands[caps[source]:]
        capped[source] = len(over)
        drop.update((i, start) for _h, i, start in over)
    if not drop:
        return series, capped
    kept = []
    for i, r in enumerate(series):
        segs = tuple(s for s in r.segments if (i, s[0]) not in drop)
        for start, *_rest in (s for s in r.segments if (i, s[0]) in drop):
            (tmp / SEGMENTS / f"{item_id(r.source, r.name, start)}.csv").unlink()
        if segs:
            kept.append(replace(r, segments=segs))
    return kept, capped


def _split(series: Iterable[_SeriesResult], settings: BuildSettings) -> dict[tuple[str, str], str]:
    """(source, group) -> split; a group's stratum is its first domain in sorted order."""
    domain: dict[tuple[str, str], str] = {}
    prescribed: dict[tuple[str, str, str], str] = {}
    for r in sorted(series, key=lambda r: (r.source, r.group, r.domain)):
        domain.setdefault((r.source, r.group), r.domain)
        if r.split is not None:
            prescribed.setdefault((r.source, domain[(r.source, r.group)], r.group), r.split)
    keys = [(s, d, g) for (s, g), d in domain.items()]
    assigned = split_groups(keys, settings.test_fraction, settings.seed, prescribed)
    return {(s, g): assigned[(s, d, g)] for s, d, g in keys}


def _source_counts(series: Sequence[_SeriesResult], items: Sequence[ManifestItem],
                   splits: Mapping[tuple[str, str], str], skipped: Sequence[Skipped], capped: Mapping[str, int],
                   profile: Profile) -> dict[str, Any]:
    """Per source: series (that gave items), items, source points, split series, domains, the
    rule, skipped inputs per kind and segments dropped by the rule's cap."""
    def fresh() -> dict[str, Any]:
        return {"series": 0, "segments": 0, "points": 0, "train_series": 0, "test_series": 0,
                "domains": defaultdict(int), "skipped": defaultdict(int), "capped": 0}

    out: dict[str, Any] = {}
    rules: dict[str, dict[str, Any]] = {}
    for r in series:
        rules.setdefault(r.source, r.rule.to_dict())
        c = out.setdefault(r.source, fresh())
        c["series"] += 1
        c["points"] += r.n_points
        c["domains"][r.domain] += 1
        c[f"{splits[(r.source, r.group)]}_series"] += 1
    for it in items:
        out[it.source]["segments"] += 1
    for s in set(skipped):
        out.setdefault(s.source or "unknown", fresh())["skipped"][s.kind] += 1
    for source, n in capped.items():
        out.setdefault(source, fresh())["capped"] = n
    for source, c in out.items():
        c["domains"] = dict(sorted(c["domains"].items()))
        c["skipped"] = dict(sorted(c["skipped"].items()))
        c["rule"] = rules.get(source) or profile.rule_for(source).to_dict()
    return out


def _check_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out} is a file, not a folder for the benchmark")
    if out.is_dir() and any(out.iterdir()):
        if not (out / MANIFEST).is_file():
            raise OutputError(f"{out} is not empty and holds no VisAnomBench manifest; choose another folder")
        if not overwrite:
            raise OutputError(f"{out} already holds a benchmark; pass overwrite (--force) to replace it")


def _install(tmp: Path, out: Path) -> None:
    """Put ``tmp`` at ``out``: the old benchmark (if any) is moved aside first, then removed."""
    old = None
    if out.is_dir():
        if any(out.iterdir()):
            old = out.parent / f".{out.name}.old-{uuid.uuid4().hex}"
            out.rename(old)
        else:
            out.rmdir()
    try:
        tmp.rename(out)
    except OSError:
        if old is not None and not out.exists():
            old.rename(out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


EMBEDDED_VERSION = "v2"
"""Bump when the embedded benchmark's contents change; its cache folder is named after it
(v1: fixed 1,000-point windows; v2: the paper profile)."""
EMBEDDED_MARKER = "visanom-embedded-visanombench"
EMBEDDED_SOURCES: dict[str, Any] = {
    "gutentag": {"per_domain": 2, "length": 5000, "seed": 0},
    "tsb-embedded": None,
}
"""20 GutenTAG series (2 per domain, 5,000 points: the paper's length) + UCR 135, MITDB and Yahoo."""
EMBEDDED_SETTINGS = BuildSettings(profile="paper", seed=0, test_fraction=0.5)
"""The paper profile: 20 whole GutenTAG series, one 2,755-point window around UCR 135's anomaly,
MITDB and Yahoo whole (not paper sources): 23 items. Half of the series are test series, so
the demo's test split holds real series too."""


def default_embedded_bench_dir() -> Path:
    """``$XDG_CACHE_HOME/visanom/visanombench/<version>`` (``~/.cache`` when XDG is unset)."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser() / "visanom" / "visanombench" / EMBEDDED_VERSION


def _embedded_ok(root: Path) -> bool:
    from .manifest import verify

    try:
        manifest = read_manifest(root)
    except DataError:
        return False
    if manifest.extra.get("embedded") != {"kind": EMBEDDED_MARKER, "version": EMBEDDED_VERSION}:
        return False
    return not verify(root)


def ensure_embedded_bench(root: str | os.PathLike[str] | None = None, progress: bool = False) -> Path:
    """The folder of the small offline demo benchmark, built (atomically) on first use.

    No network: GutenTAG series plus the real series our embedded TSB-AD-U set reads from
    installed packages. A folder that fails verification is rebuilt; a non-empty folder
    that is not a benchmark is refused. Concurrent callers are safe (the last rename wins,
    all results are identical).
    """
    root = Path(root).expanduser() if root is not None else default_embedded_bench_dir()
    if _embedded_ok(root):
        return root
    try:
        build_benchmark(EMBEDDED_SOURCES, root, EMBEDDED_SETTINGS, workers=1, progress=progress, overwrite=True,
                        extra={"embedded": {"kind": EMBEDDED_MARKER, "version": EMBEDDED_VERSION}})
    except OutputError:
        if not _embedded_ok(root):  # a concurrent builder may have won the race
            raise
    if not _embedded_ok(root):
        raise DataError(f"the embedded VisAnomBench in {root} is incomplete after building it")
    return root


def parse_sources(text: str, gutentag: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``gutentag,ucr-tsad=/p,kpi=/p,egi=/p,hf`` -> {name: path or settings}."""
    out: dict[str, Any] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, _, value = part.partition("=")
        key = canonical(name.strip())
        if key in out:
            raise UsageError(f"source {name!r} given twice in --sources")
        if key == "gutentag":
            out[key] = dict(gutentag or {})
        elif key in ("hf", "tsb-embedded"):
            out[key] = value.strip() or None
        else:
            if not value.strip():
                raise UsageError(f"source {name!r} needs a folder: {name}=/path")
            out[key] = value.strip()
    return out


def add_bench_cli(subparsers: Any) -> Any:
    """Add ``bench build visanombench ...``, ``bench stats DIR`` and ``bench verify DIR`` to the
    ``visanom`` sub-commands; returns the ``bench`` sub-command table, so others can add theirs."""
    bench = subparsers.add_parser("bench", help="build benchmark data sets from their sources")
    bench_sub = bench.add_subparsers(dest="action", required=True)
    b = bench_sub.add_parser("build", help="build VisAnomBench segments, split and manifest")
    b.add_argument("benchmark", choices=["visanombench"])
    b.add_argument("--sources", default="gutentag",
                   help="comma-separated: gutentag, ucr-tsad=DIR, kpi=DIR, egi=DIR, hf[=DIR], tsb-embedded")
    b.add_argument("--out", required=True, help="output folder (written atomically)")
    b.add_argument("--profile", default=None,
                   help=f"segmentation profile: {known_profiles()} (default: paper; fixed-1000 when a window "
                        "flag is given)")
    b.add_argument("--window", type=int, default=None, help="fixed-window profiles: window length (fixed-1000: 1000)")
    b.add_argument("--stride", type=int, default=None, help="fixed-window profiles: stride (default: the window)")
    b.add_argument("--min-length", type=int, default=None, help="fixed-window profiles: shortest kept segment (100)")
    b.add_argument("--anomalous-only", action="store_true", help="fixed-window profiles: drop windows without anomalies")
    d = BuildSettings()
    b.add_argument("--seed", type=int, default=d.seed, help="split and window-placement seed (default: %(default)s)")
    b.add_argument("--test-fraction", type=float, default=d.test_fraction, help="(default: %(default)s)")
    b.add_argument("--workers", type=worker_count, default=None,
                   help="worker processes (default: CPUs, at most 8; capped by cores and memory)")
    b.add_argument("--gutentag-per-domain", type=positive_int, default=None, help="GutenTAG series per domain (default: 81)")
    b.add_argument("--gutentag-length", type=positive_int, default=None, help="GutenTAG series length (default: 5000)")
    b.add_argument("--gutentag-seed", type=int, default=None, help="GutenTAG seed (default: 0)")
    b.add_argument("--force", action="store_true", help="replace an existing benchmark at --out")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")
    b.set_defaults(func=cmd_bench_build)
    st = bench_sub.add_parser("stats", help="a built VisAnomBench's numbers beside the paper's source table")
    st.add_argument("folder")
    st.add_argument("--json", action="store_true", help="print the stats as JSON")
    st.set_defaults(func=cmd_bench_stats)
    v = bench_sub.add_parser("verify", help="check a built VisAnomBench folder against its manifest")
    v.add_argument("folder")
    v.set_defaults(func=cmd_bench_verify)
    return bench_sub


def cmd_bench_stats(args: argparse.Namespace, echo: Callable[[str], None] = print) -> int:
    """Run ``visanom bench stats DIR [--json]``: 0, or DataError when DIR holds no benchmark."""
    import json

    from .stats import bench_stats, format_stats

    stats = bench_stats(args.folder)
    echo(json.dumps(stats, indent=1, sort_keys=True) if args.json else format_stats(stats))
    return 0


def cmd_bench_verify(args: argparse.Namespace, echo: Callable[[str], None] = print) -> int:
    """Run ``visanom bench verify DIR``: 0 when every file matches the manifest, else 2."""
    from .manifest import verify

    problems = verify(args.folder)
    for p in problems:
        echo(p)
    if problems:
        raise DataError(f"{args.folder}: {len(problems)} problem(s) found")
    echo(f"{args.folder}: every segment matches the manifest")
    return 0


def cmd_bench_build(args: argparse.Namespace, echo: Callable[[str], None] = print) -> int:
    """Run ``visanom bench build visanombench`` from parsed arguments, then print the stats; returns 0."""
    from .stats import bench_stats, format_stats

    gt = {k: v for k, v in (("per_domain", args.gutentag_per_domain), ("length", args.gutentag_length),
                            ("seed", args.gutentag_seed)) if v is not None}
    try:
        settings = BuildSettings(profile=args.profile, window=args.window, stride=args.stride,
                                 min_length=args.min_length, keep_normal=False if args.anomalous_only else None,
                                 seed=args.seed, test_fraction=args.test_fraction)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    manifest = build_benchmark(parse_sources(args.sources, gt), Path(args.out), settings, workers=args.workers,
                               progress=not args.no_progress, overwrite=args.force)
    s = manifest.split
    echo(f"VisAnomBench written to {args.out} (profile {settings.resolved.name}): {len(manifest.items)} segments "
         f"({s['train_series']} train / {s['test_series']} test series), {len(manifest.skipped)} skipped")
    echo("")
    echo(format_stats(bench_stats(args.out)))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry point: ``python -m tasks.visanombench.build bench build visanombench ...``."""
    import sys

    from harness.core.errors import VisanomError

    parser = argparse.ArgumentParser(prog="visanom")
    add_bench_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except VisanomError as exc:
        print(f"visanom: error: {exc}", file=sys.stderr)
        return exc.exit_code


__all__ = ["BuildSettings", "add_bench_cli", "build_benchmark", "cmd_bench_build", "cmd_bench_stats", "cmd_bench_verify", "default_embedded_bench_dir",
           "ensure_embedded_bench", "main", "parse_sources"]


if __name__ == "__main__":
    raise SystemExit(main())
