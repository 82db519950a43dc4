"""What every HTTP API engine shares: an event loop, bounded concurrency, retries, results.

A subclass supplies the client (``_make_client``), one attempt (``_attempt``) and the
mapping of its SDK's exceptions (``_classify``). :meth:`ApiEngine.generate` is synchronous:
it runs the batch on the engine's own event loop in a background thread, so it works from
plain code and from code that is already inside a running loop (a notebook, an async app).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.errors import UsageError
from harness.inference.base import ChatRequest, GenerationConfig, GenerationResult
from harness.inference.retry import (
    AttemptError,
    Permanent,
    RetryPolicy,
    Transient,
    call_with_retries,
    is_retryable_status,
    parse_retry_after,
)

MAX_ERROR_CHARS = 500
MAX_RETRY_ERRORS = 8
_KEYLIKE = re.compile(r"\b(?:sk-|xai-|AIza)[-_A-Za-z0-9*.]{12,}")


@dataclass
class Reply:
    """One successful attempt: the text and what the API said about it."""

    text: str
    usage: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


class AuthFailed(Permanent):
    """The API rejected the credentials: a set-up problem for the whole run."""


class _LoopThread:
    """An event loop running forever in a daemon thread (restarted after a fork)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.pid = os.getpid()
        self.thread = threading.Thread(target=self.loop.run_forever, name="visanom-api-loop", daemon=True)
        self.thread.start()

    def run(self, coro: Any) -> Any:
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return fut.result()
        except BaseException:
            fut.cancel()
            raise

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        if not self.thread.is_alive():
            self.loop.close()


def _shutdown(loop: _LoopThread, client: Any) -> None:
    """Close ``client`` on its loop, then stop the loop (never from inside that loop)."""
    if loop.pid != os.getpid() or threading.current_thread() is loop.thread:
        return
    if client is not None and hasattr(client, "close"):
        with contextlib.suppress(Exception):  # closing is best effort
            asyncio.run_coroutine_threadsafe(client.close(), loop.loop).result(timeout=5)
    loop.stop()


