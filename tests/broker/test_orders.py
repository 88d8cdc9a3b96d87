"""Order requests are rounded and checked against the asset before anything is sent."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradebot.broker.alpaca.orders import prepare, round_limit, round_qty
from tradebot.core.account import AssetInfo
from tradebot.core.orders import TimeInForce
from tradebot.core.signal import Side
from tradebot.exceptions import OrderRejected

from .conftest import make_intent

FRACTIONABLE = AssetInfo("AAPL", tradable=True, shortable=True, fractionable=True)
WHOLE_ONLY = AssetInfo("BRK", tradable=True, shortable=False, fractionable=False)


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
