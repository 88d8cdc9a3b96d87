"""``refusal_at_leaving``: the planner's limits for an order decided earlier, when it leaves (a
chased limit's market remainder). Pure: every branch from both sides, in microseconds. Orders
that only reduce what their algorithm holds pass the limits against adding risk; every order
obeys the limits against a malfunctioning bot or a bad price."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest

from tests.core.helpers import T0, dated, make_config, make_signal
from tradebot.core.book import PositionBook
from tradebot.core.ids import remainder_id
from tradebot.core.market import MarketPrices
from tradebot.core.order_shape import Market
from tradebot.core.orders import IntentRole, OrderIntent, TimeInForce
from tradebot.core.risk import DayState, Refusal, reduces, refusal_at_leaving
from tradebot.core.signal import Side

LEG = make_signal(opens=[("AAPL", "buy", "100")]).legs[0]
MARKET = dated({"AAPL": D(100), "MSFT": D(400)}, T0)


def order(side: Side = Side.BUY, qty: str = "7", planned_at: str = "100") -> OrderIntent:
    return OrderIntent(
        client_order_id=remainder_id("tb16-AAPL-o-0123456789abcdef"),
        algo_id=16,
        symbol="AAPL",
        side=side,
        qty=D(qty),
        price=Market(),
        time_in_force=TimeInForce.DAY,
        role=IntentRole.OPEN if side is Side.BUY else IntentRole.CLOSE,
        leg_ids=(LEG.id,),
        reference_price=D(planned_at),
    )


def refusal(
    intent: OrderIntent | None = None,
    *,
    algo: dict[str, Any] | None = None,
    risk: dict[str, Any] | None = None,
    day: DayState | None = None,
    book: dict[tuple[int, str], str] | None = None,
    market: MarketPrices = MARKET,
    now: datetime = T0,
) -> str | None:
    found = refusal_at_leaving(
        intent or order(),
        book=PositionBook({k: D(v) for k, v in (book or {(16, "AAPL"): "3"}).items()}),
        rules=make_config({16: algo or {}}, risk).planning,
        day=day or DayState(),
        market=market,
        now=now,
    )
    assert found is None or isinstance(found, Refusal)
    return None if found is None else found.limit


HOLDS_10 = {(16, "AAPL"): "10"}  # what a close's remainder (a sell of 7) reduces


def test_nothing_in_force_lets_it_go() -> None:
    assert refusal() is None


@pytest.mark.parametrize(
    ("held", "side", "qty", "expected"),
    [
        ("10", Side.SELL, "7", True),
        ("10", Side.SELL, "10", True),
        ("10", Side.SELL, "11", False),
        ("-5", Side.BUY, "5", True),
        ("3", Side.BUY, "7", False),
        ("0", Side.SELL, "1", False),
    ],
)
def test_reduces_means_toward_zero_never_across(
    held: str, side: Side, qty: str, expected: bool
) -> None:
    assert reduces(D(held), side, D(qty)) is expected


def test_the_config_in_force_decides_the_algorithm() -> None:
    assert refusal(algo={"enabled": False}) == "algo_disabled"
    found = refusal_at_leaving(
        order(),
        book=PositionBook(),
        rules=make_config({17: {}}).planning,
        day=DayState(),
        market=MARKET,
        now=T0,
    )
    assert found is not None and found.limit == "algo_unknown"


def test_a_halt_stops_every_order_reduce_only_only_those_that_add() -> None:
    halted, reduce_only = DayState(halted=True), DayState(reduce_only=True)
    assert refusal(day=halted) == "kill_switch"
    assert refusal(order(Side.SELL), day=halted, book=HOLDS_10) == "kill_switch"
    assert refusal(day=reduce_only) == "reduce_only"
    assert refusal(order(Side.SELL), day=reduce_only, book=HOLDS_10) is None


def test_the_daily_loss_stops_what_adds_never_what_reduces() -> None:
    lost = DayState(realised_pnl={16: D(-150)})
    assert refusal(risk={"max_daily_loss": "100"}, day=lost) == "max_daily_loss"
    assert refusal(risk={"max_daily_loss": "200"}, day=lost) is None
    assert (
        refusal(order(Side.SELL), risk={"max_daily_loss": "100"}, day=lost, book=HOLDS_10) is None
    )


def test_the_symbol_lists_stop_what_adds() -> None:
    assert refusal(algo={"risk": {"deny_symbols": ["AAPL"]}}) == "deny_symbols"
    assert refusal(algo={"risk": {"allow_symbols": ["MSFT"]}}) == "allow_symbols"
    assert refusal(algo={"risk": {"allow_symbols": ["AAPL"]}}) is None
    denied = {"risk": {"deny_symbols": ["AAPL"]}}
    assert refusal(order(Side.SELL), algo=denied, book=HOLDS_10) is None


def test_the_orders_of_the_day_bind_every_order() -> None:
    risk = {"max_orders_per_day": 3}
    assert refusal(risk=risk, day=DayState(orders_today={16: 3})) == "max_orders_per_day"
    assert refusal(risk=risk, day=DayState(orders_today={16: 2})) is None
    full = DayState(orders_today={16: 3})
    assert refusal(order(Side.SELL), risk=risk, day=full, book=HOLDS_10) == "max_orders_per_day"


def test_the_largest_order_binds_every_order() -> None:
    assert refusal(algo={"risk": {"max_order_qty": "6"}}) == "max_order_qty"
    assert refusal(algo={"risk": {"max_order_qty": "7"}}) is None
    # 7 at 100 is 700
    assert refusal(risk={"max_order_notional": "699"}) == "max_order_notional"
    assert refusal(risk={"max_order_notional": "700"}) is None
    small = {"risk": {"max_order_qty": "6"}}
    assert refusal(order(Side.SELL), algo=small, book=HOLDS_10) == "max_order_qty"


def test_the_collar_against_a_fresh_reference_binds_every_order() -> None:
    collar = {"price_collar_pct": "2"}  # measured from the market price, as the planner does
    assert refusal(risk=collar, market=dated({"AAPL": D("102.05")}, T0)) == "price_collar_pct"
    assert refusal(risk=collar, market=dated({"AAPL": D("102.04")}, T0)) is None
    moved = dated({"AAPL": D("97.9")}, T0)
    assert refusal(order(Side.SELL), risk=collar, market=moved, book=HOLDS_10) == "price_collar_pct"


def test_no_reference_price_no_order_unless_the_broker_is_its_own_market() -> None:
    assert refusal(market=MarketPrices()) == "no_reference_price"
    assert refusal(market=MarketPrices.failed("down")) == "no_reference_price"
    assert refusal(market=dated({"AAPL": D(0)}, T0)) == "no_reference_price"
    assert refusal(market=MarketPrices(signal_stands_in=True)) is None  # the sim


def test_position_and_exposure_limits_count_what_is_already_held() -> None:
    # 3 held + 7 at 100 = 1000
    assert refusal(risk={"max_position_notional": "999"}) == "max_position_notional"
    assert refusal(risk={"max_position_notional": "1000"}) is None
    # + 2 MSFT at 400 held elsewhere = 1800
    book = {(16, "AAPL"): "3", (16, "MSFT"): "2"}
    assert refusal(risk={"max_algo_exposure": "1799"}, book=book) == "max_algo_exposure"
    assert refusal(risk={"max_algo_exposure": "1800"}, book=book) is None
    unpriced = {(16, "AAPL"): "3", (16, "TSLA"): "1"}
    assert refusal(risk={"max_algo_exposure": "1e9"}, book=unpriced) == "max_algo_exposure"
    # the account nets 3 of ours and 5 of algorithm 14's: 15 after the order, 1500
    both = {(16, "AAPL"): "3", (14, "AAPL"): "5"}
    assert refusal(risk={"max_symbol_exposure": "1499"}, book=both) == "max_symbol_exposure"
    assert refusal(risk={"max_symbol_exposure": "1500"}, book=both) is None


def test_position_and_exposure_limits_never_stop_what_reduces() -> None:
    tight = {
        "max_position_notional": "1",
        "max_algo_exposure": "1",
        "max_symbol_exposure": "1",
    }
    assert refusal(order(Side.SELL), risk=tight, book=HOLDS_10) is None


def test_a_reference_older_than_the_planner_allows_is_none() -> None:
    # risk.reference_max_age (default 15 minutes, market open or unknown): as the planner judges
    assert refusal(now=T0 + timedelta(minutes=15)) is None
    late = T0 + timedelta(minutes=15, seconds=1)
    assert refusal(now=late) == "no_reference_price"
    assert refusal(now=late, risk={"reference_max_age": 3600}) is None
    undated = MarketPrices({"AAPL": D(100)})
    assert refusal(market=undated) == "no_reference_price"
