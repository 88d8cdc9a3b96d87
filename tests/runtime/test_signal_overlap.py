"""The loop reads a signal's context (account, assets, reference prices) while the journal
worker's write of the signal is still under way, and nothing the signal causes leaves before
that write is done (runtime/signals.py). The write is held open by a journal that waits for the
test before it writes; everything else is the real loop, planner, executor and journal."""

from __future__ import annotations

import asyncio
import threading
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from tests.core.helpers import make_config, make_signal
from tests.runtime.closing_loop import closing_loop
from tests.runtime.test_record_first import loop_handled, running, until
from tests.scripted_broker import FILL, ScriptedBroker
from tradebot.core.book import PositionBook
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

    def record_signal(self, signal: Signal) -> int:
        self.started.set()
        if not self.release.wait(10):
            raise TimeoutError("the test never released the write")
        return self._journal.record_signal(signal)

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
