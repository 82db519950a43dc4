"""The shared machinery of the LLM/VLM detector recipes: a backbone, prompts, requests, answers.

A recipe is a model adapter that wraps ANY registered text/VLM model (its *backbone*, e.g.
``GPT-4o``; ``--model-args backbone=NAME``): it turns each sample into the requests its
original method sends (:meth:`Recipe.plan`), sends the requests of a whole batch to the
backbone's inference engine at once (so the engine's batching, concurrency, retries and
usage accounting apply, and the runner caches the recipe's predictions), and reads the
answers in the method's own format (:meth:`Recipe.finish`, with
:func:`harness.answers.recipes.parse_recipe_answer`) into intervals in absolute indices.

A recipe's prediction carries ``intervals`` and ``meta['parsed_by']`` (the task keeps them,
see ``tasks/visanombench/scoring.read_answer``), ``meta['parse_failed']`` when any answer
was not in the method's format (that answer counts as empty), the raw answers under
``meta['recipe']``, and as ``text`` the same answer written in the paper's tag format (the
intervals and the method's explanation), so records and pages show one readable answer.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baselines.recipes.examples import ExamplePool, pool_for_task
from harness.answers.parse import normalize_intervals
from harness.answers.recipes import parse_recipe_answer
from harness.answers.tags import format_answer
from harness.core.errors import UnknownNameError, UsageError
from harness.core.hashing import stable_hash
from harness.core.types import Interval, Prediction, Sample
from harness.inference.base import ChatRequest, GenerationConfig, GenerationResult

RECIPE_VERSION = 2
PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"
DEFAULT_BACKBONE = "GPT-4o"
"""The paper ran the four LLM/VLM-detector rows on GPT-4o."""
GROUP = "LLM/VLM detector"
DECODINGS = ("original", "backbone")
"""``decoding=original``: the original method's settings (temperature, stop, tokens);
``decoding=backbone``: the backbone card's own (e.g. greedy), a named departure."""


@dataclass(frozen=True)
class RecipePrompt:
    """A method's prompt template as its original writes it: plain text with ``{name}``
    placeholders, filled by plain replacement in the order given (as LLMAD's
    ``PromptTemplate.get_template_*`` does), so the text is the original's byte for byte."""

    name: str
    text: str
    source_hash: str

    def fill(self, **values: str) -> str:
        """The text with each ``{key}`` replaced by its value, in the order of ``values``."""
        out = self.text
        for key, value in values.items():
            out = out.replace("{" + key + "}", str(value))
        return out


def load_recipe_prompt(name: str) -> RecipePrompt:
    """The template ``baselines/recipes/prompts/NAME.txt`` (its sha256 goes into the fingerprint)."""
    path = PROMPTS_DIR / f"{name}.txt"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PROMPTS_DIR.glob("*.txt")))
        raise UsageError(f"unknown recipe prompt {name!r}; known: {known}")
    raw = path.read_bytes()
    return RecipePrompt(name, raw.decode("utf-8"), hashlib.sha256(raw).hexdigest())


def _split_backbone_args(backbone_args: Mapping[str, Any] | None, extra: Mapping[str, Any]
                         ) -> tuple[dict[str, Any], dict[str, Any]]:
    """``backbone_args`` plus every ``backbone.KEY`` argument; the rest are the recipe's own."""
    args = dict(backbone_args or {})
    own: dict[str, Any] = {}
    for k, v in extra.items():
        if k.startswith("backbone."):
            args[k.removeprefix("backbone.")] = v
        else:
            own[k] = v
    return args, own


