#!/usr/bin/env python3
"""CI guard: '.[vllm,hf,api]' must resolve to the current vLLM, numpy 2 and torch 2.14.

Runs ``pip install --dry-run --ignore-installed --report`` in a fresh temporary venv (so no
installed package biases the resolver) and fails, loudly, if a pin in pyproject.toml drags
vLLM below the ``vllm>=`` floor of the ``vllm`` extra, numpy below 2 or torch off 2.14.
Prints the resolved versions. Needs the package index (network or a local mirror).

    python .ci/check_gpu_resolve.py [--extras vllm,hf,api] [--report FILE]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TORCH_SERIES = "2.14"


def vllm_floor(pyproject: Path) -> tuple[int, ...]:
    """The lower bound of the ``vllm`` extra (``vllm>=X.Y``) as a version tuple."""
    text = pyproject.read_text()
    m = re.search(r'^vllm\s*=\s*\[\s*"vllm\s*>=\s*([0-9.]+)', text, re.M)
    if not m:
        sys.exit("check_gpu_resolve: pyproject.toml's vllm extra has no `vllm>=X.Y` floor")
    return version(m.group(1))


def version(text: str) -> tuple[int, ...]:
    """Leading numeric parts of a version string ('2.14.0+cu130' -> (2, 14, 0))."""
    return tuple(int(p) for p in re.findall(r"\d+", text.split("+")[0])[:3])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--extras", default="vllm,hf,api")
    ap.add_argument("--report", default=None, help="keep pip's JSON report here")
    ap.add_argument("--timeout", type=float, default=1200,
                    help="seconds before a resolver that keeps backtracking counts as a failure")
    args = ap.parse_args(argv)
    floor = vllm_floor(ROOT / "pyproject.toml")
    with tempfile.TemporaryDirectory(prefix="visanom-resolve-") as tmp:
        env_dir = Path(tmp) / "venv"
        venv.EnvBuilder(with_pip=True).create(env_dir)
        report = Path(args.report) if args.report else Path(tmp) / "report.json"
        cmd = [str(env_dir / "bin" / "python"), "-m", "pip", "install", "--quiet", "--dry-run",
               "--ignore-installed", "--report", str(report), f"{ROOT}[{args.extras}]"]
        print("check_gpu_resolve: " + " ".join(cmd[2:]), flush=True)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            print(f"check_gpu_resolve: FAILED: pip was still backtracking after {args.timeout:.0f} s: a pin "
                  f"conflicts with vllm>={'.'.join(map(str, floor))} (pip cannot satisfy both)", file=sys.stderr)
            return 1
        if proc.returncode != 0:
            print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n", file=sys.stderr)
            print(f"check_gpu_resolve: FAILED: pip could not resolve .[{args.extras}] (a pin conflicts with "
                  f"vllm>={'.'.join(map(str, floor))})", file=sys.stderr)
            return 1
        got = {i["metadata"]["name"].lower(): i["metadata"]["version"]
               for i in json.loads(report.read_text())["install"]}
    shown = {k: got.get(k) for k in ("vllm", "numpy", "torch", "torchvision", "transformers", "openai")}
    print("check_gpu_resolve: resolved " + ", ".join(f"{k} {v}" for k, v in shown.items()))
    problems = []
    if "vllm" not in got or version(got["vllm"]) < floor:
        problems.append(f"vllm {got.get('vllm')} is below the floor {'.'.join(map(str, floor))}")
    if "numpy" not in got or version(got["numpy"])[0] < 2:
        problems.append(f"numpy {got.get('numpy')} is not 2.x")
    if "torch" not in got or ".".join(map(str, version(got["torch"])[:2])) != TORCH_SERIES:
        problems.append(f"torch {got.get('torch')} is not {TORCH_SERIES}.x")
    if problems:
        print("check_gpu_resolve: FAILED: " + "; ".join(problems), file=sys.stderr)
        return 1
    print("check_gpu_resolve: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
