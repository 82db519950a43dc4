"""Eval: VLM4TS's screening stage (EfficientNet-Lite0, real ImageNet weights) vs random windows.

For every segment of visanombench-demo (test split) with anomalies, the screening proposes
candidate intervals. The score is the HIT RATE: the share of ground-truth intervals that at
least one candidate overlaps (pooled over segments). The baseline places, on the same segment,
random windows with exactly the candidates' lengths (so the same number of points flagged),
``--draws`` times, and reports the mean hit rate; both are printed in the same run with their
ratio, and the share of candidate intervals that overlap a true one (precision).

Run: ``python benchmarks/vlm4ts_screening.py [--draws 200] [--data-dir DIR]`` (needs
``pip install 'visanom[recipes]'``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from baselines.recipes.screening import ScreenSettings, candidates, screen_scores
from harness import registry
from harness.scoring.metrics import interval_counts


def hits(pred: list[tuple[int, int]], true: list[tuple[int, int]]) -> int:
    """Ground-truth intervals overlapped by at least one predicted interval (the paper's TP)."""
    return interval_counts(pred, true)[0] if pred else 0


def random_like(pred: list[tuple[int, int]], lo: int, hi: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Windows with the lengths of ``pred``, placed uniformly at random inside [lo, hi]."""
    out = []
    for a, b in pred:
        n = b - a + 1
        s = int(rng.integers(lo, max(lo, hi - n + 1) + 1))
        out.append((s, s + n - 1))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--alpha", type=float, default=ScreenSettings().alpha)
    args = ap.parse_args()
    settings = ScreenSettings(alpha=args.alpha)
    task = registry.make_task("visanombench-demo", data_dir=args.data_dir)
    rng = np.random.default_rng(0)
    n_true = n_hit = n_cand = n_cand_hit = n_seg = 0
    rand_hits = np.zeros(args.draws)
    t0 = time.perf_counter()
    for s in task.samples():
        true = list(task.target(s.id).intervals)
        if not true:
            continue
        n_seg += 1
        lo, hi = s.index_offset, s.index_offset + len(s.series) - 1
        scores = screen_scores(s.series, settings)
        cands = [(a + lo, b + lo) for a, b in candidates(scores, settings.alpha, settings.merge_gap)]
        n_true += len(true)
        n_hit += hits(cands, true)
        n_cand += len(cands)
        n_cand_hit += sum(hits(true, [c]) > 0 for c in cands)
        for d in range(args.draws):
            rand_hits[d] += hits(random_like(cands, lo, hi, rng), true)
    elapsed = time.perf_counter() - t0
    ours, rand = n_hit / n_true, float(rand_hits.mean()) / n_true
    print(f"segments with anomalies: {n_seg}, true intervals: {n_true}, candidates: {n_cand} "
          f"({elapsed:.1f} s, {elapsed / max(n_seg, 1):.2f} s per segment)")
    print(f"screening hit rate: {ours:.3f} ({n_hit}/{n_true}); candidate precision: "
          f"{n_cand_hit / max(n_cand, 1):.3f} ({n_cand_hit}/{n_cand})")
    print(f"random windows of equal lengths: hit rate {rand:.3f} (mean of {args.draws} draws; "
          f"95% of draws in [{np.quantile(rand_hits, 0.025) / n_true:.3f}, {np.quantile(rand_hits, 0.975) / n_true:.3f}])")
    print(f"ratio screening / random: {ours / rand if rand else float('inf'):.2f}x")


if __name__ == "__main__":
    main()
