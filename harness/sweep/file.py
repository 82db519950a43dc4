"""Sweep files (``baselines/sweeps/*.yaml``): named groups of models x tasks, read and checked.

A sweep file expands to :class:`Job` objects, one :class:`~harness.core.spec.RunSpec` each, and
every problem a file can have (YAML syntax, an unknown key, name or argument, a duplicate
job) is a :class:`~harness.core.errors.UsageError` that names the file and line, raised before
any work. See ``docs/sweeps.md`` for the format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness import registry
from harness.core.errors import UnknownNameError, UsageError
from harness.core.spec import RunSpec

TOP_KEYS = {"name", "description", "output", "limit", "api_concurrency", "planned", "groups", "pairs"}
SETTING_KEYS = {"task_args", "model_args", "generation", "limit", "seed", "draws", "reducer", "reduce_by",
                "judge", "judge_args"}
GROUP_KEYS = SETTING_KEYS | {"name", "tasks", "models"}
PAIR_KEYS = SETTING_KEYS | {"task", "model"}
ITEM_KEYS = {"name", "args", "generation"}


class _LineDict(dict):
    """A mapping that remembers the line of itself and of each key."""

    line: int = 0
    key_lines: dict[str, int]


class _LineList(list):
    """A sequence that remembers the line of itself and of each item."""

    line: int = 0
    item_lines: list[int]


class _Loader(yaml.SafeLoader):
    """Safe YAML with line numbers kept and duplicate keys refused."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _LineDict:
    loader.flatten_mapping(node)
    out = _LineDict()
    out.line, out.key_lines = node.start_mark.line + 1, {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, str):
            raise UsageError(f"{loader.name}:{line}: keys must be text, got {key!r}")
        if key in out:
            raise UsageError(f"{loader.name}:{line}: duplicate key {key!r} (first at line {out.key_lines[key]})")
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = line
    return out


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> _LineList:
    out = _LineList(loader.construct_object(child, deep=True) for child in node.value)
    out.line, out.item_lines = node.start_mark.line + 1, [c.start_mark.line + 1 for c in node.value]
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


@dataclass(frozen=True)
class Job:
    """One run spec of a sweep, with where it was declared and, for a model the sweep lists
    before it is registered, why it is not yet runnable (``planned``)."""

    spec: RunSpec
    where: str
    group: str
    planned: str | None = None

    @property
    def name(self) -> str:
        """``task / label`` as the progress lines and the final table show it."""
        return f"{self.spec.task} / {self.spec.label}"


@dataclass
class Sweep:
    """A parsed sweep file."""

    name: str
    path: Path
    description: str = ""
    output: Path = Path("results")
    jobs: list[Job] = field(default_factory=list)
    api_concurrency: dict[str, int] = field(default_factory=dict)


def named_sweeps() -> dict[str, Path]:
    """Named sweeps: ``NAME.yaml`` in the folders plugins give as ``SWEEP_DIRS`` (first one wins)."""
    out: dict[str, Path] = {}
    for folder in registry.plugin_values("SWEEP_DIRS"):
        for path in sorted(Path(folder).glob("*.yaml")):
            out.setdefault(path.stem, path)
    return out


def resolve_sweep_path(name_or_file: str) -> Path:
    """``demo`` -> the plugin's ``sweeps/demo.yaml`` (baselines/sweeps/); a path to a file is used as it is."""
    candidate = Path(name_or_file)
    if candidate.suffix in (".yaml", ".yml") or "/" in name_or_file or candidate.is_file():
        if not candidate.is_file():
            raise UsageError(f"sweep file {name_or_file!r} not found")
        return candidate
    known = named_sweeps()
    if name_or_file not in known:
        raise UsageError(f"unknown sweep {name_or_file!r}; known sweeps: {', '.join(sorted(known))} "
                         "(or give a .yaml file)")
    return known[name_or_file]


def load_sweep(name_or_file: str) -> Sweep:
    """Read and check a sweep file; every error names the file and line."""
    path = resolve_sweep_path(name_or_file)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not a UTF-8 text file (byte {exc.start}): a sweep file is YAML") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the sweep file: {exc.strerror or exc}") from None
    try:
        loader = _Loader(text)
        loader.name = str(path)
        try:
            try:
                node = loader.get_single_node()
            except RecursionError:
                mark = loader.get_mark()
                raise UsageError(f"{path}:{mark.line + 1}: nested too deeply to read (a sweep value may be "
                                 f"nested at most {MAX_DEPTH} levels)") from None
            if node is None:
                raw = None
            else:
                check_node(node, path)
                raw = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise UsageError(f"{path}{line}: YAML syntax error: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: YAML error: {exc}") from None
    return parse_sweep(raw, path)


