"""Record before acting, in the signal loop: every signal is journaled as it arrives, before
anything it causes (a close's cancels, an order) leaves, whatever the broker is doing; a flip
cancels what is in its way like a close; a position a close stripped of its exits and whose close
did not go out within a minute is an ERROR (test_close_watch.py); a process that dies at any
moment of a close's cancel-then-sell (before the cancel, after it, after the broker confirmed it)
is finished by the next start from the journal alone, with one sell. Real loop, planner,
executor and journal over the scripted broker; the clock is driven, never waited for."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest

from tests.core.helpers import make_config, make_signal
from tests.runtime.closing_loop import closing_loop
from tests.runtime.test_close_cancel import CLOSE, CONFIG, make_rig
from tests.scripted_broker import FILL, T0, ScriptedBroker
from tradebot.core.book import PositionBook
from tradebot.core.order_snapshot import OrderSnapshot
from tradebot.core.orders import OrderIntent
from tradebot.core.risk import DayState
from tradebot.core.signal import Signal
from tradebot.execution import Executor, recover
from tradebot.execution.exit_manager import CANCEL_FOR_CLOSE
from tradebot.journal import EntryFilter, SqliteJournal, Status, open_journal
from tradebot.runtime.close_cancel import orders_in_way
from tradebot.runtime.leadership import ForeignSignals
from tradebot.runtime.signals import SignalLoop, planner_for

FLIP = make_signal(opens=[("AAPL", "sell", "100")], at=T0 + timedelta(minutes=1))


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    with open_journal(tmp_path / "j.sqlite") as opened:
        yield opened


async def until(condition: Callable[[], bool], what: str) -> None:
    """Let the loop's tasks run until ``condition`` holds (a generous deadline: a hang fails)."""
    async with asyncio.timeout(10):
        # the row is written by a worker thread: no event to wait on but the journal itself
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)
    assert condition(), what


def signal_rows(journal: SqliteJournal) -> list[int]:
    return [r.id for r in journal.entries(EntryFilter(statuses=(Status.SIGNAL,)))]


# -- a close's cancels go out only once its signal is durable ----------------------------------


async def test_a_close_is_durable_before_its_cancels_go_out(journal: SqliteJournal) -> None:
    rig = await make_rig(journal)
    before = set(signal_rows(journal))
    at_cancel: list[set[int]] = []

    def cancel(coid: str) -> None:  # what a kill -9 at the moment of the cancel would leave
        at_cancel.append(set(signal_rows(journal)) - before)
        rig.broker.end(coid)

    rig.broker.on_cancel = cancel
    rig.broker.script = [FILL]
    await rig.loop.handle(CLOSE)
    await rig.sync()
    (new,) = set(signal_rows(journal)) - before
    assert at_cancel == [{new}]  # the close's signal was on record when the cancel left
    (cancel_row,) = journal.entries(EntryFilter(statuses=(Status.EXIT,)))
    assert cancel_row.data["step"] == CANCEL_FOR_CLOSE and cancel_row.id > new
    assert journal.unplanned_signals() == () and rig.sold() == D(10)


async def test_the_loops_journal_worker_records_the_close_before_the_loop_cancels(
    journal: SqliteJournal,
) -> None:
    rig = await make_rig(journal)
    queue: asyncio.Queue[Signal] = asyncio.Queue()
    loop = closing_loop(rig.executor, journal, make_config(), now=CLOSE.received_at, queue=queue)
    before = set(signal_rows(journal))
    at_cancel: list[set[int]] = []

    def cancel(coid: str) -> None:
        at_cancel.append(set(signal_rows(journal)) - before)
        rig.broker.end(coid)

    rig.broker.on_cancel = cancel
    rig.broker.script = [FILL]
    async with running(loop.record, loop.run):
        queue.put_nowait(CLOSE)
        await loop_handled(loop, 1)
    await rig.sync()
    (new,) = set(signal_rows(journal)) - before
    assert at_cancel == [{new}]
    assert rig.sold() == D(10) and journal.unplanned_signals() == ()
    plans = journal.entries(EntryFilter(statuses=(Status.PLAN,), signal_ids=(new,)))
    assert len(plans) == 1  # planned once, under the id the worker journaled it with
    assert len(signal_rows(journal)) == len(before) + 1  # journaled once


