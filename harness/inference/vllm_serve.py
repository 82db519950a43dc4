"""vLLM's own OpenAI-compatible server as an engine: start ``vllm serve``, talk, stop.

:class:`VLLMServer` manages one ``vllm serve`` process: the command line (base model, and
``--enable-lora --lora-modules NAME=PATH`` for an adapter), a free port on 127.0.0.1,
waiting until ``GET /health`` answers 200 (or the process dies, with the tail of its log
in the error), and stopping it (SIGTERM to its process group, then SIGKILL).

:class:`VLLMServeEngine` starts that server on the first batch, from the environment that
provides ``vllm`` (``harness.environments.config``: ``.venv-gpu`` by default), and sends requests
through :class:`~harness.inference.openai_engine.OpenAICompatEngine` (provider
``vllm-serve``). With ``base_url`` it uses an existing server (a container, another host)
and starts nothing. The harness process itself needs only the ``api`` extra.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.core.errors import UsageError
from harness.inference.base import ChatRequest, GenerationConfig, GenerationResult, engine_fingerprint
from harness.inference.hf_revisions import identify_weights
from harness.inference.vllm_engine import check_local_weights, lora_rank_for, resolve_adapter

log = logging.getLogger(__name__)

ENGINE = "vllm-serve"
ENGINE_VERSION = 1
ADAPTER_NAME = "adapter"  # the served name of the LoRA (requests use it as ``model``)
DEFAULT_STARTUP_S = 1200.0  # a hang guard: loading a 7B model and compiling can take minutes
POLL_S = 0.5


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def serve_command(executable: Sequence[str], model_id: str, *, host: str, port: int,
                  served_model_name: str | None = None, revision: str | None = None,
                  lora_modules: dict[str, str] | None = None, max_lora_rank: int | None = None,
                  max_model_len: int | None = None, tensor_parallel_size: int = 1, dtype: str = "auto",
                  seed: int = 0, gpu_memory_utilization: float = 0.9, limit_mm_per_prompt: int = 1,
                  enforce_eager: bool = False, extra_args: Sequence[str] = ()) -> list[str]:
    """The ``vllm serve`` command line (``executable`` is e.g. ``[".venv-gpu/bin/vllm"]``)."""
    cmd = [*executable, "serve", model_id, "--host", host, "--port", str(port),
           "--tensor-parallel-size", str(tensor_parallel_size), "--dtype", dtype, "--seed", str(seed),
           "--gpu-memory-utilization", str(gpu_memory_utilization),
           "--limit-mm-per-prompt", json.dumps({"image": limit_mm_per_prompt})]
    if served_model_name:
        cmd += ["--served-model-name", served_model_name]
    if revision:
        cmd += ["--revision", revision, "--tokenizer-revision", revision]
    if max_model_len is not None:
        cmd += ["--max-model-len", str(max_model_len)]
    if enforce_eager:
        cmd.append("--enforce-eager")
    if lora_modules:
        cmd += ["--enable-lora", "--max-loras", str(len(lora_modules))]
        if max_lora_rank is not None:
            cmd += ["--max-lora-rank", str(max_lora_rank)]
        cmd += ["--lora-modules", *(f"{name}={path}" for name, path in lora_modules.items())]
    cmd += list(extra_args)
    return cmd


class ServerFailed(RuntimeError):
    """``vllm serve`` exited or never became ready; the message carries its log's tail."""


