"""The exit manager: an entry that could not carry bracket legs gets its exits once it has
filled: priced from the average of its fills, for whole shares only, never more than the
ledger and the account hold; not after a later leg of the same algorithm and symbol; not while
the kill switch halts; resumed after a restart without a second set; and a position whose exits
ended without filling is reported unprotected (an ERROR row)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest

from tests.core.helpers import ACCOUNT, make_config, make_signal, run
from tests.scripted_broker import T0, ScriptedBroker
from tradebot.core.book import PositionBook
from tradebot.core.events import OrderCanceled, OrderFilled
from tradebot.core.ids import exit_id
from tradebot.core.order_shape import Limit, Oco, OrderClass, OrderType, Stop, TrailingStop
from tradebot.core.order_snapshot import OrderStatus
from tradebot.core.orders import IntentRole, OrderIntent, Plan
from tradebot.core.signal import Side
from tradebot.execution import Executor
from tradebot.execution.chaser import remainder_intent
from tradebot.execution.exit_manager import CANCEL_FOR_CLOSE, ExitManager
from tradebot.journal import EntryFilter, SqliteJournal, Status, open_journal
from tradebot.journal.records import intent_from_entry

BOTH = {"take_profit_pct": "5", "stop_loss_pct": "2"}
OPEN = make_signal(opens=[("AAPL", "buy", "100")])


def entry_for(exits: dict[str, str], **settings: str) -> OrderIntent:
    """The planner's entry for a limit day order (its exits go after the fill)."""
    config = make_config({16: {"exits": exits, "order_type": "limit", **settings}})
    (entry,) = run(OPEN, config=config, account=ACCOUNT).intents
    assert entry.exits is not None and entry.order_class is OrderClass.SIMPLE
    return entry


@dataclass
class Rig:
    journal: SqliteJournal
    broker: ScriptedBroker
    executor: Executor
    halted: list[bool] = field(default_factory=lambda: [False])

    def manager(self) -> ExitManager:
        """A new manager, as a new process would build it (nothing carried over in memory)."""
        return ExitManager(
            self.executor,
            busy=asyncio.Lock(),
            stopping=asyncio.Event(),
            now=lambda: T0 + timedelta(minutes=5),
            may_act=lambda intent: not self.halted[0],
        )

    async def send(self, entry: OrderIntent) -> None:
        await self.executor.execute(
            Plan(intents=(entry,)), signal_id=self.journal.record_signal(OPEN)
        )

    async def fill(self, coid: str, *parts: tuple[str, str], order_qty: str = "10") -> None:
        """Fills of ``coid`` at chosen prices, as the stream reports them; the broker's
        account follows (the scripted broker's positions come from its own orders)."""
        cum = D(0)
        events = []
        for qty, price in parts:
            cum += D(qty)
            events.append(
                OrderFilled(
                    client_order_id=coid,
                    broker_order_id="b",
                    at=T0,
                    symbol="AAPL",
                    side=Side.BUY,
                    qty=D(qty),
                    price=D(price),
                    cum_qty=cum,
                    order_qty=D(order_qty),
                    partial=cum < D(order_qty),
                )
            )
        await self.executor.apply_events(events)
        held = self.broker.extra_positions.get("AAPL", D(0))
        self.broker.extra_positions["AAPL"] = held + cum

    async def end(self, coid: str) -> None:
        await self.executor.apply_event(
            OrderCanceled(client_order_id=coid, broker_order_id="b", at=T0, reason="canceled")
        )

    def intents(self, role: IntentRole = IntentRole.EXIT) -> list[OrderIntent]:
        rows = self.journal.entries(EntryFilter(statuses=(Status.INTENT,), newest_first=False))
        return [i for i in map(intent_from_entry, rows) if i.role is role]

    def exit_steps(self) -> list[str]:
        rows = self.journal.entries(EntryFilter(statuses=(Status.EXIT,), newest_first=False))
        return [str(r.data.get("step")) for r in rows]

    def errors(self) -> list[str]:
        return [r.detail for r in self.journal.entries(EntryFilter(statuses=(Status.ERROR,)))]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with open_journal(tmp_path / "j.sqlite", clock=lambda: datetime.now(UTC)) as journal:
        broker = ScriptedBroker(fill=False)
        yield Rig(journal, broker, Executor(journal, broker, PositionBook()))


