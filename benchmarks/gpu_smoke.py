"""GPU smoke stages for ``benchmarks/gpu_smoke.sh``: one stage per process, so GPU memory is freed.

Stages (``python benchmarks/gpu_smoke.py STAGE --workdir DIR``):

* ``prepare``   build the tiny random Qwen2.5-VL + a LoRA for it (``tests/tinyvlm.py``) and the samples;
* ``tiny-vllm`` / ``tiny-vllm-lora`` / ``tiny-hf``  the tiny model through vLLM's offline ``LLM``
  (without / with the LoRA) and through transformers on the GPU;
* ``tiny-serve-lora``  the tiny model + LoRA through ``vllm serve`` (``--enable-lora --lora-modules``),
  started from this environment's ``vllm`` executable, talked to over HTTP, stopped at the end;
* ``tiny-hf-lora``  the tiny model + LoRA through the transformers engine on the GPU, batched and
  then one by one: throughput of both and their ratio (runs without vLLM: a bare CUDA box);
* ``compare``   the LoRA must change the answers; offline vs served vLLM and vLLM vs transformers
  agreement is reported;
* ``real-vllm`` Qwen2.5-VL-3B + the VisAnomReasoner-3B LoRA via vLLM, when the weights are
  in the HF cache or the hub is reachable.

Each stage prints samples per second and exits 1 when any request failed, 3 when it could not
run here (no vLLM, nothing to compare, no weights): ``gpu_smoke.sh`` reports that as "not run".
"""

from __future__ import annotations

import argparse
import io
import json
import math
import pickle
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from harness.inference.base import ChatRequest, GenerationConfig, GenerationResult  # noqa: E402

NOT_RUN = 3  # the stage could not run here (reported as "not run", never as passed)
TINY_PIXELS = 448 * 448  # the tiny processor's own budget: both engines see the same image
REAL_BASE = "Qwen/Qwen2.5-VL-3B-Instruct"
REAL_ADAPTER = "PLAN-Lab/VisAnomReasoner-3B"


def _synthetic_requests(n: int) -> list[ChatRequest]:
    """Fallback samples: a sine with a bump, drawn by PIL (used only if the demo task is missing)."""
    from PIL import Image, ImageDraw

    out = []
    for i in range(n):
        im = Image.new("RGB", (1000, 400), "white")
        pts = [(x, 200 - 120 * math.sin((x + 37 * i) / 40) - (90 if 600 < x < 650 else 0)) for x in range(1000)]
        ImageDraw.Draw(im).line(pts, fill=(31, 119, 180), width=2)
        buf = io.BytesIO()
        im.save(buf, format="PNG")
        out.append(ChatRequest(f"synthetic-{i}", "Do you see any anomalies on this plot?", image_png=buf.getvalue()))
    return out


def prepare(work: Path, n: int) -> None:
    """Tiny model, tiny LoRA and ``n`` rendered samples (the visanombench-demo task if registered)."""
    import tinyvlm

    t0 = time.perf_counter()
    base = tinyvlm.build_tiny_vlm(work / "tiny-vlm")
    tinyvlm.build_tiny_lora(base, work / "tiny-lora")
    print(f"tiny model + LoRA built in {time.perf_counter() - t0:.1f} s")
    try:
        import tasks.visanombench.task  # noqa: F401  (registers visanombench-demo)
        from harness import registry

        task = registry.make_task("visanombench-demo", data_dir=str(work / "vab-demo"))
        requests = [ChatRequest(s.id, s.prompt, image_png=s.image) for s in task.samples(limit=n)
                    if s.error is None and s.image is not None and s.prompt]
        print(f"{len(requests)} samples from visanombench-demo")
    except Exception as exc:  # the task is another engineer's module: fall back rather than stop
        print(f"visanombench-demo unavailable ({type(exc).__name__}: {exc}); using synthetic plots")
        requests = []
    if not requests:
        requests = _synthetic_requests(n)
    (work / "requests.pkl").write_bytes(pickle.dumps(requests))


