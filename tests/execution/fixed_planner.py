"""A tiny test planner (the real engine is not needed to test execution): fixed open size,
closes flatten the algorithm's own position, closes for symbols not held are skipped."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from tradebot.core.book import PositionBook
from tradebot.core.ids import client_order_id
from tradebot.core.order_shape import MARKET
from tradebot.core.orders import IntentRole, OrderIntent, Plan, SkippedLeg, SkipReason, TimeInForce
from tradebot.core.signal import Leg, LegKind, Side, Signal

OPEN_QTY = Decimal(10)


def intent_for(leg: Leg, qty: Decimal, side: Side, role: IntentRole) -> OrderIntent:
    return OrderIntent(
        client_order_id=client_order_id("ACCT", [leg.id], str(role)),
        algo_id=leg.algo_id,
        symbol=leg.symbol,
        side=side,
        qty=qty,
        price=MARKET,
        time_in_force=TimeInForce.DAY,
        role=role,
        leg_ids=(leg.id,),
        reference_price=leg.price,
    )


def simple_plan(signal: Signal, book: PositionBook) -> Plan:
    intents: list[OrderIntent] = []
    skipped: list[SkippedLeg] = []
    for leg in signal.close_legs:
        held = book.qty(leg.algo_id, leg.symbol)
        if held == 0:
            skipped.append(SkippedLeg(leg.id, SkipReason.NOT_HELD, "nothing held", leg=leg))
            continue
        side = Side.SELL if held > 0 else Side.BUY
        intents.append(intent_for(leg, abs(held), side, IntentRole.CLOSE))
    for leg in signal.open_legs:
        intents.append(intent_for(leg, OPEN_QTY, leg.side, IntentRole.OPEN))
    return Plan(tuple(intents), tuple(skipped))


def make_signal(
    algo_id: int,
    *,
    closes: tuple[tuple[str, str, str], ...] = (),
    opens: tuple[tuple[str, str, str], ...] = (),
    received_at: datetime = datetime(2026, 11, 24, 14, 30, 5, tzinfo=UTC),
    leg_time: datetime = datetime(2026, 11, 24, 14, 30, tzinfo=UTC),
) -> Signal:
    """A Signal from ``(symbol, side, price)`` triples, with a raw frame like AlphaHub's."""

    def legs(kind: LegKind, specs: tuple[tuple[str, str, str], ...]) -> tuple[Leg, ...]:
        return tuple(
            Leg(algo_id, kind, s, Side(side), Decimal(p), leg_time) for s, side, p in specs
        )

    raw = {"close": [list(c) for c in closes], "open": [list(o) for o in opens]}
    return Signal(
        algo_id, received_at, legs(LegKind.CLOSE, closes), legs(LegKind.OPEN, opens), raw=str(raw)
    )