MAX_DEPTH = 64
"""How deep a sweep value may nest (mappings and lists)."""
MAX_NODES = 100_000
"""How many values a sweep file may hold once its aliases are expanded (a YAML "billion laughs"
bomb expands to billions; hashing a run spec would expand it)."""
_PLAIN_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq", "merge")}


def check_node(root: yaml.Node, path: Path) -> None:
    """Refuse, with file:line, a YAML document that expands past :data:`MAX_NODES` values, nests past
    :data:`MAX_DEPTH` levels, or holds a value that is not text, a number, a boolean, null, a list or
    a mapping (a date, binary, a set, a Python tag): it would not hash into a run spec.

    Runs on the composed node graph, before any object is built; an alias is counted at its full
    size each time it is used, from sizes computed once per node (so a bomb costs no time here)."""
    size: dict[int, int] = {}
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    active: set[int] = set()
    while stack:
        node, depth, done = stack.pop()
        where = f"{path}:{node.start_mark.line + 1}"
        if done:
            active.discard(id(node))
            children = _children(node)
            size[id(node)] = 1 + sum(size[id(c)] for c in children)
            if size[id(node)] > MAX_NODES:
                raise UsageError(f"{where}: this value expands to more than {MAX_NODES:,} values (YAML aliases "
                                 "repeat what they name); a sweep file holds settings, not data")
            continue
        if id(node) in size:
            continue
        if depth > MAX_DEPTH:
            raise UsageError(f"{where}: nested more than {MAX_DEPTH} levels deep")
        if id(node) in active:
            raise UsageError(f"{where}: a value that contains itself (a recursive YAML alias)")
        if node.tag not in _PLAIN_TAGS:
            kind = node.tag.rsplit(":", 1)[-1]
            raise UsageError(f"{where}: {node.value if isinstance(node, yaml.ScalarNode) else kind!r} reads as a "
                             f"YAML {kind}; a sweep value is text, a number, true/false, null, a list or a mapping "
                             "(quote it to pass it as text)")
        active.add(id(node))
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in _children(node) if id(c) not in size)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def parse_sweep(raw: Any, path: Path) -> Sweep:
    """Turn the loaded YAML of a sweep file into a :class:`Sweep` (see :func:`load_sweep`)."""
    if not isinstance(raw, Mapping):
        raise UsageError(f"{path}:1: a sweep file is a mapping with 'groups' and/or 'pairs'")
    at = _Where(path)
    _check_keys(raw, TOP_KEYS, at, "the sweep")
    planned = raw.get("planned") or {}
    if not isinstance(planned, Mapping) or not all(isinstance(v, str) for v in planned.values()):
        raise UsageError(f"{at(raw, 'planned')}: 'planned' maps a model name to why it is not registered yet")
    concurrency = raw.get("api_concurrency") or {}
    if not isinstance(concurrency, Mapping) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in concurrency.values()
    ):
        raise UsageError(f"{at(raw, 'api_concurrency')}: 'api_concurrency' maps a provider to a whole number >= 1")
    sweep = Sweep(
        name=str(raw.get("name") or path.stem), path=path, description=str(raw.get("description") or ""),
        output=Path(str(raw.get("output") or "results")), api_concurrency=dict(concurrency),
    )
    top_limit = raw.get("limit")
    seen: dict[str, str] = {}
    groups = raw.get("groups") or []
    if not isinstance(groups, list):
        raise UsageError(f"{at(raw, 'groups')}: 'groups' is a list")
    for gi, group in enumerate(groups):
        line = groups.item_lines[gi] if isinstance(groups, _LineList) else 0
        if not isinstance(group, Mapping):
            raise UsageError(f"{path}:{line}: a group is a mapping with 'tasks' and 'models'")
        _check_keys(group, GROUP_KEYS, at, "a group")
        gname = str(group.get("name") or f"group {gi + 1}")
        tasks, models = _items(group, "tasks", at), _items(group, "models", at)
        for t_name, t_args, t_line in tasks:
            for m_name, m_args, m_gen, m_line in models:
                job = _job(t_name, t_args, m_name, m_args, m_gen, group, top_limit, planned, at,
                           f"{path}:{m_line}", gname, t_line)
                _add(sweep, job, seen)
    pairs = raw.get("pairs") or []
    if not isinstance(pairs, list):
        raise UsageError(f"{at(raw, 'pairs')}: 'pairs' is a list")
    for pi, pair in enumerate(pairs):
        line = pairs.item_lines[pi] if isinstance(pairs, _LineList) else 0
        if not isinstance(pair, Mapping) or "task" not in pair or "model" not in pair:
            raise UsageError(f"{path}:{line}: a pair is a mapping with 'task' and 'model'")
        _check_keys(pair, PAIR_KEYS, at, "a pair")
        job = _job(str(pair["task"]), {}, str(pair["model"]), {}, {}, pair, top_limit, planned, at,
                   f"{path}:{line}", "pairs", line)
        _add(sweep, job, seen)
    if not sweep.jobs:
        raise UsageError(f"{path}:1: the sweep has no jobs (add 'groups' or 'pairs')")
    return sweep