async def test_exits_go_after_the_fill_priced_from_the_average_of_its_fills(rig: Rig) -> None:
    entry = entry_for(BOTH)
    await rig.send(entry)
    manager = rig.manager()
    await manager.tick()
    assert manager.waiting == (entry.client_order_id,) and rig.intents() == []
    await rig.fill(entry.client_order_id, ("4", "100.00"), ("6", "101.00"))  # average 100.60
    await manager.tick()
    oco, stop = rig.intents()
    assert oco.client_order_id == exit_id(entry.client_order_id, "tp")
    assert oco.order_class is OrderClass.OCO and oco.qty == D(10) and oco.side is Side.SELL
    assert (oco.price, oco.attached) == (Limit(D("105.63")), Oco(D("105.63"), D("98.59")))
    assert stop.client_order_id == exit_id(entry.client_order_id, "sl")
    assert stop.parent == oco.client_order_id and stop.price == Stop(D("98.59"))
    # the oco went to the broker; its stop leg travels with it, never alone
    assert [c for c in rig.broker.calls if c[0] == "submit"][1:] == [
        ("submit", oco.client_order_id)
    ]
    assert manager.waiting == ()
    await manager.tick()
    assert len(rig.intents()) == 2  # nothing twice


async def test_only_whole_shares_get_exits_and_the_rest_is_journaled(rig: Rig) -> None:
    entry = replace(entry_for({"stop_loss_pct": "2"}), qty=D("10.5"))
    await rig.send(entry)
    await rig.fill(entry.client_order_id, ("10.5", "100"), order_qty="10.5")
    await rig.manager().tick()
    (stop,) = rig.intents()
    assert stop.order_type is OrderType.STOP and stop.qty == D(10)
    assert rig.exit_steps() == ["partial"]
    (row,) = rig.journal.entries(EntryFilter(statuses=(Status.EXIT,)))
    assert "fractional rest 0.5 is left without exits" in row.detail


async def test_exits_never_cover_more_than_the_account_holds(rig: Rig) -> None:
    entry = entry_for(BOTH)
    await rig.send(entry)
    await rig.fill(entry.client_order_id, ("10", "100"))
    rig.broker.extra_positions["AAPL"] = D(4)  # another algorithm's short nets with ours
    await rig.manager().tick()
    oco, _ = rig.intents()
    assert oco.qty == D(4)
    rig.broker.extra_positions["AAPL"] = D(0)
    other = replace(entry, client_order_id="tb16-AAPL-o-other")
    await rig.send(other)
    await rig.fill(other.client_order_id, ("3", "100"), order_qty="10")
    await rig.end(other.client_order_id)
    await rig.manager().tick()
    assert len(rig.intents()) == 2 and rig.exit_steps()[-1] == "none"


async def test_no_exits_after_a_later_leg_of_the_same_algorithm_and_symbol(rig: Rig) -> None:
    entry = entry_for(BOTH)
    await rig.send(entry)
    rig.journal.record_signal(make_signal(closes=[("AAPL", "sell", "100")], at=T0))
    await rig.fill(entry.client_order_id, ("10", "100"))
    await rig.manager().tick()
    assert rig.intents() == [] and rig.exit_steps() == ["superseded"]


