"""Registries of tasks and models: lazy references, entry points, decorators and model cards.

Every name maps to an :class:`Entry` holding a lazy ``"module:object"`` reference; the module
is imported only when the name is built (:func:`make_task` / :func:`make_model`), so listing
names imports no task, detector, tsb-ad, torch or plotting code. Names come from plugins:

* a plugin is a module, loaded from the entry-point group ``visanom.plugins`` (visanom's own
  built-ins, ``tasks.catalog`` and ``baselines.catalog``, come this way), from
  ``$VISANOM_PLUGINS`` (comma-separated module names) or ``visanom --plugin MODULE``
  (:func:`add_plugins`; it also sets ``$VISANOM_PLUGINS``, so sweep workers load it too);
* importing a plugin runs its :func:`register_model` / :func:`register_task` /
  ``register_engine`` decorators and calls, and reads its tables: ``TASKS`` / ``MODELS``
  (``name -> ("module:object", display)``), ``MODEL_TABLES`` (functions returning more rows),
  ``MODEL_CARD_FILES`` (YAML named cards: ``adapter`` + ``args`` + ``display``) and
  ``SWEEP_DIRS`` (named sweeps; :func:`plugin_values`);
* a package may also expose one name under the entry-point group ``visanom.models`` or
  ``visanom.tasks`` (the entry point's name is the registered name, its value the reference).

A name registered twice (by two decorators, an entry point clashing with a built-in or with
another package's, a card named like an adapter) is refused with a :class:`UsageError` naming
both sources, when the registry loads, before any work. The same reference reached twice (a
decorated module imported through its entry point) is one registration, not a clash.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

from harness.core.errors import UnknownNameError, UsageError
from harness.core.spec import public_args
from harness.core.types import ModelAdapter, Task
from harness.registry.cards import ModelCard, merge_args

Factory = Callable[..., Any]

TASK_GROUP = "visanom.tasks"
MODEL_GROUP = "visanom.models"
PLUGIN_GROUP = "visanom.plugins"
PLUGINS_ENV = "VISANOM_PLUGINS"


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
_PLUGINS: dict[str, ModuleType] = {}
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


def plugin_names() -> list[str]:
    """The plugin modules to load: entry points ``visanom.plugins``, then ``$VISANOM_PLUGINS``."""
    names = [ep.value.strip() for ep in metadata.entry_points(group=PLUGIN_GROUP)]
    names += [n.strip() for n in os.environ.get(PLUGINS_ENV, "").split(",") if n.strip()]
    return list(dict.fromkeys(names))


def _import_plugin(name: str) -> ModuleType:
    """A plugin by module name, or by the path of a ``.py`` file (imported under its stem)."""
    if not name.endswith(".py"):
        return importlib.import_module(name)
    path = Path(name).expanduser().resolve()
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    loaded = sys.modules.get(path.stem)
    if loaded is not None and Path(getattr(loaded, "__file__", "") or "").resolve() != path:
        raise ImportError(f"plugin file {path} is named like the module {path.stem!r} already imported here "
                          f"({getattr(loaded, '__file__', None) or 'built in'}); rename the file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # its "module:object" references resolve by the stem
    spec.loader.exec_module(module)
    return module


def _load_plugin(name: str) -> None:
    """Import plugin ``name`` (its decorators run) and register its tables."""
    if name in _PLUGINS:
        return
    try:
        module = _import_plugin(name)
    except Exception as exc:
        raise UsageError(f"cannot load plugin {name!r}: {type(exc).__name__}: {exc} "
                         f"(from --plugin, ${PLUGINS_ENV} or a {PLUGIN_GROUP} entry point)") from exc
    _PLUGINS[name] = module
    for row_name, (ref, display) in dict(getattr(module, "TASKS", None) or {}).items():
        _add(_TASKS, "task", Entry(row_name, None, display=dict(display), ref=ref, source=f"plugin {name}: {ref}"))
    rows = dict(getattr(module, "MODELS", None) or {})
    for table_ref in getattr(module, "MODEL_TABLES", None) or ():
        rows.update(load_ref(table_ref)())
    for row_name, (ref, display) in rows.items():
        _add(_MODELS, "model", Entry(row_name, None, display=dict(display), ref=ref, source=f"plugin {name}: {ref}"))
    for path in getattr(module, "MODEL_CARD_FILES", None) or ():
        for card in load_model_cards(Path(path)).values():
            _add(_MODELS, "model", card)


def add_plugins(names: Iterable[str]) -> None:
    """Load these plugin modules now (or with the registry) and export them in ``$VISANOM_PLUGINS``,
    so that processes started from here (sweep workers) load them too."""
    names = [_absolute(n.strip()) for n in names if n and n.strip()]
    if not names:
        return
    current = [n for n in os.environ.get(PLUGINS_ENV, "").split(",") if n.strip()]
    os.environ[PLUGINS_ENV] = ",".join(dict.fromkeys([*current, *names]))
    if _loaded:
        for name in names:
            _load_plugin(name)


def _absolute(name: str) -> str:
    """A plugin file as an absolute path (workers start elsewhere); a module name as it is."""
    return str(Path(name).expanduser().resolve()) if name.endswith(".py") else name


def plugin_values(attr: str) -> list[Any]:
    """Every value plugins give under ``attr`` (a tuple attribute such as ``SWEEP_DIRS``), in load order."""
    _ensure_loaded()
    return [v for module in _PLUGINS.values() for v in (getattr(module, attr, None) or ())]


def load_model_cards(path: Path) -> dict[str, Entry]:
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
    """Load plugins and entry points once; clashes raise here, before any work."""
    global _loaded
    if _loaded:
        return
    _loaded = True  # set first: a plugin that registers with decorators calls back in here
    try:
        for name in plugin_names():
            _load_plugin(name)
        _load_entry_points(TASK_GROUP, _TASKS, "task")
        _load_entry_points(MODEL_GROUP, _MODELS, "model")
    except BaseException:
        _loaded = False
        raise


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


def model_card(name: str) -> ModelCard:
    """The typed card of a model name: a card over its adapter, merged once (imports nothing)."""
    entry = model_entry(name)
    base = model_entry(entry.adapter) if entry.adapter is not None else None
    return ModelCard.from_entries(name, entry, base)


def make_model(name: str, **args: Any) -> ModelAdapter:
    """Instantiate a registered model or named card; card args are overridden by ``args``.

    The instance gets ``registered_name`` (``name``; also set as ``name``), ``adapter_name``,
    ``display`` (card metadata over the adapter's), ``card`` (the typed card) and
    ``public_args`` (its arguments without credentials) for the run record.
    """
    card = model_card(name)
    factory = _resolve_factory(model_entry(card.adapter))
    merged = merge_args(card.args, None, args)
    model = _call(factory, name, "model", merged)
    model.adapter_name = str(getattr(model, "name", None) or card.adapter)  # what the adapter calls itself
    model.registered_name = name  # the name it was built under: the run record's model.name
    model.name = name
    own = model.describe() if callable(getattr(model, "describe", None)) else {}
    model.display = {**own, **card.display}
    model.card = card
    model.public_args = public_args(merged)
    return model


def _call(factory: Factory, name: str, kind: str, args: Mapping[str, Any]) -> Any:
    try:
        return factory(**args)
    except TypeError as exc:
        raise UsageError(f"bad arguments for {kind} {name!r}: {exc}") from exc


def describe_model(name: str) -> dict[str, Any]:
    """Display metadata of a model name (card display merged over its adapter's); imports nothing."""
    return dict(model_card(name).display)
