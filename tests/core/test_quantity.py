from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tradebot.core.account import AssetInfo
from tradebot.core.orders import TimeInForce
from tradebot.core.quantity import is_whole, round_quantity, why_whole_shares
from tradebot.core.signal import Side

D = Decimal


@pytest.mark.parametrize(
    ("raw", "whole", "fractional"),
    [
        ("12.7", "12", "12.7"),
        ("0.9999999999", "0", "0.999999999"),
        ("5", "5", "5"),
        ("5.000000000", "5", "5"),
        ("1E+3", "1000", "1000"),
        ("0", "0", "0"),
        ("-3", "0", "0"),
        ("NaN", "0", "0"),
        ("Infinity", "0", "0"),
    ],
)
def test_rounding_is_always_down_and_plain(raw: str, whole: str, fractional: str) -> None:
    assert str(round_quantity(D(raw), fractional=False)) == whole
    assert str(round_quantity(D(raw), fractional=True)) == fractional


@given(st.decimals(min_value=0, max_value=10**9, allow_nan=False), st.booleans())
# a raw value with more digits than the context: ``raw - qty`` would round up to exactly 1, so
# the step is added to the (short) quantity instead, which is exact; comparisons always are
@example(D("1953124.99999999999999999999999999995006830395276952397486871011078902"), False)
def test_rounding_never_grows_a_quantity(raw: Decimal, fractional: bool) -> None:
    qty = round_quantity(raw, fractional=fractional)
    assert 0 <= qty <= raw
    assert qty + (D("0.000000001") if fractional else 1) > raw
    assert fractional or is_whole(qty)
    assert "E" not in str(qty) or qty < D("0.000001")  # Decimal prints tiny values as 1E-7


def test_why_whole_shares() -> None:
    day, gtc = TimeInForce.DAY, TimeInForce.GTC
    assert why_whole_shares(True, day, Side.BUY, None) is None
    assert why_whole_shares(True, day, Side.BUY, AssetInfo("A", fractionable=True)) is None
    assert why_whole_shares(False, day, Side.BUY, None) == "allow_fractional is off"
    assert why_whole_shares(True, gtc, Side.BUY, None) == (
        "fractional orders need time_in_force day, not gtc"
    )
    assert why_whole_shares(True, day, Side.SELL, None) == "short positions open in whole shares"
    assert why_whole_shares(True, day, Side.BUY, AssetInfo("A")) == "A is not fractionable"