def _run(name: str, engine: Any, requests: list[ChatRequest], config: GenerationConfig, work: Path) -> int:
    """Warm up on one request (start-up), then time the whole batch; save the texts."""
    t0 = time.perf_counter()
    warm = engine.generate(requests[:1], config)
    start_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    results: list[GenerationResult] = engine.generate(requests, config)
    gen_s = time.perf_counter() - t1
    failed = [r for r in warm + results if r.error is not None]
    tokens = sum(r.usage.get("completion_tokens", 0) for r in results)
    print(f"[{name}] start-up {start_s:.1f} s; {len(results)} samples in {gen_s:.2f} s = "
          f"{len(results) / max(gen_s, 1e-9):.2f} samples/s, {tokens / max(gen_s, 1e-9):.0f} new tokens/s")
    print(f"[{name}] first answer: {(results[0].text or '')[:200]!r}")
    for r in failed[:5]:
        print(f"[{name}] FAILED {r.request_id}: {r.error}")
    (work / f"{name}.json").write_text(json.dumps({r.request_id: r.text for r in results}, indent=1))
    (work / f"{name}.rate").write_text(json.dumps(len(results) / max(gen_s, 1e-9)))
    return 1 if failed else 0


def tiny_vllm(work: Path, lora: bool) -> int:
    """The tiny model through vLLM (eager, small memory share)."""
    from harness.inference.vllm_engine import VLLMEngine

    engine = VLLMEngine(str(work / "tiny-vlm"), adapter_id=str(work / "tiny-lora") if lora else None,
                        max_lora_rank=8, gpu_memory_utilization=0.3, dtype="bfloat16", max_pixels=TINY_PIXELS,
                        enforce_eager=True)
    requests = pickle.loads((work / "requests.pkl").read_bytes())
    return _run("tiny-vllm-lora" if lora else "tiny-vllm", engine, requests,
                GenerationConfig(max_new_tokens=32), work)


def tiny_serve(work: Path) -> int:
    """The tiny model + LoRA through ``vllm serve`` (the second vLLM path); the server must stop."""
    from harness.inference.vllm_serve import VLLMServeEngine

    exe = Path(sys.executable).parent / "vllm"
    engine = VLLMServeEngine(str(work / "tiny-vlm"), adapter_id=str(work / "tiny-lora"), max_lora_rank=8,
                             gpu_memory_utilization=0.3, dtype="bfloat16", max_pixels=TINY_PIXELS,
                             enforce_eager=True, executable=str(exe), log_path=str(work / "vllm-serve.log"),
                             startup_timeout_s=240)
    requests = pickle.loads((work / "requests.pkl").read_bytes())
    try:
        status = _run("tiny-serve-lora", engine, requests, GenerationConfig(max_new_tokens=32), work)
    finally:
        server = engine.server
        engine.close()
    if server is not None and server.running():
        print("[tiny-serve-lora] FAILED: the server is still running after close()")
        return 1
    return status


def tiny_hf(work: Path, device: str = "cuda") -> int:
    """The tiny model through the transformers engine (on the GPU by default)."""
    from harness.inference.transformers_engine import TransformersEngine

    engine = TransformersEngine(str(work / "tiny-vlm"), device=device, dtype="bfloat16", max_pixels=TINY_PIXELS,
                                batch_size=16)
    requests = pickle.loads((work / "requests.pkl").read_bytes())
    return _run("tiny-hf", engine, requests, GenerationConfig(max_new_tokens=32), work)


def tiny_hf_lora(work: Path, device: str = "cuda") -> int:
    """The tiny model + LoRA through the transformers engine: batched, then one by one."""
    from harness.inference.transformers_engine import TransformersEngine

    requests = pickle.loads((work / "requests.pkl").read_bytes())
    config = GenerationConfig(max_new_tokens=32)
    batched = TransformersEngine(str(work / "tiny-vlm"), adapter_id=str(work / "tiny-lora"), device=device,
                                 dtype="bfloat16", max_pixels=TINY_PIXELS, batch_size=len(requests))
    status = _run("tiny-hf-lora", batched, requests, config, work)
    t0 = time.perf_counter()
    single = [r for req in requests for r in batched.generate([req], config)]
    one_s = time.perf_counter() - t0
    failed = [r for r in single if r.error is not None]
    batch_rate = json.loads((work / "tiny-hf-lora.rate").read_text())
    one_rate = len(single) / max(one_s, 1e-9)
    print(f"[tiny-hf-lora] one by one: {len(single)} samples in {one_s:.2f} s = {one_rate:.2f} samples/s; "
          f"batched/one-by-one throughput ratio {batch_rate / max(one_rate, 1e-9):.2f}x")
    for r in failed[:5]:
        print(f"[tiny-hf-lora] FAILED (one by one) {r.request_id}: {r.error}")
    return 1 if failed or status else 0


