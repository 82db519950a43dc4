"""Each recipe's prompt against its original's template text, as a unified diff, and one
answer in the original's shape parsed.

The original template texts come from ``tests/data/recipes/original`` (cited in its
SOURCES.yaml) or, with ``--mirror DIR``, straight from the original repositories (git
directories ``DIR/<owner>+<name>/repo``, read at the cited commit; the string constants are
taken from the source with Python's ``ast``, nothing is executed). The originals are filled
the way their own code fills them (LLMAD: ``str.replace`` in ``get_template_*``; AnomLLM:
``time_series_to_str(...) + "\\n\\n" + LIMIT_PROMPT + PROMPT``; VLM4TS: ``base_prompt + "\\n" +
vis_line``). An empty diff means our prompt is the original's byte for byte.

    .venv/bin/python benchmarks/recipe_prompt_diff.py [--mirror /work/.mirror]
"""

from __future__ import annotations

import argparse
import ast
import difflib
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from recipe_helpers import backbone_args, fixed_pool, fixed_sample  # noqa: E402

from baselines.recipes.llmad import affine_transform  # noqa: E402
from harness import registry  # noqa: E402
from harness.answers.recipes import parse_recipe_answer  # noqa: E402

ORIGINAL = ROOT / "tests" / "data" / "recipes" / "original"
ORIGINAL_ANSWERS = {
    "anomllm": '[{"start": 10, "end": 20}]',
    "llmad": '{"briefExplanation": {"step1_global": "stable", "step2_local": "a jump at 15", '
             '"step3_reassess": "confirmed"}, "is_anomaly": true, "anomalies": [15, 16], '
             '"reason_for_anomaly_type": "short rise", "anomaly_type": "SingleSpike", '
             '"reason_for_alarm_level": "moderate", "alarm_level": "Warning"}',
    "llm-tsad": '{"anomaly": [17, 18, 19], "reason": "a spike"}',
    "vlm4ts": '{"interval_index": [[5, 12]], "confidence": [3], "abnormal_description": "a spike"}',
}


def from_source(mirror: Path, src: dict[str, str]) -> str:
    """A string constant (or a local ``name`` in a method: ``symbol`` 'Class.method name') from the source."""
    git_dir = mirror / f"{src['repo'].replace('/', '+')}" / "repo"
    text = subprocess.run(["git", f"--git-dir={git_dir}", "show", f"{src['commit']}:{src['path']}"],
                          capture_output=True, text=True, check=True).stdout
    name = src["symbol"].split()[-1]
    for node in ast.walk(ast.parse(text)):
        named = isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
        if named and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return node.value.value
    raise KeyError(f"{name} not found in {src['repo']}@{src['commit']}:{src['path']}")


def originals(mirror: Path | None) -> dict[str, str]:
    """The original template texts, by file name."""
    sources = yaml.safe_load((ORIGINAL / "SOURCES.yaml").read_text())
    out = {}
    for name, src in sources.items():
        out[name] = from_source(mirror, src) if mirror else (ORIGINAL / name).read_text()
        if mirror and out[name] != (ORIGINAL / name).read_text():
            print(f"!! tests/data/recipes/original/{name} differs from {src['repo']}@{src['commit']}")
    return out


def show(title: str, ours: str, theirs: str) -> None:
    diff = list(difflib.unified_diff(theirs.splitlines(keepends=True), ours.splitlines(keepends=True),
                                     "original", "ours", n=1))
    print(f"== {title}: {'identical (' + str(len(ours)) + ' chars)' if not diff else 'differs'}")
    sys.stdout.writelines(diff)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mirror", type=Path, default=None, help="folder of the originals' git mirrors")
    args = ap.parse_args()
    orig = originals(args.mirror)
    make = lambda name, **kw: registry.make_model(name, **{**backbone_args(), **kw})  # noqa: E731
    s = fixed_sample()

    (req,) = make("AnomLLM").plan(s).requests
    show("AnomLLM vision (create_vision_messages: PROMPT, then the image)", req.prompt, orig["anomllm-PROMPT.txt"])
    (req,) = make("AnomLLM-text").plan(s).requests
    series = " ".join(str(v) for v in np.round(s.series, 2))
    show("AnomLLM text (create_text_messages)", req.prompt,
         series + "\n\n" + orig["anomllm-LIMIT_PROMPT.txt"] + orig["anomllm-PROMPT.txt"])

    for template, name in (("wsd", "llmad-prompt_template_WSD.txt"), ("kpi", "llmad-prompt_template_KPI.txt")):
        m = make("LLMAD", window=12, negative_len=16, template=template, delete_zero=0)
        m.pool = fixed_pool()
        window = affine_transform(s.series)[:12]
        normal, anomal = m._demos(s, window)
        data = "\n".join(f"{i + 1} {int(v)}" for i, v in enumerate(window))
        filled = (orig[name].replace("{normal_data}", normal).replace("{data}", data)
                  .replace("{data_len}", "12").replace("{anomaly_data}", anomal))
        show(f"LLMAD template={template} ({name.split('-', 1)[1][:-4]})", m.plan(s).requests[0].prompt, filled)

    try:
        vlm = make("VLM4TS")
        show("VLM4TS (base_prompt + vis_line)", vlm.prompt_text([(5, 12)]),
             orig["vlm4ts-base_prompt.txt"] + "\nVision-based model detected intervals (indices): [[5, 12]]")
    except Exception as exc:  # noqa: BLE001 - the encoder extra may be missing
        print(f"== VLM4TS: not built here ({exc})")

    print("== LLM-TSAD: no original template text to compare (the paper's Appendix A.3 could not be read "
          "here); our prompt's requirements line:")
    (req,) = make("LLM-TSAD").plan(s).requests
    print("   " + next(line for line in req.prompt.splitlines() if line.startswith("Requirements")))

    print("\n== one answer in each original's shape, parsed")
    for fmt, text in ORIGINAL_ANSWERS.items():
        got = parse_recipe_answer(text, fmt)
        print(f"{fmt}: {text[:70]}{'...' if len(text) > 70 else ''}\n   -> pairs={list(got.pairs)} "
              f"failed={got.failed} explanation={got.explanation[:40]!r}")


if __name__ == "__main__":
    main()
