"""Tests of the tsb-ad detector adapters (baselines/classical.py, baselines/tsbad/)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("TSB_AD", reason="tsb-ad not installed (the detectors extra; numpy<2 environment)")
from TSB_AD import model_wrapper

import baselines.classical  # noqa: F401 - registers the detectors
from baselines.tsbad import TsbAdDetector
from baselines.tsbad.args import coerce_value
from baselines.tsbad.catalog import NOT_REGISTERED, SPECS
from baselines.tsbad.jit import enable_numba_cache
from harness.core.errors import UnknownNameError, UsageError
from harness.core.types import ModelAdapter, Prediction, Sample
from harness.registry.lazy import describe_model, make_model, model_names

N, PERIOD, AT, WIDTH = 600, 25, 420, 12

REQUIRED = [
    "Sub-PCA",
    "IForest",
    "MatrixProfile",
    "KShapeAD",
    "POLY",
    "Series2Graph",
    "SAND",
    "Sub-KNN",
    "KMeansAD",
    "LOF",
    "CNN",
]
# stumpy / tslearn functions are numba-compiled on first use (minutes on a busy machine).
JIT_HEAVY = {"MatrixProfile", "KShapeAD", "SAND"}
LEADERBOARD = {
    "Sub-IForest",
    "IForest",
    "Sub-LOF",
    "LOF",
    "POLY",
    "MatrixProfile",
    "KShapeAD",
    "SAND",
    "Series2Graph",
    "SR",
    "Sub-PCA",
    "Sub-HBOS",
    "Sub-OCSVM",
    "Sub-MCD",
    "Sub-KNN",
    "KMeansAD",
    "AutoEncoder",
    "CNN",
    "LSTMAD",
    "TranAD",
    "AnomalyTransformer",
    "OmniAnomaly",
    "USAD",
    "Donut",
    "TimesNet",
    "FITS",
    "OFA",
    "Lag-Llama",
    "Chronos",
    "TimesFM",
    "MOMENT (ZS)",
    "MOMENT (FT)",
}


def _series(n: int = N) -> np.ndarray:
    rng = np.random.default_rng(1)
    t = np.arange(n)
    x = np.sin(2 * np.pi * t / PERIOD) + 0.05 * rng.standard_normal(n)
    x[AT : AT + WIDTH] += 3.0
    return x


def _sample(sid: str = "s1", n: int = N, train_end: int | None = 200) -> Sample:
    return Sample(id=sid, series=_series(n), index_offset=1000, train_end=train_end)


@pytest.fixture(scope="module")
def numba_cache(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep compiled stumpy/tslearn code in pytest's cache so later runs skip compiling."""
    cache = getattr(request.config, "cache", None)
    path = Path(cache.mkdir("visanom-numba")) if cache is not None else tmp_path_factory.mktemp("numba")
    enable_numba_cache(path)


def _params() -> list[object]:
    return [pytest.param(n, marks=pytest.mark.slow) if n in JIT_HEAVY else n for n in REQUIRED]


@pytest.mark.parametrize("name", _params())
def test_required_detector_scores_obvious_anomaly(name: str, numba_cache: None) -> None:
    model = make_model(name)
    assert isinstance(model, ModelAdapter)
    (pred,) = model.predict([_sample()])
    assert pred.error is None, pred.error
    assert pred.sample_id == "s1"
    assert pred.scores is not None and pred.scores.dtype == np.float64
    assert pred.scores.shape == (N,) and np.isfinite(pred.scores).all()
    assert pred.scores.min() == 0.0 and pred.scores.max() == 1.0  # min-max normalised
    assert pred.latency_s > 0
    peak = int(np.argmax(pred.scores))
    assert AT - 2 * PERIOD <= peak <= AT + WIDTH + 2 * PERIOD, peak


@pytest.mark.parametrize("name", ["IForest", "CNN"])
def test_seeded_runs_are_identical(name: str) -> None:
    model = TsbAdDetector(name)
    a, b = model.predict([_sample("a"), _sample("b")])
    c = TsbAdDetector(name).predict([_sample("c")])[0]
    assert a.error is None and b.error is None and c.error is None
    np.testing.assert_array_equal(a.scores, b.scores)
    np.testing.assert_array_equal(a.scores, c.scores)


