"""The one retry policy of the API engines: exponential backoff with full jitter.

An engine classifies each failed attempt as :class:`Transient` (retry: rate limits, 5xx,
timeouts, dropped connections, invalid or empty replies) or :class:`Permanent` (give up at
once: other 4xx). A ``Retry-After`` the server sends is honoured as a lower bound on the wait.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TypeVar

T = TypeVar("T")


class AttemptError(Exception):
    """A failed attempt, already classified by the engine; ``str()`` is a record-safe message."""


class Transient(AttemptError):
    """A failure worth retrying; ``retry_after_s`` is the server's requested wait, if any."""

    def __init__(self, message: str, retry_after_s: float | None = None):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Permanent(AttemptError):
    """A failure that retrying cannot fix (a malformed request, an unknown model)."""


RETRYABLE_STATUS = frozenset({408, 429})


def is_retryable_status(status: int) -> bool:
    """429 (rate limit), 408 (request timeout) and every 5xx; other 4xx are final."""
    return status in RETRYABLE_STATUS or status >= 500


def parse_retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now_dt = datetime.fromtimestamp(time.time() if now is None else now, tz=timezone.utc)
    return max(0.0, (when - now_dt).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """How many times and how long to wait; ``max_retries`` counts retries after the first try.

    The n-th wait (n = 0, 1, ...) is uniform in ``[0, min(max_backoff_s, base_s * 2**n)]``
    ("full jitter"); a server's ``Retry-After`` raises it to at least that many seconds
    (capped at ``max_retry_after_s``).
    """

    max_retries: int = 6
    base_s: float = 0.5
    max_backoff_s: float = 30.0
    max_retry_after_s: float = 120.0

    def delay(self, retry: int, retry_after_s: float | None = None, rng: random.Random | None = None) -> float:
        """Seconds to sleep before retry number ``retry`` (0-based)."""
        r = rng.random() if rng is not None else random.random()
        wait = r * min(self.max_backoff_s, self.base_s * (2.0 ** retry))
        if retry_after_s is not None:
            wait = max(wait, min(retry_after_s, self.max_retry_after_s))
        return wait


@dataclass
class Outcome:
    """What :func:`call_with_retries` returns: the value or the last error, and the attempt count."""

    value: object = None
    error: AttemptError | None = None
    attempts: int = 0
    waited_s: float = 0.0
    errors: tuple[str, ...] = ()


async def call_with_retries(
    attempt: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    classify: Callable[[BaseException], AttemptError],
    rng: random.Random | None = None,
) -> Outcome:
    """Run ``attempt`` until it succeeds, fails permanently, or the retries run out.

    ``classify`` maps any exception to :class:`Transient` or :class:`Permanent`; an
    :class:`AttemptError` raised by ``attempt`` itself is used as is. Cancellation propagates.
    """
    errors: list[str] = []
    waited = 0.0
    for n in range(policy.max_retries + 1):
        try:
            value = await attempt()
            return Outcome(value=value, attempts=n + 1, waited_s=waited, errors=tuple(errors))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # classified below; nothing escapes per request
            err = exc if isinstance(exc, AttemptError) else classify(exc)
        errors.append(str(err))
        if isinstance(err, Permanent) or n == policy.max_retries:
            return Outcome(error=err, attempts=n + 1, waited_s=waited, errors=tuple(errors))
        assert isinstance(err, Transient)
        wait = policy.delay(n, err.retry_after_s, rng)
        waited += wait
        await asyncio.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover
