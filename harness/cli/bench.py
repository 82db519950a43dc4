"""``visanom bench elicit | reward | select | export`` and ``visanom train``: argument parsing only."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from harness.cli.args import judge_model, open_cache, parse_kv, split_names
from harness.core.argtypes import positive_int
from harness.core.errors import EXIT_OK


def cmd_elicit(args: argparse.Namespace) -> int:
    """Elicit candidates from several models (see :mod:`harness.curate.elicit`)."""
    from harness.curate.elicit import elicit, elicit_specs

    specs = elicit_specs(args.bench, split_names(args.models), split=args.split, draws=args.draws,
                         model_args=parse_kv(args.model_args), limit=args.limit, seed=args.seed,
                         generation=parse_kv(args.gen))
    elicit(specs, Path(args.out), cache=open_cache(args), bench=args.bench, split=args.split,
           batch_size=args.batch_size, progress=not args.no_progress)
    return EXIT_OK


def cmd_reward(args: argparse.Namespace) -> int:
    """Score every candidate (rule-based terms, optional judge)."""
    from harness.curate.reward import RewardWeights
    from harness.curate.selection import reward_candidates

    weights = RewardWeights.parse(args.weights)
    judge = judge_model(args.judge, args.judge_args)
    try:
        reward_candidates(Path(args.folder), weights=weights, judge=judge, judge_template=args.judge_template)
    finally:
        close = getattr(judge, "close", None)
        if callable(close):
            close()
    return EXIT_OK


def cmd_select(args: argparse.Namespace) -> int:
    """Keep the best candidate per segment; print the sensitivity report."""
    from harness.curate.reward import RewardWeights
    from harness.curate.selection import select_folder

    select_folder(Path(args.folder), weights=RewardWeights.parse(args.weights) if args.weights else None)
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    """Write the Hugging Face dataset (and push it when asked)."""
    from harness.curate.dataset import export_dataset, push_dataset

    out = export_dataset(Path(args.folder), Path(args.out), overwrite=args.overwrite)
    if args.push_to_hub:
        url = push_dataset(out, args.push_to_hub, private=not args.public)
        print(f"pushed to {url}")
    return EXIT_OK


def cmd_train(args: argparse.Namespace) -> int:
    """LoRA fine-tuning (see :mod:`baselines.train.sft`)."""
    from baselines.train.sft import load_config, train

    overrides: dict[str, Any] = {}
    if args.base:
        overrides["base"] = args.base
    if args.max_steps is not None:
        overrides["max_steps"] = args.max_steps
    cfg = load_config(args.config, **overrides)
    train(cfg, Path(args.data), Path(args.out), resume=not args.restart)
    return EXIT_OK


def add_reasoning_cli(bs: Any, sub: Any) -> None:
    """Add the rationale pipeline to ``visanom bench`` and ``visanom train`` to the top level."""
    e = bs.add_parser("elicit", help="ask several models for rationales on a benchmark split")
    e.add_argument("--bench", required=True, help="a built VisAnomBench folder, or 'demo' (the embedded one)")
    e.add_argument("--models", required=True, help="registered model names, comma-separated")
    e.add_argument("--model-args", nargs="*", default=[], metavar="[MODEL:]K=V",
                   help="arguments; MODEL:key=value for one model, key=value for all")
    e.add_argument("--split", default="train", help="split to elicit on (default: %(default)s)")
    e.add_argument("--draws", type=positive_int, default=1, help="candidates asked per model and segment")
    e.add_argument("--seed", type=int, default=None, help="seed of draw 0 (draw i uses seed+i)")
    e.add_argument("--gen", nargs="*", default=[], metavar="K=V", help="decoding overrides for every model")
    e.add_argument("--out", default="elicit", help="elicitation folder (default: %(default)s)")
    e.add_argument("--batch-size", type=positive_int, default=None)
    e.add_argument("--limit", type=positive_int, default=None, help="only the first N segments")
    e.add_argument("--cache", default=None, help="prediction cache file")
    e.add_argument("--no-cache", action="store_true")
    e.add_argument("--no-progress", action="store_true")
    e.set_defaults(func=cmd_elicit)

    r = bs.add_parser("reward", help="score every elicited candidate (rule-based terms, optional judge)")
    r.add_argument("folder", help="elicitation folder")
    r.add_argument("--weights", default=None,
                   help="accuracy=,grounded=,axis=,clarity=,judge_share= (default 0.4,0.2,0.2,0.2 and 1)")
    r.add_argument("--judge", default=None, help="registered model that grades the soft terms")
    r.add_argument("--judge-args", nargs="*", default=[], metavar="K=V")
    r.add_argument("--judge-template", default="judge", help="judge prompt: built-in name or a .j2 path")
    r.set_defaults(func=cmd_reward)

    s = bs.add_parser("select", help="keep the best candidate per segment; print the weight sensitivity")
    s.add_argument("folder", help="elicitation folder")
    s.add_argument("--weights", default=None, help="re-weight the stored terms (no re-judging)")
    s.set_defaults(func=cmd_select)

    x = bs.add_parser("export", help="write the selection as a Hugging Face dataset")
    x.add_argument("folder", help="elicitation folder")
    x.add_argument("--out", required=True, help="dataset folder (refused if it exists, unless --overwrite)")
    x.add_argument("--overwrite", action="store_true")
    x.add_argument("--push-to-hub", default=None, metavar="USER/NAME", help="also upload it (needs network)")
    x.add_argument("--public", action="store_true", help="make the pushed dataset public")
    x.set_defaults(func=cmd_export)

    t = sub.add_parser("train", help="LoRA fine-tuning of a Qwen2.5-VL base on an exported dataset")
    t.add_argument("--config", required=True, help="YAML config (baselines/train/*.yaml or a path)")
    t.add_argument("--data", required=True, help="exported dataset folder (visanom bench export)")
    t.add_argument("--out", required=True, help="output folder (checkpoints, adapter/)")
    t.add_argument("--base", default=None, help="override the config's base model")
    t.add_argument("--max-steps", type=positive_int, default=None, help="override the config's max_steps")
    t.add_argument("--restart", action="store_true", help="ignore checkpoints in --out and start over")
    t.set_defaults(func=cmd_train)
