"""Benchmark: batched vs one-at-a-time generation in the transformers engine (tiny model, CPU).

Run: ``.venv/bin/python benchmarks/transformers_bench.py [--n 16] [--batch 8] [--tokens 32] [--reps 4]
[--max-pixels N] [--threads 1]``.
Builds the tiny random Qwen2.5-VL of ``tests/tinyvlm.py`` in a temporary folder, renders
``n`` plots, and times the same requests through ``TransformersEngine.generate`` with
``batch_size=batch`` and ``batch_size=1``, each group of ``batch`` requests both ways back to
back (medians over the pairs; wall and process CPU time). Greedy
decoding of the random model never emits end-of-sequence, so every request generates
exactly ``tokens`` tokens in both modes. The 1000 x 400 plots are resized into the pixel
budget (default: the tiny processor's 448 x 448; ``--max-pixels`` lowers it), which sets
the number of vision tokens per request; the vision prefill scales with the batch, the
decoding steps do not, so smaller images batch better.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from tinyvlm import build_tiny_vlm  # noqa: E402

from harness.inference.base import ChatRequest, GenerationConfig  # noqa: E402
from harness.inference.transformers_engine import TransformersEngine  # noqa: E402
from harness.render.plot import render_series  # noqa: E402

PROMPT = "Do you see any anomalies on this plot? Answer with <anomaly> and <index> tags."


def _requests(n: int) -> list[ChatRequest]:
    rng = np.random.default_rng(0)
    return [ChatRequest(f"r{i}", PROMPT, render_series(np.cumsum(rng.normal(size=600)), 146534 + 997 * i))
            for i in range(n)]


def _time(engine: TransformersEngine, reqs: list[ChatRequest], cfg: GenerationConfig) -> tuple[float, float]:
    """Wall and process CPU seconds per request of one ``generate`` call."""
    t, c = time.perf_counter(), time.process_time()
    res = engine.generate(reqs, cfg)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    assert all(r.error is None and r.usage["completion_tokens"] == cfg.max_new_tokens for r in res), res[0]
    return wall / len(reqs), cpu / len(reqs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=16, help="requests per measurement")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=32, help="new tokens per request")
    ap.add_argument("--reps", type=int, default=4)
    ap.add_argument("--max-pixels", type=int, default=None, help="pixel budget per image (default 448*448)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: steadier on shared cores)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        path = build_tiny_vlm(Path(tmp) / "tiny")
        kw = {"dtype": "float32", "device": "cpu", "max_pixels": args.max_pixels}
        batched = TransformersEngine(str(path), batch_size=args.batch, **kw)
        single = TransformersEngine(str(path), batch_size=1, **kw)
        reqs, cfg = _requests(args.n), GenerationConfig(max_new_tokens=args.tokens)
        _time(batched, reqs[:2], cfg), _time(single, reqs[:2], cfg)  # load and warm up outside the timing
        first = single.generate(reqs[:1], cfg)[0]
        pairs = []  # (batched, single) on the same requests, back to back: shared-CPU noise hits both
        for _ in range(args.reps):
            for start in range(0, args.n, args.batch):
                group = reqs[start : start + args.batch]
                pairs.append((_time(batched, group, cfg), _time(single, group, cfg)))
    image = first.meta.get("image", {}).get("to")
    med = statistics.median
    print(f"tiny Qwen2.5-VL, {args.n} plot requests (image {image}, prompt {first.usage['prompt_tokens']} tokens), "
          f"{args.tokens} new tokens each, {args.threads} thread(s), {args.reps} reps, medians over {len(pairs)} "
          "back-to-back pairs")
    print(f"{'mode':>12} {'wall ms/sample':>15} {'cpu ms/sample':>14}")
    print(f"{'batch ' + str(args.batch):>12} {med(p[0][0] for p in pairs) * 1e3:>15.1f} "
          f"{med(p[0][1] for p in pairs) * 1e3:>14.1f}")
    print(f"{'one by one':>12} {med(p[1][0] for p in pairs) * 1e3:>15.1f} {med(p[1][1] for p in pairs) * 1e3:>14.1f}")
    wall = med(p[1][0] / p[0][0] for p in pairs)
    cpu = med(p[1][1] / p[0][1] for p in pairs)
    print(f"speed-up per sample: {wall:.2f}x wall, {cpu:.2f}x cpu (target >= 2x)")


if __name__ == "__main__":
    main()
