"""Shared pieces of the recipe tests: a backbone that sends nothing at build time, scripted
answers in each method's own format, a fixed sample and a fixed example pool."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from baselines.recipes.examples import Example, ExamplePool
from harness.core.hashing import array_hash
from harness.core.types import Sample

NO_SERVER = "http://127.0.0.1:9/v1"


def backbone_args(base_url: str = NO_SERVER) -> dict[str, Any]:
    """Model args that point a recipe's GPT-4o backbone at ``base_url`` (nothing is sent at build)."""
    return {"backbone.base_url": base_url, "backbone.api_key": "test-key", "backbone.max_retries": 1}


def fixed_sample(n: int = 30, offset: int = 1000) -> Sample:
    """A short sine window with a spike, shown at absolute index ``offset``."""
    x = np.round(np.sin(np.arange(n) / 3.0), 3)
    x[n // 2] = 3.0
    return Sample(id="s1", series=x, index_offset=offset, input_hash=array_hash(x))


def fixed_pool() -> ExamplePool:
    """One labelled train series of 40 points with an anomaly at 20..22."""
    x = np.round(np.cos(np.arange(40) / 2.0), 3)
    y = np.zeros(40, dtype=np.int8)
    x[20:23] += 2.0
    y[20:23] = 1
    return ExamplePool([Example(x, y, "train-1")], "fixed")


ANOMLLM_ANSWER = 'Here are the ranges.\n[{"start": 10, "end": 20}]'
LLMAD_ANSWER = json.dumps({
    "briefExplanation": {"step1_global": "stable", "step2_local": "a jump", "step3_reassess": "confirmed"},
    "is_anomaly": True, "anomalies": [5, 6, 7], "reason_for_anomaly_type": "short rise",
    "anomaly_type": "SingleSpike", "reason_for_alarm_level": "moderate", "alarm_level": "Warning"})
LLM_TSAD_ANSWER = '{"anomaly": [0, 1], "reason": "Periodic, then a spike at indexes 0 and 1."}'
_CANDIDATES_RE = re.compile(r"Vision-based model detected intervals \(indices\): (\[.*\])")


def method_answer(image: str, prompt: str) -> str:
    """The scripted answer of the method a prompt belongs to (VLM4TS confirms its candidates)."""
    if "Output template" in prompt:
        return ANOMLLM_ANSWER
    if "briefExplanation" in prompt:
        return LLMAD_ANSWER
    if '{"anomaly": [indexes], "reason": "..."}' in prompt:
        return LLM_TSAD_ANSWER
    m = _CANDIDATES_RE.search(prompt)
    if m:
        cands = json.loads(m.group(1))
        return json.dumps({"interval_index": cands, "confidence": [2] * len(cands),
                           "abnormal_description": "the screened regions break the pattern"})
    return "unexpected prompt"
