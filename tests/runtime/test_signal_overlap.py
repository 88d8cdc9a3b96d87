"""The loop reads a signal's context (account, assets, reference prices) while the journal
worker's write of the signal is still under way, and nothing the signal causes leaves before
that write is done (runtime/signals.py). The write is held open by a journal that waits for the
test before it writes; everything else is the real loop, planner, executor and journal."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from tests.core.helpers import make_config, make_signal
from tests.runtime.closing_loop import closing_loop
from tests.runtime.test_record_first import loop_handled, running, until
from tests.scripted_broker import FILL, ScriptedBroker
from tradebot.core.book import PositionBook
from tradebot.core.market import MarketPrices
from tradebot.core.signal import Signal
from tradebot.execution import Executor
from tradebot.journal import EntryFilter, SqliteJournal, Status, open_journal

OPEN = make_signal(opens=[("MSFT", "buy", "100")])


class HeldWrites:
    """The real journal, except that ``record_signal`` waits for ``release`` (a slow fsync),
    after saying it started."""

    def __init__(self, journal: SqliteJournal) -> None:
        self._journal = journal
        self.started = threading.Event()
        self.release = threading.Event()

    def record_signal(self, signal: Signal, *, sync: bool = True) -> int:
        self.started.set()
        if not self.release.wait(10):
            raise TimeoutError("the test never released the write")
        return self._journal.record_signal(signal, sync=sync)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._journal, name)


async def test_the_context_is_read_while_the_signal_is_written_and_nothing_leaves_before(
    tmp_path: Path,
) -> None:
    with open_journal(tmp_path / "j.sqlite") as journal:
        held = HeldWrites(journal)
        broker = ScriptedBroker(fill=False)
        broker.prices["MSFT"] = D(100)
        broker.script = [FILL]
        executor = Executor(held, broker, PositionBook())  # type: ignore[arg-type]
        queue: asyncio.Queue[Signal] = asyncio.Queue()
        loop = closing_loop(executor, journal, make_config(), now=OPEN.received_at, queue=queue)
        async with running(loop.record, loop.run):
            queue.put_nowait(OPEN)
            # the price request goes out while the signal's write is held open...
            await until(lambda: ["MSFT"] in broker.price_requests, "prices asked for")
            assert held.started.is_set()
            # ...and nothing the signal causes: no order, no plan on record
            assert not any(method == "submit" for method, _ in broker.calls)
            assert journal.entries(EntryFilter(statuses=(Status.SIGNAL, Status.PLAN))) == []
            held.release.set()
            await loop_handled(loop, 1)
        (signal_row,) = journal.entries(EntryFilter(statuses=(Status.SIGNAL,)))
        (intent,) = journal.entries(EntryFilter(statuses=(Status.INTENT,)))
        assert intent.signal_id == signal_row.id and intent.id > signal_row.id
        assert [method for method, _ in broker.calls] == ["submit"]


# -- the price request goes out first when the loop waits for the signal --------------------


async def test_a_waiting_loops_signal_asks_its_prices_before_the_loop_takes_it(
    tmp_path: Path,
) -> None:
    with open_journal(tmp_path / "j.sqlite") as journal:
        broker = ScriptedBroker(fill=False)
        broker.prices["MSFT"] = D(100)
        broker.script = [FILL]
        executor = Executor(journal, broker, PositionBook())
        queue: asyncio.Queue[Signal] = asyncio.Queue()
        asked_when_taken: list[list[list[str]]] = []
        loop = closing_loop(
            executor,
            journal,
            make_config(),
            now=OPEN.received_at,
            queue=queue,
            on_signal=lambda signal: asked_when_taken.append(list(broker.price_requests)),
        )
        async with running(loop.record, loop.run):
            await until(lambda: loop.waiting, "the loop waits for signals")
            queue.put_nowait(OPEN)
            await loop_handled(loop, 1)
        # asked as the signal arrived, once: the loop planned with that answer
        assert asked_when_taken == [[["MSFT"]]]
        assert broker.price_requests == [["MSFT"]]
        assert [method for method, _ in broker.calls] == ["submit"]


async def test_a_busy_loops_signal_is_written_at_once_and_priced_when_its_turn_comes(
    tmp_path: Path,
) -> None:
    with open_journal(tmp_path / "j.sqlite") as journal:
        broker = ScriptedBroker(fill=False)
        broker.prices["MSFT"] = D(100)
        broker.script = [FILL]
        executor = Executor(journal, broker, PositionBook())
        queue: asyncio.Queue[Signal] = asyncio.Queue()
        busy = asyncio.Lock()
        loop = closing_loop(
            executor, journal, make_config(), now=OPEN.received_at, queue=queue, busy=busy
        )
        async with running(loop.record, loop.run):
            await until(lambda: loop.waiting, "the loop waits for signals")
            async with busy:  # the re-check (or an earlier signal) holds the loop
                queue.put_nowait(OPEN)
                await until(lambda: loop.owns(1), "on record")
                # a price asked for now could be seconds old when the loop plans with it
                assert broker.price_requests == []
            await loop_handled(loop, 1)
        assert broker.price_requests == [["MSFT"]]
        assert [method for method, _ in broker.calls] == ["submit"]


class HangingPrices(ScriptedBroker):
    """A market-data API that never answers; says whether the request was given up."""

    def __init__(self) -> None:
        super().__init__(fill=False)
        self.asked = asyncio.Event()
        self.given_up = False

    async def reference_prices(self, symbols: Sequence[str]) -> MarketPrices:
        self.asked.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.given_up = True
            raise
        raise AssertionError("unreachable")


async def test_prices_asked_for_a_signal_never_planned_are_given_up_at_the_stop(
    tmp_path: Path,
) -> None:
    with open_journal(tmp_path / "j.sqlite") as journal:
        broker = HangingPrices()
        executor = Executor(journal, broker, PositionBook())
        queue: asyncio.Queue[Signal] = asyncio.Queue()
        busy = asyncio.Lock()
        loop = closing_loop(
            executor,
            journal,
            make_config(),
            now=OPEN.received_at,
            queue=queue,
            busy=busy,
            price_timeout=3600,  # the request would hang for the test's whole life
        )
        async with running(loop.record, loop.run):
            await until(lambda: loop.waiting, "the loop waits for signals")
            queue.put_nowait(OPEN)
            await asyncio.sleep(0)  # the journal worker takes it: prices asked, loop woken
            async with busy:  # ...and the stop wins the lock before the loop handles it
                async with asyncio.timeout(10):
                    await broker.asked.wait()
                await until(lambda: loop.owns(1), "on record")
        # both tasks canceled: the signal waits on record for the next start, unplanned, and
        # the price request made for it is not left running
        async with asyncio.timeout(10):  # a request left running: a hang
            await loop.journal_waiting(journal)
        assert broker.given_up
        assert len(journal.entries(EntryFilter(statuses=(Status.SIGNAL,)))) == 1
        assert journal.entries(EntryFilter(statuses=(Status.PLAN,))) == []
