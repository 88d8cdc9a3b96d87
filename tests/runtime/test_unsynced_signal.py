"""Which signals the journal worker writes without their own fsync (runtime/signals.py,
``SignalLoop._record``): a signal the waiting loop plans at once. Whatever it causes leaves after
a synced commit that makes it durable: its plan's before its orders, the cancel rows' before a
close's (or a flip's) cancels; a signal that waits behind another is fsynced as it arrives; one
whose handling ends without a plan is fsynced then. Real loop, planner,
executor and SQLite journal over the scripted broker; a journal that notes how each signal was
written (the tests/journal tests show what ``sync=False`` does on disk, on both backends)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from tests.core.helpers import make_config, make_signal
from tests.runtime.closing_loop import closing_loop
from tests.runtime.test_close_cancel import CLOSE, make_rig
from tests.runtime.test_record_first import loop_handled, running, until
from tests.runtime.test_signal_overlap import HangingPrices
from tests.scripted_broker import FILL, T0, ScriptedBroker
from tradebot.core.book import PositionBook
from tradebot.core.order_snapshot import OrderSnapshot
from tradebot.core.orders import OrderIntent
from tradebot.core.signal import Signal
from tradebot.execution import Executor
from tradebot.journal import EntryFilter, SqliteJournal, Status, open_journal

OPEN = make_signal(opens=[("MSFT", "buy", "100")])
FLIP = make_signal(opens=[("AAPL", "sell", "100")], at=T0 + timedelta(minutes=1))


class Noted:
    """The real journal, noting the ``sync`` of each ``record_signal``."""

    def __init__(self, journal: SqliteJournal) -> None:
        self._journal = journal
        self.syncs: list[bool] = []

    def record_signal(self, signal: Signal, *, sync: bool = True) -> int:
        self.syncs.append(sync)
        return self._journal.record_signal(signal, sync=sync)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._journal, name)


class Watching(ScriptedBroker):
    """Notes, as each order arrives, whether the journal holds an unsynced commit and which
    signals it has on record (what a crash of the OS at that moment could lose)."""

    def __init__(self, journal: SqliteJournal) -> None:
        super().__init__(fill=False)
        self._journal = journal
        self.seen: list[tuple[bool, int]] = []

    async def submit(self, intent: OrderIntent) -> OrderSnapshot:
        signals = self._journal.entries(EntryFilter(statuses=(Status.SIGNAL,)))
        self.seen.append((self._journal.unsynced, len(signals)))
        return await super().submit(intent)


async def test_an_open_the_waiting_loop_plans_at_once_rides_on_its_plans_fsync(
    tmp_path: Path,
) -> None:
    with open_journal(tmp_path / "j.sqlite") as journal:
        noted = Noted(journal)
        broker = Watching(journal)
        broker.prices["MSFT"] = D(100)
        broker.script = [FILL]
        executor = Executor(noted, broker, PositionBook())  # type: ignore[arg-type]
        queue: asyncio.Queue[Signal] = asyncio.Queue()
        loop = closing_loop(executor, noted, make_config(), now=OPEN.received_at, queue=queue)  # type: ignore[arg-type]
        async with running(loop.record, loop.run):
            await until(lambda: loop.waiting, "the loop waits for signals")
            queue.put_nowait(OPEN)
            await loop_handled(loop, 1)
        assert noted.syncs == [False]  # its own commit did not wait for the disk...
        assert broker.seen == [(False, 1)]  # ...and was on disk when its order arrived
        assert not journal.unsynced


async def test_a_signal_waiting_behind_another_is_fsynced_as_it_arrives(tmp_path: Path) -> None:
    with open_journal(tmp_path / "j.sqlite") as journal:
        noted = Noted(journal)
        broker = ScriptedBroker(fill=False)
        broker.prices["MSFT"] = D(100)
        broker.script = [FILL]
        executor = Executor(noted, broker, PositionBook())  # type: ignore[arg-type]
        queue: asyncio.Queue[Signal] = asyncio.Queue()
        busy = asyncio.Lock()
        loop = closing_loop(
            executor,
            noted,  # type: ignore[arg-type]
            make_config(),
            now=OPEN.received_at,
            queue=queue,
            busy=busy,
        )
        async with running(loop.record, loop.run):
            await until(lambda: loop.waiting, "the loop waits for signals")
            async with busy:  # the loop is held: its plan could be far away
                queue.put_nowait(OPEN)
                await until(lambda: loop.owns(1), "on record")
                assert noted.syncs == [True] and not journal.unsynced
            await loop_handled(loop, 1)


async def _loop_handles(
    journal: SqliteJournal, signal: Signal
) -> tuple[Noted, Watching, list[bool]]:
    """The rig's position (algorithm 16: 10 AAPL under a live stop); ``signal`` through the
    loop's journal worker to the waiting loop; whether the journal held an unsynced commit at
    each cancel."""
    noted, broker = Noted(journal), Watching(journal)
    rig = await make_rig(noted, broker=broker)  # type: ignore[arg-type]
    broker.seen.clear()
    unsynced_at_cancel: list[bool] = []

    def cancel(coid: str) -> None:
        unsynced_at_cancel.append(journal.unsynced)
        rig.broker.end(coid)

    rig.broker.on_cancel = cancel
    rig.broker.script = [FILL, FILL]
    queue: asyncio.Queue[Signal] = asyncio.Queue()
    loop = closing_loop(
        rig.executor,
        noted,  # type: ignore[arg-type]
        make_config(),
        now=signal.received_at,
        queue=queue,
    )
    async with running(loop.record, loop.run):
        await until(lambda: loop.waiting, "the loop waits for signals")
        queue.put_nowait(signal)
        await loop_handled(loop, 1)
    return noted, broker, unsynced_at_cancel


async def test_a_close_is_on_disk_before_the_cancels_in_its_way_go_out(tmp_path: Path) -> None:
    with open_journal(tmp_path / "j.sqlite") as journal:
        noted, broker, unsynced_at_cancel = await _loop_handles(journal, CLOSE)
        assert noted.syncs == [False]
        assert unsynced_at_cancel == [False]  # the stop's cancel
        assert [unsynced for unsynced, _ in broker.seen] == [False]  # the sell


async def test_a_flip_is_on_disk_before_the_cancels_in_its_way_go_out(tmp_path: Path) -> None:
    with open_journal(tmp_path / "j.sqlite") as journal:
        noted, broker, unsynced_at_cancel = await _loop_handles(journal, FLIP)
        assert noted.syncs == [False]
        assert unsynced_at_cancel == [False]
        assert broker.seen and not any(unsynced for unsynced, _ in broker.seen)


async def test_an_unsynced_signal_whose_handling_ends_without_a_plan_is_fsynced(
    tmp_path: Path,
) -> None:
    with open_journal(tmp_path / "j.sqlite") as journal:
        noted = Noted(journal)
        broker = HangingPrices()  # the loop waits for prices until the stop
        executor = Executor(noted, broker, PositionBook())  # type: ignore[arg-type]
        queue: asyncio.Queue[Signal] = asyncio.Queue()
        loop = closing_loop(
            executor,
            noted,  # type: ignore[arg-type]
            make_config(),
            now=OPEN.received_at,
            queue=queue,
            price_timeout=3600,
        )
        async with running(loop.record, loop.run):
            await until(lambda: loop.waiting, "the loop waits for signals")
            queue.put_nowait(OPEN)
            async with asyncio.timeout(10):
                await broker.asked.wait()
            await until(lambda: journal.unsynced, "on record, not on disk")
            assert noted.syncs == [False] and not broker.given_up
        # the stop canceled the loop mid-signal: no plan, and the signal on disk for the next
        # start (not left to whatever write comes next)
        assert not journal.unsynced
        assert len(journal.unplanned_signals()) == 1
