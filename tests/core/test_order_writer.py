from __future__ import annotations

from decimal import Decimal

from tests.core.helpers import make_signal
from tradebot.core.order_shape import OrderType
from tradebot.core.order_writer import Move, OrderStyle, within_count, write_orders
from tradebot.core.orders import IntentRole, TimeInForce

D = Decimal
SIGNAL = make_signal(closes=[("A", "buy", "10")], opens=[("A", "sell", "10"), ("B", "buy", "5")])
CLOSE_A, OPEN_A, OPEN_B = SIGNAL.legs
STYLE = OrderStyle("PA1", 16, OrderType.MARKET, TimeInForce.DAY, False, D(0), None)


def net(_: str) -> Decimal:
    return D(0)


def test_a_flip_is_two_orders_each_serving_its_own_legs() -> None:
    move = Move("A", D(5), D(-3), D(10), [CLOSE_A], [OPEN_A], ["closing"], ["opening"])
    intents, cancelled = write_orders([move], lambda _: D(5), STYLE)
    assert cancelled == []
    close, reopen = intents
    assert (close.side, close.qty, close.role, close.leg_ids) == ("sell", 5, "close", (CLOSE_A.id,))
    assert (reopen.side, reopen.qty, reopen.role, reopen.leg_ids) == (
        "sell",
        3,
        "open",
        (OPEN_A.id,),
    )
    assert close.notes == ("closing",) and reopen.notes == ("opening",)


def test_legs_that_cancel_out_make_no_order() -> None:
    move = Move("A", D(5), D(5), D(10), [CLOSE_A], [OPEN_A])
    assert write_orders([move], net, STYLE) == ([], [move])
    untouched = Move("A", D(5), D(5), D(10), [], [])
    assert write_orders([untouched], net, STYLE) == ([], [])


def test_closes_are_sent_before_opens_across_symbols() -> None:
    moves = [
        Move("B", D(0), D(4), D(5), [], [OPEN_B]),
        Move("A", D(5), D(0), D(10), [CLOSE_A], []),
    ]
    intents, _ = write_orders(moves, lambda s: D(5) if s == "A" else D(0), STYLE)
    assert [(i.symbol, i.role) for i in intents] == [
        ("A", IntentRole.CLOSE),
        ("B", IntentRole.OPEN),
    ]


def test_within_count_keeps_the_algorithms_closes_first() -> None:
    moves = [
        Move("B", D(0), D(4), D(5), [], [OPEN_B]),
        Move("A", D(5), D(0), D(10), [CLOSE_A], []),
    ]
    intents, _ = write_orders(moves, net, STYLE)
    held = {"A": D(5), "B": D(0)}
    kept, dropped = within_count(intents, 1, held.__getitem__)
    assert [i.symbol for i in kept] == ["A"] and [i.symbol for i in dropped] == ["B"]
    kept, dropped = within_count(intents, 5, held.__getitem__)
    assert kept == intents and dropped == []
