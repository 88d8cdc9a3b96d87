"""The signal's price is a claim: every leg is sized and checked at the broker's reference price.

Issue 10 §1: a leg for AAPL at 0.0001 planned 100,000,000 shares worth "10,000.00" and slipped
under max_order_notional, because sizing and every limit used the signal's own price.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.core.helpers import (
    T0,
    dated,
    detail,
    make_book,
    make_config,
    make_signal,
    orders,
    run,
    skips,
)
from tradebot.core.market import MAX_PRICE, MarketPrices, PriceSource
from tradebot.core.order_shape import OrderType
from tradebot.core.orders import SkipReason
from tradebot.core.signal import Leg, LegKind, Side, Signal

D = Decimal
AAPL = dated({"AAPL": D("189.50")}, T0)


def alloc16(**extra: Any) -> dict[int, dict[str, Any]]:
    """Algorithm 16 as shipped: 30% of equity over 3 positions (10,000 a leg on 100,000)."""
    return {16: {"strategy": "allocation", "params": {"pct": 30, "max_positions": 3}} | extra}


def test_a_leg_priced_far_below_the_market_is_not_sized_at_its_own_price() -> None:
    """The issue's reproduction: AAPL at 0.0001 planned ``buy 100000000 AAPL``."""
    config = make_config(alloc16(), risk={"max_order_notional": 25000})
    result = run(make_signal(opens=[("AAPL", "buy", "0.0001")]), config=config, market=AAPL)
    assert result.intents == ()
    assert skips(result) == {"AAPL": SkipReason.PRICE_OFF_MARKET}
    assert "0.0001" in detail(result, "AAPL") and "189.50" in detail(result, "AAPL")


def test_a_leg_within_the_collar_is_sized_and_limited_at_the_reference_price() -> None:
    config = make_config(alloc16(), risk={"max_order_notional": 5000})
    # 4.9% under the market: inside the default 5% collar
    result = run(make_signal(opens=[("AAPL", "buy", "180.21")]), config=config, market=AAPL)
    (intent,) = result.intents
    assert intent.reference_price == D("189.50")
    assert intent.price_source is PriceSource.REFERENCE
    # sized at 189.50 (10,000 / 189.50 = 52.77) and capped at 5,000 / 189.50 = 26.38 shares
    assert intent.qty == 26
    assert intent.notional <= 5000
    assert any("at 189.50 " in note for note in intent.notes)


@pytest.mark.parametrize(
    ("price", "collar", "traded"),
    [
        ("198.90", None, True),
        ("198.975", None, True),  # exactly 5% from 189.50: at the collar is within it
        ("199.00", None, False),
        ("193.00", "1", False),
        ("191", "1", True),
    ],
)
def test_the_collar_is_the_account_default_or_an_algorithms_tighter_one(
    price: str, collar: str | None, traded: bool
) -> None:
    algos = {16: {"risk": {"price_collar_pct": collar}} if collar else {}}
    result = run(
        make_signal(opens=[("AAPL", "buy", price)]), config=make_config(algos), market=AAPL
    )
    assert bool(result.intents) is traded
    if not traded:
        assert skips(result) == {"AAPL": SkipReason.PRICE_OFF_MARKET}


def test_a_close_with_an_off_market_price_is_skipped_and_the_position_kept() -> None:
    book = make_book(a16_AAPL=10)
    result = run(make_signal(closes=[("AAPL", "sell", "1.90")]), book, market=AAPL)
    assert result.intents == ()
    assert skips(result) == {"AAPL": SkipReason.PRICE_OFF_MARKET}


def test_without_a_reference_the_leg_is_skipped_under_required() -> None:
    failed = MarketPrices.failed("the broker's market data is unavailable (HTTP 500)")
    for market, why in [
        (MarketPrices(), "the broker has no price for AAPL"),
        (failed, "HTTP 500"),
        (dated({"AAPL": D("NaN")}, T0), "unusable"),
    ]:
        result = run(make_signal(opens=[("AAPL", "buy", "189.50")]), market=market)
        assert result.intents == ()
        assert skips(result) == {"AAPL": SkipReason.NO_REFERENCE_PRICE}
        assert why in detail(result, "AAPL") and "required" in detail(result, "AAPL")


