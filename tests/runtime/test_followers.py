"""The followers' one task: a follower steps at once when the broker's stream makes an event of
its own orders durable (with a tick of an hour, only the event can make it act), on its tick
when nothing happens, and one that raises stops neither the others nor the task (unless the
error is fatal). The chaser and the exit manager are the real ones, fed by the executor's real
event stream from the scripted broker, on a real journal."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tests.execution.chase_limits import Limits
from tests.execution.test_chaser import LIMIT_ID, SIGNAL, limit_intent
from tests.execution.test_exit_manager import BOTH, OPEN, entry_for
from tests.scripted_broker import T0, ScriptedBroker
from tradebot.core.book import PositionBook
from tradebot.core.events import OrderCanceled, OrderEvent
from tradebot.core.ids import exit_id
from tradebot.core.orders import IntentRole, Plan
from tradebot.exceptions import BrokerUnavailable, JournalError
from tradebot.execution import Executor
from tradebot.execution.chaser import Chaser
from tradebot.execution.exit_manager import ExitManager
from tradebot.journal import EntryFilter, SqliteJournal, Status, open_journal
from tradebot.journal.records import intent_from_entry
from tradebot.runtime.followers import Follower, Followers

HOUR = 3600.0  # a tick that never comes during a test: only an event can wake the follower


class Counted:
    """A follower as the runner sees it (the real one inside), counting its steps so the test
    can wait for the n-th one instead of for the clock."""

    def __init__(self, inner: Follower) -> None:
        self.inner = inner
        self.steps = 0
        self._stepped = asyncio.Condition()

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def interval(self) -> float:
        return self.inner.interval

    @property
    def at_start(self) -> bool:
        return self.inner.at_start

    def cares(self, event: OrderEvent) -> bool:
        return self.inner.cares(event)

    async def step(self) -> None:
        try:
            await self.inner.step()
        finally:
            async with self._stepped:
                self.steps += 1
                self._stepped.notify_all()

    async def stepped(self, count: int) -> None:
        async with asyncio.timeout(10), self._stepped:  # generous: the tick is an hour away
            await self._stepped.wait_for(lambda: self.steps >= count)


class Scripted:
    """A follower of our own making: cares about the ids it is given, raises what it is told."""

    def __init__(
        self,
        name: str,
        *,
        interval: float = HOUR,
        at_start: bool = False,
        ids: tuple[str, ...] = (),
        raises: BaseException | None = None,
    ) -> None:
        self.name, self.interval, self.at_start = name, interval, at_start
        self.ids = ids
        self.raises = raises

    def cares(self, event: OrderEvent) -> bool:
        return event.client_order_id in self.ids

    async def step(self) -> None:
        if self.raises is not None:
            raise self.raises


def canceled(coid: str) -> OrderCanceled:
    return OrderCanceled(client_order_id=coid, broker_order_id="b", at=T0)


@asynccontextmanager
async def running(followers: Followers) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(followers.run())
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


# -- the runner -----------------------------------------------------------------------------


async def test_an_event_of_its_own_order_wakes_a_follower_long_before_its_tick() -> None:
    mine, other = Counted(Scripted("mine", ids=("A",))), Counted(Scripted("other", ids=("B",)))
    followers = Followers([mine, other], stopping=asyncio.Event())
    async with running(followers):
        followers.notice([canceled("A")])
        await mine.stepped(1)
        followers.notice([canceled("A"), canceled("C")])
        await mine.stepped(2)
    assert other.steps == 0  # nothing of its own happened, and its tick is an hour away


async def test_the_tick_runs_with_no_events() -> None:
    ticked = Counted(Scripted("ticked", interval=0.01))
    first = Counted(Scripted("at start", at_start=True))
    async with running(Followers([ticked, first], stopping=asyncio.Event())):
        await ticked.stepped(3)
        await first.stepped(1)
    assert first.steps == 1  # once at start, then its hour-long tick


async def test_a_follower_that_raises_does_not_stop_the_others() -> None:
    reported: list[str] = []
    bug = Counted(Scripted("buggy", interval=0.01, raises=ValueError("a bug")))
    flaky = Counted(Scripted("flaky", interval=0.01, raises=BrokerUnavailable("503")))
    sound = Counted(Scripted("sound", interval=0.01))
    followers = Followers([bug, flaky, sound], stopping=asyncio.Event(), on_error=reported.append)
    async with running(followers) as task:
        await sound.stepped(3)
        await bug.stepped(3)
        assert not task.done()
    assert flaky.steps >= 2  # a transient error is a warning: tried again at the next tick
    assert reported[0] == "buggy failed: ValueError('a bug')"
    assert set(reported) == {reported[0]}  # the broker's 503 is no error report


async def test_a_fatal_error_stops_the_task() -> None:
    fatal = Scripted("fatal", at_start=True, raises=JournalError("disk full"))
    with pytest.raises(JournalError):
        async with asyncio.timeout(10):
            await Followers([fatal], stopping=asyncio.Event()).run()


async def test_the_task_ends_once_the_bot_is_stopping() -> None:
    stopping = asyncio.Event()
    stopping.set()
    follower = Counted(Scripted("late", ids=("A",)))
    async with asyncio.timeout(10):
        await Followers([follower], stopping=stopping).run()  # returns at once
    assert follower.steps == 0


async def test_a_stop_during_a_step_leaves_the_rest_of_the_round() -> None:
    stopping = asyncio.Event()

    class Stopping(Scripted):
        async def step(self) -> None:
            stopping.set()  # the stop begins while this one steps

    first = Counted(Stopping("first", at_start=True))
    second = Counted(Scripted("second", at_start=True))
    async with asyncio.timeout(10):
        await Followers([first, second], stopping=stopping).run()
    assert (first.steps, second.steps) == (1, 0)  # nothing is started once the stop began


async def test_a_bug_in_cares_never_stops_the_event_stream(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(Scripted):
        def cares(self, event: OrderEvent) -> bool:
            raise KeyError(event.client_order_id)

    broken = Counted(Broken("broken"))
    followers = Followers([broken], stopping=asyncio.Event())
    with caplog.at_level(logging.ERROR):
        followers.notice([canceled("A")])  # does not raise: the follower steps instead
    async with running(followers):
        await broken.stepped(1)
    assert "cares() failed" in caplog.text


# -- the real chaser and exit manager, woken by the executor's event stream ------------------


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    with open_journal(tmp_path / "j.sqlite", clock=lambda: datetime.now(UTC)) as j:
        yield j


@asynccontextmanager
async def streaming(executor: Executor, followers: Followers) -> AsyncIterator[None]:
    """The bot's wiring: the event stream tells the followers what it made durable."""
    async with running(followers):
        events = asyncio.create_task(executor.consume_events(on_events=followers.notice))
        try:
            yield
        finally:
            events.cancel()
            await asyncio.gather(events, return_exceptions=True)


