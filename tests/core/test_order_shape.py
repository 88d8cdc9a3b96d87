"""An order's shape is valid by construction: each price kind and each attached-exits kind
refuses what it cannot be in its own constructor, and an intent refuses a price and exits that
cannot travel together (``core/orders.py``).

That every place reading a shape handles every kind is not a test: it is mypy's exhaustiveness
check (``match`` with ``assert_never`` in the default branch), run by ``scripts/check``.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from tradebot.core.order_shape import (
    MARKET,
    Bracket,
    ChaseTerms,
    Limit,
    Oco,
    OrderClass,
    OrderType,
    Oto,
    Stop,
    TrailingStop,
)
from tradebot.core.orders import IntentRole, OrderIntent, TimeInForce
from tradebot.core.signal import Side

D = Decimal
CHASE = ChaseTerms(chase_after=60.0, chase_pct=D("0.33"))


def intent(**fields: Any) -> OrderIntent:
    values: dict[str, Any] = {
        "client_order_id": "tb16-AAPL-o-0123456789abcdef",
        "algo_id": 16,
        "symbol": "AAPL",
        "side": Side.BUY,
        "qty": D(10),
        "price": MARKET,
        "time_in_force": TimeInForce.GTC,
        "role": IntentRole.OPEN,
        "leg_ids": (),
        "reference_price": D(100),
    }
    return OrderIntent(**(values | fields))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Limit(D(0)), "limit price must be > 0"),
        (lambda: Limit(D(-1), CHASE), "limit price must be > 0"),
        (lambda: Limit(D("NaN")), "limit price must be > 0"),
        (lambda: Stop(D("Infinity")), "stop price must be > 0"),
        (lambda: TrailingStop(D("NaN")), r"in \(0, 100\)"),
        (lambda: Stop(D(0)), "stop price must be > 0"),
        (lambda: TrailingStop(D(0)), r"in \(0, 100\)"),
        (lambda: TrailingStop(D(100)), r"in \(0, 100\)"),
        (lambda: Bracket(D(0), D(95)), "take-profit price must be > 0"),
        (lambda: Bracket(D(105), D(0)), "stop-loss price must be > 0"),
        (lambda: Oto(), "exactly one exit"),
        (lambda: Oto(D(105), D(95)), "exactly one exit"),
        (lambda: Oto(take_profit=D(0)), "take-profit price must be > 0"),
        (lambda: Oto(stop_loss=D(-2)), "stop-loss price must be > 0"),
        (lambda: Oco(D(0), D(95)), "take-profit price must be > 0"),
        (lambda: Oco(D(105), D(0)), "stop-loss price must be > 0"),
    ],
)
def test_a_kind_refuses_what_it_cannot_be(make: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_the_kinds_accept_their_edges() -> None:
    assert TrailingStop(D("99.99")).trail_pct == D("99.99")
    assert Oto(take_profit=D(105)).stop_loss is None
    assert Oto(stop_loss=D(95)).take_profit is None
    assert Limit(D("0.0001")).chase is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"price": Stop(D(95)), "attached": Bracket(D(105), D(95))}, "market or limit"),
        ({"price": TrailingStop(D(2)), "attached": Oto(stop_loss=D(95))}, "market or limit"),
        ({"price": MARKET, "attached": Oco(D(105), D(95))}, "its take-profit limit"),
        ({"price": Limit(D(104)), "attached": Oco(D(105), D(95))}, "its take-profit limit"),
        ({"price": Limit(D(105), CHASE), "attached": Oco(D(105), D(95))}, "never chased"),
        ({"qty": D(0)}, "must be positive"),
        ({"parent": "tb16-AAPL-o-0123456789abcdef"}, "only an exit"),
    ],
)
def test_an_intent_refuses_a_price_and_exits_that_cannot_go_together(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        intent(**fields)


def test_the_shapes_that_go_together_are_accepted_and_named_as_the_journal_names_them() -> None:
    bracket = intent(price=Limit(D(100)), attached=Bracket(D(105), D(95)))
    assert (bracket.order_type, bracket.order_class) == (OrderType.LIMIT, OrderClass.BRACKET)
    oto = intent(attached=Oto(stop_loss=D(95)))
    assert (oto.order_type, oto.order_class) == (OrderType.MARKET, OrderClass.OTO)
    oco = intent(
        side=Side.SELL, role=IntentRole.EXIT, price=Limit(D(105)), attached=Oco(D(105), D(95))
    )
    assert (oco.order_type, oco.order_class, oco.limit_price) == (
        OrderType.LIMIT,
        OrderClass.OCO,
        D(105),
    )
    leg = replace(oco, price=Stop(D(95)), attached=None, parent=oco.client_order_id)
    assert (leg.order_type, leg.order_class) == (OrderType.STOP, OrderClass.SIMPLE)
    chased = intent(price=Limit(D(100), CHASE))
    assert chased.chase == CHASE and intent().chase is None
    assert intent(price=TrailingStop(D(2))).order_type is OrderType.TRAILING_STOP
