"""Registries of tasks and models: lazy references, entry points, decorators and model cards.

Every name maps to an :class:`Entry` holding a lazy ``"module:object"`` reference; the module
is imported only when the name is built (:func:`make_task` / :func:`make_model`), so listing
names imports no task, detector, tsb-ad, torch or plotting code. Four ways to add a name:

* the built-in table :mod:`harness.registry.builtins` (this distribution's own tasks and models);
* expose it from another package under the entry-point group ``visanom.models`` or
  ``visanom.tasks`` (the entry point's name is the registered name, its value the reference);
* decorate a class or factory with :func:`register_model` / :func:`register_task`;
* add a named card to ``baselines/models.yaml`` (``adapter`` + ``args`` + ``display``).

A name registered twice (by two decorators, an entry point clashing with a built-in or with
another package's, a card named like an adapter) is refused with a :class:`UsageError` naming
both sources, when the registry loads, before any work. The same reference reached twice (a
decorated module imported through its entry point) is one registration, not a clash.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from harness.core.errors import UnknownNameError, UsageError
from harness.core.spec import public_args
from harness.core.types import ModelAdapter, Task
from harness.registry import builtins

Factory = Callable[..., Any]

TASK_GROUP = "visanom.tasks"
MODEL_GROUP = "visanom.models"
MODEL_CARDS_FILE = Path(__file__).resolve().parents[2] / "baselines" / "models.yaml"


@dataclass
class Entry:
    """A registered name: where its factory lives, default arguments and display metadata."""

    name: str
    factory: Factory | None
    args: dict[str, Any] = field(default_factory=dict)
    display: dict[str, Any] = field(default_factory=dict)
    adapter: str | None = None  # for model cards: the registered adapter they use
    ref: str | None = None  # lazy "module:object" reference, imported on first use
    source: str = "registered in code"  # who registered it, for messages


_TASKS: dict[str, Entry] = {}
_MODELS: dict[str, Entry] = {}
_loaded = False


def ref_of(obj: Any) -> str:
    """The ``"module:qualname"`` reference of a class or function."""
    return f"{obj.__module__}:{obj.__qualname__}"


def load_ref(ref: str) -> Any:
    """Import ``"package.module:attr.path"`` and return the object (``UsageError`` when it fails)."""
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name.strip() or not attr.strip():
        raise UsageError(f"bad reference {ref!r}: expected 'module:object'")
    try:
        obj: Any = importlib.import_module(module_name.strip())
        for part in attr.strip().split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"cannot load {ref!r}: {type(exc).__name__}: {exc}") from exc
    return obj


def _add(table: dict[str, Entry], kind: str, entry: Entry) -> Entry:
    """Put ``entry`` in ``table``; the same reference twice is one entry, another one a clash."""
    old = table.get(entry.name)
    if old is None:
        table[entry.name] = entry
        return entry
    same = (old.ref is not None and old.ref == entry.ref) or (
        old.factory is not None and old.factory is entry.factory)
    if not same:
        raise UsageError(
            f"{kind} name {entry.name!r} is registered twice: by {old.source} and by {entry.source}; "
            f"rename one of them (registered names must be unique)"
        )
    if old.factory is None and entry.factory is not None:
        old.factory = entry.factory
    return old


def _decorator(table: dict[str, Entry], kind: str, name: str, display: dict[str, Any]
               ) -> Callable[[Factory], Factory]:
    def deco(factory: Factory) -> Factory:
        ref = ref_of(factory)
        _add(table, kind, Entry(name, factory, display=dict(display), ref=ref,
                                source=f"@register_{kind} on {ref}"))
        return factory

    return deco


def register_task(name: str, **display: Any) -> Callable[[Factory], Factory]:
    """Decorator: register a task factory under ``name`` (a clash raises :class:`UsageError`)."""
    return _decorator(_TASKS, "task", name, display)


def register_model(name: str, **display: Any) -> Callable[[Factory], Factory]:
    """Decorator: register a model adapter factory under ``name`` (a clash raises :class:`UsageError`)."""
    return _decorator(_MODELS, "model", name, display)


def _entry_point_source(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    owner = f"package {dist.metadata['Name']} {dist.version}" if dist is not None else "an installed package"
    return f"entry point {ep.group} {ep.name!r} = {ep.value!r} of {owner}"


def _load_entry_points(group: str, table: dict[str, Entry], kind: str) -> None:
    for ep in metadata.entry_points(group=group):
        _add(table, kind, Entry(ep.name, None, display={"entry_point": ep.value}, ref=ep.value.strip(),
                                source=_entry_point_source(ep)))


def _load_builtins() -> None:
    for name, (ref, display) in builtins.TASKS.items():
        _add(_TASKS, "task", Entry(name, None, display=dict(display), ref=ref, source=f"built-in {ref}"))
    rows = dict(builtins.MODELS)
    for table_ref in builtins.MODEL_TABLES:
        rows.update(load_ref(table_ref)())
    for name, (ref, display) in rows.items():
        _add(_MODELS, "model", Entry(name, None, display=dict(display), ref=ref, source=f"built-in {ref}"))


def load_model_cards(path: Path = MODEL_CARDS_FILE) -> dict[str, Entry]:
    """Read named model cards: ``name: {adapter: REGISTERED, args: {...}, display: {...}}``."""
    if not path.exists():
        return {}
    import yaml

    raw = yaml.safe_load(path.read_text()) or {}
    cards = {}
    for name, card in (raw.get("models") or {}).items():
        if "adapter" not in card:
            raise UsageError(f"{path}: model card {name!r} has no 'adapter'")
        cards[name] = Entry(
            name, None, args=dict(card.get("args") or {}), display=dict(card.get("display") or {}),
            adapter=card["adapter"], ref=f"card:{path}#{name}", source=f"model card {name!r} in {path}",
        )
    return cards


def _ensure_loaded() -> None:
    """Load built-ins, entry points and cards once; clashes raise here, before any work."""
    global _loaded
    if _loaded:
        return
    _load_builtins()
    _load_entry_points(TASK_GROUP, _TASKS, "task")
    _load_entry_points(MODEL_GROUP, _MODELS, "model")
    for card in load_model_cards(MODEL_CARDS_FILE).values():
        _add(_MODELS, "model", card)
    _loaded = True


def task_names() -> list[str]:
    """All registered task names."""
    _ensure_loaded()
    return sorted(_TASKS)


def model_names() -> list[str]:
    """All registered model names (adapters and named cards)."""
    _ensure_loaded()
    return sorted(_MODELS)


def task_entry(name: str) -> Entry:
    """The registry entry of a task; raises :class:`UnknownNameError` listing known tasks."""
    _ensure_loaded()
    if name not in _TASKS:
        raise UnknownNameError("task", name, _TASKS)
    return _TASKS[name]


def model_entry(name: str) -> Entry:
    """The registry entry of a model; raises :class:`UnknownNameError` listing known models."""
    _ensure_loaded()
    if name not in _MODELS:
        raise UnknownNameError("model", name, _MODELS)
    return _MODELS[name]


def _resolve_factory(entry: Entry) -> Factory:
    """The entry's factory, importing its module on first use."""
    if entry.factory is None and entry.adapter is None and entry.ref is not None:
        entry.factory = load_ref(entry.ref)
    if entry.factory is None or not callable(entry.factory):
        raise UsageError(f"{entry.name!r} ({entry.source}) has no callable factory")
    return entry.factory


