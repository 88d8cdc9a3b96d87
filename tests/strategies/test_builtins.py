from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from strategies.allocation import Allocation
from strategies.base import SizingContext
from strategies.fixed_notional import FixedNotional
from strategies.fixed_shares import FixedShares
from strategies.percent_of_equity import PercentOfEquity
from tradebot.core.account import AccountSnapshot
from tradebot.core.signal import Leg, LegKind, Side

D = Decimal
ACCOUNT = AccountSnapshot("A1", equity=D(100000), buying_power=D(200000), cash=D(100000))
LEG = Leg(16, LegKind.OPEN, "JBHT", Side.BUY, D("168.56"), datetime(2021, 4, 26, tzinfo=UTC))


def context(holdings: dict[str, Decimal] | None = None) -> SizingContext:
    return SizingContext(ACCOUNT, holdings or {})


def test_fixed_shares() -> None:
    sizing = FixedShares.from_params({"shares": 25}).size(LEG, context())
    assert sizing.qty == 25
    assert "25" in sizing.basis


def test_fixed_notional_divides_by_the_signal_price() -> None:
    sizing = FixedNotional.from_params({"notional": "10000"}).size(LEG, context())
    assert sizing.qty == D(10000) / D("168.56")
    assert "10,000.00 at 168.56" in sizing.basis


def test_percent_of_equity() -> None:
    sizing = PercentOfEquity.from_params({"pct": "2.5"}).size(LEG, context())
    assert sizing.qty == D(2500) / D("168.56")
    assert sizing.basis.startswith("2.5% of equity 100,000.00 = 2,500.00")


def test_percent_of_equity_with_no_equity_is_zero() -> None:
    broke = SizingContext(
        AccountSnapshot("A1", equity=D(-5), buying_power=D(0), cash=D(0)), holdings={}
    )
    assert PercentOfEquity.from_params({"pct": 10}).size(LEG, broke).qty == 0


def test_allocation_splits_evenly_over_max_positions() -> None:
    strategy = Allocation.from_params({"pct": 30, "max_positions": 3})
    sizing = strategy.size(LEG, context({"VRTX": D(10)}))
    assert sizing.qty == D(10000) / D("168.56")
    assert "/ 3 positions = 10,000.00" in sizing.basis


def test_allocation_sizes_by_the_legs_weight_and_says_so() -> None:
    strategy = Allocation.from_params({"pct": 30, "max_positions": 3})
    weighted = Leg(16, LegKind.OPEN, "JBHT", Side.BUY, D("168.56"), LEG.timestamp, D("0.5"))
    sizing = strategy.size(weighted, context({"VRTX": D(10)}))
    assert sizing.qty == D(15000) / D("168.56")
    assert "x the leg's weight 0.5 = 15,000.00" in sizing.basis


def test_other_strategies_ignore_the_weight() -> None:
    weighted = Leg(16, LegKind.OPEN, "JBHT", Side.BUY, D("168.56"), LEG.timestamp, D("0.5"))
    for strategy in (
        PercentOfEquity.from_params({"pct": "2.5"}),
        FixedNotional.from_params({"notional": "10000"}),
        FixedShares.from_params({"shares": 25}),
    ):
        assert strategy.size(weighted, context()) == strategy.size(LEG, context())


def test_allocation_gives_nothing_when_every_slot_is_used() -> None:
    strategy = Allocation.from_params({"pct": 30, "max_positions": 2})
    sizing = strategy.size(LEG, context({"VRTX": D(10), "MU": D(-4)}))
    assert sizing.qty == 0
    assert sizing.basis == "already holds 2 of its 2 positions"


def test_allocation_does_not_count_the_legs_own_symbol() -> None:
    # a flip (short JBHT -> long JBHT) reuses the slot the short occupied
    strategy = Allocation.from_params({"pct": 30, "max_positions": 1})
    assert strategy.size(LEG, context({"JBHT": D(-4)})).qty > 0


@pytest.mark.parametrize(
    ("cls", "params", "bad_key"),
    [
        (FixedShares, {"shares": 0}, "shares"),
        (FixedShares, {}, "shares"),
        (FixedNotional, {"notional": -1}, "notional"),
        (PercentOfEquity, {"pct": 101}, "pct"),
        (PercentOfEquity, {"pct": 5, "max": 1}, "max"),
        (Allocation, {"pct": 30, "max_positions": 0}, "max_positions"),
        (Allocation, {"pct": 30, "max_positions": 1.5}, "max_positions"),
    ],
)
def test_params_are_validated(
    cls: type[FixedShares], params: dict[str, object], bad_key: str
) -> None:
    with pytest.raises(ValidationError) as info:
        cls.from_params(params)
    assert [e["loc"] for e in info.value.errors()] == [(bad_key,)]


def test_strategies_are_pure() -> None:
    strategy = Allocation.from_params({"pct": 30, "max_positions": 3})
    first = strategy.size(LEG, context({"A": D(1)}))
    assert all(strategy.size(LEG, context({"A": D(1)})) == first for _ in range(3))