# -- a broker stuck in retries never delays the record of the next signal ----------------------


class HangingBroker(ScriptedBroker):
    """Every submission hangs until ``release`` is set (a broker stuck in retries)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def submit(self, intent: OrderIntent) -> OrderSnapshot:
        self.entered.set()
        await self.release.wait()
        return await super().submit(intent)


async def test_a_signal_arriving_while_an_order_hangs_is_journaled_and_planned_after_a_kill(
    journal: SqliteJournal,
) -> None:
    broker = HangingBroker()
    broker.prices.update({"AAPL": D(100), "MSFT": D(100)})
    executor = Executor(journal, broker, PositionBook())
    queue: asyncio.Queue[Signal] = asyncio.Queue()
    config = make_config()
    first = make_signal(opens=[("AAPL", "buy", "100")], at=T0)
    second = make_signal(opens=[("MSFT", "buy", "100")], at=T0 + timedelta(seconds=1))
    loop = closing_loop(executor, journal, config, now=second.received_at, queue=queue)
    async with running(loop.record, loop.run):
        queue.put_nowait(first)
        await broker.entered.wait()  # the first signal's order is stuck at the broker
        queue.put_nowait(second)
        await until(lambda: len(signal_rows(journal)) == 2, "the second signal on record")
        assert broker.orders == {}  # nothing answered: the loop is still on the first
    # the process dies here (the tasks are gone; the broker never answered)
    ((waiting, signal),) = [(u.signal_id, u.signal) for u in journal.unplanned_signals()]
    assert signal.legs[0].symbol == "MSFT"

    broker.release.set()
    planner = planner_for(
        config,
        await broker.account(),
        second.received_at,
        day=DayState(),
        market=await broker.reference_prices(["AAPL", "MSFT"]),
    )
    report = await recover(
        journal,
        broker,
        now=second.received_at + timedelta(seconds=5),
        max_age=timedelta(minutes=5),
        planner=planner,
    )
    assert report.replanned == (waiting,)  # the next start plans it, from the journal alone
    assert sorted(o.symbol for o in broker.orders.values()) == ["AAPL", "MSFT"]


class running:
    """Run coroutine functions as tasks for the block; cancel them after it (a kill)."""

    def __init__(self, *mains: Callable[[], Awaitable[None]]) -> None:
        self._mains = mains
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> None:
        self._tasks = [asyncio.ensure_future(main()) for main in self._mains]

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def loop_handled(loop: SignalLoop, count: int) -> None:
    async with asyncio.timeout(10):
        await loop.wait_handled(count)


# -- a flip cancels what is in its way, like a close -------------------------------------------


async def test_a_flip_cancels_the_live_exit_before_its_sell_goes_out(
    journal: SqliteJournal,
) -> None:
    rig = await make_rig(journal)  # algorithm 16 holds 10 AAPL, a live stop protects them
    rig.broker.on_cancel = rig.broker.end
    rig.broker.script = [FILL, FILL]
    await rig.loop.handle(FLIP)  # open sell against the holding: flatten, then short
    stop_id = rig.stop.client_order_id
    sells = [coid for coid in rig.submitted_sells() if coid != stop_id]  # the flip's
    assert sells and ("cancel", stop_id) in rig.broker.calls
    assert rig.broker.calls.index(("cancel", stop_id)) < rig.broker.calls.index(
        ("submit", sells[0])
    )
    (row,) = journal.entries(EntryFilter(statuses=(Status.EXIT,), client_order_ids=(stop_id,)))
    assert row.data["step"] == CANCEL_FOR_CLOSE


# -- the leader's poll leaves alone what this process journaled and will plan itself ----------


async def test_the_leaders_poll_never_plans_a_signal_its_own_loop_journaled(
    journal: SqliteJournal,
) -> None:
    broker = ScriptedBroker()
    broker.prices["AAPL"] = D(100)
    executor = Executor(journal, broker, PositionBook())
    queue: asyncio.Queue[Signal] = asyncio.Queue()
    signal = make_signal(opens=[("AAPL", "buy", "100")], at=T0)
    loop = closing_loop(executor, journal, make_config(), now=signal.received_at, queue=queue)
    busy = asyncio.Lock()
    poll = ForeignSignals(
        journal,
        loop,
        busy=busy,
        stopping=asyncio.Event(),
        interval=1,
        max_age=timedelta(minutes=5),
        now=lambda: signal.received_at,
        planned=lambda keys: set(),
    )
    async with running(loop.record):
        queue.put_nowait(signal)
        await until(lambda: len(signal_rows(journal)) == 1, "the signal on record")
        (signal_id,) = signal_rows(journal)
        await until(lambda: loop.owns(signal_id), "queued for the loop")
    # journaled and unplanned, as another process's signal would be: the poll leaves it
    assert await poll.poll() == 0 and broker.orders == {}
    async with running(loop.run):
        await loop_handled(loop, 1)
    assert not loop.owns(signal_id) and len(broker.orders) == 1
    assert len(journal.entries(EntryFilter(statuses=(Status.PLAN,)))) == 1  # planned once


# -- killed at each moment of a close's cancel-then-sell: the restart finishes it -------------


class Killed(BaseException):
    """The process dies here (nothing of ours catches it; the journal keeps what it has)."""


class DyingBroker(ScriptedBroker):
    """Confirms cancels; the process dies at ``moment`` of the first close's cancels."""

    def __init__(self, moment: str) -> None:
        super().__init__(fill=False)
        self.moment = moment
        self.on_cancel = self._cancel

    def _cancel(self, coid: str) -> None:
        if self.moment == "before_the_cancel":
            self.moment = ""
            raise Killed
        self.end(coid)
        if self.moment == "after_the_cancel":
            self.moment = ""
            raise Killed

    async def get_order(self, client_order_id: str) -> OrderSnapshot | None:
        found = await super().get_order(client_order_id)
        confirmed = found is not None and found.status.is_final and found.side == "sell"
        if self.moment == "after_the_confirmation" and confirmed:
            self.moment = ""
            raise Killed
        return found


