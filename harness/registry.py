"""Registries of tasks and models: decorators, entry points and named model cards.

Three ways to add a model or task:

* decorate a class or factory with :func:`register_model` / :func:`register_task`;
* expose it from another package under the entry-point group ``visanom.models`` or
  ``visanom.tasks`` (the entry point's name is the registered name);
* add a named card to ``baselines/models.yaml`` (``adapter`` + ``args`` + ``display``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from harness.errors import UnknownNameError, UsageError
from harness.spec import public_args
from harness.types import ModelAdapter, Task

Factory = Callable[..., Any]

# Modules of this distribution that register built-in tasks and models on import.
BUILTIN_MODULES = (
    "tasks.tsb_ad_u",
    "tasks.tsb_ad_u.vlm_view",
    "tasks.visanombench.task",
    "baselines.classical",
    "baselines.template_reasoner",
    "baselines.hf_models",
    "baselines.api_models",
    "baselines.vllm_models",
)
MODEL_CARDS_FILE = Path(__file__).resolve().parent.parent / "baselines" / "models.yaml"


@dataclass
class Entry:
    """A registered name: its factory, default arguments and display metadata."""

    name: str
    factory: Factory | None
    args: dict[str, Any] = field(default_factory=dict)
    display: dict[str, Any] = field(default_factory=dict)
    adapter: str | None = None  # for model cards: the registered adapter they use


_TASKS: dict[str, Entry] = {}
_MODELS: dict[str, Entry] = {}
_loaded = False


def register_task(name: str, **display: Any) -> Callable[[Factory], Factory]:
    """Class decorator: register a task factory under ``name``."""

    def deco(factory: Factory) -> Factory:
        _TASKS[name] = Entry(name, factory, display=dict(display))
        return factory

    return deco


def register_model(name: str, **display: Any) -> Callable[[Factory], Factory]:
    """Class decorator: register a model adapter factory under ``name``."""

    def deco(factory: Factory) -> Factory:
        _MODELS[name] = Entry(name, factory, display=dict(display))
        return factory

    return deco


def _load_entry_points(group: str, table: dict[str, Entry]) -> None:
    for ep in metadata.entry_points(group=group):
        if ep.name not in table:
            table[ep.name] = Entry(ep.name, None, display={"entry_point": ep.value})


def load_model_cards(path: Path = MODEL_CARDS_FILE) -> dict[str, Entry]:
    """Read named model cards: ``name: {adapter: REGISTERED, args: {...}, display: {...}}``."""
    if not path.exists():
        return {}
    raw = yaml.safe_load(path.read_text()) or {}
    cards = {}
    for name, card in (raw.get("models") or {}).items():
        if "adapter" not in card:
            raise UsageError(f"{path}: model card {name!r} has no 'adapter'")
        cards[name] = Entry(
            name, None, args=dict(card.get("args") or {}), display=dict(card.get("display") or {}),
            adapter=card["adapter"],
        )
    return cards


def _ensure_loaded() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for mod in BUILTIN_MODULES:
        importlib.import_module(mod)
    _load_entry_points("visanom.tasks", _TASKS)
    _load_entry_points("visanom.models", _MODELS)
    for name, card in load_model_cards().items():
        _MODELS.setdefault(name, card)


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


def _resolve_factory(entry: Entry, group: str) -> Factory:
    if entry.factory is None and entry.adapter is None:
        (ep,) = [e for e in metadata.entry_points(group=group) if e.name == entry.name]
        entry.factory = ep.load()
    if entry.factory is None:
        raise UsageError(f"{entry.name!r} has no factory")
    return entry.factory


def make_task(name: str, **args: Any) -> Task:
    """Instantiate a registered task with keyword arguments."""
    entry = task_entry(name)
    factory = _resolve_factory(entry, "visanom.tasks")
    return _call(factory, name, "task", {**entry.args, **args})


def make_model(name: str, **args: Any) -> ModelAdapter:
    """Instantiate a registered model or named card; card args are overridden by ``args``.

    The instance gets ``registered_name`` (``name``; also set as ``name``), ``adapter_name``,
    ``display`` (card metadata over the adapter's) and ``public_args`` (its arguments
    without credentials) for the run record.
    """
    entry = model_entry(name)
    base = model_entry(entry.adapter) if entry.adapter is not None else entry
    factory = _resolve_factory(base, "visanom.models")
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
    """Display metadata of a model name (card display merged over its adapter's)."""
    entry = model_entry(name)
    base = model_entry(entry.adapter).display if entry.adapter else {}
    return {**base, **entry.display, "adapter": entry.adapter or name}
