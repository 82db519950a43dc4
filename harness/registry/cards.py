"""The typed model card: what a registered model *does* (engine, needs, checks, prices) apart
from how it is *shown* (group, note, params, links).

A registration or a ``models.yaml`` card still writes one flat ``display`` mapping (the
format people edit); :meth:`ModelCard.from_entries` reads the behaviour keys out of it into
typed fields, merging a card over its adapter exactly once (:func:`merge_args` is the only
place card arguments meet adapter arguments). Everything that decides something about a
model (availability, environments, sweep scheduling, API cost) reads a ``ModelCard``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.inference.engines import EngineSpec, engine_spec

BEHAVIOUR_KEYS = ("engine", "provides", "needs", "requires", "key_env", "provider", "check",
                  "price_per_mtok_in", "price_per_mtok_out")
"""Keys of a display mapping that change what the harness does, not how a row looks."""


def merge_args(adapter_args: Mapping[str, Any] | None, card_args: Mapping[str, Any] | None,
               overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The one merge: the adapter's default arguments, the card's over them, the caller's over both."""
    return {**dict(adapter_args or {}), **dict(card_args or {}), **dict(overrides or {})}


def _names(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def _price(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class ModelCard:
    """A registered model or card, typed (see the module docstring)."""

    name: str
    adapter: str
    """The registered adapter that builds it (its own name for an adapter)."""
    args: Mapping[str, Any] = field(default_factory=dict)
    """Default arguments: the adapter's with the card's over them."""
    engine: str | None = None
    provides: tuple[str, ...] = ()
    """``text`` and/or ``scores``."""
    needs: frozenset[str] | None = None
    """Environment capabilities declared by the registration; None: the engine's."""
    requires: tuple[str, ...] = ()
    """Modules that must import (``requires_note`` when the registration gave a sentence)."""
    requires_note: str = ""
    key_env: str | None = None
    provider: str | None = None
    check: str | None = None
    """``"module:function(args) -> (ok, reason)"``: a model's own availability check."""
    price_per_mtok_in: float | None = None
    price_per_mtok_out: float | None = None
    display: Mapping[str, Any] = field(default_factory=dict)
    """Everything the registration said, for records and pages (card keys over the adapter's)."""

    @classmethod
    def from_display(cls, name: str, display: Mapping[str, Any], args: Mapping[str, Any] | None = None,
                     adapter: str | None = None) -> ModelCard:
        """A card from one flat display mapping (a registration's or a merged one)."""
        d = dict(display)
        requires = d.get("requires")
        return cls(
            name=name, adapter=adapter or str(d.get("adapter") or name), args=dict(args or d.get("args") or {}),
            engine=str(d["engine"]).lower() if d.get("engine") else None,
            provides=_names(d.get("provides")),
            needs=frozenset(_names(d["needs"])) if d.get("needs") else None,
            requires=() if isinstance(requires, str) else _names(requires),
            requires_note=requires if isinstance(requires, str) else "",
            key_env=str(d["key_env"]) if d.get("key_env") else None,
            provider=str(d["provider"]).lower() if d.get("provider") else None,
            check=str(d["check"]) if d.get("check") else None,
            price_per_mtok_in=_price(d.get("price_per_mtok_in")),
            price_per_mtok_out=_price(d.get("price_per_mtok_out")),
            display=d,
        )

    @classmethod
    def from_entries(cls, name: str, entry: Any, base: Any | None) -> ModelCard:
        """The card of registry entry ``entry`` over its adapter's entry ``base`` (None: no adapter)."""
        display = {**(base.display if base is not None else {}), **entry.display,
                   "adapter": entry.adapter or name}
        args = merge_args(base.args if base is not None else None, entry.args)
        return cls.from_display(name, display, args, adapter=entry.adapter or name)

    @property
    def engine_spec(self) -> EngineSpec | None:
        """The engine's facts (``harness.inference.engines``), or None."""
        return engine_spec(self.engine)

    def kind(self) -> str:
        """How a sweep schedules it: ``api`` with a key variable or an API engine, the engine's
        kind, else ``cpu``."""
        spec = self.engine_spec
        if spec is not None:
            return spec.kind
        return "api" if self.key_env else "cpu"

    def provider_for(self, args: Mapping[str, Any]) -> str | None:
        """The provider an API job's requests count against (its args may name another)."""
        if self.kind() != "api":
            return None
        spec = self.engine_spec
        return str(self.provider or args.get("provider") or (spec.provider if spec else None)
                   or self.engine or "api").lower()

    def capabilities(self, args: Mapping[str, Any] | None = None) -> frozenset[str]:
        """Environment capabilities it needs with these arguments (``frozenset()``: the core)."""
        if self.needs is not None:
            return self.needs
        spec = self.engine_spec
        if spec is None:
            return frozenset()
        if spec.server_needs and {**self.args, **dict(args or {})}.get("base_url"):
            return frozenset({"api"})  # a running server: nothing local is started
        return spec.needs

    def server_capabilities(self, args: Mapping[str, Any] | None = None) -> frozenset[str]:
        """Capabilities of the environment that runs the server it starts (empty: it starts none)."""
        spec = self.engine_spec
        if spec is None or not spec.server_needs or {**self.args, **dict(args or {})}.get("base_url"):
            return frozenset()
        return spec.server_needs

    def key_variable(self, args: Mapping[str, Any]) -> str | None:
        """The environment variable its API key is read from (None: no key needed)."""
        explicit = self.key_env or args.get("api_key_env")
        if explicit:
            return str(explicit)
        spec = self.engine_spec
        if spec is not None and spec.name == "openai-compat" and args.get("provider"):
            try:
                from harness.inference.openai_engine import PROVIDERS
            except ImportError:
                PROVIDERS = {}  # noqa: N806
            preset = PROVIDERS.get(str(args["provider"]))
            if preset is not None:
                return preset.key_env if preset.key_required else None
        return spec.key_env if spec is not None else None
