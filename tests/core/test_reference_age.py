"""A reference price is only worth anything while it is current (issue 19 §3).

A market-data snapshot five days old sized an order and passed the 5% collar: the price agreed
with the signal, so nothing looked wrong. ``risk.reference_max_age`` (15 minutes by default)
bounds a reference's age while the market is open; while it is closed, the last trade must be
from the latest session. Older counts as no reference (``no_reference_price``, the age named).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.core.helpers import (
    dated,
    detail,
    make_book,
    make_config,
    make_signal,
    orders,
    run,
    skips,
)
from tradebot.core.market import MarketPrices, PriceSource, age_text, latest_session_day
from tradebot.core.orders import SkipReason
from tradebot.core.planner import DayState

D = Decimal
#: Saturday 5 December 2026, noon in New York; the market next opens Monday 9:30 (EST)
SATURDAY = datetime(2026, 12, 5, 17, 0, tzinfo=UTC)
MONDAY_OPEN = datetime(2026, 12, 7, 14, 30, tzinfo=UTC)
CLOSED = DayState(market_open=False, next_open=MONDAY_OPEN)
#: the start of Friday 4 December in New York (EST: UTC-5), the latest session's day
FRIDAY_START = datetime(2026, 12, 4, 5, 0, tzinfo=UTC)


def signal_at(now: datetime, symbol: str = "AAPL", price: str = "189.50") -> Any:
    return make_signal(opens=[(symbol, "buy", price)], at=now - timedelta(seconds=2))


def traded(at: datetime, **kwargs: Any) -> MarketPrices:
    return dated({"AAPL": D("189.50")}, at, **kwargs)


# -- in session ----------------------------------------------------------------------------------


@pytest.mark.parametrize("market_open", [True, None])  # None: clock unknown, judged as open
@pytest.mark.parametrize(("minutes", "fresh"), [(14, True), (15, True), (16, False)])
def test_in_session_a_reference_older_than_15_minutes_is_no_reference(
    market_open: bool | None, minutes: int, fresh: bool
) -> None:
    now = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)  # Friday, 10:00 in New York
    signal = signal_at(now)
    market = traded(now - timedelta(minutes=minutes))
    result = run(signal, market=market, now=now, day=DayState(market_open=market_open))
    if fresh:
        assert orders(result) == [("open", "buy", "10", "AAPL")]
        return
    assert result.intents == ()
    assert skips(result) == {"AAPL": SkipReason.NO_REFERENCE_PRICE}
    assert "reference price for AAPL is 16m old (risk.reference_max_age 15m)" in detail(
        result, "AAPL"
    )


def test_open_the_15_minutes_apply_whatever_session_the_day_names() -> None:
    """The latest-session rule is for a closed market only: open, this morning's trade is old."""
    now = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
    day = DayState(market_open=True, next_open=MONDAY_OPEN)
    market = traded(now - timedelta(minutes=16))
    assert not run(signal_at(now), market=market, now=now, day=day).intents


def test_the_five_day_old_snapshot_of_the_issue_is_skipped_with_its_age() -> None:
    now = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
    old = now - timedelta(days=5, hours=2, minutes=7)
    result = run(signal_at(now), market=traded(old), now=now, day=DayState(market_open=True))
    assert result.intents == ()
    assert skips(result) == {"AAPL": SkipReason.NO_REFERENCE_PRICE}
    assert "reference price for AAPL is 5d 2h old (risk.reference_max_age 15m)" in detail(
        result, "AAPL"
    )


@pytest.mark.parametrize(("limit", "seconds", "fresh"), [(60, 59, True), (60, 61, False)])
def test_the_limit_is_the_configs_and_an_algorithm_may_tighten_it(
    limit: int, seconds: int, fresh: bool
) -> None:
    now = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
    config = make_config({16: {"risk": {"reference_max_age": limit}}})
    market = traded(now - timedelta(seconds=seconds))
    result = run(signal_at(now), config=config, market=market, now=now)
    assert bool(result.intents) is fresh
    if not fresh:
        assert "(risk.reference_max_age 1m)" in detail(result, "AAPL")
    # an algorithm's longer age does not loosen the account's
    loose = make_config({16: {"risk": {"reference_max_age": 3600}}}, risk={"reference_max_age": 60})
    assert bool(run(signal_at(now), config=loose, market=market, now=now).intents) is fresh


def test_a_close_with_a_stale_reference_is_skipped_and_the_position_kept() -> None:
    now = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
    signal = make_signal(closes=[("AAPL", "sell", "189.50")], at=now)
    result = run(signal, make_book(a16_AAPL=10), market=traded(now - timedelta(hours=1)), now=now)
    assert result.intents == ()
    assert skips(result) == {"AAPL": SkipReason.NO_REFERENCE_PRICE}


@pytest.mark.parametrize("as_of", [None, datetime(2026, 12, 4, 15, 0)])  # none; no time zone
def test_a_price_without_a_time_is_refused(as_of: datetime | None) -> None:
    now = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
    undated = MarketPrices({"AAPL": D("189.50")}, as_of={"AAPL": as_of} if as_of else {})
    result = run(signal_at(now), market=undated, now=now)
    assert skips(result) == {"AAPL": SkipReason.NO_REFERENCE_PRICE}
    assert "the broker's price for AAPL carries no time" in detail(result, "AAPL")