def make_task(name: str, **args: Any) -> Task:
    """Instantiate a registered task with keyword arguments (imports its module now)."""
    entry = task_entry(name)
    factory = _resolve_factory(entry)
    return _call(factory, name, "task", {**entry.args, **args})


def make_model(name: str, **args: Any) -> ModelAdapter:
    """Instantiate a registered model or named card; card args are overridden by ``args``.

    The instance gets ``registered_name`` (``name``; also set as ``name``), ``adapter_name``,
    ``display`` (card metadata over the adapter's) and ``public_args`` (its arguments
    without credentials) for the run record.
    """
    entry = model_entry(name)
    base = model_entry(entry.adapter) if entry.adapter is not None else entry
    factory = _resolve_factory(base)
    merged = {**base.args, **entry.args, **args} if base is not entry else {**entry.args, **args}
    model = _call(factory, name, "model", merged)
    model.adapter_name = str(getattr(model, "name", None) or base.name)  # what the adapter calls itself
    model.registered_name = name  # the name it was built under: the run record's model.name
    model.name = name
    own = model.describe() if callable(getattr(model, "describe", None)) else {}
    model.display = {**own, **describe_model(name)}
    model.public_args = public_args(merged)
    return model


def _call(factory: Factory, name: str, kind: str, args: Mapping[str, Any]) -> Any:
    try:
        return factory(**args)
    except TypeError as exc:
        raise UsageError(f"bad arguments for {kind} {name!r}: {exc}") from exc


def describe_model(name: str) -> dict[str, Any]:
    """Display metadata of a model name (card display merged over its adapter's); imports nothing."""
    entry = model_entry(name)
    base = model_entry(entry.adapter).display if entry.adapter else {}
    return {**base, **entry.display, "adapter": entry.adapter or name}
