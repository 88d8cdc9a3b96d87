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
from tradebot.exceptions import AuthenticationError, BrokerUnavailable, OrderRejected
from tradebot.execution import Executor, RetryPolicy, Step
from tradebot.journal import EntryFilter, Status, open_journal
from tradebot.journal.base import JournalBase

FAST = RetryPolicy(attempts=4, first_wait=0.001, max_wait=0.001)


@pytest.fixture
def journal(journal_at: str | Path) -> Iterator[JournalBase]:
    """A journal on each backend: these tests are the store's behaviour, whichever it is."""
    with open_journal(journal_at) as j:
        yield j


def statuses(journal: JournalBase, coid: str) -> list[Status]:
    rows = journal.entries(EntryFilter(client_order_ids=(coid,), newest_first=False))
    return [e.status for e in rows]


def tsla_fill(coid: str, qty: str, cum: str, *, partial: bool, price: str = "250") -> OrderFilled:
    """A fill the broker's stream reports for the test's buy of 10 TSLA."""
    return OrderFilled(
        client_order_id=coid,
        broker_order_id="b-1",
        at=T0,
        symbol="TSLA",
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


async def test_intents_durable_before_send_closes_before_opens(journal: JournalBase) -> None:
    broker = ScriptedBroker()
    book = PositionBook()
    first = Executor(journal, broker, book, retry=FAST)
    await first.handle(make_signal(7, opens=(("AAPL", "buy", "189"),)), simple_plan)
    await drain(first, broker)
    assert book.qty(7, "AAPL") == Decimal(10)
    broker.calls.clear()
    seen_at_send: list[set[str]] = []

    def on_step(step: str) -> None:
        if step == Step.BEFORE_SUBMIT:
            intents = journal.entries(EntryFilter(statuses=(Status.INTENT,)))
            seen_at_send.append({e.client_order_id or "" for e in intents})

    executor = Executor(journal, broker, book, on_step=on_step, retry=FAST)
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
    executor = Executor(journal, broker, PositionBook(), retry=FAST)
    result = await executor.handle(make_signal(3, opens=(("TSLA", "buy", "250"),)), simple_plan)
    (outcome,) = result.outcomes
    assert outcome.error is not None and "buying power" in outcome.error
    coid = outcome.intent.client_order_id
    assert broker.submissions(coid) == 1
    assert statuses(journal, coid) == [Status.INTENT, Status.REJECTED]
    assert journal.unresolved_intents() == ()
    assert executor.book == PositionBook()


async def test_transient_errors_retried_with_the_same_client_order_id(
    journal: JournalBase,
) -> None:
    broker = ScriptedBroker()
    broker.script += [BrokerUnavailable("503"), BrokerUnavailable("timeout")]
    executor = Executor(journal, broker, PositionBook(), retry=FAST)
    result = await executor.handle(make_signal(3, opens=(("TSLA", "buy", "250"),)), simple_plan)
    await drain(executor, broker)
    coid = result.outcomes[0].intent.client_order_id
    assert broker.submissions(coid) == 3
    assert len(broker.orders) == 1
    assert executor.book.qty(3, "TSLA") == Decimal(10)


async def test_lost_response_is_looked_up_not_resent(journal: JournalBase) -> None:
    broker = ScriptedBroker()
    broker.script.append(LOSE_RESPONSE)
    executor = Executor(journal, broker, PositionBook(), retry=FAST)
    result = await executor.handle(make_signal(3, opens=(("TSLA", "buy", "250"),)), simple_plan)
    await drain(executor, broker)
    coid = result.outcomes[0].intent.client_order_id
    assert broker.submissions(coid) == 1
    assert ("get_order", coid) in broker.calls
    assert executor.book.qty(3, "TSLA") == Decimal(10)
    fills = journal.entries(EntryFilter(client_order_ids=(coid,), statuses=(Status.FILLED,)))
    assert len(fills) == 1 and fills[0].qty == Decimal(10)


async def test_gives_up_on_persistent_outage_without_a_final_outcome(
    journal: JournalBase,
) -> None:
    broker = ScriptedBroker()
    broker.script += [BrokerUnavailable("down")] * 4
    executor = Executor(journal, broker, PositionBook(), retry=FAST)
    result = await executor.handle(make_signal(3, opens=(("TSLA", "buy", "250"),)), simple_plan)
    assert result.outcomes[0].error is not None
    coid = result.outcomes[0].intent.client_order_id
    assert broker.submissions(coid) == 4 and ("get_order", coid) in broker.calls
    # left for recovery to settle by lookup: not failed, not forgotten
    assert [s.intent.client_order_id for s in journal.unresolved_intents()] == [coid]
    assert Status.ERROR in statuses(journal, coid)


async def test_one_attempt_by_default_then_a_lookup_settles_a_lost_response(
    journal: JournalBase,
) -> None:
    broker = ScriptedBroker()
    broker.script.append(LOSE_RESPONSE)
    executor = Executor(journal, broker, PositionBook())  # the broker adapter owns retries
    result = await executor.handle(make_signal(3, opens=(("TSLA", "buy", "250"),)), simple_plan)
    coid = result.outcomes[0].intent.client_order_id
    assert result.outcomes[0].error is None
    assert [m for m, c in broker.calls if c == coid] == ["submit", "get_order"]
    assert journal.unresolved_intents() == ()  # the lookup showed it filled


async def test_same_plan_twice_sends_once(journal: JournalBase) -> None:
    broker = ScriptedBroker()
    executor = Executor(journal, broker, PositionBook(), retry=FAST)
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
    executor = Executor(journal, broker, PositionBook(), retry=FAST)
    result = await executor.handle(make_signal(3, opens=(("TSLA", "buy", "250"),)), simple_plan)
    coid = result.outcomes[0].intent.client_order_id

    def fill(qty: str, cum: str, partial: bool) -> OrderFilled:
        return tsla_fill(coid, qty, cum, partial=partial, price="250.10")

    for event in (
        fill("4", "4", True),
        fill("4", "4", True),  # replayed after a reconnect
        fill("3", "10", False),  # a missed partial in between: cum says 6 more
        fill("3", "10", False),
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
    executor = Executor(journal, broker, PositionBook(), retry=FAST)
    result = await executor.handle(make_signal(3, opens=(("TSLA", "buy", "250"),)), simple_plan)
    coid = result.outcomes[0].intent.client_order_id
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
    executor = Executor(journal, broker, PositionBook(), retry=FAST)
    broker.push(
        OrderFilled(
            client_order_id="manual-1",
            broker_order_id="x",
            at=T0,
            symbol="GME",
            side=Side.BUY,
            qty=Decimal(1),
            price=Decimal(20),
            cum_qty=Decimal(1),
            order_qty=Decimal(1),
            partial=False,
        )
    )
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
        executor = Executor(journal, broker, PositionBook())
        result = await executor.handle(make_signal(3, opens=(("TSLA", "buy", "250"),)), simple_plan)
        coid = result.outcomes[0].intent.client_order_id
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
    executor = Executor(journal, broker, PositionBook())
    result = await executor.handle(make_signal(3, opens=(("TSLA", "buy", "250"),)), simple_plan)
    coid = result.outcomes[0].intent.client_order_id
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
    executor = Executor(journal, broker, PositionBook())
    result = await executor.handle(make_signal(3, opens=(("TSLA", "buy", "250"),)), simple_plan)
    coid = result.outcomes[0].intent.client_order_id
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
    executor = Executor(journal, broker, PositionBook(), retry=FAST)

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
