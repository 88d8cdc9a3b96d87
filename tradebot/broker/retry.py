"""The broker retry policy: a pure predicate, a pure wait schedule, and tenacity applying them.

Transient means what :mod:`tradebot.broker.errors` classified as :class:`TransientError`:
connection errors, timeouts, HTTP 429 (wait what the server's ``Retry-After`` says) and 5xx, and
submissions whose outcome is unknown (the caller looks those up before sending again). A business
rejection is never retried. This is the only retry layer: alpaca-py's own is switched off.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from tradebot.exceptions import RateLimited, TransientError


def is_transient(exc: BaseException) -> bool:
    """True when waiting and trying again (with the same client order id) may succeed."""
    return isinstance(exc, TransientError)


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

    def retrying(self) -> AsyncRetrying:
        """A tenacity controller: ``async for attempt in policy.retrying(): with attempt: ...``.

        Re-raises the last error when the attempts run out.
        """
        return AsyncRetrying(
            stop=stop_after_attempt(self.max_attempts),
            retry=retry_if_exception(is_transient),
            wait=self._tenacity_wait,
            sleep=asyncio.sleep,
            reraise=True,
        )

    def _tenacity_wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        return self.wait(state.attempt_number, exc, random.random())  # noqa: S311 - jitter
