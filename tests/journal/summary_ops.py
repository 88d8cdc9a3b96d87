"""Journal writes as data, for the summary tests: signals, plans, intents of every style,
fills (partial, complete, repeated), outcomes, chased remainders, refused duplicates, skips,
and days passing; :func:`play` runs them through the real journal API."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from tests.execution.fixed_planner import make_signal
from tradebot.core.events import OrderCanceled, OrderFilled
from tradebot.core.ids import exit_id, remainder_id
from tradebot.core.order_shape import MARKET, ChaseTerms, Limit, Stop, TrailingStop
from tradebot.core.orders import (
    ExitKind,
    IntentRole,
    OrderIntent,
    Plan,
    SkippedLeg,
    SkipReason,
    TimeInForce,
)
from tradebot.core.signal import Side
from tradebot.journal.interface import Journal
from tradebot.journal.review import live_exits, review_rows, review_summaries

START = datetime(2026, 3, 2, 23, 59, tzinfo=UTC)  # a minute before a UTC day ends
STYLES = ("market", "limit", "chased", "stop", "take_profit", "trailing")
PRICES = ("99.5", "100", "100.25", "101", "98")


@dataclass
class Clock:
    at: datetime = START

    def __call__(self) -> datetime:
        self.at += timedelta(seconds=7)
        return self.at


@dataclass
class Book:
    """The orders made so far: (intent, quantity filled)."""

    orders: list[list[Any]] = field(default_factory=list)
    n: int = 0


def _intent(
    book: Book, algo: int, symbol: str, side: Side, style: str, qty: int, leg: Any
) -> OrderIntent:
    book.n += 1
    common: dict[str, Any] = {
        "client_order_id": f"tb-{book.n}",
        "algo_id": algo,
        "symbol": symbol,
        "side": side,
        "qty": Decimal(qty),
        "time_in_force": TimeInForce.DAY,
        "leg_ids": (leg.id,),
        "reference_price": Decimal("100.1"),
    }
    if style == "market":
        return OrderIntent(price=MARKET, role=IntentRole.OPEN, **common)
    if style == "limit":
        return OrderIntent(price=Limit(Decimal(100)), role=IntentRole.OPEN, **common)
    if style == "chased":
        chase = ChaseTerms(chase_after=30, chase_pct=Decimal("0.5"))
        return OrderIntent(price=Limit(Decimal(100), chase), role=IntentRole.OPEN, **common)
    kinds = {"stop": ExitKind.STOP_LOSS, "take_profit": ExitKind.TAKE_PROFIT}
    if style in ("stop", "take_profit", "trailing"):
        entry = common["client_order_id"]
        common["client_order_id"] = exit_id(entry, kinds.get(style, ExitKind.TRAILING_STOP))
    if style == "stop":
        return OrderIntent(price=Stop(Decimal(97)), role=IntentRole.EXIT, **common)
    if style == "take_profit":
        return OrderIntent(price=Limit(Decimal(103)), role=IntentRole.EXIT, **common)
    return OrderIntent(price=TrailingStop(Decimal(2)), role=IntentRole.EXIT, **common)


def _fill(journal: Journal, clock: Clock, order: list[Any], part: int, price: str) -> None:
    intent, done = order
    cum = min(intent.qty, done + part)
    if cum <= done:
        cum = done  # already complete: the same report again (refused as a duplicate)
    event = OrderFilled(
        client_order_id=intent.client_order_id,
        broker_order_id="b",
        at=clock.at,
        symbol=intent.symbol,
        side=intent.side,
        qty=cum - done if cum > done else Decimal(part),
        price=Decimal(price),
        cum_qty=cum,
        order_qty=intent.qty,
        partial=cum < intent.qty,
    )
    journal.record_event(event)
    order[1] = cum


def play(journal: Journal, clock: Clock, ops: Sequence[tuple[Any, ...]]) -> None:
    """Run ``ops`` (see :data:`OPS`) through the journal, in order."""
    book = Book()
    for op in ops:
        kind, args = op[0], op[1:]
        # an order by how recent it is (0: the last one made): writes cluster on live orders
        pick = (
            book.orders[-1 - args[0] % len(book.orders)] if book.orders and kind != "open" else None
        )
        if kind == "open":
            algo, symbol, side, style, qty, price, skip = args
            signal = make_signal(
                algo,
                opens=((symbol, side, price),),
                closes=(("ZZZ", "sell", "10"),) if skip else (),
                received_at=clock(),
                leg_time=clock.at,
            )
            intent = _intent(book, algo, symbol, Side(side), style, qty, signal.open_legs[0])
            skipped = ()
            if skip:
                close = signal.close_legs[0]
                skipped = (SkippedLeg(close.id, SkipReason.NOT_HELD, "nothing held", leg=close),)
            journal.record_signal_and_plan(signal, Plan((intent,), skipped))
            book.orders.append([intent, Decimal(0)])
        elif pick is None:
            continue
        elif kind == "fill":
            _fill(journal, clock, pick, args[1], args[2])
        elif kind == "refill":  # the same fill again: a duplicate, refused
            intent, done = pick
            if done > 0:
                journal.record_event(
                    OrderFilled(
                        client_order_id=intent.client_order_id,
                        broker_order_id="b",
                        at=clock.at,
                        symbol=intent.symbol,
                        side=intent.side,
                        qty=done,
                        price=Decimal(100),
                        cum_qty=done,
                        order_qty=intent.qty,
                        partial=done < intent.qty,
                    )
                )
        elif kind == "cancel":
            clock()
            journal.record_event(
                OrderCanceled(
                    client_order_id=pick[0].client_order_id, broker_order_id="b", at=clock.at
                )
            )
        elif kind == "reject":
            clock()
            journal.record_rejected(pick[0].client_order_id, "no buying power")
        elif kind == "fail":
            clock()
            journal.record_failed(pick[0].client_order_id, "gave up")
        elif kind == "again":  # the same order planned again: refused, a duplicate skip
            clock()
            journal.record_plan(None, Plan((pick[0],)))
        elif kind in ("remainder", "chase"):
            intent, done = pick
            if intent.chase is None or done >= intent.qty:
                continue
            clock()
            if kind == "chase":  # what the chaser does: cancel the limit, send the rest
                journal.record_event(
                    OrderCanceled(
                        client_order_id=intent.client_order_id, broker_order_id="b", at=clock.at
                    )
                )
            rest = OrderIntent(
                client_order_id=remainder_id(intent.client_order_id),
                algo_id=intent.algo_id,
                symbol=intent.symbol,
                side=intent.side,
                qty=intent.qty - done,
                price=MARKET,
                time_in_force=TimeInForce.DAY,
                role=IntentRole.OPEN,
                leg_ids=intent.leg_ids,
                reference_price=intent.reference_price,
            )
            if journal.record_plan(None, Plan((rest,))):
                book.orders.append([rest, Decimal(0)])
        elif kind == "day":
            clock.at += timedelta(hours=args[1])


_ALGO = st.sampled_from((1, 2))
_PRICE = st.sampled_from(PRICES)
OPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("open"),
            _ALGO,
            st.sampled_from(("AAA", "BBB")),
            st.sampled_from(("buy", "sell")),
            st.sampled_from(STYLES),
            st.integers(1, 5),
            _PRICE,
            st.booleans(),
        ),
        st.tuples(st.just("fill"), st.integers(0, 3), st.integers(1, 4), _PRICE),
        st.tuples(st.just("fill"), st.integers(0, 3), st.integers(1, 4), _PRICE),
        st.tuples(
            st.sampled_from(("refill", "cancel", "reject", "fail", "again")), st.integers(0, 3)
        ),
        st.tuples(st.sampled_from(("remainder", "chase")), st.integers(0, 3)),
        st.tuples(st.just("day"), st.integers(0, 3), st.integers(1, 30)),
    ),
    max_size=40,
)

#: a fixed sequence with every kind of write, for the report and migration tests
VARIED: list[tuple[Any, ...]] = [
    ("open", 1, "AAA", "buy", "market", 5, "100", False),
    ("fill", 0, 2, "100.25"),
    ("fill", 0, 3, "101"),
    ("refill", 0),
    ("open", 2, "BBB", "sell", "limit", 4, "101", True),
    ("fill", 0, 1, "99.5"),
    ("cancel", 0),
    ("open", 1, "AAA", "sell", "chased", 3, "99.5", False),
    ("fill", 0, 1, "98"),
    ("cancel", 0),
    ("remainder", 0),
    ("fill", 0, 2, "98"),
    ("day", 0, 25),
    ("open", 1, "AAA", "sell", "stop", 2, "100", False),
    ("fill", 0, 2, "97"),
    ("open", 2, "AAA", "buy", "take_profit", 2, "100", False),
    ("open", 2, "BBB", "buy", "trailing", 1, "100", False),
    ("open", 1, "BBB", "buy", "market", 2, "100", False),
    ("reject", 0),
    ("open", 1, "BBB", "buy", "market", 2, "100", False),
    ("fail", 0),
    ("again", 8),
    ("open", 1, "AAA", "buy", "limit", 5, "100", True),
    ("fill", 0, 2, "100"),
]


def figures(journal: Journal, *, from_rows: bool) -> dict[str, Any]:
    """Everything the report and the pages show from one path."""
    algos, execution = review_rows(journal) if from_rows else review_summaries(journal)
    return {
        "report": [a.as_dict() for a in algos],
        "execution": execution.as_dict(),
        "skipped": dict(execution.skipped),
    }


def check(journal: Journal) -> None:
    """The summaries agree with the rows: verify, the report's figures from both paths, the
    positions, and the exits live at the broker."""
    verdict = journal.verify_summaries()
    assert verdict.agrees, [(t.name, t.first) for t in verdict.tables if not t.agrees]
    assert figures(journal, from_rows=False) == figures(journal, from_rows=True)
    assert list(journal.summary_book()) == list(journal.rebuild_book())
    every = journal.unresolved_intents()
    narrowed = journal.unresolved_intents(client_order_ids=journal.open_exit_ids())
    exits = [s for s in every if s.intent.role is IntentRole.EXIT]
    assert narrowed == tuple(exits)
    assert live_exits(journal) is not None