class _Where:
    def __init__(self, path: Path):
        self.path = path

    def __call__(self, mapping: Any, key: str | None = None) -> str:
        line = getattr(mapping, "line", 0)
        if key is not None:
            line = getattr(mapping, "key_lines", {}).get(key, line)
        return f"{self.path}:{line}"


def _check_keys(mapping: Mapping[str, Any], allowed: set[str], at: _Where, what: str) -> None:
    for key in mapping:
        if key not in allowed:
            raise UsageError(f"{at(mapping, key)}: unknown key {key!r} in {what}; allowed: {', '.join(sorted(allowed))}")


def _items(group: Mapping[str, Any], key: str, at: _Where) -> list[tuple]:
    """``tasks``/``models`` of a group as (name, args[, generation], line)."""
    value = group.get(key)
    if not isinstance(value, list) or not value:
        raise UsageError(f"{at(group, key if key in group else None)}: a group needs a non-empty list '{key}'")
    out = []
    for i, item in enumerate(value):
        line = value.item_lines[i] if isinstance(value, _LineList) else 0
        if isinstance(item, str):
            name, args, gen = item, {}, {}
        elif isinstance(item, Mapping) and "name" in item:
            _check_keys(item, ITEM_KEYS, at, f"an item of '{key}'")
            name, args, gen = str(item["name"]), item.get("args") or {}, item.get("generation") or {}
            if not isinstance(args, Mapping) or not isinstance(gen, Mapping):
                raise UsageError(f"{at(item)}: 'args' and 'generation' are mappings")
        else:
            raise UsageError(f"{at.path}:{line}: an item of '{key}' is a name or a mapping with 'name'")
        out.append((name, dict(args), line) if key == "tasks" else (name, dict(args), dict(gen), line))
    return out


def _job(task: str, task_args: Mapping[str, Any], model: str, model_args: Mapping[str, Any],
         generation: Mapping[str, Any], settings: Mapping[str, Any], top_limit: Any, planned: Mapping[str, str],
         at: _Where, where: str, group: str, task_line: int) -> Job:
    try:
        registry.task_entry(task)
    except UnknownNameError as exc:
        raise UsageError(f"{at.path}:{task_line}: {exc}") from None
    planned_reason = None
    try:
        registry.model_entry(model)
    except UnknownNameError as exc:
        if model not in planned:
            raise UsageError(f"{where}: {exc}") from None
        planned_reason = planned[model]
    judge = settings.get("judge")
    if isinstance(judge, str):
        try:
            registry.model_entry(judge)
        except UnknownNameError as exc:
            raise UsageError(f"{at(settings, 'judge')}: judge: {exc}") from None
    for key in ("task_args", "model_args", "generation", "judge_args"):
        if not isinstance(settings.get(key) or {}, Mapping):
            raise UsageError(f"{at(settings, key)}: '{key}' is a mapping")
    try:
        spec = RunSpec(
            task=task, model=model,
            task_args={**(settings.get("task_args") or {}), **task_args},
            model_args={**(settings.get("model_args") or {}), **model_args},
            generation={**(settings.get("generation") or {}), **generation},
            limit=settings.get("limit", top_limit), seed=settings.get("seed"),
            draws=settings.get("draws", 1), reducer=settings.get("reducer", "first"),
            reduce_by=settings.get("reduce_by"),
            judge=settings.get("judge"), judge_args=dict(settings.get("judge_args") or {}),
        )
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None
    return Job(spec=spec, where=where, group=group, planned=planned_reason)


def _add(sweep: Sweep, job: Job, seen: dict[str, str]) -> None:
    if job.spec.id in seen:
        raise UsageError(f"{job.where}: duplicate job {job.name!r} (already declared at {seen[job.spec.id]})")
    seen[job.spec.id] = job.where
    sweep.jobs.append(job)
