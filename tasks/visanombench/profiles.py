"""Build profiles: which segmentation rule each source gets.

- ``paper`` (the default): the rules that reproduce the paper's source table, each kept in
  its source's module as ``PAPER_RULE`` (GutenTAG: whole series; UCR-TSAD: one window per
  series around its anomaly; UCR-EGI and KPI: windows around anomalies with the table's
  counts and lengths; the published dataset: rows as they are). Sources the paper does not
  use (MITDB, Yahoo of the embedded set) are kept whole.
- ``fixed-N`` (``fixed-1000`` is the one the project used before): every source cut into
  N-point windows every N points, shortest kept 100 points (the ``--window``, ``--stride``,
  ``--min-length`` and ``--anomalous-only`` flags adjust it).

A manifest records its profile under ``settings.profile``; a manifest written before
profiles existed is reported as ``fixed-1000 (legacy)`` (or ``fixed-N (legacy)``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.core.errors import UsageError

from .segment import Rule, SegmentSettings, WholeSeries

DEFAULT_PROFILE = "paper"
FIXED_RE = re.compile(r"^fixed-(\d+)$")
KNOWN = ("paper", "fixed-1000")
"""Named profiles (``fixed-N`` works for any window N)."""


@dataclass(frozen=True)
class Profile:
    """A named mapping from source label (``GutenTAG``, ``UCR-TSAD`` ...) to rule, with a default rule.

    ``loader_rules`` map a loader's label (``Unit.source``) to a rule for everything that loader
    yields, whatever the series' own source label (the published dataset's rows say ``KPI``
    etc. but are already the paper's items); they win over ``rules``.
    """

    name: str
    description: str
    rules: tuple[tuple[str, Rule], ...] = ()
    default: Rule = field(default_factory=WholeSeries)
    loader_rules: tuple[tuple[str, Rule], ...] = ()

    def rule_for(self, source: str, loader: str | None = None) -> Rule:
        """The rule of a series of ``source`` loaded by ``loader``."""
        by_loader = dict(self.loader_rules)
        if loader is not None and loader in by_loader:
            return by_loader[loader]
        return dict(self.rules).get(source, self.default)

    def to_dict(self) -> dict[str, Any]:
        """Manifest form: name, description, per-source and per-loader rules and the default rule."""
        out = {"name": self.name, "description": self.description,
               "rules": {src: rule.to_dict() for src, rule in sorted(self.rules)},
               "default": self.default.to_dict()}
        if self.loader_rules:
            out["loader_rules"] = {src: rule.to_dict() for src, rule in sorted(self.loader_rules)}
        return out


def paper_profile() -> Profile:
    """The per-source rules of the source modules (``PAPER_RULE``)."""
    from .sources import LOADERS

    rules = tuple(sorted((m.SOURCE, m.PAPER_RULE) for m in LOADERS.values() if hasattr(m, "PAPER_RULE")))
    loader_rules = tuple(sorted((m.SOURCE, m.PAPER_LOADER_RULE) for m in LOADERS.values()
                                if hasattr(m, "PAPER_LOADER_RULE")))
    return Profile("paper", "per-source rules that reproduce the paper's source table", rules, WholeSeries(),
                   loader_rules)


def fixed_profile(window: int = 1000, stride: int | None = None, min_length: int | None = None,
                  keep_normal: bool = True) -> Profile:
    """Fixed windows for every source; named ``fixed-<window>``, with the changed settings appended."""
    stride = window if stride is None else stride
    min_length = min(100, window) if min_length is None else min_length
    rule = SegmentSettings(window, stride, min_length, keep_normal)
    name = f"fixed-{window}"
    if stride != window:
        name += f"-stride-{stride}"
    if min_length != min(100, window):
        name += f"-min-{min_length}"
    if not keep_normal:
        name += "-anomalous-only"
    return Profile(name, rule.describe(), (), rule)


def known_profiles() -> str:
    """The known profile names, for messages."""
    return "paper, fixed-1000 (any fixed-N: N-point windows)"


def get_profile(name: str, overrides: Mapping[str, Any] | None = None) -> Profile:
    """The profile called ``name``, with fixed-window ``overrides`` (window, stride, min_length,
    keep_normal); UsageError for an unknown name, or for overrides on the paper profile."""
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = set(overrides) - {"window", "stride", "min_length", "keep_normal"}
    if unknown:
        raise UsageError(f"unknown profile settings {sorted(unknown)}")
    text = str(name).strip().lower()
    if text == "paper":
        if overrides:
            verb = "applies" if len(overrides) == 1 else "apply"
            raise UsageError(f"the paper profile has per-source rules; {', '.join(sorted(overrides))} {verb} to the "
                             "fixed-N profiles only (e.g. --profile fixed-1000 --window 500)")
        return paper_profile()
    m = FIXED_RE.match(text)
    if m is None:
        raise UsageError(f"unknown build profile {name!r}; known profiles: {known_profiles()}")
    window = int(overrides.get("window", int(m.group(1))))
    try:
        return fixed_profile(window, overrides.get("stride"), overrides.get("min_length"),
                             bool(overrides.get("keep_normal", True)))
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def manifest_profile(settings: Mapping[str, Any]) -> str:
    """The profile name a manifest's settings record (``fixed-N (legacy)`` for manifests without one)."""
    prof = settings.get("profile")
    if isinstance(prof, Mapping) and prof.get("name"):
        return str(prof["name"])
    if isinstance(prof, str) and prof:
        return prof
    return f"fixed-{int(settings.get('window', 1000))} (legacy)"