def build_backbone(name: str, args: Mapping[str, Any], *, needs_images: bool, recipe: str) -> Any:
    """Build the registered model ``name`` as a recipe's backbone; refuse, with a clear
    ``UsageError`` before any work, a name that is not registered, a model that is not served
    by an inference engine, and (``needs_images``) one that cannot take images."""
    from harness import registry

    try:
        registry.model_entry(name)
    except UnknownNameError as exc:
        raise UsageError(f"{recipe}: backbone {name!r} is not a registered model ({exc})") from exc
    display = registry.describe_model(name)
    if display.get("recipe"):
        raise UsageError(f"{recipe}: backbone {name!r} is itself a detector recipe; pick a text/VLM model")
    if needs_images and display.get("images") is False:
        raise UsageError(f"{recipe} shows the model plots, but backbone {name!r} cannot take images; "
                         "pick a vision-language model (e.g. GPT-4o)")
    model = registry.make_model(name, **dict(args))
    engine = getattr(model, "engine", None)
    generation = getattr(model, "generation", None)
    if engine is None or not callable(getattr(engine, "generate", None)) or not isinstance(generation, GenerationConfig):
        raise UsageError(f"{recipe}: backbone {name!r} is not a text/VLM model served by an inference engine "
                         "(a detector or heuristic cannot answer prompts); pick e.g. GPT-4o or an hf-vlm card")
    if needs_images and getattr(engine, "takes_images", True) is False:
        raise UsageError(f"{recipe} shows the model plots, but backbone {name!r} cannot take images")
    return model


@dataclass
class Plan:
    """What one sample needs from the backbone: its requests and the recipe's own context."""

    requests: list[ChatRequest] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass
class Reading:
    """A recipe's reading of one sample's answers: absolute pairs, explanation, failures."""

    pairs: list[Interval] = field(default_factory=list)
    explanation: str = ""
    parse_failed: bool = False
    issues: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    scores: Any = None


