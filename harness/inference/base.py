"""Engine-neutral request/response types shared by every inference engine.

An engine (vLLM, transformers, an HTTP API) receives the WHOLE pending batch of
:class:`ChatRequest` at once, so it can batch as it likes, and returns one
:class:`GenerationResult` per request, in order. It never raises for one bad request: the
failure goes into ``GenerationResult.error`` and the runner records it for that sample.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from harness.core.errors import UsageError
from harness.core.hashing import stable_hash

DEFAULT_MAX_NEW_TOKENS = 1024
"""The one default answer budget of every text model (room for the tags and a three-step rationale)."""


@dataclass(frozen=True)
class GenerationConfig:
    """Decoding settings; all of them are part of the model fingerprint and the cache key.

    ``temperature == 0`` means greedy decoding. Sampled generations (temperature > 0) are
    only cacheable with a ``seed``.
    """

    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()

    @classmethod
    def from_args(cls, max_new_tokens: Any = DEFAULT_MAX_NEW_TOKENS, temperature: Any = 0.0, top_p: Any = 1.0, seed: Any = None,
                  stop: str | Sequence[str] | None = None) -> GenerationConfig:
        """Build from ``--model-args`` / ``--gen`` values (strings or numbers); ``stop`` may be one
        string. Ill-typed or out-of-range values are a :class:`UsageError` naming the setting:
        ``max_new_tokens`` >= 1, ``temperature`` >= 0, ``0 < top_p <= 1``, ``seed`` >= 0."""
        stops = () if stop in (None, "") else (stop,) if isinstance(stop, str) else tuple(str(s) for s in stop)
        return cls(max_new_tokens=_setting("max_new_tokens", max_new_tokens, int, lambda v: v >= 1, "at least 1"),
                   temperature=_setting("temperature", temperature, float, lambda v: 0.0 <= v < math.inf,
                                        "a finite number >= 0"),
                   top_p=_setting("top_p", top_p, float, lambda v: 0.0 < v <= 1.0, "in (0, 1]"),
                   seed=None if seed is None else _setting("seed", seed, int, lambda v: v >= 0, "at least 0"),
                   stop=stops)

    @property
    def deterministic(self) -> bool:
        """True when equal requests must give equal text (greedy, or sampled with a seed)."""
        return self.temperature == 0.0 or self.seed is not None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form for records and fingerprints."""
        d = asdict(self)
        d["stop"] = list(self.stop)
        return d


def _setting(name: str, value: Any, kind: type, ok: Any, rule: str) -> Any:
    """``value`` as ``kind`` when ``ok`` holds for it, else a :class:`UsageError` naming the setting."""
    try:
        if isinstance(value, bool) or (kind is int and isinstance(value, float) and not value.is_integer()):
            raise ValueError
        out = kind(value)
    except (TypeError, ValueError):
        raise UsageError(f"generation setting {name} must be {rule}, got {value!r}") from None
    if not ok(out):
        raise UsageError(f"generation setting {name} must be {rule}, got {value!r}")
    return out


@dataclass(frozen=True)
class ChatRequest:
    """One question about one image: a user turn with a PNG and a text prompt."""

    request_id: str
    prompt: str
    image_png: bytes | None = None
    system: str | None = None
    text_first: bool = False
    """Put the text before the image in the user turn (the default is image, then text); some
    methods' originals send text first (AnomLLM, VLM4TS)."""


@dataclass
class GenerationResult:
    """The engine's answer to one request (``error`` set instead of ``text`` on failure)."""

    request_id: str
    text: str | None = None
    error: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)  # prompt_tokens, completion_tokens, ...
    latency_s: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)  # e.g. image resized, finish_reason, retries


@runtime_checkable
class Engine(Protocol):
    """Turns a batch of chat requests into results, one per request, in order."""

    def fingerprint(self) -> str:
        """Hash of what decides the outputs: weights id + revision, adapters, engine, decoding."""
        ...

    def generate(self, requests: Sequence[ChatRequest], config: GenerationConfig) -> list[GenerationResult]:
        """Answer every request; failures are results with ``error``, never exceptions."""
        ...


def engine_fingerprint(engine: str, **parts: Any) -> str:
    """The standard fingerprint: engine kind plus identifying parts (no secrets, no URLs)."""
    return stable_hash({"engine": engine, **parts})
