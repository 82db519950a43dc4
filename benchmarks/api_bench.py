"""Throughput of the OpenAI-compatible engine against the local fake server.

Each request takes ``--latency`` seconds on the server, so the ideal throughput at
concurrency ``c`` is ``c / latency`` requests per second. Reports the measured throughput
and its fraction of the ideal at each concurrency, the client's CPU time per request (this
process: SDK, HTTP and engine; the server runs in its own process), then a run with
``--error-rate`` of injected transient faults (429, 5xx, truncated bodies, dropped
connections, empty completions) that must lose no sample. Every request carries its own
image bytes (real rendered plots, each made distinct), so the engine's image cache cannot
flatter the figures. The load average is printed before and after: on a shared machine the
fractions of ideal drop with load, the CPU per request much less.

    .venv/bin/python benchmarks/api_bench.py [--latency 0.2] [--waves 8] [--error-rate 0.1]
        [--concurrency 1 32] [--backends auto httpx]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fake_chat_server import answer_for  # noqa: E402

from harness.inference.base import ChatRequest, GenerationConfig  # noqa: E402
from harness.inference.openai_engine import OpenAICompatEngine  # noqa: E402
from harness.render.plot import render_series  # noqa: E402


def make_requests(n: int) -> list[ChatRequest]:
    """``n`` requests with real rendered plots: four renders, each request's bytes made
    distinct (a counter after the PNG's end), and distinct prompts."""
    images = [render_series(np.sin(np.arange(500) / (5.0 + k)) + 0.1 * k, 1000 * k) for k in range(4)]
    return [ChatRequest(f"r{i}", f"Do you see any anomalies on this plot? ({i})",
                        images[i % 4] + i.to_bytes(4, "big")) for i in range(n)]


class ServerProcess:
    """The fake server in its own process (a real API does not share our CPU time or GIL)."""

    def __init__(self, latency: float, error_rate: float = 0.0, seed: int = 0):
        script = Path(__file__).resolve().parent.parent / "tests" / "fake_chat_server.py"
        self.proc = subprocess.Popen(
            [sys.executable, str(script), "--latency", str(latency), "--error-rate", str(error_rate),
             "--seed", str(seed)], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/_stats") as resp:
            return json.loads(resp.read())

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def measure(concurrency: int, n: int, latency: float, error_rate: float = 0.0, repeats: int = 1,
            backend: str = "auto") -> dict[str, Any]:
    """``repeats`` batches of ``n`` requests at ``concurrency``: median throughput vs ideal, losses.

    ``client_cpu_ms`` is this process's CPU time per request (SDK + HTTP + our engine); the
    server runs in another process. Losses are counted on the last batch.
    """
    requests = make_requests(n)
    with ServerProcess(latency, error_rate, seed=1) as srv:
        eng = OpenAICompatEngine("bench", base_url=srv.url + "/v1", api_key="bench-key", concurrency=concurrency,
                                 http_backend=backend)
        warm = [ChatRequest("warm", "warm-up", requests[0].image_png + b"warm")]
        eng.generate(warm, GenerationConfig())  # start the loop and the client
        before = srv.stats()
        walls, cpus = [], []
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            results = eng.generate(requests, GenerationConfig())
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        eng.close()
        stats = srv.stats()
    wall = statistics.median(walls)
    lost = sum(
        r.text != answer_for(base64.b64encode(q.image_png or b"").decode(), q.prompt)
        for q, r in zip(requests, results, strict=True)
    )
    ideal = concurrency / latency
    return {
        "backend": backend, "concurrency": concurrency, "n": n, "wall_s": round(wall, 3),
        "req_per_s": round(n / wall, 2), "ideal_req_per_s": round(ideal, 2),
        "fraction_of_ideal": round(n / wall / ideal, 3),
        "best_fraction_of_ideal": round(n / min(walls) / ideal, 3), "speedup_vs_1": None,
        "client_cpu_ms": round(1000 * statistics.median(cpus) / n, 2),
        "max_in_flight": stats["max_in_flight"], "lost": lost,
        "retried": sum(bool(r.meta.get("retries")) for r in results),
        "server_requests": (stats["requests"] - before["requests"]) // repeats,
        "faults_injected": stats["faults"] - before["faults"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.2, help="server seconds per request")
    ap.add_argument("--waves", type=int, default=8, help="requests per concurrency slot")
    ap.add_argument("--concurrency", type=int, nargs="*", default=[1, 8, 32])
    ap.add_argument("--error-rate", type=float, default=0.1)
    ap.add_argument("--repeats", type=int, default=3, help="batches per setting (median reported)")
    ap.add_argument("--backends", nargs="*", default=["auto"], choices=["auto", "aiohttp", "httpx"],
                    help="the engine's http_backend (auto: the SDK's aiohttp client when installed)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)

    load_before = os.getloadavg()
    rows = []
    for backend in args.backends:
        mine = [measure(c, c * args.waves, args.latency, repeats=args.repeats, backend=backend)
                for c in args.concurrency]
        base = mine[0]["req_per_s"] if mine and mine[0]["concurrency"] == 1 else None
        for r in mine:
            r["speedup_vs_1"] = round(r["req_per_s"] / base, 2) if base else None
        rows += mine
    top = max(args.concurrency)
    faulty = measure(top, top * args.waves, args.latency, args.error_rate, backend=args.backends[0])
    faulty["error_rate"] = args.error_rate
    load_after = os.getloadavg()

    print(f"latency {args.latency * 1000:.0f} ms/request, {args.waves} requests per slot, "
          f"median of {args.repeats} batches; {os.cpu_count()} CPUs, load average "
          f"{load_before[0]:.2f} before, {load_after[0]:.2f} after")
    print(f"{'backend':>8} {'conc':>5} {'n':>5} {'wall s':>7} {'req/s':>8} {'ideal':>8} {'of ideal':>9} {'best':>6} "
          f"{'x vs 1':>7} {'peak':>5} {'cpu ms/req':>10}")
    for r in rows:
        print(f"{r['backend']:>8} {r['concurrency']:>5} {r['n']:>5} {r['wall_s']:>7.2f} {r['req_per_s']:>8.2f} "
              f"{r['ideal_req_per_s']:>8.2f} {r['fraction_of_ideal']:>9.3f} {r['best_fraction_of_ideal']:>6.3f} "
              f"{r['speedup_vs_1']!s:>7} {r['max_in_flight']:>5} {r['client_cpu_ms']:>10.2f}")
    print(f"with {args.error_rate:.0%} injected faults at concurrency {top}: {faulty['faults_injected']} faults, "
          f"{faulty['retried']} requests retried, {faulty['lost']} lost of {faulty['n']}, "
          f"{faulty['req_per_s']:.2f} req/s ({faulty['fraction_of_ideal']:.3f} of ideal)")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "faulty": faulty, "load_before": load_before,
                                         "load_after": load_after}, indent=1))
    ok = faulty["lost"] == 0 and all(r["lost"] == 0 for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
