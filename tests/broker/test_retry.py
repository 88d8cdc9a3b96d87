"""The retry policy: a pure predicate and a wait schedule that honours Retry-After."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradebot.broker.retry import RetryPolicy, is_transient, is_transient_or_unknown
from tradebot.exceptions import (
    AuthenticationError,
    BrokerError,
    BrokerUnavailable,
    ConnectionLost,
    OrderOutcomeUnknown,
    OrderRejected,
    RateLimited,
)


def test_what_is_transient() -> None:
    assert is_transient(BrokerUnavailable("5xx"))
    assert is_transient(RateLimited("429", retry_after=1))
    assert is_transient(ConnectionLost("reset"))
    # sent again blind, an order whose outcome is unknown could be made twice
    assert not is_transient(OrderOutcomeUnknown("timeout", "cid"))
    assert is_transient_or_unknown(OrderOutcomeUnknown("timeout", "cid"))
    assert is_transient_or_unknown(BrokerUnavailable("5xx"))
    assert not is_transient_or_unknown(OrderRejected("insufficient buying power"))
    assert not is_transient(OrderRejected("insufficient buying power"))
    assert not is_transient(AuthenticationError("401"))
    assert not is_transient(BrokerError("garbage"))
    assert not is_transient(ValueError("bug"))


def test_retry_after_wins_up_to_a_ceiling() -> None:
    policy = RetryPolicy(first_delay=0.2, max_delay=10, max_retry_after=60)
    assert policy.wait(1, RateLimited("429", retry_after=3)) == 3
    assert policy.wait(5, RateLimited("429", retry_after=0)) == 0
    assert policy.wait(1, RateLimited("429", retry_after=3600)) == 60


def test_a_429_without_retry_after_backs_off_like_any_transient_error() -> None:
    policy = RetryPolicy(first_delay=0.2, max_delay=10)
    assert policy.wait(3, RateLimited("429")) == policy.wait(3, BrokerUnavailable("x"))


@given(
    attempt=st.integers(min_value=1, max_value=60),
    jitter=st.floats(min_value=0, max_value=1),
)
def test_backoff_grows_and_stays_capped(attempt: int, jitter: float) -> None:
    policy = RetryPolicy(first_delay=0.2, max_delay=10)
    wait = policy.wait(attempt, BrokerUnavailable("x"), jitter)
    base = min(0.2 * 2 ** (attempt - 1), 10)
    assert base / 2 <= wait <= base <= 10


async def attempts_until_raised(policy: RetryPolicy, error: BaseException, **kw: bool) -> int:
    calls = 0
    with pytest.raises(type(error)):
        async for attempt in policy.retrying(**kw):
            with attempt:
                calls += 1
                raise error
    return calls


async def test_a_generic_retry_never_repeats_an_unknown_outcome() -> None:
    policy = RetryPolicy(max_attempts=4, first_delay=0.001, max_delay=0.001)
    unknown = OrderOutcomeUnknown("no answer", "cid")
    assert await attempts_until_raised(policy, unknown) == 1
    assert await attempts_until_raised(policy, BrokerUnavailable("503")) == 4
    # only a loop that looks the order up before each attempt asks for it
    assert await attempts_until_raised(policy, unknown, unknown_outcomes=True) == 4