@pytest.mark.parametrize(
    "moment", ["before_the_cancel", "after_the_cancel", "after_the_confirmation"]
)
async def test_killed_in_a_closes_cancel_then_sell_the_restart_sells_once_from_the_journal(
    journal: SqliteJournal, moment: str
) -> None:
    broker = DyingBroker(moment)
    rig = await make_rig(journal, broker=broker)
    stop_id = rig.stop.client_order_id
    with pytest.raises(Killed):
        await rig.loop.handle(CLOSE)
    assert rig.closes() == [] and broker.moment == ""  # died before any sell

    # the next start: recovery, then the running loop; no signal history, only the journal
    now = CLOSE.received_at + timedelta(seconds=30)
    broker.script = [FILL]
    planner = planner_for(
        CONFIG,
        await broker.account(),
        now,
        day=DayState(),
        market=await broker.reference_prices(["AAPL"]),
    )
    report = await recover(
        journal,
        broker,
        now=now,
        max_age=timedelta(minutes=5),
        planner=planner,
        defer=orders_in_way(journal),
    )
    restarted = Executor(journal, broker, report.book)
    loop = closing_loop(restarted, journal, CONFIG, now=now)
    for signal_id, signal in report.deferred:
        loop.defer(signal_id, signal)
    await loop.retry_deferred()
    for snap in list(broker.orders.values()):
        await restarted.record_snapshot(snap, "lookup")

    sells = [c for c in rig.submitted_sells() if c != stop_id]
    assert len(sells) == 1 and broker.orders[sells[0]].filled_qty == D(10)  # one sell
    assert broker.orders[stop_id].status.is_final and broker.orders[stop_id].filled_qty == 0
    assert restarted.book.qty(16, "AAPL") == 0 == (await broker.positions()).get("AAPL", 0)
    assert journal.unresolved_intents() == () and journal.unplanned_signals() == ()