class Recipe:
    """Base class of a detector recipe (subclasses set the class attributes and implement
    :meth:`plan`, :meth:`read` and :meth:`params`)."""

    recipe = "recipe"
    """The method's name (AnomLLM, LLMAD, ...)."""
    answer_format = ""
    """Key of :data:`harness.answers.recipes.RECIPE_FORMATS` the answers are read with."""
    provides = frozenset({"text"})
    needs_images = False
    original_decoding: Mapping[str, Any] = {}
    """The decoding settings the original method sends (``decoding=original``, the default)."""
    reruns = 0
    """How often a request whose answer is not in the method's shape is asked again."""

    def __init__(self, backbone: str = DEFAULT_BACKBONE, backbone_args: Mapping[str, Any] | None = None,
                 temperature: float | None = None, max_new_tokens: int | None = None,
                 extra: Mapping[str, Any] | None = None, decoding: str = "original"):
        bargs, unknown = _split_backbone_args(backbone_args, extra or {})
        if unknown:
            raise UsageError(f"{self.recipe}: unknown argument(s) {', '.join(sorted(unknown))}")
        if decoding not in DECODINGS:
            raise UsageError(f"{self.recipe}: decoding must be one of {', '.join(DECODINGS)}, got {decoding!r}")
        self.decoding = decoding
        self.backbone_name = str(backbone)
        self.backbone = build_backbone(self.backbone_name, bargs, needs_images=self.needs_images,
                                       recipe=self.recipe)
        gen = self.backbone.generation
        if decoding == "original" and self.original_decoding:
            gen = dataclasses.replace(gen, **{k: (tuple(v) if k == "stop" else v)
                                              for k, v in self.original_decoding.items()})
        if temperature is not None:
            gen = dataclasses.replace(gen, temperature=float(temperature))
        if max_new_tokens is not None:
            gen = dataclasses.replace(gen, max_new_tokens=int(max_new_tokens))
        self.generation: GenerationConfig = gen
        self.name = self.recipe
        self.batch_size = int(getattr(self.backbone, "batch_size", 8) or 8)
        self.pool = ExamplePool()

    # -- in-context examples (recipes with ``uses_examples``) ------------------------------
    uses_examples = False
    examples = "none"
    max_examples = 64

    def for_task(self, task: Any) -> Recipe:
        """The recipe bound to the task it runs on: its in-context examples come from the task's
        TRAIN split (``examples=train``); the runner calls this before it fingerprints the model."""
        if not self.uses_examples or self.examples != "train":
            return self
        twin = copy.copy(self)
        twin.pool = pool_for_task(task, self.max_examples)
        return twin

    # -- what subclasses define -----------------------------------------------------------
    def params(self) -> dict[str, Any]:
        """The recipe's settings (part of the fingerprint and the run record)."""
        return {}

    def prompts(self) -> dict[str, Any]:
        """The prompt templates the recipe uses, by role (their source hashes are fingerprinted)."""
        return {}

    def plan(self, sample: Sample) -> Plan:
        """The requests for one sample (their ids must be unique within the batch)."""
        raise NotImplementedError

    def read(self, sample: Sample, plan: Plan, answers: Sequence[str]) -> Reading:
        """Read the answers of one sample (one per request, in order) into absolute pairs."""
        raise NotImplementedError

    # -- the adapter --------------------------------------------------------------------
    @property
    def generation_config(self) -> dict[str, Any]:
        """Decoding settings, part of the cache key."""
        return self.generation.as_dict()

    @property
    def cacheable(self) -> bool:
        """Sampled generations without a seed are never cached."""
        return self.generation.deterministic

    def fingerprint(self) -> str:
        """Recipe name, version and settings, prompt sources, backbone engine, decoding, system prompt."""
        prompts = {k: [p.name, p.source_hash] for k, p in sorted(self.prompts().items())}
        pool = self.pool.fingerprint() if self.uses_examples else None
        return stable_hash(["recipe", self.recipe, RECIPE_VERSION, self.params(), prompts, pool, self.reruns,
                            self.backbone.engine.fingerprint(), self.generation.as_dict(),
                            getattr(self.backbone, "system", None)])

    def describe(self) -> dict[str, Any]:
        """Recipe, settings and the backbone's engine metadata, for run records."""
        inner = self.backbone.describe() if callable(getattr(self.backbone, "describe", None)) else {}
        return {"recipe": self.recipe, "backbone": self.backbone_name, "settings": self.params(),
                "decoding": self.decoding, "reruns": self.reruns,
                "backbone_engine": inner, "generation": self.generation.as_dict()}

    def close(self) -> None:
        """Close the backbone (GPU memory, HTTP clients)."""
        close = getattr(self.backbone, "close", None)
        if callable(close):
            close()

    def with_generation(self, overrides: Mapping[str, Any]) -> Recipe:
        """A copy decoding with ``overrides`` (the run spec's generation settings)."""
        known = {f.name for f in dataclasses.fields(GenerationConfig)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise UsageError(f"unknown generation setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        try:
            gen = GenerationConfig.from_args(**{**self.generation.as_dict(), **overrides})
        except (TypeError, ValueError) as exc:
            raise UsageError(f"bad generation settings {dict(overrides)}: {exc}") from exc
        twin = copy.copy(self)
        twin.generation = gen
        return twin

    def with_draw(self, seed: int) -> Recipe:
        """A copy whose backbone samples with ``seed`` (several draws per sample)."""
        twin = copy.copy(self)
        twin.generation = dataclasses.replace(self.generation, seed=int(seed))
        return twin

    def predict(self, batch: Sequence[Sample]) -> list[Prediction]:
        """Plan every sample, send all requests of the batch to the backbone at once, read the answers."""
        plans: dict[str, Plan] = {}
        out: dict[str, Prediction] = {}
        requests: list[ChatRequest] = []
        for s in batch:
            try:
                plan = self.plan(s)
            except (ValueError, FloatingPointError) as exc:  # a series the method cannot take
                plan = Plan(error=f"{self.recipe}: {exc}")
            if plan.error is not None:
                out[s.id] = Prediction(sample_id=s.id, error=plan.error)
                continue
            plans[s.id] = plan
            requests.extend(plan.requests)
        results = self.backbone.engine.generate(requests, self.generation) if requests else []
        by_id: dict[str, GenerationResult] = {r.request_id: r for r in results}
        self._rerun_bad(requests, by_id)
        for s in batch:
            if s.id in plans:
                out[s.id] = self._finish(s, plans[s.id], by_id)
        return [out[s.id] for s in batch]

    def _unreadable(self, res: GenerationResult | None) -> bool:
        """A completed answer that is not in the method's shape (a backbone error is not)."""
        return (res is not None and res.error is None and bool((res.text or "").strip())
                and parse_recipe_answer(res.text, self.answer_format).failed)

    def _rerun_bad(self, requests: Sequence[ChatRequest], by_id: dict[str, GenerationResult]) -> None:
        """Ask again, up to ``reruns`` times, the requests whose answer is not in the method's
        shape (LLM-TSAD reruns on bad JSON); the count is kept in each result's meta."""
        for _ in range(int(self.reruns)):
            bad = [r for r in requests if self._unreadable(by_id.get(r.request_id))]
            if not bad:
                return
            for res in self.backbone.engine.generate(bad, self.generation):
                old = by_id.get(res.request_id)
                if res.error is not None or not (res.text or "").strip():
                    continue  # a failed rerun keeps the answer it was to replace
                res.meta = {**(res.meta or {}), "reruns": int(((old.meta or {}) if old else {}).get("reruns", 0)) + 1}
                if old is not None:
                    for k, v in (old.usage or {}).items():
                        if isinstance(v, (int, float)) and not isinstance(v, bool):
                            res.usage[k] = res.usage.get(k, 0) + v
                    res.latency_s += old.latency_s
                by_id[res.request_id] = res

    def _finish(self, sample: Sample, plan: Plan, by_id: Mapping[str, GenerationResult]) -> Prediction:
        got = [by_id.get(r.request_id) for r in plan.requests]
        usage: dict[str, Any] = {}
        for res in got:
            for k, v in ((res.usage if res else None) or {}).items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    usage[k] = usage.get(k, 0) + v
        latency = sum(res.latency_s for res in got if res is not None)
        errors = [(r.request_id, "no result") if res is None else (r.request_id, res.error)
                  for r, res in zip(plan.requests, got, strict=True)
                  if res is None or res.error is not None or not (res.text or "").strip()]
        if errors:
            rid, err = errors[0]
            return Prediction(sample_id=sample.id, error=f"backbone: {err or 'empty completion'} (request {rid})",
                              usage=usage, latency_s=latency)
        answers = [str(res.text) for res in got if res is not None]
        reading = self.read(sample, plan, answers)
        window = (int(sample.index_offset), int(sample.index_offset) + len(sample.series) - 1)
        # a recipe pools the answers of its requests (windows, candidates): merged as before issue 19
        intervals, issues = normalize_intervals(reading.pairs, window, merge=True)
        meta = {
            "parsed_by": f"recipe:{self.answer_format}",
            "parse_failed": bool(reading.parse_failed),
            "parse_issues": [*reading.issues, *issues],
            "recipe": {"name": self.recipe, "backbone": self.backbone_name, "n_requests": len(answers),
                       "answers": answers,
                       "reruns": sum(int((res.meta or {}).get("reruns", 0)) for res in got if res is not None),
                       **reading.details},
        }
        return Prediction(sample_id=sample.id, text=format_answer(intervals, reading.explanation),
                          scores=reading.scores, intervals=intervals, usage=usage, latency_s=latency, meta=meta)


def window_starts(n: int, window: int, stride: int) -> list[int]:
    """Starts of windows of ``window`` points every ``stride`` over ``n`` points (the last one
    may be shorter, as the text recipes send the tail of a series as it is)."""
    if n <= 0 or window < 1 or stride < 1:
        return []
    return list(range(0, n, stride))


def points_to_pairs(points: Sequence[int]) -> list[Interval]:
    """Points -> runs of consecutive points as inclusive pairs (sorted, deduplicated)."""
    out: list[Interval] = []
    for p in sorted(set(int(x) for x in points)):
        if out and p == out[-1][1] + 1:
            out[-1] = (out[-1][0], p)
        else:
            out.append((p, p))
    return out
