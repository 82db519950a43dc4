"""A real HTTP server on 127.0.0.1 that speaks the chat-completions and Anthropic messages APIs.

Answers are deterministic, derived from the request (an answer in the paper's tag format
whose interval comes from a hash of the image and prompt). Faults can be queued (consumed
one per request, in arrival order), queued for requests whose body contains a given text
(``push_for``), or drawn at random with ``error_rate``:

``ok``, ``429`` / ``429:S`` (Retry-After S seconds) / ``429-date:S`` (Retry-After as an HTTP
date), ``500``, ``503``, ``400``, ``401``, ``slow:S`` (sleep S seconds first), ``hang`` (no
reply until the next request arrives, i.e. until the client gave up; then the connection
closes), ``truncated``
(a well-framed 200 whose JSON body is cut in half), ``cut`` (the body stops short of its
Content-Length and the connection closes), ``drop`` (the connection closes with no reply),
``empty`` (a completion with empty text), ``400-leak`` (a 400 whose message quotes the key).

A request can also be *held*: :meth:`FakeChatServer.hold` returns a gate, and every request
whose prompt contains the given text waits (before answering) until the gate is released,
so tests can order completions with events instead of timing.

``overlap_at = k`` holds every request until ``k`` requests have been in flight at once (then
answers all), so a concurrency test sees overlap by construction, not by timing.
"""

from __future__ import annotations

import argparse
import email.utils
import hashlib
import json
import random
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from harness.inference.retry import RetryPolicy

HANG_GUARD_S = 60.0
"""How long ``hang`` and ``overlap_at`` hold a request at most (a guard, never a verdict)."""
FAST_RETRIES = RetryPolicy(max_retries=3, base_s=0.01, max_backoff_s=0.05)
"""A retry policy with tiny backoffs, so fault-injection tests run in milliseconds."""

TRANSIENT_FAULTS = ("429:0", "500", "503", "truncated", "cut", "drop", "empty")