class VLLMServer:
    """One ``vllm serve`` process: :meth:`start` (waits for readiness) and :meth:`stop`.

    ``command`` is the full command line; ``port`` the one it listens on (127.0.0.1 unless
    ``host`` says otherwise). Output goes to ``log_path`` (a temporary file by default).
    """

    def __init__(self, command: Sequence[str], *, port: int, host: str = "127.0.0.1",
                 startup_timeout_s: float = DEFAULT_STARTUP_S, log_path: str | Path | None = None,
                 env: dict[str, str] | None = None):
        self.command = list(command)
        self.host, self.port = host, port
        self.startup_timeout_s = startup_timeout_s
        self.log_path = Path(log_path) if log_path else None
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """``http://host:port`` of the server."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL (``.../v1``)."""
        return self.url + "/v1"

    def log_tail(self, limit: int = 1500) -> str:
        """The last ``limit`` characters of the server's output (for error messages)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - limit))
            return f.read().decode("utf-8", "replace").strip()

    def healthy(self) -> bool:
        """True when ``GET /health`` answers 200."""
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=5) as resp:  # noqa: S310 - our URL
                return resp.status == 200
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def start(self) -> str:
        """Start the process and block until it is healthy; returns :attr:`base_url`.

        Raises :class:`ServerFailed` if it exits first or is not ready within
        ``startup_timeout_s`` (then it is stopped)."""
        with self._lock:
            if self.proc is not None and self.proc.poll() is None:
                return self.base_url
            if self.log_path is None:
                fd, name = tempfile.mkstemp(prefix="vllm-serve-", suffix=".log")
                os.close(fd)
                self.log_path = Path(name)
            with self.log_path.open("ab") as out:
                self.proc = subprocess.Popen(self.command, stdout=out, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, env=self.env, start_new_session=True)
            log.info("started `%s` (pid %d), log %s", " ".join(self.command), self.proc.pid, self.log_path)
            deadline = time.monotonic() + self.startup_timeout_s
            while not self.healthy():
                code = self.proc.poll()
                if code is not None:
                    self.proc = None
                    raise ServerFailed(f"vllm serve exited with code {code} before it was ready; "
                                       f"log {self.log_path}: {self.log_tail()}")
                if time.monotonic() > deadline:
                    self._stop_locked()
                    raise ServerFailed(f"vllm serve was not ready within {self.startup_timeout_s:.0f} s; "
                                       f"log {self.log_path}: {self.log_tail()}")
                time.sleep(POLL_S)
            return self.base_url

    def running(self) -> bool:
        """True while the process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace_s: float = 30.0) -> int | None:
        """SIGTERM the server's process group, SIGKILL after ``grace_s``; returns its exit code."""
        with self._lock:
            return self._stop_locked(grace_s)

    def _stop_locked(self, grace_s: float = 30.0) -> int | None:
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 10.0)):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
                try:
                    proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        with contextlib.suppress(ProcessLookupError, PermissionError):  # stragglers of the group (a child
            os.killpg(proc.pid, signal.SIGKILL)  # that outlived the server's own exit): none is left behind
        return proc.poll()

    def __enter__(self) -> VLLMServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def vllm_executable(explicit: str | None = None) -> list[str]:
    """The ``vllm`` command to start: ``explicit``, else the one in the environment providing vllm.

    Raises :class:`UsageError` naming that environment and its set-up command when it has no
    ``vllm`` executable (never falls back to another environment)."""
    if explicit:
        return [str(Path(explicit).expanduser())]
    from harness.environments.config import environment_for_needs

    env = environment_for_needs({"vllm"}, what="`vllm serve`")
    exe = env.python.parent / "vllm"
    if not exe.exists():
        raise UsageError(f"environment {env.name!r} has no vllm executable ({exe}); create it with "
                         f"`{env.setup}` (see docs/environments.md), or pass base_url=... for a running server")
    return [str(exe)]


