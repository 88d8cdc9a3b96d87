"""The journal's column: its intents, fills (average cost, the cost of what was held before the
period included) and skips in the period, counted by the replay's rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from tradebot.core.order_shape import MARKET
from tradebot.core.order_snapshot import OrderSnapshot, OrderStatus
from tradebot.core.orders import (
    IntentRole,
    OrderIntent,
    Plan,
    SkippedLeg,
    SkipReason,
    TimeInForce,
)
from tradebot.core.signal import Leg, LegKind, Side, Signal
from tradebot.journal.opener import open_journal
from tradebot.replay.journal_side import journal_tally

DAY = datetime(2026, 3, 2, tzinfo=UTC)


def _order(
    at: datetime, cid: str, side: Side, qty: int, price: str
) -> tuple[OrderIntent, OrderSnapshot]:
    kind = LegKind.OPEN if side is Side.BUY else LegKind.CLOSE
    leg = Leg(1, kind, "S001", side, Decimal(price), at)
    intent = OrderIntent(
        client_order_id=cid,
        algo_id=1,
        symbol="S001",
        side=side,
        qty=Decimal(qty),
        price=MARKET,
        time_in_force=TimeInForce.DAY,
        role=IntentRole.OPEN if side is Side.BUY else IntentRole.CLOSE,
        leg_ids=(leg.id,),
        reference_price=Decimal(price),
    )
    accepted = OrderSnapshot.accepted(intent, f"b-{cid}", DAY)
    filled = replace(
        accepted,
        filled_qty=Decimal(qty),
        filled_avg_price=Decimal(price),
        status=OrderStatus.FILLED,
    )
    return intent, filled


def test_the_journal_is_counted_like_a_replay(tmp_path: Path) -> None:
    now = [DAY - timedelta(days=1)]
    with open_journal(tmp_path / "j.sqlite", clock=lambda: now[0]) as store:
        # the day before the period: 10 bought at 90 (its cost counts, its fill does not)
        for when, cid, side, qty, price in (
            (DAY - timedelta(days=1), "a", Side.BUY, 10, "90"),
            (DAY + timedelta(hours=15), "b", Side.BUY, 10, "110"),  # average cost 100
            (DAY + timedelta(days=1, hours=15), "c", Side.SELL, 15, "120"),  # +300
            (DAY + timedelta(days=2, hours=15), "d", Side.SELL, 5, "80"),  # -100
            (DAY + timedelta(days=2, hours=16), "e", Side.BUY, 30, "100"),  # the largest
        ):
            now[0] = when
            intent, filled = _order(when, cid, side, qty, price)
            store.record_plan(None, Plan(intents=(intent,)))
            store.record_snapshot(filled, source="submit")
        leg = Leg(1, LegKind.OPEN, "S009", Side.BUY, Decimal(10), DAY + timedelta(hours=15))
        now[0] = leg.timestamp
        signal_id = store.record_signal(Signal(1, leg.timestamp, (), (leg,)))
        skip = SkippedLeg(leg.id, SkipReason.PRICE_OFF_MARKET, "tests", leg)
        store.record_plan(signal_id, Plan(skipped=(skip,)))
    with open_journal(tmp_path / "j.sqlite", readonly=True) as store:
        tally = journal_tally(store, DAY, DAY + timedelta(days=3))
    got = tally.summary(1, {})
    assert (got["orders"], got["fills"], got["realised"]) == (4, 4, Decimal("200.00"))
    assert got["worst_day"] == {"day": (DAY + timedelta(days=2)).date(), "pnl": Decimal("-100.00")}
    assert got["largest_position"] == {
        "algo_id": 1,
        "symbol": "S001",
        "qty": Decimal(30),
        "value": Decimal("3000.00"),
    }
    assert got["skips"] == {"price_off_market": 1} and got["open_positions"] == 1
    assert got["unmarked"] == ["S001"] and got["unrealised"] == 0  # no price known: not guessed
    assert tally.summary(1, {"S001": Decimal(101)})["unrealised"] == Decimal("30.00")
