"""Exit orders through the executor and the journal, with the sim broker as the market: a
bracket's legs are journaled with their entry and never sent alone; the broker's legs, named by
our ids, are recorded under them, so an exit's fill lands on the algorithm's ledger; a stop
fills at the market price when the price gaps through it; one exit filling ends its sibling; and
shares held for exits cannot be sold by another order."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from decimal import Decimal as D
from pathlib import Path

import pytest

from tests.core.helpers import ACCOUNT, make_config, make_signal, run
from tests.scripted_broker import ScriptedBroker
from tradebot.broker.sim import SimBroker
from tradebot.config.model import SimBrokerConfig
from tradebot.core.book import PositionBook
from tradebot.core.exits import after_fill_exits
from tradebot.core.order_shape import OrderClass
from tradebot.core.order_snapshot import OrderStatus
from tradebot.core.orders import ExitTerms, IntentRole, Plan
from tradebot.core.signal import Side
from tradebot.exceptions import OrderRejected
from tradebot.execution import Executor
from tradebot.journal import EntryFilter, SqliteJournal, Status, open_journal

BOTH = {"take_profit_pct": "5", "stop_loss_pct": "2"}
OPEN = make_signal(opens=[("AAPL", "buy", "100")])


def bracket_plan(book: PositionBook) -> Plan:
    return run(OPEN, book, config=make_config({16: {"exits": BOTH}}), account=ACCOUNT)


@dataclass
class Rig:
    journal: SqliteJournal
    sim: SimBroker
    executor: Executor

    def rows(self, coid: str) -> list[Status]:
        where = EntryFilter(client_order_ids=(coid,), newest_first=False)
        return [r.status for r in self.journal.entries(where)]

    def fills(self, coid: str) -> list[tuple[int | None, str | None, D | None, D | None]]:
        where = EntryFilter(client_order_ids=(coid,), statuses=(Status.FILLED,))
        return [(r.algo_id, r.side, r.qty, r.price) for r in self.journal.entries(where)]


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    with open_journal(tmp_path / "j.sqlite") as opened:
        yield opened


@pytest.fixture
async def rig(journal: SqliteJournal) -> AsyncIterator[Rig]:
    config = SimBrokerConfig(prices={"AAPL": D(100)}, slippage_bps=D(0))
    async with SimBroker(config) as sim:
        yield Rig(journal, sim, Executor(journal, sim, PositionBook()))


async def test_a_bracket_entrys_legs_are_journaled_and_never_sent(journal: SqliteJournal) -> None:
    broker = ScriptedBroker(fill=False)
    executor = Executor(journal, broker, PositionBook())
    plan = bracket_plan(executor.book)
    entry, tp, sl = plan.intents
    await executor.execute(plan, signal_id=journal.record_signal(OPEN))
    assert broker.calls == [("submit", entry.client_order_id)]
    for leg in (tp, sl):
        (row,) = journal.entries(
            EntryFilter(client_order_ids=(leg.client_order_id,), statuses=(Status.INTENT,))
        )
        assert row.algo_id == 16 and row.data["parent"] == entry.client_order_id


async def test_a_stop_leg_fill_lands_on_the_algorithms_ledger_by_our_id(rig: Rig) -> None:
    plan = bracket_plan(rig.executor.book)
    entry, tp, sl = plan.intents
    (outcome,) = (await rig.executor.execute(plan, signal_id=rig.journal.record_signal(OPEN))).sent
    assert outcome.snapshot is not None and outcome.snapshot.status is OrderStatus.FILLED
    assert {leg.client_order_id for leg in outcome.snapshot.legs} == {
        tp.client_order_id,
        sl.client_order_id,
    }
    assert rig.executor.book.qty(16, "AAPL") == D(10)
    assert Status.ACCEPTED in rig.rows(sl.client_order_id)  # the legs, live, under our ids
    rig.sim.set_price("AAPL", D("97.50"))  # gaps through the 98.00 stop: fills at the market
    snapshot = await rig.sim.get_order(entry.client_order_id)
    assert snapshot is not None
    await rig.executor.record_snapshot(snapshot, "lookup")
    assert rig.fills(sl.client_order_id) == [(16, "sell", D(10), D("97.50"))]
    assert rig.executor.book.qty(16, "AAPL") == 0
    assert Status.CANCELED in rig.rows(tp.client_order_id)  # its sibling ended with it
    assert await rig.sim.positions() == {}
    # the same snapshot looked up again records nothing more
    before = len(rig.journal.entries(EntryFilter()))
    await rig.executor.record_snapshot(snapshot, "lookup")
    assert len(rig.journal.entries(EntryFilter())) == before + 1  # the parent's lookup row only


async def test_an_oco_after_the_fill_takes_profit_and_ends_its_stop(rig: Rig) -> None:
    plan = bracket_plan(rig.executor.book)
    entry = plan.intents[0]
    plain = replace(entry, attached=None)
    await rig.executor.execute(Plan(intents=(plain,)), signal_id=rig.journal.record_signal(OPEN))
    oco, stop = after_fill_exits(plain, D(10), D(100))
    assert oco.order_class is OrderClass.OCO and stop.parent == oco.client_order_id
    outcomes = (await rig.executor.execute(Plan(intents=(oco, stop)))).outcomes
    assert [o.intent.client_order_id for o in outcomes] == [oco.client_order_id]
    assert Status.ACCEPTED in rig.rows(stop.client_order_id)  # from the oco's snapshot
    rig.sim.set_price("AAPL", D("106"))
    snapshot = await rig.sim.get_order(oco.client_order_id)
    assert snapshot is not None
    await rig.executor.record_snapshot(snapshot, "lookup")
    # the take-profit rested at 105 (the market was 100): it fills at its limit
    assert rig.fills(oco.client_order_id) == [(16, "sell", D(10), D("105"))]
    assert Status.CANCELED in rig.rows(stop.client_order_id)
    assert rig.executor.book.qty(16, "AAPL") == 0


async def test_an_oco_after_the_fill_stops_out_and_ends_its_take_profit(rig: Rig) -> None:
    plan = bracket_plan(rig.executor.book)
    plain = replace(plan.intents[0], attached=None)
    await rig.executor.execute(Plan(intents=(plain,)), signal_id=rig.journal.record_signal(OPEN))
    oco, stop = after_fill_exits(plain, D(10), D(100))
    await rig.executor.execute(Plan(intents=(oco, stop)))
    rig.sim.set_price("AAPL", D("97"))  # through the stop leg (98): it is live, not held
    snapshot = await rig.sim.get_order(oco.client_order_id)
    assert snapshot is not None
    await rig.executor.record_snapshot(snapshot, "lookup")
    assert rig.fills(stop.client_order_id) == [(16, "sell", D(10), D("97"))]
    assert Status.CANCELED in rig.rows(oco.client_order_id)
    assert rig.executor.book.qty(16, "AAPL") == 0


async def test_a_trailing_stop_follows_the_best_price(rig: Rig) -> None:
    plan = bracket_plan(rig.executor.book)
    plain = replace(
        plan.intents[0],
        attached=None,
        exits=ExitTerms(take_profit_pct=None, stop_loss_pct=None, trailing_stop_pct=D(2)),
    )
    await rig.executor.execute(Plan(intents=(plain,)))
    (trail,) = after_fill_exits(plain, D(10), D(100))
    await rig.executor.execute(Plan(intents=(trail,)))
    rig.sim.set_price("AAPL", D(110))  # the stop follows to 107.80
    rig.sim.set_price("AAPL", D(108))
    assert (await rig.sim.positions()) == {"AAPL": D(10)}
    rig.sim.set_price("AAPL", D("107.70"))
    snapshot = await rig.sim.get_order(trail.client_order_id)
    assert snapshot is not None and snapshot.status is OrderStatus.FILLED
    assert snapshot.filled_avg_price == D("107.70")


async def test_shares_held_for_exits_cannot_be_sold_by_another_order(rig: Rig) -> None:
    plan = bracket_plan(rig.executor.book)
    await rig.executor.execute(plan)
    close = run(
        make_signal(closes=[("AAPL", "sell", "100")]),
        rig.executor.book,
        config=make_config({16: {}}),
        account=ACCOUNT,
    ).intents[0]
    assert close.side is Side.SELL and close.role is IntentRole.CLOSE
    with pytest.raises(OrderRejected, match="insufficient qty available"):
        await rig.sim.submit(close)
    await rig.sim.cancel(plan.intents[0].client_order_id)  # the entry is filled: a no-op
    for leg in plan.exits:
        await rig.sim.cancel(leg.client_order_id)
    snapshot = await rig.sim.submit(close)
    assert snapshot.status is OrderStatus.FILLED and await rig.sim.positions() == {}
