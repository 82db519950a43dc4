"""The run spec: the unit of work, the name of a run folder and the identity of a leaderboard row.

A :class:`RunSpec` says everything that decides what a run measures: the task and its
arguments, the model and its public arguments, the sample limit, generation overrides, the
seed, and how many answers (draws) are asked per sample and how they are reduced to one.
Two specs that differ in any of these are two rows on the leaderboard, each with its own
display label. Secrets never enter a spec's record or id: arguments with a credential-like
name (``api_key``, ``base_url``) are kept for building the model but left out of both.

A sweep expands to specs; an executor runs specs (or shards of one) wherever their Python
environment lives; ``run.json`` records the spec whole (``to_record``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.core.errors import UsageError
from harness.core.hashing import stable_hash

SPEC_VERSION = 1

MAX_SEED = 2**32 - 1  # numpy and the detectors take seeds in [0, 2**32)

# How several draws of one sample become one scored answer (see docs/records.md).
REDUCERS = ("first", "mean", "majority", "best")
"""``first``: score the first draw; ``mean``: mean of each per-draw metric; ``majority``:
points flagged by more than half the draws; ``best``: the draw with the highest value of
``reduce_by`` (an oracle upper bound, labelled as such)."""

SECRET_WORDS = frozenset({"key", "token", "secret", "password", "authorization", "auth", "url", "headers"})


MAX_DRAWS = 1000
"""The most answers asked per sample (each draw is a model call and a record entry)."""

LOCATION_ARGS = frozenset({"data_dir"})
"""Task arguments that say where the data lives, not what it is: recorded, but neither in a spec's
id nor in its label (the task fingerprint hashes the content)."""


def is_secret_arg(name: str) -> bool:
    """True for argument names with a credential-like part (``api_key``, ``base_url``,
    ``auth_token``; parts split on ``_``/``-``); ``max_new_tokens`` is not one."""
    return bool(set(name.lower().replace("-", "_").split("_")) & SECRET_WORDS)


def public_args(args: Mapping[str, Any]) -> dict[str, Any]:
    """Arguments safe to record and to hash into an id (credential-like names left out)."""
    return {k: v for k, v in args.items() if not is_secret_arg(k)}


_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def slug(name: str, max_len: int = 60) -> str:
    """A path component made from an untrusted name: safe characters only, never ``.``/``..``
    or hidden, with a short hash of the real name so distinct names never share a folder."""
    stem = _UNSAFE.sub("_", str(name)).strip("._-")[:max_len] or "x"
    return f"{stem}-{stable_hash(str(name), 8)}"


@dataclass(frozen=True)
class RunSpec:
    """One model on one task with every setting that changes the result.

    ``generation`` holds decoding overrides for text models (``max_new_tokens``,
    ``temperature``, ``top_p``, ...); ``seed`` seeds detectors and sampled decoding (draw
    ``i`` uses ``seed + i``); ``draws`` answers are asked per sample and reduced by
    ``reducer`` (``reduce_by`` names the metric for ``best``).
    """

    task: str
    model: str
    task_args: Mapping[str, Any] = field(default_factory=dict)
    model_args: Mapping[str, Any] = field(default_factory=dict)
    limit: int | None = None
    generation: Mapping[str, Any] = field(default_factory=dict)
    seed: int | None = None
    draws: int = 1
    reducer: str = "first"
    reduce_by: str | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`UsageError` for a spec that cannot run (before any work)."""
        for label, value in (("task", self.task), ("model", self.model)):
            if not isinstance(value, str) or not value.strip():
                raise UsageError(f"a run spec needs a {label} name, got {value!r}")
        if self.limit is not None and (isinstance(self.limit, bool) or not isinstance(self.limit, int)
                                       or self.limit < 1):
            raise UsageError(f"limit must be a whole number of at least 1, got {self.limit!r}")
        if isinstance(self.draws, bool) or not isinstance(self.draws, int) or not 1 <= self.draws <= MAX_DRAWS:
            raise UsageError(f"draws must be a whole number from 1 to {MAX_DRAWS}, got {self.draws!r}")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)
                                      or not 0 <= self.seed <= MAX_SEED - (self.draws - 1)):
            raise UsageError(f"seed must be a whole number from 0 to {MAX_SEED - (self.draws - 1)} (draw i uses "
                             f"seed+i, and detectors take seeds below 2**32), got {self.seed!r}")
        if self.reducer not in REDUCERS:
            raise UsageError(f"unknown reducer {self.reducer!r}; known reducers: {', '.join(REDUCERS)}")
        if self.reducer == "best" and not self.reduce_by:
            raise UsageError("reducer 'best' needs reduce_by=<metric name> (the score a draw is chosen by)")
        if self.reduce_by is not None and self.reducer != "best":
            raise UsageError(f"reduce_by goes with reducer 'best' only (reducer is {self.reducer!r}); "
                             "leave it out, or it would make a second row of the same run")

    # -- identity ---------------------------------------------------------------------
    def to_record(self) -> dict[str, Any]:
        """The spec as recorded in ``run.json`` (no secrets)."""
        return {
            "version": SPEC_VERSION,
            "task": self.task,
            "task_args": public_args(self.task_args),
            "model": self.model,
            "model_args": public_args(self.model_args),
            "limit": self.limit,
            "generation": dict(self.generation),
            "seed": self.seed,
            "draws": self.draws,
            "reducer": self.reducer,
            "reduce_by": self.reduce_by,
        }

    @classmethod
    def from_record(cls, data: Mapping[str, Any]) -> RunSpec:
        """Rebuild a spec from :meth:`to_record` output (secrets are not there to restore)."""
        return cls(
            task=data["task"], model=data["model"], task_args=dict(data.get("task_args") or {}),
            model_args=dict(data.get("model_args") or {}), limit=data.get("limit"),
            generation=dict(data.get("generation") or {}), seed=data.get("seed"),
            draws=int(data.get("draws", 1)), reducer=data.get("reducer", "first"), reduce_by=data.get("reduce_by"),
        )

    @property
    def id(self) -> str:
        """A stable 16-hex id: equal specs (secrets and data locations aside) have equal ids, on
        any machine. Where the data lives (:data:`LOCATION_ARGS`) is not part of it: the task's
        fingerprint carries what the data is, so one run with its data at two paths is one row."""
        record = self.to_record()
        record["task_args"] = {k: v for k, v in record["task_args"].items() if k not in LOCATION_ARGS}
        return stable_hash(["spec", record], 16)

    @property
    def label(self) -> str:
        """The display label of the leaderboard row: the model name, plus every non-default
        setting (``POLY (periodicity=2)``, ``GPT-4o (temperature=0.7, n=3, mean)``)."""
        parts = [f"{k}={_short(v)}" for k, v in sorted(public_args(self.model_args).items())]
        parts += [f"{k}={_short(v)}" for k, v in sorted(self.generation.items())]
        parts += [f"task.{k}={_short(v)}" for k, v in sorted(public_args(self.task_args).items())
                  if k not in LOCATION_ARGS]
        if self.seed is not None:
            parts.append(f"seed={self.seed}")
        if self.limit is not None:
            parts.append(f"limit={self.limit}")
        if self.draws > 1:
            parts.append(f"n={self.draws}, {self.reducer}" + (f":{self.reduce_by}" if self.reduce_by else ""))
        return f"{self.model} ({', '.join(parts)})" if parts else self.model

    def with_(self, **changes: Any) -> RunSpec:
        """A copy with some fields changed (validated again)."""
        data = {**self.__dict__, **changes}
        return RunSpec(**data)


def _short(value: Any, max_len: int = 40) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= max_len else text[: max_len - 1] + "…"
