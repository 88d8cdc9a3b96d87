"""The executor against a scripted broker: durability first, order of groups, faults."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tests.execution.fixed_planner import make_signal, simple_plan
from tests.scripted_broker import LOSE_RESPONSE, T0, FillPart, ScriptedBroker
from tradebot.core.book import PositionBook
from tradebot.core.events import (
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejectedEvent,
)
from tradebot.core.signal import Side
from tradebot.exceptions import (
    AuthenticationError,
    BrokerUnavailable,
    OrderOutcomeUnknown,
    OrderRejected,
)
from tradebot.execution import Executor, OrderOutcome, Step
from tradebot.execution.recovery import settle
from tradebot.journal import EntryFilter, Status, open_journal
from tradebot.journal.base import JournalBase


@pytest.fixture
def journal(journal_at: str | Path) -> Iterator[JournalBase]:
    """A journal on each backend: these tests are the store's behaviour, whichever it is."""
    with open_journal(journal_at) as j:
        yield j


def statuses(journal: JournalBase, coid: str) -> list[Status]:
    rows = journal.entries(EntryFilter(client_order_ids=(coid,), newest_first=False))
    return [e.status for e in rows]


def tsla_fill(
    coid: str, qty: str, cum: str, *, partial: bool, price: str = "250", symbol: str = "TSLA"
) -> OrderFilled:
    """A fill the broker's stream reports for the test's buy of 10 (TSLA unless told)."""
    return OrderFilled(
        client_order_id=coid,
        broker_order_id="b-1",
        at=T0,
        symbol=symbol,
        side=Side.BUY,
        qty=Decimal(qty),
        price=Decimal(price),
        cum_qty=Decimal(cum),
        order_qty=Decimal(10),
        partial=partial,
    )


async def drain(executor: Executor, broker: ScriptedBroker) -> None:
    """Apply every event queued so far (the stream ends at the sentinel)."""
    broker.end_stream()
    await executor.consume_events()


async def one_buy(journal: JournalBase, broker: ScriptedBroker) -> tuple[Executor, OrderOutcome]:
    """Handle a signal that opens 10 TSLA for algorithm 3; the executor and the order's outcome."""
    executor = Executor(journal, broker, PositionBook())
    result = await executor.handle(make_signal(3, opens=(("TSLA", "buy", "250"),)), simple_plan)
    (outcome,) = result.outcomes
    return executor, outcome


async def test_intents_durable_before_send_closes_before_opens(journal: JournalBase) -> None:
    broker = ScriptedBroker()
    book = PositionBook()
    first = Executor(journal, broker, book)
    await first.handle(make_signal(7, opens=(("AAPL", "buy", "189"),)), simple_plan)
    await drain(first, broker)
    assert book.qty(7, "AAPL") == Decimal(10)
    broker.calls.clear()
    seen_at_send: list[set[str]] = []

    def on_step(step: str) -> None:
        if step == Step.BEFORE_SUBMIT:
            intents = journal.entries(EntryFilter(statuses=(Status.INTENT,)))
            seen_at_send.append({e.client_order_id or "" for e in intents})

    executor = Executor(journal, broker, book, on_step=on_step)
    signal = make_signal(
        7,
        closes=(("AAPL", "sell", "190.5"),),
        opens=(("MSFT", "buy", "410"), ("NVDA", "sell", "120.25")),
    )
    result = await executor.handle(signal, simple_plan)
    await drain(executor, broker)

    coids = [o.intent.client_order_id for o in result.outcomes]
    assert [o.intent.symbol for o in result.outcomes] == ["AAPL", "MSFT", "NVDA"]
    # every intent of the plan was on disk before its order left
    assert len(seen_at_send) == 3
    assert all(set(coids) <= seen for seen in seen_at_send)
    # the close went out first
    assert next(c for m, c in broker.calls if m == "submit") == coids[0]
    for coid in coids:
        assert broker.submissions(coid) == 1
        assert statuses(journal, coid) == [
            Status.INTENT,
            Status.SUBMITTED,
            Status.ACCEPTED,
            Status.FILLED,
        ]
    assert book == PositionBook({(7, "MSFT"): Decimal(10), (7, "NVDA"): Decimal(-10)})
    assert journal.rebuild_book() == book


async def test_rejection_is_final_and_never_retried(journal: JournalBase) -> None:
    broker = ScriptedBroker()
    broker.script.append(OrderRejected("insufficient buying power", code="40310000"))
    executor, outcome = await one_buy(journal, broker)
    assert outcome.error is not None and "buying power" in outcome.error
    coid = outcome.intent.client_order_id
    assert broker.submissions(coid) == 1
    assert statuses(journal, coid) == [Status.INTENT, Status.REJECTED]
    assert journal.unresolved_intents() == ()
    assert executor.book == PositionBook()