def compare(work: Path) -> int:
    """The LoRA must change some answer; report how often vLLM and transformers agree."""
    names = ("tiny-vllm", "tiny-vllm-lora", "tiny-serve-lora", "tiny-hf", "tiny-hf-lora")
    texts = {n: json.loads((work / f"{n}.json").read_text()) for n in names if (work / f"{n}.json").exists()}
    status = NOT_RUN  # nothing to compare is not a pass
    def answered(a: str, b: str) -> list[str]:
        if a not in texts or b not in texts:
            return []
        return [k for k, v in texts[a].items() if v is not None and texts[b].get(k) is not None]

    for base, lora in (("tiny-vllm", "tiny-vllm-lora"), ("tiny-hf", "tiny-hf-lora")):
        if keys := answered(base, lora):
            changed = sum(texts[base][k] != texts[lora][k] for k in keys)
            print(f"[compare] LoRA changed {changed}/{len(keys)} answers ({base} vs {lora})")
            status = 1 if not changed or status == 1 else 0
    if status == NOT_RUN:
        print(f"[compare] NOT RUN: no base/LoRA pair of answers to compare (have: {sorted(texts) or 'none'})")
    if keys := answered("tiny-vllm-lora", "tiny-serve-lora"):
        same = sum(texts["tiny-vllm-lora"][k] == texts["tiny-serve-lora"][k] for k in keys)
        print(f"[compare] offline LLM and vllm serve (both with the LoRA) agree on {same}/{len(keys)} "
              "greedy answers (informational: batching differs)")
    if keys := answered("tiny-vllm", "tiny-hf"):
        same = sum(texts["tiny-vllm"][k] == texts["tiny-hf"][k] for k in keys)
        print(f"[compare] vLLM and transformers agree on {same}/{len(keys)} greedy answers "
              "(informational: kernels differ)")
    return status


def weights_reachable() -> str | None:
    """Why the real weights are not reachable, or ``None`` when they are (cache or hub)."""
    from harness.inference.availability import in_hf_cache

    if in_hf_cache(REAL_BASE) and in_hf_cache(REAL_ADAPTER, "adapter_config.json"):
        return None
    try:
        from huggingface_hub import HfApi

        for repo in (REAL_BASE, REAL_ADAPTER):
            HfApi().model_info(repo, timeout=10)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def real_vllm(work: Path) -> int:
    """VisAnomReasoner-3B (LoRA on Qwen2.5-VL-3B) through the registered card, with parse rate."""
    why = weights_reachable()
    if why is not None:
        print(f"[real-vllm] SKIPPED: weights neither cached nor reachable ({why[:200]})")
        return NOT_RUN
    import baselines.vllm_models  # noqa: F401  (registers vllm-vlm)
    from harness import registry
    from harness.answers.parse import parse_answer

    model = registry.make_model("VisAnomReasoner-3B-vllm", max_model_len=4096, enforce_eager=True)
    requests = pickle.loads((work / "requests.pkl").read_bytes())
    status = _run("real-vllm", model.engine, requests, model.generation, work)
    texts = json.loads((work / "real-vllm.json").read_text()).values()
    parsed = sum(1 for t in texts if t and not parse_answer(t).failed)
    print(f"[real-vllm] {parsed}/{len(texts)} answers parse")
    return status


def main(argv: list[str] | None = None) -> int:
    """Run one stage."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("stage", choices=["prepare", "tiny-vllm", "tiny-vllm-lora", "tiny-serve-lora", "tiny-hf",
                                     "tiny-hf-lora", "compare", "real-vllm"])
    p.add_argument("--workdir", required=True)
    p.add_argument("-n", type=int, default=16, help="samples (default: %(default)s)")
    p.add_argument("--hf-device", default="cuda", help="device of the tiny-hf stage (default: %(default)s)")
    a = p.parse_args(argv)
    work = Path(a.workdir)
    work.mkdir(parents=True, exist_ok=True)
    if a.stage == "prepare":
        prepare(work, a.n)
        return 0
    if a.stage in ("tiny-vllm", "tiny-vllm-lora"):
        return tiny_vllm(work, lora=a.stage == "tiny-vllm-lora")
    if a.stage == "tiny-serve-lora":
        return tiny_serve(work)
    if a.stage == "tiny-hf":
        return tiny_hf(work, a.hf_device)
    if a.stage == "tiny-hf-lora":
        return tiny_hf_lora(work, a.hf_device)
    if a.stage == "compare":
        return compare(work)
    return real_vllm(work)


if __name__ == "__main__":
    sys.exit(main())
