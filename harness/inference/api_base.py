"""What every HTTP API engine shares: one event loop, per-provider slots, retries, results.

A subclass supplies the client (``_make_client``), the request body (``_prepare``), one
attempt (``_attempt``) and the mapping of its SDK's exceptions (``_classify``).

- **One loop per process.** Every API engine runs its requests on one event loop in a
  daemon thread (restarted after a fork), so ``generate`` / ``generate_stream`` are plain
  synchronous calls that also work from code already inside a running loop (a notebook).
- **Per-sample scheduling.** :meth:`ApiEngine.generate_stream` sends each request as soon as
  a slot is free and yields results in completion order; it reads its requests lazily, at
  most a small window ahead, so the caller (rendering plots, writing records) overlaps with
  the network. :meth:`ApiEngine.generate` is the same stream collected back into order.
- **Slots.** An engine has at most ``concurrency`` requests in flight, and all engines of one
  provider (same kind, provider and base URL) in the process share one pool as large as the
  largest ``concurrency`` among them. Backoff waits hold no slot.
- **Cheap requests.** The body is built once per request, in the caller's thread: the image
  is base64-encoded once per distinct image (:func:`encoded_image`, a bounded cache) and
  spliced into the JSON without re-escaping; the SDK sends the bytes as they are.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import queue
import re
import threading
import time
import uuid
import weakref
from collections import OrderedDict, deque
from collections.abc import Hashable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from harness.core.errors import UsageError
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
IMAGE_CACHE_BYTES = 64 * 2**20  # base64 images kept for reuse (draws, retries, repeated plots)
_KEYLIKE = re.compile(r"\b(?:sk-|xai-|AIza)[-_A-Za-z0-9*.]{12,}")
HTTP_BACKENDS = ("auto", "aiohttp", "httpx")


@dataclass
class Reply:
    """One successful attempt: the text and what the API said about it."""

    text: str
    usage: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


class AuthFailed(Permanent):
    """The API rejected the credentials: a set-up problem for the whole run."""


def answer_reply(text: Any, stop: Any, stop_field: str, out_of_tokens: bool, usage: dict[str, Any],
                 served: Any) -> Reply:
    """The :class:`Reply` of an API answer, shared by every provider's reply reader.

    An empty (or missing) ``text`` raises :class:`Permanent` when ``out_of_tokens`` (the
    provider's stop reason says ``max_new_tokens`` ran out, so asking again cannot help),
    else :class:`Transient` (``stop_field``: the provider's name for the stop reason, used in
    the message). ``stop`` is kept as ``meta["finish_reason"]`` for every provider, the
    served model name (when the reply names one) as ``meta["served_model"]``."""
    if not isinstance(text, str) or not text.strip():
        why = f"empty completion ({stop_field}={stop})"
        if out_of_tokens:
            raise Permanent(why + ": max_new_tokens was used up before any answer")
        raise Transient(why)
    meta: dict[str, Any] = {"finish_reason": stop}
    if isinstance(served, str) and served:
        meta["served_model"] = served
    return Reply(text=text, usage=usage, meta=meta)


# -- the process-wide loop -------------------------------------------------------------------


class _LoopThread:
    """An event loop running forever in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.pid = os.getpid()
        self.limiters: dict[Hashable, _Limiter] = {}  # provider key -> shared slots (loop-bound)
        self.thread = threading.Thread(target=self.loop.run_forever, name="visanom-api-loop", daemon=True)
        self.thread.start()

    def submit(self, coro: Any) -> Future:
        """Schedule ``coro`` on the loop; a thread-safe future of its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Any, timeout: float | None = None) -> Any:
        """Run ``coro`` on the loop and wait for its result (cancelled if the wait is interrupted)."""
        fut = self.submit(coro)
        try:
            return fut.result(timeout)
        except BaseException:
            fut.cancel()
            raise


_SHARED: _LoopThread | None = None
_SHARED_LOCK = threading.Lock()


def shared_loop() -> _LoopThread:
    """The process's API loop thread, started on first use and again in a forked child."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None or _SHARED.pid != os.getpid() or not _SHARED.thread.is_alive():
            _SHARED = _LoopThread()
        return _SHARED


class _Limiter:
    """Request slots shared by the engines of one provider (used on the loop thread only).

    The size is the largest ``concurrency`` among the registered engines; waiters are served
    first come, first served.
    """

    def __init__(self) -> None:
        self.sizes: dict[int, int] = {}  # id(engine) -> its concurrency
        self.in_use = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def size(self) -> int:
        return max(self.sizes.values(), default=1)

    def register(self, owner: int, size: int) -> None:
        self.sizes[owner] = size
        self._wake()

    def unregister(self, owner: int) -> None:
        self.sizes.pop(owner, None)

    async def acquire(self) -> None:
        if self.in_use < self.size and not self._waiters:
            self.in_use += 1
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():  # granted just as we were cancelled
                self.release()
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(fut)
            raise

    def release(self) -> None:
        self.in_use -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.in_use < self.size:
            fut = self._waiters.popleft()
            if not fut.done():
                self.in_use += 1
                fut.set_result(None)


def _shutdown(loop: _LoopThread, client: Any, key: Hashable, owner: int) -> None:
    """Close ``client`` on the loop and give back the engine's share of its provider's slots."""
    if loop.pid != os.getpid() or threading.current_thread() is loop.thread or not loop.thread.is_alive():
        return

    async def close() -> None:
        limiter = loop.limiters.get(key)
        if limiter is not None:
            limiter.unregister(owner)
        if client is not None and hasattr(client, "close"):
            await client.close()

    with contextlib.suppress(Exception):  # closing is best effort
        loop.run(close(), timeout=5)


# -- request bodies ------------------------------------------------------------------------


class _ImageCache:
    """base64 of recently sent images (after the pixel budget), bounded by total size."""

    def __init__(self, max_bytes: int = IMAGE_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[bytes, int], tuple[bytes, dict[str, Any] | None]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = 0

    def get(self, png: bytes, max_pixels: int) -> tuple[bytes, dict[str, Any] | None]:
        key = (hashlib.blake2b(png, digest_size=16).digest(), max_pixels)
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return hit
        from harness.inference.images import budget_png

        meta: dict[str, Any] = {}
        png = budget_png(png, max_pixels, meta)
        record = meta.get("image")
        import base64

        value = (base64.b64encode(png), record)
        with self._lock:
            if key not in self._items:
                self._items[key] = value
                self._size += len(value[0])
                while self._size > self.max_bytes and len(self._items) > 1:
                    _, (old, _rec) = self._items.popitem(last=False)
                    self._size -= len(old)
        return value


_IMAGES = _ImageCache()


def encoded_image(png: bytes, max_pixels: int | None, meta: dict[str, Any]) -> bytes:
    """The PNG as base64 (ASCII bytes), inside the pixel budget when one is given.

    Encoded once per distinct image and budget (a bounded cache); the resize record goes to
    ``meta["image"]``. Raises ``ValueError`` for data that is not a readable image when a
    budget needs it decoded.
    """
    b64, record = _IMAGES.get(png, int(max_pixels or 0))
    if record is not None:
        meta["image"] = dict(record)
    return b64


_IMAGE_SLOT = "visanom-image-" + uuid.uuid4().hex  # stands in for the image while the JSON is built


def image_slot() -> str:
    """A placeholder string to put where the image goes in a payload passed to :func:`json_body`."""
    return _IMAGE_SLOT


def json_body(payload: dict[str, Any], image: bytes | None, prefix: bytes = b"") -> bytes:
    """``payload`` as JSON bytes, with ``prefix + image`` where :func:`image_slot` stands.

    base64 needs no JSON escaping, so the image is copied in as is instead of being
    re-escaped by the encoder. ``payload`` must hold the slot exactly once when ``image`` is
    given.
    """
    body = json.dumps(payload, separators=(",", ":")).encode()
    if image is None:
        return body
    slot = b'"' + _IMAGE_SLOT.encode() + b'"'
    head, sep, tail = body.partition(slot)
    if not sep or slot in tail:
        raise ValueError("the request payload must hold the image slot exactly once")
    return b"".join((head, b'"', prefix, image, b'"', tail))


# -- the engine ----------------------------------------------------------------------------


@dataclass
class _Prepared:
    """A request ready to send: its body, and the meta gathered while building it."""

    request_id: str
    body: Any
    meta: dict[str, Any]


class ApiEngine:
    """Base of the API engines: key check, shared loop, slots, retries, redaction."""

    kind = "api"
    key_env: str | None = None  # the environment variable the key comes from
    key_required = True

    def __init__(self, model: str, *, api_key: str | None, concurrency: int, timeout_s: float,
                 max_retries: int, retry_policy: RetryPolicy | None = None, http_backend: str = "auto"):
        if concurrency < 1:
            raise UsageError(f"concurrency must be >= 1, got {concurrency}")
        if http_backend not in HTTP_BACKENDS:
            raise UsageError(f"http_backend must be one of {HTTP_BACKENDS}, got {http_backend!r}")
        self.model = model
        self.concurrency = int(concurrency)
        self.timeout_s = float(timeout_s)
        self.retry_policy = retry_policy or RetryPolicy(max_retries=int(max_retries))
        self.http_backend = http_backend
        self._explicit_key = api_key
        self._key: str | None = None
        self._loop: _LoopThread | None = None
        self._client: Any = None
        self._sem: asyncio.Semaphore | None = None
        self._limiter: _Limiter | None = None
        self._lock = threading.Lock()
        self._finalizer: weakref.finalize | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the settings only: the loop, client and resolved key stay behind."""
        state = self.__dict__.copy()
        state.update(_loop=None, _client=None, _sem=None, _limiter=None, _key=None, _finalizer=None)
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # -- for subclasses -----------------------------------------------------------------
    def _make_client(self, api_key: str) -> Any:
        raise NotImplementedError

    def _provider_key(self) -> Hashable:
        """Which engines share a pool of slots (never recorded; may hold the base URL)."""
        return (self.kind,)

    def _prepare(self, request: ChatRequest, config: GenerationConfig, meta: dict[str, Any]) -> Any:
        """The request body, built once per request (a ValueError fails that request)."""
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
        if isinstance(exc, (ValueError, KeyError, IndexError, TypeError)):  # JSON / schema errors of a bad body
            return Transient(f"invalid reply: {type(exc).__name__}: {exc}")
        if type(exc).__module__.split(".")[0] in ("httpx", "httpx2", "httpcore", "httpcore2", "aiohttp"):
            return Transient(f"transport error: {type(exc).__name__}")
        return Permanent(f"{type(exc).__name__}: {exc}")

    def describe_key(self) -> str:
        """How to provide the key, for the missing-key message."""
        return f"set {self.key_env} or pass api_key" if self.key_env else "pass api_key"

    def _http_client(self, sdk: Any) -> Any:
        """The SDK's aiohttp-backed client when asked for or available (``auto``), else None
        (the SDK's default httpx client). aiohttp costs about half the client CPU per request."""
        if self.http_backend == "httpx":
            return None
        try:
            return sdk.DefaultAioHttpClient(timeout=self.timeout_s)
        except (AttributeError, ImportError, RuntimeError) as exc:  # the SDK's aiohttp extra is missing
            if self.http_backend == "aiohttp":
                raise UsageError(f"http_backend='aiohttp' needs the SDK's aiohttp extra ({exc})") from exc
            return None

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
            loop = shared_loop()
            if self._loop is not loop:
                key = self._resolve_key()
                self._key = key
                self._client = self._make_client(key)
                self._loop = loop
                provider = self._provider_key()
                owner = id(self)

                async def start() -> tuple[asyncio.Semaphore, _Limiter]:
                    limiter = loop.limiters.setdefault(provider, _Limiter())
                    limiter.register(owner, self.concurrency)
                    return asyncio.Semaphore(self.concurrency), limiter

                self._sem, self._limiter = loop.run(start())
                self._finalizer = weakref.finalize(self, _shutdown, loop, self._client, provider, owner)
            return loop

    def close(self) -> None:
        """Close the HTTP client and give back the slots (a later generate starts again)."""
        with self._lock:
            finalizer = self._finalizer
            self._loop, self._client, self._sem, self._limiter, self._finalizer = None, None, None, None, None
        if finalizer is not None:
            finalizer()

    # -- generation ---------------------------------------------------------------------
    def generate(self, requests: Sequence[ChatRequest], config: GenerationConfig) -> list[GenerationResult]:
        """Answer every request (results in request order); errors go into results.

        Raises :class:`UsageError` before sending anything when the key is missing, and as
        soon as the API rejects the key (every request would fail).
        """
        by_index = dict(self._stream(enumerate(requests), config, window=max(len(requests), 1)))
        return [by_index[i] for i in range(len(requests))]

    def generate_stream(self, requests: Iterable[ChatRequest], config: GenerationConfig, *,
                        window: int | None = None) -> Iterator[GenerationResult]:
        """Answer requests as slots free up, yielding each result as soon as it is complete.

        ``requests`` is read lazily, at most ``window`` (default ``2 x concurrency``) requests
        ahead of the results taken; closing the iterator early cancels what is in flight.
        Same errors as :meth:`generate`.
        """
        for _, result in self._stream(enumerate(requests), config, window=window or 2 * self.concurrency):
            yield result

    def _stream(self, requests: Iterable[tuple[int, ChatRequest]], config: GenerationConfig,
                window: int) -> Iterator[tuple[int, GenerationResult]]:
        source = iter(requests)
        first = next(source, None)
        if first is None:
            return
        loop = self._ensure_started()
        done: queue.SimpleQueue[Future] = queue.SimpleQueue()
        in_flight: dict[Future, int] = {}
        running: set[asyncio.Task[Any]] = set()  # this stream's tasks that have started (loop side)
        pending: Iterator[tuple[int, ChatRequest]] | None = _chain(first, source)
        try:
            while True:
                while pending is not None and len(in_flight) < window:
                    item = next(pending, None)
                    if item is None:
                        pending = None
                        break
                    index, request = item
                    prepared = self._prepared(request, config)
                    if isinstance(prepared, GenerationResult):
                        yield index, prepared
                        continue
                    fut = loop.submit(_tracked(self._send(prepared), running))
                    in_flight[fut] = index
                    fut.add_done_callback(done.put)
                if not in_flight:
                    return
                fut = done.get()
                index = in_flight.pop(fut)
                result = fut.result()
                if result.meta.get("auth_failed"):
                    raise UsageError(f"{self.kind} model {self.model!r}: the API rejected the credentials "
                                     f"({result.error}); {self.describe_key()}")
                yield index, result
        finally:
            if in_flight:  # closed early or failed: nothing of this stream may stay in flight
                for fut in in_flight:
                    fut.cancel()
                with contextlib.suppress(Exception):
                    loop.run(_cancel_all(running), timeout=30)

    def _prepared(self, request: ChatRequest, config: GenerationConfig) -> _Prepared | GenerationResult:
        meta: dict[str, Any] = {}
        try:
            body = self._prepare(request, config, meta)
        except ValueError as exc:
            return GenerationResult(request_id=request.request_id, error=self.redact(f"request: {exc}"), meta=meta)
        return _Prepared(request.request_id, body, meta)

    async def _send(self, prepared: _Prepared) -> GenerationResult:
        sem, limiter, client, meta = self._sem, self._limiter, self._client, prepared.meta
        assert sem is not None and limiter is not None
        busy = [0.0]  # seconds spent holding a slot (queueing and backoff excluded)

        async def attempt() -> Reply:
            async with sem:
                await limiter.acquire()
                try:
                    t0 = time.perf_counter()
                    try:
                        return await _within(self._attempt(client, prepared.body, meta), self.timeout_s)
                    except asyncio.TimeoutError:
                        raise Transient(f"timed out after {self.timeout_s:g} s") from None
                    finally:
                        busy[0] += time.perf_counter() - t0
                finally:
                    limiter.release()

        out = await call_with_retries(attempt, self.retry_policy, self._classify)
        return self._result(prepared.request_id, out, busy[0], meta)

    def _result(self, request_id: str, out: Any, latency: float, meta: dict[str, Any]) -> GenerationResult:
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
            return GenerationResult(request_id=request_id, error=msg, latency_s=latency, meta=meta)
        reply = out.value
        assert isinstance(reply, Reply)
        meta.update(reply.meta)
        return GenerationResult(request_id=request_id, text=reply.text, usage=reply.usage,
                                latency_s=latency, meta=meta)

    def redact(self, message: str) -> str:
        """A message safe to record: no key (ours or anything key-shaped), bounded length."""
        if self._key and self._key != "EMPTY":
            message = message.replace(self._key, "[redacted]")
        message = _KEYLIKE.sub("[redacted]", message)
        return message[:MAX_ERROR_CHARS]


async def _within(coro: Any, seconds: float) -> Any:
    """``await coro`` with a deadline (``asyncio.timeout`` where there is one: no extra task)."""
    timeout = getattr(asyncio, "timeout", None)
    if timeout is None:  # Python 3.10
        return await asyncio.wait_for(coro, seconds)
    async with timeout(seconds):
        return await coro


async def _tracked(coro: Any, running: set[asyncio.Task[Any]]) -> Any:
    """``await coro``, listed in ``running`` meanwhile (so a closed stream can cancel and wait)."""
    task = asyncio.current_task()
    assert task is not None
    running.add(task)
    try:
        return await coro
    finally:
        running.discard(task)


async def _cancel_all(running: set[asyncio.Task[Any]]) -> None:
    """Cancel the started tasks of a stream and wait until they have finished."""
    tasks = list(running)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest


def reply_json(raw: bytes) -> dict[str, Any]:
    """The JSON object of a reply body (a ``ValueError`` when it is not one: a transient fault)."""
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError(f"reply is a JSON {type(data).__name__}, not an object")
    return data