@pytest.mark.parametrize(
    "fault",
    [OrderOutcomeUnknown("no answer after every retry", "x"), BrokerUnavailable("down")],
    ids=["outcome unknown", "broker unavailable"],
)
async def test_a_broker_that_gave_up_leaves_the_intent_unanswered_never_resent(
    journal: JournalBase, fault: BaseException
) -> None:
    """The broker owns retries: the executor submits once, looks nothing up, sends nothing
    again; the intent stays unanswered (ERROR row) for the re-check and recovery."""
    broker = ScriptedBroker()
    broker.script.append(fault)
    _, outcome = await one_buy(journal, broker)
    coid = outcome.intent.client_order_id
    assert outcome.snapshot is None and outcome.error is not None
    assert "outcome unknown" in outcome.error
    assert broker.calls == [("submit", coid)]
    assert statuses(journal, coid) == [Status.INTENT, Status.ERROR]
    unanswered = journal.unresolved_intents(unanswered=True)
    assert [s.intent.client_order_id for s in unanswered] == [coid]


async def test_a_lost_response_is_settled_by_lookup_not_sent_again(
    journal: JournalBase,
) -> None:
    broker = ScriptedBroker()
    broker.script.append(LOSE_RESPONSE)  # the broker has the order; its answer was lost
    executor, outcome = await one_buy(journal, broker)
    coid = outcome.intent.client_order_id
    assert outcome.error is not None
    pending = journal.unresolved_intents(unanswered=True)
    # what the re-check does between signals: look it up, record what the broker has
    done = await settle(executor, pending, T0, timedelta(minutes=5), "stale")
    assert done.found == (coid,) and done.resent == ()
    assert broker.calls == [("submit", coid), ("get_order", coid)]
    assert journal.unresolved_intents() == ()
    assert executor.book.qty(3, "TSLA") == Decimal(10)
    fills = journal.entries(EntryFilter(client_order_ids=(coid,), statuses=(Status.FILLED,)))
    assert len(fills) == 1 and fills[0].qty == Decimal(10)


async def test_same_plan_twice_sends_once(journal: JournalBase) -> None:
    broker = ScriptedBroker()
    executor = Executor(journal, broker, PositionBook())
    signal = make_signal(3, opens=(("TSLA", "buy", "250"),))
    plan = simple_plan(signal, executor.book)
    await executor.execute(plan)
    again = await executor.execute(plan)
    assert again.outcomes == ()
    assert len(broker.calls) == 1
    dup = journal.entries(EntryFilter(statuses=(Status.SKIPPED,)))
    assert len(dup) == 1 and dup[0].detail.startswith("duplicate")


async def test_duplicate_and_partial_fill_events_are_counted_once(
    journal: JournalBase,
) -> None:
    broker = ScriptedBroker(fill=False)
    executor, outcome = await one_buy(journal, broker)
    coid = outcome.intent.client_order_id

    for event in (
        tsla_fill(coid, "4", "4", partial=True, price="250.10"),
        tsla_fill(coid, "4", "4", partial=True, price="250.10"),  # replayed after a reconnect
        tsla_fill(
            coid, "3", "10", partial=False, price="250.10"
        ),  # a missed partial: cum says 6 more
        tsla_fill(coid, "3", "10", partial=False, price="250.10"),
    ):
        broker.push(event)
    broker.push(OrderCanceled(client_order_id=coid, broker_order_id="b-1", at=T0))
    await drain(executor, broker)
    assert executor.book.qty(3, "TSLA") == Decimal(10)
    assert journal.rebuild_book() == executor.book
    assert statuses(journal, coid)[-2:] == [Status.PARTIAL, Status.FILLED]  # no cancel after fill
    # the snapshot path agrees and adds nothing
    snap = replace(broker.orders[coid], filled_qty=Decimal(10), filled_avg_price=Decimal(250))
    assert journal.record_snapshot(snap, source="lookup") == ()


async def test_a_partial_fill_then_the_rest_later_moves_the_book_by_each_fill(
    journal: JournalBase,
) -> None:
    broker = ScriptedBroker()
    broker.script.append(FillPart(Decimal(4)))  # 4 of 10 at once, the rest rests
    executor, outcome = await one_buy(journal, broker)
    coid = outcome.intent.client_order_id
    broker.end_stream()
    await executor.consume_events()
    assert executor.book.qty(3, "TSLA") == Decimal(4)
    assert statuses(journal, coid)[-1] is Status.PARTIAL
    broker.fill(coid)  # the rest, later
    await drain(executor, broker)
    assert executor.book.qty(3, "TSLA") == Decimal(10) == broker.orders[coid].filled_qty
    assert statuses(journal, coid)[-1] is Status.FILLED
    assert journal.rebuild_book() == executor.book


async def test_fill_events_for_unknown_orders_are_recorded_not_applied(
    journal: JournalBase,
) -> None:
    broker = ScriptedBroker()
    executor = Executor(journal, broker, PositionBook())
    broker.push(tsla_fill("manual-1", "1", "1", partial=False, price="20", symbol="GME"))
    await drain(executor, broker)
    assert executor.book == PositionBook()
    (row,) = journal.entries(EntryFilter(client_order_ids=("manual-1",)))
    assert row.status is Status.FILLED and row.algo_id is None


