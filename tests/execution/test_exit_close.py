"""A close that leaves shares held gets their exits back: the close canceled the algorithm's
exits (as runtime/close_cancel.py does: a ``cancel_for_close`` row, then the cancel), then
filled 4 of 10. Once it is over, the exit manager attaches the algorithm's configured exits
again for the 6 still held, priced as the canceled ones were, and says so (an ``exit`` row, an
ERROR row, the alert, the output). The other sides: a close that fills completely, a close of
shares that had no exits, a later leg, no exits configured, the kill switch, a restart."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest

from tests.core.helpers import ACCOUNT, make_config, make_signal, run
from tests.execution.test_exit_manager import BOTH, OPEN, entry_for
from tests.scripted_broker import T0, ScriptedBroker
from tradebot.core.book import PositionBook
from tradebot.core.events import OrderCanceled, OrderFilled
from tradebot.core.ids import exit_id
from tradebot.core.order_shape import Oco, OrderClass
from tradebot.core.orders import ExitTerms, IntentRole, OrderIntent, Plan
from tradebot.core.signal import Side
from tradebot.execution import Executor
from tradebot.execution.close_exits import REPROTECT
from tradebot.execution.exit_manager import CANCEL_FOR_CLOSE, ExitManager
from tradebot.journal import EntryFilter, SqliteJournal, Status, open_journal
from tradebot.journal.records import intent_from_entry

CLOSE = make_signal(closes=[("AAPL", "sell", "100")], at=T0 + timedelta(minutes=1))
TERMS = ExitTerms(take_profit_pct=D(5), stop_loss_pct=D(2), trailing_stop_pct=None)


@dataclass
class Rig:
    journal: SqliteJournal
    broker: ScriptedBroker
    executor: Executor
    halted: list[bool] = field(default_factory=lambda: [False])
    terms: list[ExitTerms | None] = field(default_factory=lambda: [TERMS])
    said: list[str] = field(default_factory=list)
    alerts: list[tuple[str, int]] = field(default_factory=list)

    def manager(self) -> ExitManager:
        """A new manager, as a new process would build it (nothing carried over in memory)."""
        return ExitManager(
            self.executor,
            busy=asyncio.Lock(),
            stopping=asyncio.Event(),
            now=lambda: T0 + timedelta(minutes=5),
            say=self.said.append,
            may_act=lambda intent: not self.halted[0],
            alert=lambda detail, algo_id: self.alerts.append((detail, algo_id)),
            terms=lambda algo_id: self.terms[0] if algo_id == 16 else None,
        )

    async def event(self, coid: str, side: Side, *parts: str, order_qty: str = "10") -> None:
        """Fills of ``coid`` at 100 as the stream reports them; the broker's account follows."""
        cum = D(0)
        for qty in parts:
            cum += D(qty)
            await self.executor.apply_event(
                OrderFilled(
                    client_order_id=coid,
                    broker_order_id="b",
                    at=T0,
                    symbol="AAPL",
                    side=side,
                    qty=D(qty),
                    price=D(100),
                    cum_qty=cum,
                    order_qty=D(order_qty),
                    partial=cum < D(order_qty),
                )
            )
        held = self.broker.extra_positions.get("AAPL", D(0))
        self.broker.extra_positions["AAPL"] = held + cum * side.sign

    async def end(self, coid: str) -> None:
        await self.executor.apply_event(
            OrderCanceled(client_order_id=coid, broker_order_id="b", at=T0, reason="canceled")
        )

    async def protected_entry(self) -> tuple[OrderIntent, OrderIntent]:
        """10 AAPL bought at 100 for algorithm 16, protected by an oco (tp 105, sl 98)."""
        entry = entry_for(BOTH)
        await self.executor.execute(
            Plan(intents=(entry,)), signal_id=self.journal.record_signal(OPEN)
        )
        await self.event(entry.client_order_id, Side.BUY, "10")
        await self.manager().tick()
        oco, stop = self.exits()
        return oco, stop

    async def close(self, *, cancel: tuple[OrderIntent, ...]) -> OrderIntent:
        """The algorithm's close, as the bot makes it: the exits in its way canceled first (a
        row each, then the cancel, confirmed), then the close planned and sent (it rests)."""
        key = CLOSE.legs[0].id.key
        for exit_order in cancel:
            data = {"step": CANCEL_FOR_CLOSE, "close_leg": key}
            self.journal.record_exit(exit_order, "canceling for the close", data, None)
        for exit_order in cancel:
            await self.end(exit_order.client_order_id)
        config = make_config({16: {"exits": BOTH}})
        (close,) = run(CLOSE, book=self.executor.book, config=config, account=ACCOUNT).intents
        assert close.side is Side.SELL and close.qty == D(10) and close.exits is None
        signal_id = self.journal.record_signal(CLOSE)
        await self.executor.execute(Plan(intents=(close,)), signal_id=signal_id)
        return close

    def exits(self) -> list[OrderIntent]:
        rows = self.journal.entries(EntryFilter(statuses=(Status.INTENT,), newest_first=False))
        return [i for i in map(intent_from_entry, rows) if i.role is IntentRole.EXIT]

    def rows(self, status: Status) -> list[str]:
        return [r.detail for r in self.journal.entries(EntryFilter(statuses=(status,)))]

    def steps(self) -> list[str]:
        rows = self.journal.entries(EntryFilter(statuses=(Status.EXIT,), newest_first=False))
        return [str(r.data.get("step")) for r in rows]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with open_journal(tmp_path / "j.sqlite", clock=lambda: datetime.now(UTC)) as journal:
        broker = ScriptedBroker(fill=False)
        yield Rig(journal, broker, Executor(journal, broker, PositionBook()))


