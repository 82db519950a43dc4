"""Chronos and TimesFM: tsb-ad's forecasting protocol, the extras, the weights from the cache."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from baselines.foundation import residual_scores
from harness.core.errors import UsageError
from harness.core.types import Sample
from harness.registry.lazy import describe_model, make_model


def test_residual_scores_follow_tsb_ads_protocol() -> None:
    x = np.array([0.0, 1, 2, 3, 10, 5, 6, 7])
    # forecaster: "the last value of the window"; squared one-step errors, first win_size padded
    scores = residual_scores(x, 3, lambda w: w[:, -1], batch_size=2)
    errors = (x[3:] - x[2:-1]) ** 2
    assert scores.tolist() == [errors[0]] * 3 + errors.tolist()
    assert int(np.argmax(scores)) == 4  # the spike
    with pytest.raises(ValueError, match="needs more than win_size=8"):
        residual_scores(x, 8, lambda w: w[:, -1], batch_size=2)


@pytest.mark.parametrize("name,module,extra", [("Chronos", "chronos", "chronos"), ("TimesFM", "timesfm", "timesfm")])
def test_missing_package_or_weights_is_a_clear_start_up_error(name: str, module: str, extra: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    if importlib.util.find_spec(module) is None:
        with pytest.raises(UsageError, match=rf"pip install 'visanom\[{extra}\]'"):
            make_model(name)
    else:
        with pytest.raises(UsageError, match=r"not in the local Hugging Face cache: this needs network access"):
            make_model(name, model_id=f"no-such-org/no-such-{module}")
    d = describe_model(name)
    assert d["group"] == "foundation" and d["tsb_ad_name"] == name


def _tiny_chronos(path: Path) -> Path:
    """A random Chronos-T5 (4 tokens wide) written like a hub snapshot; nothing downloaded."""
    from transformers import T5Config, T5ForConditionalGeneration

    cfg = T5Config(vocab_size=64, d_model=16, d_ff=32, num_layers=1, num_decoder_layers=1, num_heads=2, d_kv=8,
                   decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
    cfg.chronos_config = {"tokenizer_class": "MeanScaleUniformBins",
                          "tokenizer_kwargs": {"low_limit": -15.0, "high_limit": 15.0},
                          "context_length": 64, "prediction_length": 8, "n_tokens": 64, "n_special_tokens": 2,
                          "pad_token_id": 0, "eos_token_id": 1, "use_eos_token": True, "model_type": "seq2seq",
                          "num_samples": 4, "temperature": 1.0, "top_k": 50, "top_p": 1.0}
    T5ForConditionalGeneration(cfg).save_pretrained(path)
    assert json.loads((path / "config.json").read_text())["chronos_config"]["n_tokens"] == 64
    return path


def test_chronos_scores_a_series_with_local_weights(tmp_path: Path) -> None:
    pytest.importorskip("chronos")
    weights = _tiny_chronos(tmp_path / "tiny-chronos")
    model = make_model("Chronos", model_id=str(weights), win_size=20, batch_size=16, device="cpu")
    x = np.sin(np.arange(120) / 4.0)
    bad = Sample(id="short", series=np.zeros(10))
    preds = model.predict([Sample(id="s", series=x), bad, Sample(id="nan", series=np.array([np.nan] * 30))])
    assert preds[0].error is None and preds[0].scores.shape == (120,)
    assert preds[0].scores.min() == 0.0 and preds[0].scores.max() == 1.0
    assert "needs more than win_size=20" in preds[1].error and "non-finite" in preds[2].error
    again = make_model("Chronos", model_id=str(weights), win_size=20, batch_size=16, device="cpu")
    assert np.array_equal(again.predict([Sample(id="s", series=x)])[0].scores, preds[0].scores)  # seeded
    assert again.fingerprint() == model.fingerprint() != make_model("Chronos", model_id=str(weights)).fingerprint()