def test_signal_if_unavailable_lets_the_signal_price_stand_in_and_says_so() -> None:
    config = make_config(risk={"reference_price": "signal_if_unavailable"})
    signal = make_signal(opens=[("AAPL", "buy", "189.50"), ("MSFT", "buy", "415.30")])
    market = dated({"MSFT": D("420")}, T0)
    by_symbol = {i.symbol: i for i in run(signal, config=config, market=market).intents}
    assert by_symbol["AAPL"].price_source is PriceSource.SIGNAL
    assert by_symbol["AAPL"].reference_price == D("189.50")
    assert any("signal_if_unavailable" in note for note in by_symbol["AAPL"].notes)
    assert by_symbol["MSFT"].price_source is PriceSource.REFERENCE
    assert by_symbol["MSFT"].reference_price == D("420")


def test_an_algorithms_required_policy_beats_the_accounts_looser_one() -> None:
    config = make_config(
        {16: {"risk": {"reference_price": "required"}}},
        risk={"reference_price": "signal_if_unavailable"},
    )
    result = run(
        make_signal(opens=[("AAPL", "buy", "189.50")]), config=config, market=MarketPrices()
    )
    assert skips(result) == {"AAPL": SkipReason.NO_REFERENCE_PRICE}


def test_the_sim_broker_lets_the_signal_price_stand_in_only_where_it_has_no_price() -> None:
    sim = dated({"AAPL": D("189.50")}, T0, signal_stands_in=True)
    signal = make_signal(opens=[("AAPL", "buy", "1.00"), ("TSLA", "buy", "250")])
    result = run(signal, market=sim)
    assert skips(result) == {"AAPL": SkipReason.PRICE_OFF_MARKET}  # it has a price: collar
    (intent,) = result.intents
    assert (intent.symbol, intent.price_source, intent.reference_price) == (
        "TSLA",
        PriceSource.SIGNAL,
        D(250),
    )
    assert any("sim broker" in note for note in intent.notes)


def _leg(price: Decimal, kind: LegKind = LegKind.OPEN) -> Signal:
    leg = Leg(16, kind, "AAPL", Side.BUY, price, T0)
    opens, closes = ((leg,), ()) if kind is LegKind.OPEN else ((), (leg,))
    return Signal(16, T0 + timedelta(seconds=1), closes, opens)


@pytest.mark.parametrize(
    "price", ["NaN", "Infinity", "-Infinity", "0", "-5", "0.00000001", "1E-9", "10000001", "1E+30"]
)
def test_a_price_that_cannot_be_a_share_price_is_refused_whatever_the_market(price: str) -> None:
    # the signal parser already refuses some of these; the planner must not rely on it
    stand_in = MarketPrices(signal_stands_in=True)
    for market in (stand_in, dated({"AAPL": D(price) if D(price).is_finite() else D(1)}, T0)):
        result = run(_leg(D(price)), market=market)
        assert result.intents == ()
        assert skips(result) == {"AAPL": SkipReason.PRICE_OFF_MARKET}


def test_a_reference_price_that_cannot_be_a_share_price_is_no_reference() -> None:
    for bad in ("0", "-1", "Infinity", str(MAX_PRICE * 10)):
        result = run(_leg(D("189.50")), market=dated({"AAPL": D(bad)}, T0))
        assert skips(result) == {"AAPL": SkipReason.NO_REFERENCE_PRICE}


def test_max_order_qty_caps_opens_and_closes() -> None:
    config = make_config(alloc16(), risk={"max_order_qty": 20})
    opened = run(make_signal(opens=[("AAPL", "buy", "189.50")]), config=config, market=AAPL)
    assert orders(opened) == [("open", "buy", "20", "AAPL")]
    assert any("capped by max_order_qty: 52 -> 20" in n for n in opened.intents[0].notes)
    closed = run(
        make_signal(closes=[("AAPL", "sell", "189.50")]),
        make_book(a16_AAPL=50),
        config=config,
        market=AAPL,
    )
    assert orders(closed) == [("close", "sell", "20", "AAPL")]


def test_an_algorithms_max_order_qty_tightens_the_accounts() -> None:
    config = make_config(
        {16: {"risk": {"max_order_qty": 3}}},
        risk={"max_order_qty": 5},
    )
    result = run(make_signal(opens=[("AAPL", "buy", "189.50")]), config=config, market=AAPL)
    assert orders(result) == [("open", "buy", "3", "AAPL")]


def test_limit_orders_are_priced_from_the_reference_and_held_to_the_collar() -> None:
    config = make_config(
        {16: {"order_type": "limit", "limit_offset_pct": 2, "risk": {"price_collar_pct": 1}}}
    )
    result = run(make_signal(opens=[("AAPL", "buy", "188.00")]), config=config, market=AAPL)
    (intent,) = result.intents
    assert intent.order_type is OrderType.LIMIT
    assert intent.limit_price == D("191.39")  # 189.50 + 1% (the offset held to the collar)
    assert intent.notional == 10 * D("191.39")