async def test_a_burst_of_events_is_recorded_in_one_transaction(journal_at: str | Path) -> None:
    ticks = iter(range(1_000))

    def clock() -> datetime:  # every reading is a new second: one reading = one transaction
        return T0 + timedelta(seconds=next(ticks))

    with open_journal(journal_at, clock=clock) as journal:
        broker = ScriptedBroker(fill=False)
        executor, outcome = await one_buy(journal, broker)
        coid = outcome.intent.client_order_id
        for cum in ("2", "5", "10"):
            broker.push(tsla_fill(coid, "1", cum, partial=cum != "10"))
        await drain(executor, broker)
        rows = journal.entries(
            EntryFilter(client_order_ids=(coid,), statuses=(Status.PARTIAL, Status.FILLED))
        )
        assert len(rows) == 3 and len({r.at for r in rows}) == 1
        assert executor.book.qty(3, "TSLA") == Decimal(10)


async def test_an_order_whose_fills_cover_it_is_resolved_without_a_final_word(
    journal: JournalBase,
) -> None:
    broker = ScriptedBroker(fill=False)
    executor, outcome = await one_buy(journal, broker)
    coid = outcome.intent.client_order_id
    # a lagging broker reports the whole quantity as a partial fill, then never says "filled"
    broker.push(tsla_fill(coid, "10", "10", partial=True))
    await drain(executor, broker)
    assert journal.unresolved_intents() == ()
    assert executor.book.qty(3, "TSLA") == Decimal(10)


@pytest.mark.parametrize(
    ("event_type", "status"),
    [
        (OrderRejectedEvent, Status.REJECTED),
        (OrderExpired, Status.EXPIRED),
        (OrderCanceled, Status.CANCELED),
    ],
)
async def test_a_late_final_event_ends_the_order_once(
    journal: JournalBase, event_type: type[OrderEvent], status: Status
) -> None:
    broker = ScriptedBroker(fill=False)
    executor, outcome = await one_buy(journal, broker)
    coid = outcome.intent.client_order_id
    assert [s.intent.client_order_id for s in journal.unresolved_intents()] == [coid]
    final = event_type(client_order_id=coid, broker_order_id="b-1", at=T0, reason="by the broker")
    broker.push(final)
    broker.push(final)  # replayed after a reconnect
    await drain(executor, broker)
    assert statuses(journal, coid) == [Status.INTENT, Status.SUBMITTED, Status.ACCEPTED, status]
    assert journal.unresolved_intents() == ()


async def test_a_fatal_error_is_recorded_raised_as_itself_and_siblings_finish(
    journal: JournalBase,
) -> None:
    broker = ScriptedBroker()
    broker.script.append(AuthenticationError("keys refused"))
    executor = Executor(journal, broker, PositionBook())
    signal = make_signal(3, opens=(("TSLA", "buy", "250"), ("AMD", "buy", "150")))
    with pytest.raises(AuthenticationError):
        await executor.handle(signal, simple_plan)
    await drain(executor, broker)
    errors = journal.entries(EntryFilter(statuses=(Status.ERROR,)))
    assert len(errors) == 1 and "keys refused" in errors[0].detail
    # the sibling's order went out and its answer is on record; the refused one awaits recovery
    (unresolved,) = journal.unresolved_intents()
    assert unresolved.intent.client_order_id == errors[0].client_order_id
    (sent,) = broker.orders
    assert Status.SUBMITTED in statuses(journal, sent)


async def test_cancelled_mid_write_the_book_still_matches_the_journal(
    journal: JournalBase,
) -> None:
    broker = ScriptedBroker()
    consumer: list[asyncio.Task[None]] = []

    def on_step(step: str) -> None:
        if step == Step.FILL_RECEIVED and consumer:
            consumer[0].cancel()  # lands while the fill is being written

    executor = Executor(journal, broker, PositionBook(), on_step=on_step)
    await executor.handle(make_signal(3, opens=(("TSLA", "buy", "250"),)), simple_plan)
    consumer.append(asyncio.create_task(executor.consume_events()))
    with pytest.raises(asyncio.CancelledError):
        await consumer[0]
    assert executor.book.qty(3, "TSLA") == Decimal(10)
    assert executor.book == journal.rebuild_book()


async def test_a_planner_failure_journals_the_signal_and_the_error_and_sends_nothing(
    journal: JournalBase,
) -> None:
    broker = ScriptedBroker()
    executor = Executor(journal, broker, PositionBook())

    def broken(signal: object, book: PositionBook) -> object:
        raise ZeroDivisionError("a sizing bug")

    result = await executor.handle(make_signal(7, opens=(("AAPL", "buy", "189"),)), broken)  # type: ignore[arg-type]
    assert result.outcomes == () and result.plan.intents == ()
    assert broker.calls == []
    (error,) = journal.entries(EntryFilter(statuses=(Status.ERROR,)))
    assert "planning failed" in error.detail and "a sizing bug" in error.detail
    assert error.signal_id == result.signal_id
    # left unplanned: the next start's recovery plans it if it is still fresh
    assert [s.signal_id for s in journal.unplanned_signals()] == [result.signal_id]