async def test_a_fill_event_makes_the_exit_manager_place_exits_at_once(
    journal: SqliteJournal,
) -> None:
    broker = ScriptedBroker(fill=False)  # the entry rests until the test fills it
    executor = Executor(journal, broker, PositionBook())
    entry = entry_for(BOTH)
    await executor.execute(Plan(intents=(entry,)), signal_id=journal.record_signal(OPEN))
    stopping = asyncio.Event()
    manager = ExitManager(
        executor,
        busy=asyncio.Lock(),
        stopping=stopping,
        now=lambda: T0 + timedelta(minutes=5),
        interval=HOUR,
    )
    follower = Counted(manager)
    async with streaming(executor, Followers([follower], stopping=stopping)):
        await follower.stepped(1)  # at start: the entry is waiting for its fill
        assert manager.waiting == (entry.client_order_id,)
        broker.fill(entry.client_order_id)
        await follower.stepped(2)  # woken by the fill, an hour before its tick
    rows = journal.entries(EntryFilter(statuses=(Status.INTENT,), newest_first=False))
    exits = [i for i in map(intent_from_entry, rows) if i.role is IntentRole.EXIT]
    assert [i.client_order_id for i in exits] == [
        exit_id(entry.client_order_id, "tp"),
        exit_id(entry.client_order_id, "sl"),
    ]
    assert manager.waiting == ()


async def test_a_fill_event_ends_the_chase_at_once(journal: SqliteJournal) -> None:
    broker = ScriptedBroker(fill=False)  # the limit rests until the test fills it
    broker.prices["AAPL"] = Decimal("100.10")
    executor = Executor(journal, broker, PositionBook())
    signal_id = journal.record_signal(SIGNAL)
    await executor.execute(Plan(intents=(limit_intent(),)), signal_id=signal_id)
    stopping = asyncio.Event()
    chaser = Chaser(
        executor,
        busy=asyncio.Lock(),
        stopping=stopping,
        interval=HOUR,
        max_age=timedelta(hours=1),
        now=lambda: datetime.now(UTC),
        limits=Limits(broker).in_force(),
        monotonic=lambda: 1000.0,
    )
    follower = Counted(chaser)
    async with streaming(executor, Followers([follower], stopping=stopping)):
        await follower.stepped(1)  # at start: the limit is followed, working
        assert chaser.following == (LIMIT_ID,)
        broker.fill(LIMIT_ID)
        await follower.stepped(2)  # woken by the fill, an hour before its tick
    assert chaser.following == ()
    (row,) = journal.entries(EntryFilter(statuses=(Status.CHASE,)))
    assert row.data["step"] == "done" and "filled" in row.detail