async def test_a_halted_kill_switch_holds_the_exits_back_until_it_is_lifted(rig: Rig) -> None:
    entry = entry_for({"trailing_stop_pct": "1.5"})
    await rig.send(entry)
    await rig.fill(entry.client_order_id, ("10", "100"))
    rig.halted[0] = True
    manager = rig.manager()
    await manager.tick()
    assert rig.intents() == [] and manager.waiting == (entry.client_order_id,)
    rig.halted[0] = False
    await manager.tick()
    (trail,) = rig.intents()
    assert trail.price == TrailingStop(D("1.5"))
    assert trail.client_order_id == exit_id(entry.client_order_id, "ts")


async def test_a_restart_places_exits_that_were_due_and_never_twice(rig: Rig) -> None:
    entry = entry_for(BOTH)
    await rig.send(entry)
    await rig.fill(entry.client_order_id, ("10", "100"))  # filled while no manager ran
    await rig.manager().tick()  # the first process after the crash
    assert len(rig.intents()) == 2
    rows = len(rig.journal.entries(EntryFilter()))
    restarted = rig.manager()
    await restarted.tick()
    assert restarted.waiting == () and len(rig.intents()) == 2
    # not even tried again: no second plan, no duplicate refused by the journal
    assert len(rig.journal.entries(EntryFilter())) == rows


async def test_a_chased_limit_gets_its_exits_once_its_remainder_is_final(rig: Rig) -> None:
    entry = entry_for(BOTH, order_type="limit_then_market")
    assert entry.chase is not None
    await rig.send(entry)
    manager = rig.manager()
    await rig.fill(entry.client_order_id, ("4", "100"))
    rig.journal.record_chase(entry, "chasing", {"step": "cancel"}, None)
    await rig.end(entry.client_order_id)
    await manager.tick()
    assert rig.intents() == []  # the remainder is still to come
    remainder = remainder_intent(entry, D(6), "timer")
    assert remainder.exits is None  # the limit's exits cover it
    await rig.executor.execute(Plan(intents=(remainder,)))
    await manager.tick()
    assert rig.intents() == []
    await rig.fill(remainder.client_order_id, ("6", "102"), order_qty="6")
    await manager.tick()
    oco, _ = rig.intents()
    # priced from the fills' average, 101.2 (4 @ 100, 6 @ 102): +5% and -2%, on the tick
    assert oco.qty == D(10)
    assert oco.attached == Oco(take_profit=D("106.26"), stop_loss=D("99.18"))
    assert oco.client_order_id == exit_id(entry.client_order_id, "tp")


async def test_exits_ending_unfilled_while_the_position_is_held_raise_an_error(rig: Rig) -> None:
    entry = entry_for({"stop_loss_pct": "2"})
    await rig.send(entry)
    await rig.fill(entry.client_order_id, ("10", "100"))
    manager = rig.manager()
    await manager.tick()
    (stop,) = rig.intents()
    rig.broker.end(stop.client_order_id, OrderStatus.EXPIRED)  # at the broker, not by us
    snapshot = await rig.broker.get_order(stop.client_order_id)
    assert snapshot is not None
    await rig.executor.record_snapshot(snapshot, "lookup")
    await manager.tick()
    (error,) = rig.errors()
    assert "POSITION UNPROTECTED" in error and stop.client_order_id in error
    assert "still holds 10 AAPL" in error
    await manager.tick()
    await rig.manager().tick()  # a restart does not report it again
    assert len(rig.errors()) == 1


async def test_exits_canceled_for_a_close_or_after_a_fill_are_not_an_alarm(rig: Rig) -> None:
    entry = entry_for(BOTH)
    await rig.send(entry)
    await rig.fill(entry.client_order_id, ("10", "100"))
    manager = rig.manager()
    await manager.tick()
    oco, stop = rig.intents()
    rig.journal.record_exit(oco, "for the close", {"step": CANCEL_FOR_CLOSE}, None)
    rig.journal.record_exit(stop, "for the close", {"step": CANCEL_FOR_CLOSE}, None)
    await rig.end(oco.client_order_id)
    await rig.end(stop.client_order_id)
    await manager.tick()
    assert rig.errors() == []
