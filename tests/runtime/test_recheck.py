"""Orders whose submission ended without an answer are settled while the bot runs: found,
sent again once, or failed with a reason; orders the broker answered for are left alone."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.execution.fixed_planner import make_signal, simple_plan
from tests.scripted_broker import T0, ScriptedBroker
from tradebot.core.book import PositionBook
from tradebot.exceptions import BrokerUnavailable
from tradebot.execution import Executor
from tradebot.execution.recovery import Settled
from tradebot.journal import EntryFilter, SqliteJournal, Status, open_journal
from tradebot.runtime.recheck import STALE_UNKNOWN, UnknownOutcomes

MAX_AGE = timedelta(minutes=5)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    with open_journal(tmp_path / "journal.sqlite") as j:
        yield j


def statuses(journal: SqliteJournal, coid: str) -> list[Status]:
    rows = journal.entries(EntryFilter(client_order_ids=(coid,), newest_first=False))
    return [e.status for e in rows]


def rechecker(executor: Executor, *, at: timedelta, said: list[str]) -> UnknownOutcomes:
    return UnknownOutcomes(
        executor,
        executor.journal,
        busy=asyncio.Lock(),
        stopping=asyncio.Event(),
        interval=0.01,
        max_age=MAX_AGE,
        now=lambda: T0 + at,
        say=said.append,
    )


async def unanswered_order(journal: SqliteJournal, broker: ScriptedBroker) -> tuple[Executor, str]:
    """One open whose only submission failed for good: the executor says the outcome is unknown."""
    executor = Executor(journal, broker, PositionBook())
    broker.script.append(BrokerUnavailable("503 from every retry"))
    signal = make_signal(7, opens=(("AAPL", "buy", "189"),), received_at=T0, leg_time=T0)
    (outcome,) = (await executor.handle(signal, simple_plan)).outcomes
    assert outcome.snapshot is None and "outcome unknown" in (outcome.error or "")
    return executor, outcome.intent.client_order_id


async def test_an_order_that_never_reached_the_broker_is_sent_again_once(
    journal: SqliteJournal,
) -> None:
    broker = ScriptedBroker()
    executor, coid = await unanswered_order(journal, broker)
    assert broker.orders == {}
    said: list[str] = []
    recheck = rechecker(executor, at=timedelta(seconds=20), said=said)

    done = await recheck.check()
    assert done == Settled(resent=(coid,))
    assert list(broker.orders) == [coid]
    assert broker.submissions(coid) == 2  # the failed one and the one that arrived
    assert statuses(journal, coid)[:3] == [Status.INTENT, Status.ERROR, Status.SUBMITTED]
    assert said == [f"order {coid}: never reached the broker; sent again"]
    (summary,) = journal.entries(EntryFilter(statuses=(Status.RECOVERY,)))
    assert summary.detail.startswith("re-check: ") and summary.data["resent"] == [coid]

    broker.calls.clear()
    assert await recheck.check() == Settled()  # answered now: not looked up again
    assert broker.calls == []


async def test_an_order_that_arrived_after_all_is_recorded_not_sent_again(
    journal: SqliteJournal,
) -> None:
    broker = ScriptedBroker()
    executor, coid = await unanswered_order(journal, broker)
    (stored,) = journal.unresolved_intents()
    await broker.submit(stored.intent)  # the lost request reached the broker late
    said: list[str] = []

    done = await rechecker(executor, at=timedelta(seconds=20), said=said).check()
    assert done == Settled(found=(coid,))
    assert broker.submissions(coid) == 2  # the failed one and the late one: none from the check
    assert Status.FILLED in statuses(journal, coid)  # the lookup showed the fill
    assert journal.unresolved_intents() == ()
    assert said == [f"order {coid}: outcome was unknown; the broker has it"]


async def test_a_stale_order_the_broker_never_got_is_failed_with_the_reason(
    journal: SqliteJournal,
) -> None:
    broker = ScriptedBroker()
    executor, coid = await unanswered_order(journal, broker)

    done = await rechecker(executor, at=MAX_AGE + timedelta(seconds=1), said=[]).check()
    ((failed, reason),) = done.failed
    assert failed == coid and reason.startswith(STALE_UNKNOWN)
    assert broker.orders == {}
    (row,) = journal.entries(EntryFilter(client_order_ids=(coid,), statuses=(Status.FAILED,)))
    assert STALE_UNKNOWN in row.detail
    assert journal.unresolved_intents() == ()


async def test_an_order_still_unanswered_is_tried_again_at_the_next_check(
    journal: SqliteJournal,
) -> None:
    broker = ScriptedBroker()
    executor, coid = await unanswered_order(journal, broker)
    recheck = rechecker(executor, at=timedelta(seconds=20), said=[])
    broker.script.append(BrokerUnavailable("still down"))

    said: list[str] = []
    recheck = rechecker(executor, at=timedelta(seconds=20), said=said)
    # looked up (absent), sent again, failed again: still unknown, and said so, never "sent"
    done = await recheck.check()
    assert done.resent == () and [c for c, _ in done.unsent] == [coid]
    assert said == [
        f"order {coid}: never reached the broker; sent again, and that did not reach it"
        f" either ({done.unsent[0][1]})"
    ]
    assert broker.orders == {}
    assert [s.intent.client_order_id for s in journal.unresolved_intents()] == [coid]

    assert await recheck.check() == Settled(resent=(coid,))
    assert list(broker.orders) == [coid]


async def test_open_orders_the_broker_answered_for_are_left_to_the_stream(
    journal: SqliteJournal,
) -> None:
    broker = ScriptedBroker(fill=False)  # accepted, and open until the stream says otherwise
    executor = Executor(journal, broker, PositionBook())
    signal = make_signal(7, opens=(("AAPL", "buy", "189"),), received_at=T0, leg_time=T0)
    await executor.handle(signal, simple_plan)
    assert len(journal.unresolved_intents()) == 1
    broker.calls.clear()

    assert await rechecker(executor, at=timedelta(seconds=20), said=[]).check() == Settled()
    assert broker.calls == []


async def test_no_step_checks_once_the_bot_is_stopping(journal: SqliteJournal) -> None:
    broker = ScriptedBroker()
    executor, _ = await unanswered_order(journal, broker)
    stopping = asyncio.Event()
    stopping.set()
    recheck = UnknownOutcomes(
        executor,
        journal,
        busy=asyncio.Lock(),
        stopping=stopping,
        interval=0.01,
        max_age=MAX_AGE,
        now=lambda: T0,
        say=print,
    )
    await recheck.step()
    assert broker.orders == {}  # nothing sent after the stop began


async def test_a_step_settles_only_while_holding_the_signal_lock(journal: SqliteJournal) -> None:
    broker = ScriptedBroker()
    executor, coid = await unanswered_order(journal, broker)
    busy = asyncio.Lock()
    held: list[bool] = []  # was the signal lock held when the step said what it did?
    recheck = UnknownOutcomes(
        executor,
        journal,
        busy=busy,
        stopping=asyncio.Event(),
        interval=15,
        max_age=MAX_AGE,
        now=lambda: T0 + timedelta(seconds=20),
        say=lambda line: held.append(busy.locked()),
    )
    await recheck.step()
    assert held == [True] and list(broker.orders) == [coid]