async def test_a_close_filling_4_of_10_gets_exits_again_for_the_6_still_held(rig: Rig) -> None:
    oco, stop = await rig.protected_entry()
    close = await rig.close(cancel=(oco, stop))
    manager = rig.manager()
    await manager.tick()
    assert manager.closes.waiting == (close.client_order_id,)  # watched, not over yet
    await rig.event(close.client_order_id, Side.SELL, "4")
    await manager.tick()
    assert len(rig.exits()) == 2  # a close still working may fill: nothing yet
    await rig.end(close.client_order_id)  # the rest of the close is canceled: over, 4 of 10
    assert rig.executor.book.qty(16, "AAPL") == D(6)
    await manager.tick()
    again_oco, again_stop = rig.exits()[2:]
    assert again_oco.client_order_id == exit_id(close.client_order_id, "tp")
    assert again_oco.order_class is OrderClass.OCO and again_oco.side is Side.SELL
    assert again_oco.qty == D(6)
    # priced as the canceled ones: from the entry's fill at 100, +5% and -2%
    assert again_oco.attached == Oco(take_profit=D(105), stop_loss=D(98))
    assert again_stop.parent == again_oco.client_order_id and again_stop.qty == D(6)
    assert ("submit", again_oco.client_order_id) in rig.broker.calls
    # and it is said: an exit row, an ERROR row, the alert, the output
    assert rig.steps()[-1] == REPROTECT
    (error,) = rig.rows(Status.ERROR)
    assert f"close {close.client_order_id} filled 4 of 10 AAPL" in error
    assert "still holds 6 AAPL" in error and "exits attached again for 6 AAPL" in error
    assert rig.alerts == [(error, 16)] and error in rig.said
    assert manager.closes.waiting == ()
    await manager.tick()
    restarted = rig.manager()  # a restart: on record, nothing twice
    await restarted.tick()
    assert restarted.closes.waiting == () and len(rig.exits()) == 4
    assert len(rig.rows(Status.ERROR)) == 1


async def test_a_close_that_fills_completely_leaves_nothing_to_protect(rig: Rig) -> None:
    oco, stop = await rig.protected_entry()
    close = await rig.close(cancel=(oco, stop))
    await rig.event(close.client_order_id, Side.SELL, "4", "6")
    manager = rig.manager()
    await manager.tick()
    assert len(rig.exits()) == 2 and rig.rows(Status.ERROR) == [] and rig.alerts == []
    assert manager.closes.waiting == ()


async def test_a_close_that_canceled_no_exits_is_not_watched(rig: Rig) -> None:
    entry = replace(entry_for({"stop_loss_pct": "2"}), exits=None)  # shares with no exits
    await rig.executor.execute(Plan(intents=(entry,)), signal_id=rig.journal.record_signal(OPEN))
    await rig.event(entry.client_order_id, Side.BUY, "10")
    close = await rig.close(cancel=())
    await rig.event(close.client_order_id, Side.SELL, "4")
    await rig.end(close.client_order_id)
    manager = rig.manager()
    await manager.tick()
    assert rig.exits() == [] and rig.alerts == [] and manager.closes.waiting == ()


async def test_a_later_leg_decides_instead(rig: Rig) -> None:
    oco, stop = await rig.protected_entry()
    close = await rig.close(cancel=(oco, stop))
    await rig.event(close.client_order_id, Side.SELL, "4")
    await rig.end(close.client_order_id)
    rig.journal.record_signal(make_signal(closes=[("AAPL", "sell", "100")], at=T0 + timedelta(2)))
    await rig.manager().tick()
    assert len(rig.exits()) == 2 and rig.alerts == []
    assert rig.steps()[-1] == "superseded"


async def test_no_exits_configured_any_more_says_the_rest_is_unprotected(rig: Rig) -> None:
    oco, stop = await rig.protected_entry()
    close = await rig.close(cancel=(oco, stop))
    await rig.event(close.client_order_id, Side.SELL, "4")
    await rig.end(close.client_order_id)
    rig.terms[0] = None  # the config no longer has exits for algorithm 16
    await rig.manager().tick()
    assert len(rig.exits()) == 2
    (error,) = rig.rows(Status.ERROR)
    assert "still holds 6 AAPL" in error and "UNPROTECTED" in error
    assert rig.alerts == [(error, 16)] and rig.steps()[-1] == "none"


async def test_the_kill_switch_holds_the_exits_back_until_it_is_lifted(rig: Rig) -> None:
    oco, stop = await rig.protected_entry()
    close = await rig.close(cancel=(oco, stop))
    await rig.event(close.client_order_id, Side.SELL, "4")
    await rig.end(close.client_order_id)
    rig.halted[0] = True
    manager = rig.manager()
    await manager.tick()
    assert len(rig.exits()) == 2 and manager.closes.waiting == (close.client_order_id,)
    rig.halted[0] = False
    await manager.tick()
    assert [e.qty for e in rig.exits()[2:]] == [D(6), D(6)]