def answer_for(image_b64: str, prompt: str) -> str:
    """The deterministic paper-format answer to one request."""
    digest = hashlib.sha256((image_b64 + "\0" + prompt).encode()).hexdigest()
    a = int(digest[:6], 16) % 1000
    b = a + 5 + int(digest[6:8], 16) % 50
    return (f"<anomaly>True</anomaly>\n<index>({a}, {b})</index>\n"
            f"Step 1: fake answer {digest[:12]}.")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        """``GET /_stats``: request count, faults served and the in-flight maximum."""
        fake = self.server.fake
        with fake._lock:
            stats = {"requests": len(fake.requests), "max_in_flight": fake.max_in_flight,
                     "faults": sum(q["fault"] != "ok" for q in fake.requests)}
        self._send(200 if self.path == "/_stats" else 404, stats)

    def do_POST(self) -> None:
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        fault = fake._next_fault(raw)
        fake._enter()
        try:
            self._serve(fake, raw, fault)
        finally:
            fake._leave()

    def _serve(self, fake: FakeChatServer, raw: bytes, fault: str) -> None:
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._send(400, {"error": {"message": "body is not JSON", "type": "invalid_request_error"}})
            return
        anthropic = self.path.rstrip("/").endswith("/messages")
        seen = fake._record(self.path, dict(self.headers.items()), body, fault)
        fake._wait_for_overlap()
        fake._wait_if_held(_prompt_and_image(body, anthropic)[0])
        time.sleep(fake.latency_s)
        kind, _, arg = fault.partition(":")
        if kind == "slow":
            time.sleep(float(arg or 1))
        elif kind == "hang":
            fake._wait_for_request(seen + 1)
            self.close_connection = True
            return
        elif kind == "drop":
            self.close_connection = True
            return
        elif kind in ("429", "429-date"):
            wait = float(arg or 1)
            ra = str(int(wait)) if kind == "429" else email.utils.formatdate(time.time() + wait, usegmt=True)
            self._send(429, _error(anthropic, "rate_limit_error", "slow down"), {"Retry-After": ra})
            return
        elif kind == "400-leak":  # an error body that quotes the credentials back
            auth = self.headers.get("x-api-key") or self.headers.get("authorization") or ""
            self._send(400, _error(anthropic, "invalid_request_error", f"bad credentials {auth}"))
            return
        elif kind in ("500", "503", "400", "401"):
            self._send(int(kind), _error(anthropic, "api_error" if kind[0] == "5" else "invalid_request_error",
                                         f"injected {kind}"))
            return
        text = "" if kind == "empty" else _answer(body, anthropic, fake.answer)
        reply = _message(body, text) if anthropic else _completion(body, text)
        data = json.dumps(reply).encode()
        if kind == "truncated":
            self._send_raw(200, data[: len(data) // 2])
        elif kind == "cut":
            self._send_raw(200, data[: len(data) // 2], length=len(data))
            self.close_connection = True
        else:
            self._send_raw(200, data)

    def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self._send_raw(status, json.dumps(payload).encode(), headers=headers)

    def _send_raw(self, status: int, data: bytes, headers: dict[str, str] | None = None,
                  length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data) if length is None else length))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()


def _error(anthropic: bool, kind: str, message: str) -> dict[str, Any]:
    if anthropic:
        return {"type": "error", "error": {"type": kind, "message": message}}
    return {"error": {"message": message, "type": kind, "code": None}}


def _prompt_and_image(body: dict[str, Any], anthropic: bool) -> tuple[str, str]:
    prompt, image = "", ""
    for msg in body.get("messages", []):
        if msg.get("role") != "user":
            continue
        content = msg.get("content")
        if isinstance(content, str):
            prompt += content
            continue
        for part in content or []:
            if part.get("type") == "text":
                prompt += part.get("text", "")
            elif part.get("type") == "image_url":
                image += part["image_url"]["url"].split(",", 1)[-1]
            elif part.get("type") == "image":
                image += part["source"]["data"]
    return prompt, image


def _answer(body: dict[str, Any], anthropic: bool, answer: Any = None) -> str:
    prompt, image = _prompt_and_image(body, anthropic)
    return (answer or answer_for)(image, prompt)


def _usage(body: dict[str, Any], text: str) -> tuple[int, int]:
    prompt, image = _prompt_and_image(body, False)
    return len(prompt.split()) + len(image) // 1000, len(text.split())


def _completion(body: dict[str, Any], text: str) -> dict[str, Any]:
    p, c = _usage(body, text)
    return {
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": body.get("model", ""),
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c},
    }


def _message(body: dict[str, Any], text: str) -> dict[str, Any]:
    p, c = _usage(body, text)
    return {
        "id": "msg_fake", "type": "message", "role": "assistant", "model": body.get("model", ""),
        "content": [{"type": "text", "text": text}] if text else [],
        "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": p, "output_tokens": c},
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512
    fake: FakeChatServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (a cancelled or timed-out request) is not a server error."""
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


class Gate:
    """Holds the requests whose prompt contains ``match`` until :meth:`release` (or ``max_hold_s``)."""

    def __init__(self, match: str, max_hold_s: float, count: int | None = None):
        self.match = match
        self.count = count  # hold only the first ``count`` matching requests (None: all)
        self.max_hold_s = max_hold_s  # a hang guard: a forgotten gate lets go eventually
        self.released = threading.Event()
        self.arrived = threading.Semaphore(0)  # one release per held request that arrived

    def release(self) -> None:
        """Let every held request (and later matching ones) through."""
        self.released.set()

    def wait_arrived(self, n: int = 1, timeout: float = 30.0) -> None:
        """Block until ``n`` matching requests have arrived (AssertionError after ``timeout``)."""
        for _ in range(n):
            assert self.arrived.acquire(timeout=timeout), f"no request matching {self.match!r} arrived"


class FakeChatServer:
    """The server; use as a context manager. ``base_url`` ends in ``/v1`` (OpenAI SDK style)."""

    def __init__(self, latency_s: float = 0.0, faults: tuple[str, ...] | list[str] = (),
                 error_rate: float = 0.0, error_kinds: tuple[str, ...] = TRANSIENT_FAULTS, seed: int = 0,
                 keep_bodies: bool = True, answer: Any = None):
        self.latency_s = latency_s
        self.answer = answer
        """``answer(image_b64, prompt) -> text`` scripts the replies (default :func:`answer_for`)."""
        self.keep_bodies = keep_bodies
        self.error_rate = error_rate
        self.error_kinds = error_kinds
        self._faults: deque[str] = deque(faults)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self.overlap_at: int | None = None
        self._releasing = False
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._gates: list[Gate] = []
        self._targeted: list[tuple[bytes, deque[str]]] = []

    # -- control ------------------------------------------------------------------------
    def push(self, *faults: str) -> None:
        """Queue faults for the next requests (one each, in arrival order)."""
        with self._lock:
            self._faults.extend(faults)

    def push_for(self, match: str, *faults: str) -> None:
        """Queue faults for the next requests whose body contains ``match`` (one each, in order)."""
        with self._lock:
            self._targeted.append((match.encode(), deque(faults)))

    def hold(self, match: str, count: int | None = None, max_hold_s: float = 60.0) -> Gate:
        """Hold the requests whose prompt contains ``match`` (the first ``count`` of them, or
        all) until the returned gate is released."""
        gate = Gate(match, max_hold_s, count)
        with self._lock:
            self._gates.append(gate)
        return gate

    def wait_in_flight(self, n: int, timeout: float = 30.0) -> None:
        """Block until ``n`` requests are in flight at once (AssertionError after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while self.in_flight < n:
            assert time.monotonic() < deadline, f"{self.in_flight} requests in flight, never {n}"
            time.sleep(0.005)

    def reset(self, drain_s: float = 10.0) -> None:
        """Release held requests (gates, hang, overlap_at), wait (up to ``drain_s``) for requests
        a previous test left in flight (e.g. one its client gave up on), then forget recorded
        requests, queued faults, gates and the maximum."""
        with self._lock:
            gates, self._gates = self._gates, []
            self._releasing = True
            self._changed.notify_all()
        for gate in gates:
            gate.release()
        deadline = time.monotonic() + drain_s
        while self.in_flight and time.monotonic() < deadline:
            time.sleep(0.01)
        with self._lock:
            self.requests.clear()
            self._faults.clear()
            self._targeted.clear()
            self.max_in_flight = self.in_flight
            self.overlap_at = None
            self._releasing = False

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def start(self) -> FakeChatServer:
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        for gate in self._gates:
            gate.release()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- used by the handler ------------------------------------------------------------
    def _next_fault(self, raw: bytes = b"") -> str:
        with self._lock:
            for match, queued in self._targeted:
                if queued and match in raw:
                    return queued.popleft()
            if self._faults:
                return self._faults.popleft()
            if self.error_rate and self._rng.random() < self.error_rate:
                return self._rng.choice(self.error_kinds)
            return "ok"

    def _record(self, path: str, headers: dict[str, str], body: dict[str, Any], fault: str) -> int:
        """Record a request; returns how many requests have been recorded, this one included."""
        with self._lock:
            self.requests.append({"path": path, "headers": {k.lower(): v for k, v in headers.items()},
                                  "body": body if self.keep_bodies else None, "fault": fault,
                                  "t": time.monotonic()})
            self._changed.notify_all()
            return len(self.requests)

    def _wait_for_request(self, n: int, guard_s: float = HANG_GUARD_S) -> None:
        """Block until ``n`` requests were recorded (or a reset, or the hang guard passes)."""
        with self._lock:
            self._changed.wait_for(lambda: len(self.requests) >= n or self._releasing, guard_s)

    def _wait_for_overlap(self, guard_s: float = HANG_GUARD_S) -> None:
        """With ``overlap_at``: block until that many requests have been in flight at once."""
        with self._lock:
            if self.overlap_at:
                self._changed.wait_for(
                    lambda: self._releasing or not self.overlap_at or self.max_in_flight >= self.overlap_at, guard_s)

    def _wait_if_held(self, prompt: str) -> None:
        with self._lock:
            gates = [g for g in self._gates if g.match in prompt and g.count != 0]
            for g in gates:
                if g.count is not None:
                    g.count -= 1
        for gate in gates:
            gate.arrived.release()
            gate.released.wait(gate.max_hold_s)

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self._changed.notify_all()

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1


def main(argv: list[str] | None = None) -> None:
    """Serve in the foreground (for benchmarks in another process); prints the base URL."""
    ap = argparse.ArgumentParser(description="fake chat-completions / messages server")
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--error-rate", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    srv = FakeChatServer(latency_s=args.latency, error_rate=args.error_rate, seed=args.seed,
                         keep_bodies=False).start()
    print(srv.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        srv.stop()


if __name__ == "__main__":
    main()
