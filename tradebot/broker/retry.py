"""The broker retry policy: a pure predicate, a pure wait schedule, and tenacity applying them.

Transient means what :mod:`tradebot.broker.errors` classified as :class:`TransientError`:
connection errors, timeouts, HTTP 429 (wait what the server's ``Retry-After`` says) and 5xx. A
business rejection is never retried, and neither is a submission whose outcome is unknown
(:class:`OrderOutcomeUnknown`) unless the caller asks for it with ``unknown_outcomes=True``: only
the adapter's submit loop does, because it looks the order up by client order id before each new
attempt. This is the only retry layer: alpaca-py's own is switched off, and the executor submits
once.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from tradebot.exceptions import OrderOutcomeUnknown, RateLimited, TransientError


def is_transient(exc: BaseException) -> bool:
    """True when waiting and trying the same request again may succeed (never a submission
    whose outcome is unknown: sent again blind, it could make a second order)."""
    return isinstance(exc, TransientError)


def is_transient_or_unknown(exc: BaseException) -> bool:
    """:func:`is_transient`, or an unknown outcome: for a loop that looks up before re-sending."""
    return isinstance(exc, TransientError | OrderOutcomeUnknown)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter, capped; a server's Retry-After wins (up to a ceiling)."""

    max_attempts: int = 8
    first_delay: float = 0.2
    max_delay: float = 10.0
    max_retry_after: float = 60.0

    def wait(self, attempt: int, exc: BaseException | None, jitter: float = 1.0) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based).

        ``jitter`` in [0, 1] scales the upper half of the backoff, so concurrent clients spread
        out; ``Retry-After`` is honoured as sent, with no jitter.
        """
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            return min(exc.retry_after, self.max_retry_after)
        base = min(self.first_delay * 2.0 ** (attempt - 1), self.max_delay)
        return base / 2 + base / 2 * jitter

    def retrying(self, *, unknown_outcomes: bool = False) -> AsyncRetrying:
        """A tenacity controller: ``async for attempt in policy.retrying(): with attempt: ...``.

        Re-raises the last error when the attempts run out. ``unknown_outcomes`` retries
        :class:`OrderOutcomeUnknown` too: only for a loop whose next attempt looks the order up
        before it sends anything.
        """
        return AsyncRetrying(
            stop=stop_after_attempt(self.max_attempts),
            retry=retry_if_exception(is_transient_or_unknown if unknown_outcomes else is_transient),
            wait=self._tenacity_wait,
            sleep=asyncio.sleep,
            reraise=True,
        )

    def _tenacity_wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        return self.wait(state.attempt_number, exc, random.random())  # noqa: S311 - jitter