# -- out of session ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trade", "fresh"),
    [
        (datetime(2026, 12, 4, 21, 0, tzinfo=UTC), True),  # Friday's close
        (datetime(2026, 12, 5, 0, 59, tzinfo=UTC), True),  # Friday 19:59, after hours
        (FRIDAY_START, True),  # the first moment of Friday in New York
        (FRIDAY_START - timedelta(seconds=1), False),  # Thursday, 23:59:59 in New York
        (datetime(2026, 12, 3, 21, 0, tzinfo=UTC), False),  # Thursday's close
    ],
)
def test_closed_a_trade_from_the_latest_session_is_fresh_an_older_one_is_not(
    trade: datetime, fresh: bool
) -> None:
    result = run(signal_at(SATURDAY), market=traded(trade), now=SATURDAY, day=CLOSED)
    assert bool(result.intents) is fresh
    if not fresh:
        assert skips(result) == {"AAPL": SkipReason.NO_REFERENCE_PRICE}
        assert "from before the latest session, Fri 2026-12-04" in detail(result, "AAPL")


def test_monday_before_the_open_fridays_trades_are_the_latest_session() -> None:
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # Monday, 7:00 in New York
    friday = datetime(2026, 12, 4, 20, 59, tzinfo=UTC)
    thursday = datetime(2026, 12, 3, 20, 59, tzinfo=UTC)
    assert run(signal_at(now), market=traded(friday), now=now, day=CLOSED).intents
    assert not run(signal_at(now), market=traded(thursday), now=now, day=CLOSED).intents


def test_closed_with_the_next_open_unknown_the_age_limit_applies() -> None:
    friday = datetime(2026, 12, 4, 21, 0, tzinfo=UTC)
    day = DayState(market_open=False)
    assert not run(signal_at(SATURDAY), market=traded(friday), now=SATURDAY, day=day).intents


@pytest.mark.parametrize(
    ("next_open", "latest"),
    [
        (MONDAY_OPEN, date(2026, 12, 4)),  # the weekend: Friday
        (datetime(2026, 12, 8, 14, 30, tzinfo=UTC), date(2026, 12, 7)),  # Monday night
        (datetime(2026, 7, 6, 13, 30, tzinfo=UTC), date(2026, 7, 3)),  # EDT
    ],
)
def test_the_latest_session_is_the_weekday_before_the_next_open(
    next_open: datetime, latest: date
) -> None:
    assert latest_session_day(next_open) == latest


# -- where the signal's price may stand in, and what is exempt ----------------------------------


def test_under_signal_if_unavailable_a_stale_reference_lets_the_signal_price_stand_in() -> None:
    now = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
    config = make_config(risk={"reference_price": "signal_if_unavailable"})
    # a stale 150 would have refused the leg as 26% off the market: it is no market at all
    market = dated({"AAPL": D(150)}, now - timedelta(days=5))
    result = run(signal_at(now), config=config, market=market, now=now)
    (intent,) = result.intents
    assert intent.reference_price == D("189.50") and intent.price_source is PriceSource.SIGNAL
    assert any("5d old" in note and "signal_if_unavailable" in note for note in intent.notes)


def test_the_sim_brokers_stale_price_lets_the_signal_stand_in_noted() -> None:
    now = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
    market = dated({"AAPL": D(150)}, now - timedelta(hours=1), signal_stands_in=True)
    (intent,) = run(signal_at(now), market=market, now=now).intents
    assert intent.price_source is PriceSource.SIGNAL
    assert any("1h old" in note and "sim broker" in note for note in intent.notes)


def test_a_price_the_user_typed_has_no_age() -> None:
    now = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
    typed = MarketPrices({"AAPL": D("189.50")}, origin="--price", typed_by_user=True)
    (intent,) = run(signal_at(now), market=typed, now=now, day=CLOSED).intents
    assert intent.price_source is PriceSource.REFERENCE


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.5, "0.5s"), (45, "45s"), (900, "15m"), (959, "15m 59s"), (3600, "1h"), (441000, "5d 2h")],
)
def test_ages_read_as_their_two_largest_units(seconds: float, text: str) -> None:
    assert age_text(seconds) == text


# -- the property ----------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    limit=st.integers(min_value=1, max_value=7 * 86400),
    beyond=st.floats(min_value=0.001, max_value=30 * 86400, allow_nan=False),
    market_open=st.sampled_from([True, None, False]),
    close=st.booleans(),
)
def test_no_reference_older_than_the_limit_ever_sizes_an_order(
    limit: int, beyond: float, market_open: bool | None, close: bool
) -> None:
    """Whatever the limit and however far past it, a stale reference never prices an order:
    in session (or clock unknown) any age beyond the limit, closed any trade from before the
    latest session that is also beyond the limit."""
    now = datetime(2026, 12, 4, 15, 0, tzinfo=UTC) if market_open is not False else SATURDAY
    as_of = now - timedelta(seconds=limit + beyond)
    day = DayState(market_open=market_open)
    if market_open is False:
        day = CLOSED
        as_of = min(as_of, FRIDAY_START - timedelta(seconds=beyond))
    config = make_config({16: {"risk": {"reference_max_age": limit}}})
    if close:
        signal = make_signal(closes=[("AAPL", "sell", "189.50")], at=now)
        book = make_book(a16_AAPL=10)
    else:
        signal, book = signal_at(now), None
    result = run(signal, book, config=config, market=traded(as_of), now=now, day=day)
    assert result.intents == ()
    assert skips(result) == {"AAPL": SkipReason.NO_REFERENCE_PRICE}
    assert "old" in detail(result, "AAPL")
