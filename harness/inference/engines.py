"""Every engine's facts in one place: one :class:`EngineSpec` per engine.

A model card names its engine (``engine: vllm``); everything the harness decides from that
name reads it here and nowhere else: how a sweep schedules the job (``kind``), which
environment capabilities it needs (``needs``), the API key variable and provider it talks
to, and the check that says whether it can run on this machine now (``check``, a lazy
``"module:function"`` reference, so listing engines imports no engine).

A plugin adds an engine with :func:`register_engine` (docs/adding-a-model.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.core.errors import UsageError

KINDS = ("cpu", "model", "api")
"""How a sweep schedules a job: ``cpu`` (split by series where the task allows), ``model``
(loads weights: one unit serves all of its tasks), ``api`` (within the provider's limit)."""


@dataclass(frozen=True)
class EngineSpec:
    """What the harness knows about one engine."""

    name: str
    kind: str
    """One of :data:`KINDS`."""
    needs: frozenset[str] = field(default_factory=frozenset)
    """Environment capabilities (package extras, docs/environments.md) the engine needs."""
    check: str | None = None
    """``"module:function(args) -> (ok, reason)"``: can it run here now? None: always."""
    key_env: str | None = None
    """The environment variable holding the API key (API engines)."""
    provider: str | None = None
    """The provider whose concurrency limit a job shares (API engines; args may override)."""
    server_needs: frozenset[str] = frozenset()
    """Capabilities of the environment that runs a server the engine starts (``vllm serve``)."""
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise UsageError(f"engine {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")


_ENGINES: dict[str, EngineSpec] = {}


def register_engine(spec: EngineSpec) -> EngineSpec:
    """Add an engine (a plugin's); the same spec twice is one, another under a taken name a clash."""
    for name in (spec.name, *spec.aliases):
        old = _ENGINES.get(name)
        if old is not None and old != spec:
            raise UsageError(f"engine {name!r} is registered twice ({old} and {spec}); rename one")
    for name in (spec.name, *spec.aliases):
        _ENGINES[name] = spec
    return spec


def engine_spec(name: str | None) -> EngineSpec | None:
    """The spec of an engine name (case-insensitive), or None for no engine / an unknown one."""
    if not name:
        return None
    return _ENGINES.get(str(name).lower())


API_CHECK = "harness.inference.availability:api_key_check"

register_engine(EngineSpec("transformers", "model", frozenset({"hf"}),
                           check="harness.inference.availability:transformers_check", aliases=("hf", "huggingface")))
register_engine(EngineSpec("vllm", "model", frozenset({"vllm", "hf"}), check="harness.inference.availability:vllm_check"))
register_engine(EngineSpec("vllm-serve", "model", frozenset({"api"}), server_needs=frozenset({"vllm"}),
                           check="harness.inference.availability:vllm_serve_check"))
register_engine(EngineSpec("openai-compat", "api", frozenset({"api"}), check=API_CHECK, key_env="OPENAI_API_KEY",
                           provider="openai", aliases=("openai", "api")))
register_engine(EngineSpec("anthropic", "api", frozenset({"api"}), check=API_CHECK, key_env="ANTHROPIC_API_KEY",
                           provider="anthropic"))
register_engine(EngineSpec("lm-eval", "model", frozenset()))

