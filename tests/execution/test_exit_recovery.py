"""Recovery and exits: a leg (``parent`` set) is never sent by itself, it is settled through its
parent; an exit the crash kept from the broker is sent again whatever the signal's age while
the ledger holds what it would sell, and given up when it does not."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest

from tests.core.helpers import ACCOUNT, make_config, make_signal, run
from tests.scripted_broker import FILL, T0, ScriptedBroker
from tradebot.broker.sim import SimBroker
from tradebot.config.model import SimBrokerConfig
from tradebot.core.book import PositionBook
from tradebot.core.exits import after_fill_exits
from tradebot.core.order_snapshot import OrderStatus
from tradebot.core.orders import OrderIntent, Plan
from tradebot.execution import Executor
from tradebot.execution.recovery import recover
from tradebot.journal import EntryFilter, SqliteJournal, Status, open_journal

OPEN = make_signal(opens=[("AAPL", "buy", "100")], at=T0)
LATE = T0 + timedelta(days=2)  # every signal is stale by now


def planned(exits: dict[str, str], **settings: str) -> tuple[OrderIntent, ...]:
    config = make_config({16: {"exits": exits, **settings}})
    return run(OPEN, config=config, account=ACCOUNT).intents


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    with open_journal(tmp_path / "j.sqlite") as opened:
        yield opened


def statuses(journal: SqliteJournal, coid: str) -> list[Status]:
    where = EntryFilter(client_order_ids=(coid,), newest_first=False)
    return [e.status for e in journal.entries(where)]


async def test_an_unsent_exit_is_sent_at_recovery_while_the_ledger_holds(
    journal: SqliteJournal,
) -> None:
    broker = ScriptedBroker(fill=False)
    (entry,) = planned({"stop_loss_pct": "2"}, order_type="limit")
    executor = Executor(journal, broker, PositionBook())
    broker.script = [FILL]
    await executor.execute(Plan(intents=(entry,)), signal_id=journal.record_signal(OPEN))
    await executor.record_snapshot(broker.orders[entry.client_order_id], "lookup")
    (stop,) = after_fill_exits(entry, D(10), D(100))
    journal.record_plan(None, Plan(intents=(stop,)))  # the crash came before it was sent
    await recover(journal, broker, now=LATE, max_age=timedelta(minutes=5))
    assert broker.submissions(stop.client_order_id) == 1
    assert Status.FAILED not in statuses(journal, stop.client_order_id)


async def test_an_unsent_exit_is_given_up_when_the_ledger_no_longer_holds(
    journal: SqliteJournal,
) -> None:
    broker = ScriptedBroker(fill=False)
    (entry,) = planned({"stop_loss_pct": "2"}, order_type="limit")
    (stop,) = after_fill_exits(entry, D(10), D(100))
    journal.record_plan(None, Plan(intents=(stop,)))
    report = await recover(journal, broker, now=LATE, max_age=timedelta(minutes=5))
    assert broker.submissions(stop.client_order_id) == 0
    ((coid, why),) = report.failed
    assert coid == stop.client_order_id and "holds 0 AAPL" in why


async def test_bracket_legs_are_never_sent_and_settle_through_their_parent(
    journal: SqliteJournal,
) -> None:
    config = SimBrokerConfig(prices={"AAPL": D(100)}, slippage_bps=D(0))
    async with SimBroker(config) as sim:
        entry, tp, sl = planned({"take_profit_pct": "5", "stop_loss_pct": "2"})
        # the crash came after the plan was durable, before the entry left
        journal.record_plan(journal.record_signal(OPEN), Plan(intents=(entry, tp, sl)))
        fresh = OPEN.received_at + timedelta(seconds=1)
        report = await recover(journal, sim, now=fresh, max_age=timedelta(minutes=5))
        assert report.resent == (entry.client_order_id,)
        for leg in (tp, sl):
            assert Status.ACCEPTED in statuses(journal, leg.client_order_id)
            assert Status.FAILED not in statuses(journal, leg.client_order_id)
        assert report.book.qty(16, "AAPL") == D(10)
        sim.set_price("AAPL", D(97))
        snapshot = await sim.get_order(sl.client_order_id)  # the sim knows our leg ids
        assert snapshot is not None and snapshot.status is OrderStatus.FILLED
        again = await recover(journal, sim, now=fresh, max_age=timedelta(minutes=5))
        assert again.book.qty(16, "AAPL") == 0 and again.resent == ()


async def test_legs_of_an_entry_given_up_at_recovery_are_given_up_too(
    journal: SqliteJournal,
) -> None:
    broker = ScriptedBroker(fill=False)
    entry, tp, sl = planned({"take_profit_pct": "5", "stop_loss_pct": "2"})
    journal.record_plan(journal.record_signal(OPEN), Plan(intents=(entry, tp, sl)))
    report = await recover(journal, broker, now=LATE, max_age=timedelta(minutes=5))
    assert broker.calls == [
        ("get_order", entry.client_order_id),
        ("get_order", tp.client_order_id),
        ("get_order", entry.client_order_id),
        ("get_order", sl.client_order_id),
        ("get_order", entry.client_order_id),
    ]
    assert {c for c, _ in report.failed} == {c.client_order_id for c in (entry, tp, sl)}
