"""The answer parser before and after issue 19, on the hand-labelled corpus (tests/data/parser_corpus.yaml).

Runs the parser of an older commit (default ``98e82ed``, main before the change, read with
``git show`` into a temporary module) and the current one on every answer, and prints per
parser: answers read as a reader reads them, recorded failures, and the harmful outcomes:
wrong intervals, silent shifts (an endpoint the text does not state), whole-window
detections, a wrong yes/no, and unexpected failures.

    .venv/bin/python benchmarks/parser_corpus.py [--old-commit 98e82ed] [--list]
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.answers.parse import parse_answer  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "parser_corpus.yaml"
DEFAULT_WINDOW = (20000, 24999)
OLD_COMMIT = "98e82ed"
_DIGITS_RE = re.compile(r"\d+(?:[ ,.'’\u00a0\u202f\u2009]\d{3})*")


def load_old(commit: str) -> Callable[..., Any]:
    """``parse_answer`` of ``harness/answers/parse.py`` at ``commit`` (a one-module parser)."""
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:harness/answers/parse.py"],
                         check=True, capture_output=True, text=True).stdout
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "old_parse.py"
        path.write_text(src, encoding="utf-8")
        spec = importlib.util.spec_from_file_location("old_parse", path)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules["old_parse"] = mod
        spec.loader.exec_module(mod)
    return mod.parse_answer


def stated_numbers(text: str) -> set[int]:
    """Every integer the text writes, with any thousands separator removed (and each part alone)."""
    out: set[int] = set()
    for m in _DIGITS_RE.finditer(text):
        tok = m.group(0)
        out.add(int(re.sub(r"\D", "", tok)))
        out.update(int(p) for p in re.findall(r"\d+", tok))
    return out


def _merged(ivs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for a, b in sorted(ivs):
        if out and a <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def classify(case: dict[str, Any], r: Any, merged: bool) -> str:
    """One outcome: ok, failure-recorded, shift, whole-window, wrong-intervals, wrong-anomaly, unexpected-failure."""
    w = tuple(case.get("window") or DEFAULT_WINDOW)
    got = [tuple(iv) for iv in r.intervals]
    n = w[1] - w[0] + 1
    if case.get("failed"):
        want: list[tuple[int, int]] = []
    else:
        want = [tuple(iv) for iv in case["intervals"]]
    if merged:
        want = _merged(want)
    if got == want and (case.get("failed") and r.failed or not case.get("failed") and not r.failed
                        and r.anomaly is case["anomaly"]):
        return "ok"
    if r.failed and not got and (case.get("failed") or case.get("failure_ok")):
        return "ok" if case.get("failed") else "failure-recorded"
    if got != want:
        said = stated_numbers(case["text"]) | {w[0], w[1]}
        if any(a not in said or b not in said for a, b in got):
            return "shift"
        if any((b - a + 1) >= 0.9 * n for a, b in got) and not any((b - a + 1) >= 0.9 * n for a, b in want):
            return "whole-window"
        return "wrong-intervals"
    if r.failed:
        return "unexpected-failure"
    return "wrong-anomaly"


COLUMNS = ("ok", "failure-recorded", "wrong-intervals", "shift", "whole-window", "wrong-anomaly",
           "unexpected-failure")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old-commit", default=OLD_COMMIT)
    ap.add_argument("--list", action="store_true", help="list every answer the new parser does not read right")
    ap.add_argument("--repeat", type=int, default=20, help="passes over the corpus for the speed ratio")
    args = ap.parse_args()
    cases = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
    old = load_old(args.old_commit)
    rows = {"old": dict.fromkeys(COLUMNS, 0), "new": dict.fromkeys(COLUMNS, 0)}
    misses: list[str] = []
    for case in cases:
        w = tuple(case.get("window") or DEFAULT_WINDOW)
        rows["old"][classify(case, old(case["text"], w), merged=True)] += 1
        r = parse_answer(case["text"], w)
        outcome = classify(case, r, merged=False)
        rows["new"][outcome] += 1
        if outcome not in ("ok", "failure-recorded"):
            misses.append(f"{case['id']}: {outcome}: {case['text'][:70]!r} -> {r.intervals} {r.anomaly} {r.issues}")
    print(f"parser corpus: {len(cases)} answers ({CORPUS.relative_to(ROOT)}); old = {args.old_commit}")
    print(f"{'parser':8}" + "".join(f"{c:>20}" for c in COLUMNS))
    for name, row in rows.items():
        print(f"{name:8}" + "".join(f"{row[c]:>20}" for c in COLUMNS))
    speed = {}
    for name, fn in (("old", old), ("new", parse_answer)):
        t0 = time.perf_counter()
        for _ in range(args.repeat):
            for case in cases:
                fn(case["text"], tuple(case.get("window") or DEFAULT_WINDOW))
        speed[name] = (time.perf_counter() - t0) / (args.repeat * len(cases))
    print(f"speed: old {speed['old'] * 1e6:.0f} us/answer, new {speed['new'] * 1e6:.0f} us/answer, "
          f"new/old = {speed['new'] / speed['old']:.2f}")
    if args.list:
        print("\n".join(misses))


if __name__ == "__main__":
    main()
