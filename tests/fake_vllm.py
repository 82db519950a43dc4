"""A stand-in for the ``vllm`` executable: ``fake_vllm.py serve MODEL --host H --port P ...``.

It parses the ``vllm serve`` options the harness passes, writes what it got to the JSON file
named by ``$FAKE_VLLM_RECORD`` (argv, model, LoRA modules), and serves the OpenAI chat API
(``tests/fake_chat_server.py``) plus ``GET /health`` and ``GET /v1/models`` on H:P until it
is terminated. ``$FAKE_VLLM_MODE=crash`` prints an error and exits 1 instead, like a vLLM that
finds no GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import fake_chat_server  # noqa: E402


class _Handler(fake_chat_server._Handler):
    def do_GET(self) -> None:
        served = self.server.served
        if self.path == "/health":
            self._send_raw(200, b"")
        elif self.path == "/v1/models":
            self._send(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in served]})
        else:
            super().do_GET()


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="vllm")
    sub = ap.add_subparsers(dest="cmd", required=True)
    serve = sub.add_parser("serve")
    serve.add_argument("model")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--served-model-name", default=None)
    serve.add_argument("--enable-lora", action="store_true")
    serve.add_argument("--lora-modules", nargs="+", default=[])
    args, rest = ap.parse_known_args(argv)
    lora = dict(m.split("=", 1) for m in args.lora_modules)
    record = {"argv": argv, "model": args.model, "lora_modules": lora, "enable_lora": args.enable_lora,
              "unparsed": rest, "pid": os.getpid()}
    if os.environ.get("FAKE_VLLM_RECORD"):
        Path(os.environ["FAKE_VLLM_RECORD"]).write_text(json.dumps(record))
    if os.environ.get("FAKE_VLLM_MODE") == "crash":
        print("RuntimeError: Failed to infer device type (no GPU)", flush=True)
        return 1
    fake = fake_chat_server.FakeChatServer()
    httpd = fake_chat_server._Server((args.host, args.port), _Handler)
    httpd.fake = fake
    httpd.served: Any = [args.served_model_name or args.model, *lora]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    print(f"INFO: fake vllm serving {args.model} on http://{args.host}:{args.port}", flush=True)
    stop.wait()
    httpd.shutdown()
    httpd.server_close()
    print("INFO: fake vllm stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
