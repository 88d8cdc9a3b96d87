"""A flip's open waits for its flatten to fill: it never goes out while the algorithm still
holds the other side (the broker would refuse it, or net it against the shares still held).

The scripted broker accepts the flatten and leaves it working; the test fills it (or ends it)
once the executor is seen waiting, i.e. looking the flatten up, and checks what left when.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tests.execution.fixed_planner import make_signal, simple_plan
from tests.scripted_broker import ACCEPT, FILL, ScriptedBroker
from tradebot.core.book import PositionBook
from tradebot.core.order_snapshot import OrderStatus
from tradebot.core.orders import IntentRole, OrderIntent
from tradebot.execution import Executor
from tradebot.execution.recovery import settle
from tradebot.journal import EntryFilter, SqliteJournal, Status, open_journal

FLIP = make_signal(7, closes=(("AAPL", "sell", "190"),), opens=(("AAPL", "sell", "190"),))


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    with open_journal(tmp_path / "journal.sqlite") as j:
        yield j


def long_10() -> PositionBook:
    book = PositionBook()
    book.apply_fill(7, "AAPL", FLIP.close_legs[0].side.opposite(), Decimal(10))
    return book


async def until(condition: Callable[[], bool]) -> None:
    """Let the executor's tasks run until ``condition`` holds (a generous deadline: a hang fails).
    The broker's calls are plain lists: there is no event to wait on but them."""
    async with asyncio.timeout(30):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


def looked_up(broker: ScriptedBroker, coid: str) -> bool:
    return ("get_order", coid) in broker.calls


def roles(intents: tuple[OrderIntent, ...]) -> tuple[OrderIntent, OrderIntent]:
    (flatten,) = (i for i in intents if i.role is IntentRole.CLOSE)
    (opening,) = (i for i in intents if i.role is IntentRole.OPEN)
    return flatten, opening


async def test_the_open_leaves_only_once_the_flatten_has_filled(journal: SqliteJournal) -> None:
    broker = ScriptedBroker()
    broker.script = [ACCEPT, FILL]  # the flatten works a while; the open fills at once
    executor = Executor(journal, broker, long_10())
    consumer = asyncio.create_task(executor.consume_events())
    handled = asyncio.create_task(executor.handle(FLIP, simple_plan))
    flatten, opening = roles(simple_plan(FLIP, long_10()).intents)
    # the executor is waiting on the flatten (it looks it up); the open has not left
    await until(lambda: looked_up(broker, flatten.client_order_id) or handled.done())
    assert not handled.done(), "the open was sent while the flatten was still working"
    assert broker.submissions(opening.client_order_id) == 0
    broker.fill(flatten.client_order_id)
    result = await handled
    assert [o.error for o in result.outcomes] == [None, None]
    assert broker.submissions(opening.client_order_id) == 1
    broker.end_stream()
    await consumer
    assert executor.book.qty(7, "AAPL") == Decimal(-10)  # short, as the algorithm said


async def test_a_flatten_that_ends_unfilled_leaves_the_open_unsent(journal: SqliteJournal) -> None:
    broker = ScriptedBroker()
    broker.script = [ACCEPT]
    executor = Executor(journal, broker, long_10())
    consumer = asyncio.create_task(executor.consume_events())
    handled = asyncio.create_task(executor.handle(FLIP, simple_plan))
    flatten, opening = roles(simple_plan(FLIP, long_10()).intents)
    await until(lambda: looked_up(broker, flatten.client_order_id) or handled.done())
    broker.end(flatten.client_order_id, OrderStatus.CANCELED)
    result = await handled
    error = result.outcomes[-1].error
    assert error is not None and "ended with 10 AAPL still held" in error
    assert broker.submissions(opening.client_order_id) == 0
    rows = journal.entries(EntryFilter(client_order_ids=(opening.client_order_id,)))
    assert Status.FAILED in [e.status for e in rows]  # on record, with the reason
    broker.end_stream()
    await consumer
    assert executor.book.qty(7, "AAPL") == Decimal(10)


async def test_a_flatten_that_never_fills_in_time_leaves_the_open_unsent(
    journal: SqliteJournal,
) -> None:
    broker = ScriptedBroker()
    broker.script = [ACCEPT]
    executor = Executor(journal, broker, long_10(), flatten_timeout=0.2)
    result = await executor.handle(FLIP, simple_plan)
    error = result.outcomes[-1].error
    assert error is not None and "did not fill within 0.2s" in error
    flatten, opening = roles(tuple(o.intent for o in result.outcomes))
    assert broker.submissions(opening.client_order_id) == 0
    assert broker.submissions(flatten.client_order_id) == 1


async def test_an_open_with_nothing_to_flatten_does_not_wait(journal: SqliteJournal) -> None:
    broker = ScriptedBroker()
    executor = Executor(journal, broker, PositionBook(), flatten_timeout=3600)
    opens_only = make_signal(7, opens=(("AAPL", "sell", "190"),))
    result = await executor.handle(opens_only, simple_plan)
    assert [o.error for o in result.outcomes] == [None]
    assert not any(method == "get_order" for method, _ in broker.calls)


async def test_recovery_sends_the_open_only_once_the_working_flatten_fills(
    journal: SqliteJournal,
) -> None:
    """A restart finds the flatten at the broker, still working, and the open never sent: the
    open waits for it as it would have live (recovery has no event stream: it looks it up)."""
    broker = ScriptedBroker()
    broker.extra_positions = {"AAPL": Decimal(10)}  # the long the algorithm holds
    book = long_10()
    flatten, opening = roles(
        journal.record_plan(journal.record_signal(FLIP), simple_plan(FLIP, book))
    )
    broker.script = [ACCEPT]
    await broker.submit(flatten)  # reached the broker before the crash; the open did not
    executor = Executor(journal, broker, book)
    pending = journal.unresolved_intents()
    settling = asyncio.create_task(
        settle(executor, pending, FLIP.received_at, timedelta(days=1), "stale")
    )
    await until(
        lambda: (
            sum(c == ("get_order", flatten.client_order_id) for c in broker.calls) >= 2
            or settling.done()
        )
    )
    assert not settling.done() and broker.submissions(opening.client_order_id) == 0
    broker.fill(flatten.client_order_id)
    settled = await settling
    assert settled.resent == (opening.client_order_id,)
    assert broker.submissions(opening.client_order_id) == 1
    assert await broker.positions() == {"AAPL": Decimal(-10)}  # short, never netted
