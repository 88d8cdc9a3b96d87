"""A close cancels its algorithm's orders still working in the symbol before it is planned, not
only exits: an entry still resting could fill after the close (the algorithm would hold what it
was told to close), an earlier close still resting would sell a second time. Scripted broker:
every cancel and fill happens exactly when the test says."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest

from tests.core.helpers import make_config, make_signal
from tests.runtime.closing_loop import closing_loop
from tests.scripted_broker import T0, ScriptedBroker
from tradebot.config.model import Config
from tradebot.core.book import PositionBook
from tradebot.core.order_snapshot import OrderStatus
from tradebot.core.orders import IntentRole, OrderIntent
from tradebot.core.risk import DayState
from tradebot.core.signal import Signal
from tradebot.execution import Executor
from tradebot.execution.exit_manager import CANCEL_FOR_CLOSE
from tradebot.journal import EntryFilter, SqliteJournal, Status, open_journal
from tradebot.journal.records import intent_from_entry
from tradebot.runtime.signals import SignalLoop, planner_for

LIMITS = make_config({16: {"order_type": "limit", "time_in_force": "gtc"}})
OPEN = make_signal(opens=[("AAPL", "buy", "100")], at=T0)
CLOSE = make_signal(closes=[("AAPL", "sell", "100")], at=T0 + timedelta(minutes=1))
CLOSE_AGAIN = make_signal(closes=[("AAPL", "sell", "100")], at=T0 + timedelta(minutes=2))


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    with open_journal(tmp_path / "j.sqlite") as j:
        yield j


@dataclass
class Rig:
    journal: SqliteJournal
    broker: ScriptedBroker
    executor: Executor
    loop: SignalLoop

    async def sync(self) -> None:
        for snap in list(self.broker.orders.values()):
            await self.executor.record_snapshot(snap, "lookup")

    def intents(self, role: IntentRole) -> list[OrderIntent]:
        rows = self.journal.entries(EntryFilter(statuses=(Status.INTENT,), newest_first=False))
        return [i for i in map(intent_from_entry, rows) if i.role is role]

    def canceled_for_close(self) -> list[str]:
        rows = self.journal.entries(EntryFilter(statuses=(Status.EXIT,), newest_first=False))
        return [r.detail for r in rows if r.data.get("step") == CANCEL_FOR_CLOSE]

    def skips(self) -> list[str]:
        rows = self.journal.entries(EntryFilter(statuses=(Status.SKIPPED,)))
        return [str(r.data["reason"]) for r in rows]


async def make_rig(journal: SqliteJournal, config: Config = LIMITS) -> Rig:
    broker = ScriptedBroker(fill=False)  # orders rest until the test fills or ends them
    broker.prices["AAPL"] = D(100)
    broker.slippage = D(0)
    broker.on_cancel = broker.end  # the broker confirms every cancel at once
    executor = Executor(journal, broker, PositionBook())
    loop = closing_loop(executor, journal, config, now=T0 + timedelta(minutes=2, seconds=1))
    return Rig(journal, broker, executor, loop)


async def opened(rig: Rig, signal: Signal = OPEN) -> str:
    """The entry, sent and resting at the broker (nothing filled)."""
    planner = planner_for(
        LIMITS,
        await rig.broker.account(),
        T0,
        day=DayState(),
        market=await rig.broker.reference_prices(["AAPL"]),
    )
    await rig.executor.handle(signal, planner)
    (entry,) = rig.intents(IntentRole.OPEN)
    return entry.client_order_id


async def test_a_close_cancels_the_working_entry_first_and_sells_what_it_filled(
    journal: SqliteJournal,
) -> None:
    rig = await make_rig(journal)
    entry = await opened(rig)
    rig.broker.fill(entry, D(4))  # 4 of 10 filled; the limit keeps working
    await rig.sync()
    assert rig.executor.book.qty(16, "AAPL") == D(4)
    await rig.loop.handle(CLOSE)
    (close,) = rig.intents(IntentRole.CLOSE)
    assert close.qty == D(4)  # what the ledger holds once the entry can fill no more
    calls = rig.broker.calls
    assert calls.index(("cancel", entry)) < calls.index(("submit", close.client_order_id))
    assert rig.broker.orders[entry].status is OrderStatus.CANCELED
    (why,) = rig.canceled_for_close()
    assert why.startswith(f"canceling working open {entry} (buy 10 AAPL) for the close")
    assert "could fill after the close" in why


async def test_a_close_for_an_entry_that_never_filled_cancels_it_and_holds_nothing(
    journal: SqliteJournal,
) -> None:
    rig = await make_rig(journal)
    entry = await opened(rig)
    await rig.loop.handle(CLOSE)
    assert rig.broker.orders[entry].status is OrderStatus.CANCELED  # it can never fill now
    assert rig.intents(IntentRole.CLOSE) == [] and rig.skips() == ["not_held"]
    assert rig.executor.book.qty(16, "AAPL") == 0


async def test_an_entry_filling_while_its_cancel_is_in_flight_is_closed_exactly(
    journal: SqliteJournal,
) -> None:
    rig = await make_rig(journal)
    entry = await opened(rig)
    rig.broker.on_cancel = rig.broker.fill  # too late: it fills instead
    await rig.loop.handle(CLOSE)
    assert rig.broker.orders[entry].status is OrderStatus.FILLED
    (close,) = rig.intents(IntentRole.CLOSE)
    assert close.qty == D(10)  # the whole fill, seen before the close was planned


async def test_an_earlier_close_still_working_is_canceled_before_the_next_one(
    journal: SqliteJournal,
) -> None:
    rig = await make_rig(journal)
    entry = await opened(rig)
    rig.broker.fill(entry)
    await rig.sync()
    await rig.loop.handle(CLOSE)  # a sell limit for 10: it rests, unfilled
    (first,) = rig.intents(IntentRole.CLOSE)
    assert rig.broker.orders[first.client_order_id].status is OrderStatus.PENDING
    await rig.loop.handle(CLOSE_AGAIN)
    assert rig.broker.orders[first.client_order_id].status is OrderStatus.CANCELED
    _, second = rig.intents(IntentRole.CLOSE)
    assert second.qty == D(10)
    live_sells = [
        o for o in rig.broker.orders.values() if o.side == "sell" and not o.status.is_final
    ]
    assert [o.client_order_id for o in live_sells] == [second.client_order_id]  # one, not two