def test_seed_changes_a_torch_detector() -> None:
    a = TsbAdDetector("CNN").predict([_sample()])[0]
    b = TsbAdDetector("CNN", seed="7").predict([_sample()])[0]
    assert a.error is None and b.error is None
    assert not np.array_equal(a.scores, b.scores)


# -- failures become Prediction.error --------------------------------------------------


def _raises(data: np.ndarray, **hp: object) -> np.ndarray:
    print("something tsb-ad printed")
    raise ValueError("boom inside the detector")


@pytest.mark.parametrize(
    ("fake", "expect"),
    [
        (_raises, "ValueError: boom inside the detector"),
        (lambda data, **hp: "Model function 'run_IForest' is not defined.", "message instead of scores"),
        (lambda data, **hp: np.zeros(len(data) - 3), "length 597"),
        (
            lambda data, **hp: np.where(np.arange(len(data)) == 5, np.nan, 1.0 * np.arange(len(data))),
            "not finite",
        ),
        (lambda data, **hp: np.full(len(data), np.inf), "not finite"),
        (lambda data, **hp: None, "no scores"),
        (lambda data, **hp: {"a": 1}, "non-numeric"),
        (lambda data, **hp: ["x"] * len(data), "non-numeric"),
    ],
)
def test_bad_detector_output_is_a_recorded_error(
    monkeypatch: pytest.MonkeyPatch, fake: object, expect: str
) -> None:
    monkeypatch.setattr(model_wrapper, "run_IForest", fake)
    preds = TsbAdDetector("IForest").predict([_sample("a"), _sample("b")])
    assert [p.sample_id for p in preds] == ["a", "b"]
    for p in preds:
        assert isinstance(p, Prediction) and p.scores is None
        assert p.error is not None and expect in p.error and p.error.startswith("IForest:")


def test_printed_output_is_kept_in_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_wrapper, "run_IForest", _raises)
    (p,) = TsbAdDetector("IForest").predict([_sample()])
    assert "something tsb-ad printed" in (p.error or "")


def test_one_failing_series_does_not_stop_the_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    def flaky(data: np.ndarray, **hp: object) -> np.ndarray:
        if len(data) < 500:
            raise RuntimeError("too short")
        return np.arange(len(data), dtype=float)

    monkeypatch.setattr(model_wrapper, "run_IForest", flaky)
    short = Sample(id="short", series=_series(300))
    ok, bad = TsbAdDetector("IForest").predict([_sample("ok"), short])
    assert ok.error is None and ok.scores is not None and len(ok.scores) == N
    assert bad.error is not None and "too short" in bad.error


def test_constant_scores_are_valid_and_flagged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_wrapper, "run_IForest", lambda data, **hp: np.full(len(data), 0.3))
    (p,) = TsbAdDetector("IForest").predict([_sample()])
    assert p.error is None and p.meta["constant_scores"] is True
    np.testing.assert_array_equal(p.scores, np.zeros(N))
    (raw,) = TsbAdDetector("IForest", minmax="false").predict([_sample()])
    np.testing.assert_array_equal(raw.scores, np.full(N, 0.3))


def test_bad_input_series_is_an_error_without_running() -> None:
    x = _series()
    x[3] = np.nan
    preds = TsbAdDetector("Sub-PCA").predict(
        [
            Sample("nan", x),
            Sample("empty", np.array([])),
            Sample("gone", x, error="missing file"),
            Sample("2d", np.ones((50, 2))),
            Sample("col", _series().reshape(-1, 1)),
        ]
    )
    assert "non-finite" in (preds[0].error or "")
    assert "empty" in (preds[1].error or "")
    assert "missing file" in (preds[2].error or "")
    assert "univariate" in (preds[3].error or "")
    assert preds[4].error is None and preds[4].scores is not None and len(preds[4].scores) == N


# -- semi-supervised training prefix ---------------------------------------------------


def _capture_train(monkeypatch: pytest.MonkeyPatch, seen: list[int]) -> None:
    def fake(train: np.ndarray, test: np.ndarray, **hp: object) -> np.ndarray:
        assert train.ndim == 2 and train.shape[1] == 1 and test.shape == (N, 1)
        seen.append(len(train))
        return test.ravel().copy()

    monkeypatch.setattr(model_wrapper, "run_CNN", fake)


