from __future__ import annotations

from decimal import Decimal

import pytest

from tests.core.helpers import limits
from tradebot.core.orders import SkipReason
from tradebot.core.risk import (
    DayState,
    limit_price,
    opens_blocked,
    orders_left,
    symbol_blocked,
    symbol_room,
)
from tradebot.core.signal import Side

D = Decimal
NONE = limits()


@pytest.mark.parametrize(
    ("side", "price", "offset", "collar", "expected"),
    [
        (Side.BUY, "100", "0", None, "100.00"),
        (Side.BUY, "100", "1", None, "101.00"),
        (Side.SELL, "100", "1", None, "99.00"),
        (Side.BUY, "100", "1", "0.25", "100.25"),
        (Side.BUY, "10.005", "0", None, "10.00"),  # toward the signal price: buy rounds down
        (Side.SELL, "10.005", "0", None, "10.01"),  # sell rounds up
        (Side.BUY, "0.5", "1", None, "0.5050"),  # under $1: 1/100 cent
        (Side.SELL, "0.00005", "10", None, "0.0001"),  # never zero
    ],
)
def test_limit_price(
    side: Side, price: str, offset: str, collar: str | None, expected: str
) -> None:
    value, _ = limit_price(side, D(price), D(offset), None if collar is None else D(collar))
    assert str(value) == expected


def test_limit_price_explains_the_collar() -> None:
    _, note = limit_price(Side.BUY, D(100), D(2), D(1))
    assert note == "limit offset 2% held to the 1% price collar"
    assert limit_price(Side.BUY, D(100), D(1), D(2))[1] is None


@pytest.mark.parametrize(
    ("net", "side", "limit", "room"),
    [
        ("0", Side.BUY, "10", "10"),
        ("4", Side.BUY, "10", "6"),
        ("12", Side.BUY, "10", "0"),
        ("-4", Side.BUY, "10", "14"),  # covering 4 is free, then 10 more
        ("4", Side.SELL, "10", "14"),
        ("-4", Side.SELL, "10", "6"),
    ],
)
def test_symbol_room(net: str, side: Side, limit: str, room: str) -> None:
    assert symbol_room(D(net), side, D(limit)) == D(room)


def test_orders_left_takes_the_stricter_of_algorithm_and_account() -> None:
    day = DayState(orders_today={16: 2, 14: 7})
    algo, account = limits(max_orders_per_day=5), limits(max_orders_per_day=12)
    assert orders_left(day, 16, account, algo) == (
        3,
        "algorithm 16 sent 2 of its 5 orders today",
    )
    assert orders_left(day, 16, limits(max_orders_per_day=10), algo) == (
        1,
        "the account sent 9 of its 10 orders today",
    )
    assert orders_left(day, 16, NONE, NONE) is None
    assert orders_left(DayState(orders_today={16: 9}), 16, NONE, algo)[0] == 0  # type: ignore[index]


def test_opens_blocked() -> None:
    assert opens_blocked(DayState(), 16, NONE, NONE) is None
    reason, _ = opens_blocked(DayState(reduce_only=True), 16, NONE, NONE)  # type: ignore[misc]
    assert reason is SkipReason.KILL_SWITCH
    loss = limits(max_daily_loss=D(100))
    day = DayState(realised_pnl={16: D(-99)})
    assert opens_blocked(day, 16, NONE, loss) is None
    day = DayState(realised_pnl={16: D(-100)})
    assert opens_blocked(day, 16, NONE, loss) == (
        SkipReason.RISK_LIMIT,
        "algorithm 16 lost 100 today, max_daily_loss is 100: closes only",
    )


def test_symbol_lists() -> None:
    risk = limits(allow_symbols=("A", "B"), deny_symbols=("B",))
    assert symbol_blocked(risk, "A") is None
    assert symbol_blocked(risk, "B") == "B is in deny_symbols"
    assert symbol_blocked(risk, "C") == "C is not in allow_symbols"
    assert symbol_blocked(NONE, "C") is None
