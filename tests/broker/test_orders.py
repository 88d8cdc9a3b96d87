"""Order requests are rounded and checked against the asset before anything is sent."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradebot.broker.alpaca.orders import prepare, round_limit, round_qty
from tradebot.core.account import AssetInfo
from tradebot.core.order_shape import Bracket, ChaseTerms, Limit, Oco, Oto, Stop, TrailingStop
from tradebot.core.orders import IntentRole, OrderIntent, TimeInForce
from tradebot.core.signal import Side
from tradebot.exceptions import OrderRejected

from .conftest import make_intent

FRACTIONABLE = AssetInfo("AAPL", tradable=True, shortable=True, fractionable=True)
WHOLE_ONLY = AssetInfo("BRK", tradable=True, shortable=False, fractionable=False)
CHASE = ChaseTerms(chase_after=60.0, chase_pct=Decimal("0.33"))


@given(st.decimals(min_value=Decimal("0.000000001"), max_value=Decimal(10**6), places=12))
def test_rounding_never_trades_more(qty: Decimal) -> None:
    for fractionable in (True, False):
        rounded = round_qty(qty, fractionable)
        assert 0 <= rounded <= qty
        assert qty - rounded < (Decimal("1e-9") if fractionable else 1)


@pytest.mark.parametrize(
    ("price", "side", "expected"),
    [
        ("100.129", Side.BUY, "100.12"),
        ("100.121", Side.SELL, "100.13"),
        ("0.123456", Side.BUY, "0.1234"),
        ("0.123456", Side.SELL, "0.1235"),
        ("1", Side.BUY, "1.00"),
    ],
)
def test_limit_prices_follow_the_sub_penny_rule(price: str, side: Side, expected: str) -> None:
    assert round_limit(Decimal(price), side) == Decimal(expected)


def test_whole_shares_for_non_fractionable_assets() -> None:
    fields = prepare(make_intent(symbol="BRK", qty="3.9"), WHOLE_ONLY)
    assert fields.qty == Decimal(3)
    with pytest.raises(OrderRejected, match="rounds to zero"):
        prepare(make_intent(symbol="BRK", qty="0.5"), WHOLE_ONLY)


def test_fractional_orders_must_be_day_orders() -> None:
    with pytest.raises(OrderRejected, match="day orders"):
        prepare(make_intent(qty="0.5", tif=TimeInForce.GTC), FRACTIONABLE)
    assert prepare(make_intent(qty="5", tif=TimeInForce.GTC), FRACTIONABLE).qty == 5


def test_shorting_a_non_shortable_asset_is_refused_but_selling_holdings_is_not() -> None:
    sell = make_intent(symbol="BRK", side=Side.SELL, qty="5")
    with pytest.raises(OrderRejected) as caught:
        prepare(sell, WHOLE_ONLY, long_qty=Decimal(4))
    assert caught.value.code == "not_shortable"
    assert prepare(sell, WHOLE_ONLY, long_qty=Decimal(5)).qty == 5


def test_not_tradable() -> None:
    with pytest.raises(OrderRejected, match="not tradable"):
        prepare(make_intent(), AssetInfo("AAPL", tradable=False))


def _exit_intent(**fields: Any) -> OrderIntent:
    values: dict[str, Any] = {
        "client_order_id": "tb1-AAPL-o-e1-sl",
        "algo_id": 1,
        "symbol": "AAPL",
        "side": Side.SELL,
        "qty": Decimal(10),
        "price": Stop(Decimal("95.001")),
        "time_in_force": TimeInForce.GTC,
        "role": IntentRole.EXIT,
        "leg_ids": (),
        "reference_price": Decimal(100),
    }
    values.update(fields)
    return OrderIntent(**values)


def test_exit_prices_round_toward_the_entry_never_further() -> None:
    # a long's exits sell: its stop rounds up, its take-profit down (both nearer the entry)
    assert prepare(_exit_intent(), FRACTIONABLE).price == Stop(Decimal("95.01"))
    buy_stop = _exit_intent(side=Side.BUY, price=Stop(Decimal("105.009")))
    assert prepare(buy_stop, FRACTIONABLE).price == Stop(Decimal("105.00"))
    entry = replace(
        make_intent(tif=TimeInForce.GTC),
        attached=Bracket(take_profit=Decimal("105.009"), stop_loss=Decimal("94.991")),
    )
    fields = prepare(entry, FRACTIONABLE)
    assert fields.attached == Bracket(Decimal("105.00"), Decimal("95.00"))
    short = replace(
        entry,
        side=Side.SELL,
        attached=Bracket(take_profit=Decimal("94.991"), stop_loss=Decimal("105.009")),
    )
    fields = prepare(short, FRACTIONABLE)
    assert fields.attached == Bracket(Decimal("95.00"), Decimal("105.00"))
    oto = replace(entry, attached=Oto(stop_loss=Decimal("94.991")))
    assert prepare(oto, FRACTIONABLE).attached == Oto(stop_loss=Decimal("95.00"))
    oco = _exit_intent(
        client_order_id="tb1-AAPL-o-e1-tp",
        price=Limit(Decimal("105.009")),
        attached=Oco(take_profit=Decimal("105.009"), stop_loss=Decimal("94.991")),
    )
    fields = prepare(oco, FRACTIONABLE)
    assert fields.price == Limit(Decimal("105.00"))
    assert fields.attached == Oco(Decimal("105.00"), Decimal("95.00"))


def test_an_entry_limit_rounds_to_the_better_price_and_loses_its_chase() -> None:
    chased = replace(make_intent(limit="100.129"), price=Limit(Decimal("100.129"), CHASE))
    assert prepare(chased, FRACTIONABLE).price == Limit(Decimal("100.12"))
    sell = replace(chased, side=Side.SELL)
    assert prepare(sell, FRACTIONABLE).price == Limit(Decimal("100.13"))


@pytest.mark.parametrize(
    ("side", "price"),
    # toward the entry: a sell take-profit rounds down, and a buy stop (a short's)
    [(Side.SELL, Limit(Decimal("0.00004"))), (Side.BUY, Stop(Decimal("0.00004")))],
)
def test_an_exit_price_that_rounds_to_zero_is_refused(side: Side, price: Limit | Stop) -> None:
    with pytest.raises(OrderRejected) as caught:
        prepare(_exit_intent(side=side, price=price), FRACTIONABLE)
    assert caught.value.code == "price_zero"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"qty": Decimal("10.5"), "time_in_force": TimeInForce.DAY}, "fractional_advanced"),
        ({"time_in_force": TimeInForce.IOC}, "advanced_tif"),
        ({"extended_hours": True}, "extended_hours"),
    ],
)
def test_advanced_orders_alpaca_would_refuse_are_refused_before_sending(
    fields: dict[str, Any], code: str
) -> None:
    trailing = {"price": TrailingStop(Decimal(5))}
    with pytest.raises(OrderRejected) as caught:
        prepare(_exit_intent(**(trailing | fields)), FRACTIONABLE)
    assert caught.value.code == code


def test_a_leg_is_never_sent_by_itself() -> None:
    leg = _exit_intent(parent="tb1-AAPL-o-e1")
    with pytest.raises(ValueError, match="never sent by itself"):
        prepare(leg, FRACTIONABLE)