def test_semi_supervised_uses_train_end(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    _capture_train(monkeypatch, seen)
    (p,) = TsbAdDetector("CNN").predict([_sample(train_end=250)])
    assert p.error is None and seen == [250]
    assert p.meta["train_end"] == 250 and p.meta["train_source"] == "sample"


def test_semi_supervised_fallback_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    _capture_train(monkeypatch, seen)
    (p,) = TsbAdDetector("CNN").predict([_sample(train_end=None)])
    assert p.error is None and seen == [int(0.3 * N)] and p.meta["train_source"] == "train_fraction"
    (p,) = TsbAdDetector("CNN", train_fraction="None").predict([_sample(train_end=None)])
    assert p.error is not None and "no train_end" in p.error
    (p,) = TsbAdDetector("CNN").predict([_sample(train_end=40)])  # CNN window 50 -> min 100
    assert p.error is not None and "training prefix has 40 points" in p.error
    assert len(seen) == 1


# -- construction, arguments, fingerprints, registry -----------------------------------


def test_unknown_detector_is_a_clear_error() -> None:
    with pytest.raises(UnknownNameError, match="Sub-PCA"):
        TsbAdDetector("NoSuchDetector")
    with pytest.raises(UsageError, match="unknown model 'NoSuchDetector'"):
        make_model("NoSuchDetector")


def test_unknown_hyperparameter_is_a_clear_error() -> None:
    with pytest.raises(UsageError, match="accepted: .*n_estimators"):
        make_model("IForest", n_trees="5")


def test_missing_foundation_packages_fail_at_construction() -> None:
    with pytest.raises(UsageError, match="momentfm"):
        make_model("MOMENT (ZS)")
    # Chronos: the chronos-forecasting extra when missing, else its weights (tests/test_foundation.py)
    with pytest.raises(UsageError, match=r"visanom\[chronos\]|needs network"):
        make_model("Chronos", model_id="no-such-org/no-such-chronos")


def test_gpu_only_detector_fails_clearly_without_cuda() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    with pytest.raises(UsageError, match="CUDA"):
        make_model("AnomalyTransformer")


def test_string_overrides_are_coerced_and_fingerprinted() -> None:
    base = make_model("IForest")
    over = make_model("IForest", n_estimators="50", max_features="1")
    assert over.hp == {"n_estimators": 50, "max_features": 1}
    assert base.hp == {"n_estimators": 200}  # tsb-ad's tuned value
    assert over.fingerprint() != base.fingerprint()
    assert make_model("IForest", n_estimators=50, max_features=1).fingerprint() == over.fingerprint()
    assert make_model("IForest", seed=1).fingerprint() != base.fingerprint()
    assert TsbAdDetector("Sub_PCA").fingerprint() == make_model("Sub-PCA").fingerprint()


def test_coerce_value() -> None:
    assert coerce_value("150") == 150 and coerce_value("0.25") == 0.25
    assert coerce_value("None") is None and coerce_value("null") is None
    assert coerce_value("true") is True and coerce_value("False") is False
    assert coerce_value("[64, 32]") == [64, 32] and coerce_value((1, 2)) == [1, 2]
    assert coerce_value("rbf") == "rbf" and coerce_value(3) == 3


def test_registry_names_and_display() -> None:
    names = set(model_names())
    assert set(REQUIRED) <= names
    for spec in SPECS:
        assert spec.name in names
        d = describe_model(spec.name)
        assert d["group"] in {"classical", "deep", "foundation"}
        assert d["supervision"] in {"unsupervised", "semi-supervised"}
        assert d["tsb_ad_name"] == spec.tsb_name
        assert (spec.name in LEADERBOARD) == spec.on_leaderboard
    assert describe_model("KMeansAD")["tsb_ad_name"] == "KMeansAD_U"
    assert describe_model("Sub-PCA")["group"] == "classical"
    assert describe_model("CNN")["supervision"] == "semi-supervised"
    pools = set(model_wrapper.Unsupervise_AD_Pool) | set(model_wrapper.Semisupervise_AD_Pool)
    assert {s.tsb_name for s in SPECS} | set(NOT_REGISTERED) == pools
    assert not set(NOT_REGISTERED) & names


def test_numba_cache_option_does_not_change_fingerprint(tmp_path: Path) -> None:
    cached = TsbAdDetector("Sub-PCA", numba_cache=str(tmp_path / "numba"))
    assert cached.fingerprint() == TsbAdDetector("Sub-PCA").fingerprint()
    assert (tmp_path / "numba").is_dir()
