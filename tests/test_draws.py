"""Draws: seeds per draw, the reducers, the cache key per draw, and runs with several draws."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import toy

from harness import registry
from harness.cli.main import main
from harness.core.errors import UsageError
from harness.core.spec import RunSpec
from harness.run.cache import PredictionCache, cache_key
from harness.run.draws import aggregate_draws, draw_seeds, majority_intervals, model_for_draw, reduce_sample
from harness.run.orchestrate import run_spec


@registry.register_model("toy-seeded", group="test")
class SeededModel(toy.DeviationModel):
    """|x - median| plus seeded noise; ``with_draw`` re-seeds (counts calls per seed)."""

    calls: dict[int, int] = {}

    def __init__(self, seed: int = 0, noise: float = 2.0, **kw):
        super().__init__(**kw)
        self.name, self.seed, self.noise = "toy-seeded", int(seed), float(noise)

    def fingerprint(self) -> str:
        return f"toy-seeded-{self.seed}-{self.noise}"

    def with_draw(self, seed: int) -> SeededModel:
        twin = copy.copy(self)
        twin.seed = int(seed)
        return twin

    def predict(self, batch):
        out = super().predict(batch)
        type(self).calls[self.seed] = type(self).calls.get(self.seed, 0) + len(batch)
        for p, s in zip(out, batch, strict=True):
            rng = np.random.default_rng([self.seed, int(s.id[1:])])
            p.scores = p.scores + self.noise * rng.random(p.scores.size)
        return out


def _d(i, metrics, intervals=None, error=None):
    return {"draw": i, "seed": i, "text": f"t{i}", "scores_file": None, "intervals": intervals, "error": error,
            "parse_failed": False, "metrics": metrics, "pred_meta": {}, "parse_issues": None}


def test_draw_seeds() -> None:
    assert draw_seeds(RunSpec(task="t", model="m")) == [None]
    assert draw_seeds(RunSpec(task="t", model="m", draws=3)) == [0, 1, 2]
    assert draw_seeds(RunSpec(task="t", model="m", draws=2, seed=40)) == [40, 41]
    assert draw_seeds(RunSpec(task="t", model="m", seed=7)) == [7]


def test_reducers_per_sample() -> None:
    draws = [_d(0, {"F1": 0.2, "TP": 1}, [[0, 4]]), _d(1, {"F1": 0.8, "TP": 3}, [[2, 6]]),
             _d(2, None, None, error="model: boom"), _d(3, {"F1": 0.5, "TP": 2}, [[3, 9]])]
    assert reduce_sample(draws, "first")["text"] == "t0"
    best = reduce_sample(draws, "best", "F1")
    assert best["text"] == "t1" and best["reduced"]["draw"] == 1
    mean = reduce_sample(draws, "mean")
    assert mean["metrics"] == {"F1": pytest.approx(0.5), "TP": pytest.approx(2.0)} and mean["reduced"]["n_ok"] == 3
    seen = []
    maj = reduce_sample(draws, "majority", rescore=lambda ivs, voters: seen.append((ivs, voters)) or {"F1": 1.0})
    assert maj["intervals"] == [[2, 6]] and maj["metrics"] == {"F1": 1.0} and seen == [([[2, 6]], [0, 1, 3])]
    assert majority_intervals([[[0, 4]], [[2, 6]], [[3, 9]]]) == [[2, 6]]
    assert majority_intervals([[], [[5, 5]]]) == []


def test_mean_reducer_averages_run_level_aggregates() -> None:
    spec = RunSpec(task="t", model="m", draws=2, reducer="mean")
    recs = [{"sample_id": "a", "metrics": {"x": 9}, "error": None,
             "draws": [_d(0, {"x": 1.0}), _d(1, {"x": 3.0})]},
            {"sample_id": "b", "metrics": {"x": 9}, "error": None,
             "draws": [_d(0, {"x": 2.0}), _d(1, {"x": 6.0})]}]

    def agg(records):
        vals = [r["metrics"]["x"] for r in records]
        return {"headline": "x", "metrics": {"x": {"value": float(np.mean(vals)), "ci95": [0, 1], "n": len(vals)}}}

    out, reduced = aggregate_draws(agg, recs, spec, [0, 1])
    assert out["metrics"]["x"] == {"value": 3.0, "ci95": None, "n": 2}
    assert [p["metrics"]["x"] for p in reduced["per_draw"]] == [1.5, 4.5] and reduced["value"] == 3.0


def test_cache_key_has_draw_and_seed() -> None:
    base = cache_key("m", "t", "h", {"temperature": 1.0})
    assert cache_key("m", "t", "h", {"temperature": 1.0}, draw=None) == base
    keys = {cache_key("m", "t", "h", {"temperature": 1.0}, draw=d) for d in [(0, 1), (1, 2), (0, 2), (1, 1)]}
    assert len(keys) == 4 and base not in keys


def test_model_without_hook_refuses_draws() -> None:
    with pytest.raises(UsageError, match="cannot be re-seeded"):
        model_for_draw(registry.make_model("toy-deviation"), 3)
    assert main(["run", "--model", "toy-deviation", "--task", "toy", "--draws", "2", "--no-cache",
                 "--no-progress"]) == 2


@pytest.mark.parametrize("reducer", ["first", "mean", "majority", "best"])
def test_runs_with_draws_record_every_draw(reducer: str, tmp_path: Path) -> None:
    cache = PredictionCache(tmp_path / "c.sqlite")
    spec = RunSpec(task="toy", model="toy-seeded", task_args={"n": 4}, draws=3, seed=100, reducer=reducer,
                   reduce_by="hit" if reducer == "best" else None)
    SeededModel.calls.clear()
    res = run_spec(spec, output=tmp_path / "out", cache=cache, progress=False, echo=None)
    lines = [json.loads(x) for x in (res.path / "samples.jsonl").read_text().splitlines()]
    assert SeededModel.calls == {100: 4, 101: 4, 102: 4} and len(cache) == 12
    assert all([d["seed"] for d in r["draws"]] == [100, 101, 102] for r in lines)
    assert all(len({d["scores_file"] for d in r["draws"]}) == 3 for r in lines)
    hits = np.array([[d["metrics"]["hit"] for d in r["draws"]] for r in lines])
    red = res.run["reduced"]
    assert red["reducer"] == reducer and [p["metrics"]["hit"] for p in red["per_draw"]] == pytest.approx(
        hits.mean(axis=0))
    value = res.run["metrics"]["hit"]["value"]
    if reducer == "first":
        assert value == pytest.approx(hits[:, 0].mean())
    elif reducer == "mean":
        assert value == pytest.approx(hits.mean())
    elif reducer == "best":
        assert value == pytest.approx(hits.max(axis=1).mean()) and red["oracle"]
    else:
        assert all(r["reduced"]["voters"] == [0, 1, 2] for r in lines)
    again = run_spec(spec, output=tmp_path / "again", cache=cache, progress=False, echo=None)
    assert again.run["counts"]["n_cached"] == 4 and again.run["metrics"] == res.run["metrics"]


def test_best_by_a_metric_the_task_does_not_have_is_a_usage_error(tmp_path: Path) -> None:
    """A mistyped --reduce-by used to fall back to the first draw in every sample, under a row
    labelled ``best:<typo>``; it is refused at the first scored sample, before its record."""
    draws = [_d(0, {"F1": 0.2}, [[0, 4]]), _d(1, {"F1": 0.8}, [[2, 6]])]
    with pytest.raises(UsageError, match="'F2' is not a metric of this task; its sample metrics are: F1"):
        reduce_sample(draws, "best", "F2")
    only_failed = [_d(0, None, None, error="model: boom"), _d(1, None, None, error="model: boom")]
    assert reduce_sample(only_failed, "best", "F2")["error"] == "model: boom"  # nothing scored: nothing to check
    spec = RunSpec(task="toy", model="toy-seeded", task_args={"n": 2}, draws=2, seed=1, reducer="best",
                   reduce_by="hits")
    with pytest.raises(UsageError, match="'hits' is not a metric"):
        run_spec(spec, output=tmp_path / "out", cache=None, progress=False, echo=None)
    assert all(not p.read_text() for p in (tmp_path / "out").rglob("samples.jsonl"))  # no record written