class ApiEngine:
    """Base of the API engines: key check, loop thread, semaphore, retries, redaction."""

    kind = "api"
    key_env: str | None = None  # the environment variable the key comes from
    key_required = True

    def __init__(self, model: str, *, api_key: str | None, concurrency: int, timeout_s: float,
                 max_retries: int, retry_policy: RetryPolicy | None = None):
        if concurrency < 1:
            raise UsageError(f"concurrency must be >= 1, got {concurrency}")
        self.model = model
        self.concurrency = int(concurrency)
        self.timeout_s = float(timeout_s)
        self.retry_policy = retry_policy or RetryPolicy(max_retries=int(max_retries))
        self._explicit_key = api_key
        self._key: str | None = None
        self._loop: _LoopThread | None = None
        self._client: Any = None
        self._sem: asyncio.Semaphore | None = None
        self._lock = threading.Lock()
        self._finalizer: weakref.finalize | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the settings only: the loop, client and resolved key stay behind."""
        state = self.__dict__.copy()
        state.update(_loop=None, _client=None, _sem=None, _key=None, _finalizer=None)
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # -- for subclasses -----------------------------------------------------------------
    def _make_client(self, api_key: str) -> Any:
        raise NotImplementedError

    def _prepare(self, request: ChatRequest, config: GenerationConfig, meta: dict[str, Any]) -> Any:
        """The request payload, built once per request (a ValueError fails that request)."""
        raise NotImplementedError

    async def _attempt(self, client: Any, payload: Any, meta: dict[str, Any]) -> Reply:
        """One API call; raise (the SDK's errors, or :class:`Transient`) on failure."""
        raise NotImplementedError

    # The SDK's exception classes (both official SDKs share this shape).
    _status_error: tuple[type[BaseException], ...] = ()
    _connection_error: tuple[type[BaseException], ...] = ()
    _timeout_error: tuple[type[BaseException], ...] = ()

    def _classify(self, exc: BaseException) -> AttemptError:
        """Map an SDK or transport exception to a transient or permanent failure."""
        if isinstance(exc, self._status_error):
            status = int(getattr(exc, "status_code", 0) or 0)
            response = getattr(exc, "response", None)
            headers = getattr(response, "headers", None)
            detail = getattr(exc, "api_message", None) or getattr(exc, "message", None) or str(exc)
            msg = f"HTTP {status}: {detail}"
            if status == 401:
                return AuthFailed(msg)
            if is_retryable_status(status):
                return Transient(msg, parse_retry_after(headers))
            return Permanent(msg)
        if isinstance(exc, self._timeout_error):
            return Transient(f"timed out after {self.timeout_s:g} s")
        if isinstance(exc, self._connection_error):
            cause = exc.__cause__ or exc.__context__
            why = f" ({type(cause).__name__})" if cause is not None else ""
            return Transient(f"connection error{why}")
        if isinstance(exc, (ValueError, KeyError, IndexError)):  # JSON / schema errors of a bad body
            return Transient(f"invalid reply: {type(exc).__name__}: {exc}")
        if type(exc).__module__.split(".")[0] in ("httpx", "httpx2", "httpcore", "httpcore2"):
            return Transient(f"transport error: {type(exc).__name__}")
        return Permanent(f"{type(exc).__name__}: {exc}")

    def describe_key(self) -> str:
        """How to provide the key, for the missing-key message."""
        return f"set {self.key_env} or pass api_key" if self.key_env else "pass api_key"

    # -- set-up -------------------------------------------------------------------------
    def _resolve_key(self) -> str:
        """The key from the argument or the environment; a missing one is a UsageError."""
        key = self._explicit_key or (os.environ.get(self.key_env) if self.key_env else None)
        if key:
            return key
        if not self.key_required:
            return "EMPTY"
        raise UsageError(f"{self.kind} model {self.model!r} needs an API key: {self.describe_key()}")

    def _ensure_started(self) -> _LoopThread:
        with self._lock:
            if self._loop is None or self._loop.pid != os.getpid():
                key = self._resolve_key()
                self._key = key
                self._client = self._make_client(key)
                self._loop = _LoopThread()
                self._sem = None
                self._finalizer = weakref.finalize(self, _shutdown, self._loop, self._client)
            return self._loop

    def close(self) -> None:
        """Close the HTTP client and stop the loop thread (a later generate restarts them)."""
        with self._lock:
            finalizer = self._finalizer
            self._loop, self._client, self._sem, self._finalizer = None, None, None, None
        if finalizer is not None:
            finalizer()

    # -- generation ---------------------------------------------------------------------
    def generate(self, requests: Sequence[ChatRequest], config: GenerationConfig) -> list[GenerationResult]:
        """Answer every request (at most ``concurrency`` in flight); errors go into results.

        Raises :class:`UsageError` before sending anything when the key is missing, and
        after the batch when the API rejected the key (every request would fail).
        """
        if not requests:
            return []
        loop = self._ensure_started()
        results = loop.run(self._batch(list(requests), config))
        auth = [r for r in results if r.meta.get("auth_failed")]
        if auth:
            raise UsageError(f"{self.kind} model {self.model!r}: the API rejected the credentials "
                             f"({auth[0].error}); {self.describe_key()}")
        return results

    async def _batch(self, requests: list[ChatRequest], config: GenerationConfig) -> list[GenerationResult]:
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.concurrency)
        return list(await asyncio.gather(*(self._one(r, config) for r in requests)))

    async def _one(self, request: ChatRequest, config: GenerationConfig) -> GenerationResult:
        assert self._sem is not None
        meta: dict[str, Any] = {}
        client = self._client
        try:
            payload = self._prepare(request, config, meta)
        except ValueError as exc:
            return GenerationResult(request_id=request.request_id, error=self.redact(f"request: {exc}"), meta=meta)

        busy = [0.0]  # seconds spent holding a slot (queueing and backoff excluded)

        async def attempt() -> Reply:
            async with self._sem:  # type: ignore[union-attr]
                t0 = time.perf_counter()
                try:
                    return await asyncio.wait_for(self._attempt(client, payload, meta), self.timeout_s)
                except asyncio.TimeoutError:
                    raise Transient(f"timed out after {self.timeout_s:g} s") from None
                finally:
                    busy[0] += time.perf_counter() - t0

        out = await call_with_retries(attempt, self.retry_policy, self._classify)
        latency = busy[0]
        meta["attempts"] = out.attempts
        if out.attempts > 1:
            meta["retries"] = out.attempts - 1
            meta["backoff_s"] = round(out.waited_s, 3)
            failed = out.errors if out.error is None else out.errors[:-1]
            meta["retry_errors"] = [self.redact(e) for e in failed[:MAX_RETRY_ERRORS]]
        if out.error is not None:
            if isinstance(out.error, AuthFailed):
                meta["auth_failed"] = True
            msg = self.redact(str(out.error))
            if out.attempts > 1:
                msg = f"{msg} (after {out.attempts} attempts)"
            return GenerationResult(request_id=request.request_id, error=msg, latency_s=latency, meta=meta)
        reply = out.value
        assert isinstance(reply, Reply)
        meta.update(reply.meta)
        return GenerationResult(request_id=request.request_id, text=reply.text, usage=reply.usage,
                                latency_s=latency, meta=meta)

    def redact(self, message: str) -> str:
        """A message safe to record: no key (ours or anything key-shaped), bounded length."""
        if self._key and self._key != "EMPTY":
            message = message.replace(self._key, "[redacted]")
        message = _KEYLIKE.sub("[redacted]", message)
        return message[:MAX_ERROR_CHARS]