class VLLMServeEngine:
    """A VLM served by ``vllm serve`` (started here, or already running at ``base_url``)."""

    def __init__(self, model_id: str, *, base_url: str | None = None, revision: str | None = None,
                 adapter_id: str | None = None, adapter_revision: str | None = None, max_lora_rank: int = 64,
                 tensor_parallel_size: int = 1, max_model_len: int | None = None,
                 gpu_memory_utilization: float = 0.9, dtype: str = "auto", seed: int = 0,
                 enforce_eager: bool = False, max_pixels: int | None = None, concurrency: int = 32,
                 timeout_s: float = 600, api_key: str | None = None, executable: str | None = None,
                 startup_timeout_s: float = DEFAULT_STARTUP_S, extra_args: Sequence[str] = (),
                 log_path: str | None = None):
        self.model_id = model_id
        self.base_url = base_url
        self.revision = revision
        self.adapter_id = adapter_id
        self.adapter_revision = adapter_revision
        self.max_lora_rank = max_lora_rank
        self.tensor_parallel_size = tensor_parallel_size
        self.max_model_len = max_model_len
        self.gpu_memory_utilization = gpu_memory_utilization
        self.dtype = dtype
        self.seed = seed
        self.enforce_eager = enforce_eager
        self.max_pixels = max_pixels
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.api_key = api_key
        self.executable = executable
        self.startup_timeout_s = startup_timeout_s
        self.extra_args = list(extra_args)
        self.log_path = log_path
        if base_url is None:  # the folders are read by the server this engine starts
            check_local_weights(model_id, adapter_id)
        self.server: VLLMServer | None = None
        self.client: Any = None
        self._start_error: str | None = None
        self._identity: dict[str, Any] | None = None
        self.start_s: float | None = None  # seconds until the started server was healthy

    @property
    def served_model(self) -> str:
        """The ``model`` field of requests: the LoRA's served name, else the base model id."""
        return ADAPTER_NAME if self.adapter_id else self.model_id

    def identity(self) -> dict[str, Any]:
        """Weights and adapter: ids, requested revisions and resolved commits."""
        if self._identity is None:
            self._identity = identify_weights(self.model_id, self.revision, self.adapter_id,
                                              self.adapter_revision)
        return self._identity

    def fingerprint(self) -> str:
        """What decides the answers: weights, adapter, context, dtype, seed, image budget.

        Not the URL or port: the same weights give the same answers wherever they are served."""
        return engine_fingerprint(ENGINE, version=ENGINE_VERSION, **self.identity(),
                                  tensor_parallel_size=self.tensor_parallel_size,
                                  max_model_len=self.max_model_len, dtype=self.dtype, seed=self.seed,
                                  max_pixels=self.max_pixels)

    def describe(self) -> dict[str, Any]:
        """Record metadata (no secrets, no URL)."""
        ident = self.identity()
        return {"engine": ENGINE, "model_id": self.model_id, "revision": ident["model"]["resolved"],
                "adapter_id": self.adapter_id,
                "adapter_revision": ident["adapter"]["resolved"] if ident["adapter"] else None,
                "server": "external" if self.base_url else "started", "max_model_len": self.max_model_len}

    def server_command(self, executable: Sequence[str], port: int) -> list[str]:
        """The ``vllm serve`` command for this engine (resolves the adapter to a local folder)."""
        lora = rank = None
        if self.adapter_id:
            path = resolve_adapter(self.adapter_id, self.adapter_revision)
            lora, rank = {ADAPTER_NAME: path}, lora_rank_for(path, self.max_lora_rank)
        return serve_command(executable, self.model_id, host="127.0.0.1", port=port, served_model_name=self.model_id,
                             revision=self.revision, lora_modules=lora, max_lora_rank=rank,
                             max_model_len=self.max_model_len, tensor_parallel_size=self.tensor_parallel_size,
                             dtype=self.dtype, seed=self.seed, gpu_memory_utilization=self.gpu_memory_utilization,
                             enforce_eager=self.enforce_eager, extra_args=self.extra_args)

    def _start(self) -> None:
        from harness.inference.openai_engine import OpenAICompatEngine

        url = self.base_url
        if url is None:
            exe = vllm_executable(self.executable)  # UsageError: no environment, no silent fallback
            port = free_port()
            self.server = VLLMServer(self.server_command(exe, port), port=port,
                                     startup_timeout_s=self.startup_timeout_s, log_path=self.log_path)
            t0 = time.perf_counter()
            url = self.server.start()
            self.start_s = round(time.perf_counter() - t0, 2)
            log.info("vllm serve for %s healthy in %.1f s", self.model_id, self.start_s)
        self.client = OpenAICompatEngine(self.served_model, base_url=url, provider="vllm-serve",
                                         api_key=self.api_key, concurrency=self.concurrency,
                                         timeout_s=self.timeout_s, max_pixels=self.max_pixels)

    def generate(self, requests: Sequence[ChatRequest], config: GenerationConfig) -> list[GenerationResult]:
        """Answer the batch through the server; a server that cannot start fails every request alike."""
        if not requests:
            return []
        if self.client is None and self._start_error is None:
            try:
                self._start()
            except ServerFailed as exc:
                self._start_error = f"vllm serve could not start: {' '.join(str(exc).split())[:1500]}"
        if self._start_error is not None:
            return [GenerationResult(r.request_id, error=self._start_error) for r in requests]
        results = self.client.generate(requests, config)
        for result in results:
            result.meta = {**(result.meta or {}), "engine_start_s": self.start_s}
        return results

    def close(self) -> None:
        """Close the client and stop the server this engine started (an external one is left alone)."""
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.server is not None:
            self.server.stop()
            self.server = None
