"""A close cancels the position's live exits first, confirmed, then closes what the ledger still
holds: through the real signal loop, planner, executor and journal, with the scripted broker
deciding what each cancel does (confirmed, a stop filling while its cancel is in flight, or no
answer in time). Hypothesis runs the stop's fill against the close in every order: the
algorithm never sells more than it bought and no order crosses zero."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.core.helpers import make_config, make_signal
from tests.runtime.closing_loop import closing_loop
from tests.scripted_broker import FILL, T0, ScriptedBroker
from tradebot.core.book import PositionBook
from tradebot.core.exits import after_fill_exits
from tradebot.core.order_snapshot import OrderStatus
from tradebot.core.orders import IntentRole, OrderIntent, Plan, SkipReason
from tradebot.core.risk import DayState
from tradebot.execution import Executor
from tradebot.execution.exit_manager import CANCEL_FOR_CLOSE
from tradebot.execution.recovery import recover
from tradebot.journal import EntryFilter, SqliteJournal, Status, open_journal
from tradebot.journal.records import intent_from_entry
from tradebot.journal.review import describe, story
from tradebot.runtime.close_cancel import CloseCanceler, orders_in_way
from tradebot.runtime.observer import BotEvent, ErrorRecorded
from tradebot.runtime.signals import SignalLoop, planner_for

CONFIG = make_config({16: {"exits": {"stop_loss_pct": "2"}, "order_type": "limit"}})
OPEN = make_signal(opens=[("AAPL", "buy", "100")], at=T0)
CLOSE = make_signal(closes=[("AAPL", "sell", "99")], at=T0 + timedelta(minutes=1))


@dataclass
class Rig:
    journal: SqliteJournal
    broker: ScriptedBroker
    executor: Executor
    loop: SignalLoop
    stop: OrderIntent

    async def sync(self) -> None:
        """Record what the broker shows of every order (its stream is not consumed here)."""
        for snap in list(self.broker.orders.values()):
            await self.executor.record_snapshot(snap, "lookup")

    def sold(self) -> D:
        """What the algorithm's ledger sold, from the journal's fills."""
        rows = self.journal.entries(
            EntryFilter(algo_ids=(16,), statuses=(Status.PARTIAL, Status.FILLED))
        )
        return sum((r.qty or D(0) for r in rows if r.side == "sell"), D(0))

    def submitted_sells(self) -> list[str]:
        return [
            c
            for m, c in self.broker.calls
            if m == "submit"
            and self.broker.orders.get(c) is not None
            and self.broker.orders[c].side == "sell"
        ]

    def skips(self) -> list[tuple[str, str]]:
        rows = self.journal.entries(EntryFilter(statuses=(Status.SKIPPED,), newest_first=False))
        return [(str(r.data["reason"]), r.detail) for r in rows]

    def closes(self) -> list[OrderIntent]:
        rows = self.journal.entries(EntryFilter(statuses=(Status.INTENT,), newest_first=False))
        return [i for i in map(intent_from_entry, rows) if i.role is IntentRole.CLOSE]


async def make_rig(
    journal: SqliteJournal,
    *,
    told: list[BotEvent] | None = None,
    alert_after: float = 60.0,
    monotonic: Callable[[], float] = time.monotonic,
    broker: ScriptedBroker | None = None,
) -> Rig:
    """Algorithm 16 holds 10 AAPL, bought at 100, protected by a live stop at 98. ``told``
    collects what the loop's records tell the observers; ``broker``: one of the test's own
    (made with ``fill=False``)."""
    broker = broker if broker is not None else ScriptedBroker(fill=False)
    broker.prices["AAPL"] = D(100)
    broker.slippage = D(0)
    executor = Executor(journal, broker, PositionBook())
    planner = planner_for(
        CONFIG,
        await broker.account(),
        T0,
        day=_day(),
        market=await broker.reference_prices(["AAPL"]),
    )
    broker.script = [FILL]
    await executor.handle(OPEN, planner)
    (entry,) = broker.orders.values()
    await executor.record_snapshot(entry, "lookup")
    assert executor.book.qty(16, "AAPL") == D(10)
    stored = journal.entries(EntryFilter(statuses=(Status.INTENT,)))
    entry_intent = intent_from_entry(stored[0])
    (stop,) = after_fill_exits(entry_intent, D(10), D(100))
    await executor.execute(Plan(intents=(stop,)))
    assert broker.orders[stop.client_order_id].status is OrderStatus.PENDING
    loop = closing_loop(
        executor,
        journal,
        CONFIG,
        now=T0 + timedelta(minutes=1, seconds=1),
        told=told,
        alert_after=alert_after,
        monotonic=monotonic,
    )
    return Rig(journal, broker, executor, loop, stop)


def _day() -> DayState:
    return DayState()


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    with open_journal(tmp_path / "j.sqlite") as opened:
        yield opened


async def test_the_exit_is_canceled_then_the_ledgers_quantity_closed(
    journal: SqliteJournal,
) -> None:
    rig = await make_rig(journal)
    rig.broker.on_cancel = rig.broker.end  # the broker confirms the cancel
    rig.broker.script = [FILL]
    await rig.loop.handle(CLOSE)
    await rig.sync()
    stop_id = rig.stop.client_order_id
    (close,) = rig.closes()
    assert close.qty == D(10)
    calls = rig.broker.calls
    assert calls.index(("cancel", stop_id)) < calls.index(("submit", close.client_order_id))
    (row,) = journal.entries(EntryFilter(statuses=(Status.EXIT,), client_order_ids=(stop_id,)))
    assert row.data["step"] == CANCEL_FOR_CLOSE and "for the close" in row.detail
    assert rig.executor.book.qty(16, "AAPL") == 0 and rig.sold() == D(10)


async def test_a_stop_filling_during_the_cancel_skips_the_close_naming_it(
    journal: SqliteJournal,
) -> None:
    rig = await make_rig(journal)
    rig.broker.prices["AAPL"] = D("97.5")
    rig.broker.on_cancel = rig.broker.fill  # too late: the stop fills instead
    stop_id = rig.stop.client_order_id
    await rig.loop.handle(CLOSE)
    assert rig.closes() == []
    ((reason, detail),) = [s for s in rig.skips() if s[0] == "not_held"]
    assert reason == SkipReason.NOT_HELD
    # the scripted broker fills at the order's reference price: the stop's, 98
    assert f"its stop-loss {rig.stop.client_order_id} filled 10 @ 98" in detail
    (skip,) = journal.entries(EntryFilter(statuses=(Status.SKIPPED,), symbols=("AAPL",)))
    assert skip.data["exit"]["client_order_id"] == rig.stop.client_order_id
    assert rig.sold() == D(10) and rig.submitted_sells() == [rig.stop.client_order_id]
    # tradebot explain: the close's story runs entry -> exit -> canceled for the close -> fill
    chain = story(journal, CLOSE.legs[0].id.key)
    stop_rows = [(e.status, e.data.get("step")) for e in chain if e.client_order_id == stop_id]
    assert (Status.INTENT, None) in stop_rows and (Status.FILLED, None) in stop_rows
    assert (Status.EXIT, CANCEL_FOR_CLOSE) in stop_rows
    assert any(e.client_order_id == rig.stop.client_order_id[: -len("-sl")] for e in chain)
    text = "\n".join(line for e in chain for line in describe(e))
    assert f"the position was closed by exit {stop_id} (sl): 10 @ 98" in text
    assert "exit: stop at 98" in text and "; exit price 98" in text
    assert "exits: stop_loss_pct 2 (after the fill)" in text
    entry_story = story(journal, stop_id[: -len("-sl")])
    assert {e.client_order_id for e in entry_story} >= {stop_id}


async def test_an_unconfirmed_cancel_holds_the_close_and_it_is_retried(
    journal: SqliteJournal,
) -> None:
    rig = await make_rig(journal)  # the cancel is asked for; the broker does not confirm it
    await rig.loop.handle(CLOSE)
    assert rig.closes() == [] and len(rig.loop.deferred) == 1
    (signal_id,) = rig.loop.deferred
    assert journal.entries(EntryFilter(statuses=(Status.PLAN,), signal_ids=(signal_id,))) == []
    steps = [r.data["step"] for r in journal.entries(EntryFilter(statuses=(Status.EXIT,)))]
    assert "close_deferred" in steps
    lookups = rig.broker.calls.count(("get_order", rig.stop.client_order_id))
    assert lookups > 1  # the first time, the lookups went on until the timeout
    await rig.loop.retry_deferred()  # still live: still waiting, nothing sent
    assert rig.closes() == [] and rig.loop.deferred == (signal_id,)
    # tried again: the cancel asked again, one lookup, and the loop goes on with its signals
    assert rig.broker.calls[-2:] == [
        ("cancel", rig.stop.client_order_id),
        ("get_order", rig.stop.client_order_id),
    ]
    assert rig.broker.calls.count(("get_order", rig.stop.client_order_id)) == lookups + 1
    # a restart now would leave it to the running loop too, not plan it blind
    report = await recover(
        journal,
        rig.broker,
        now=T0 + timedelta(minutes=1, seconds=2),
        max_age=timedelta(hours=1),
        planner=lambda signal, book: Plan(),
        defer=orders_in_way(journal),
    )
    assert [sid for sid, _ in report.deferred] == [signal_id]
    rig.broker.end(rig.stop.client_order_id)  # the broker ends it
    rig.broker.script = [FILL]
    await rig.loop.retry_deferred()
    await rig.sync()
    (close,) = rig.closes()
    assert close.qty == D(10) and rig.loop.deferred == ()
    assert rig.sold() == D(10)


async def test_a_halted_kill_switch_cancels_nothing(journal: SqliteJournal) -> None:
    rig = await make_rig(journal)
    canceler = CloseCanceler(rig.executor)
    gate = await canceler.before_plan(CLOSE, halted=True)
    assert not gate.deferred and ("cancel", rig.stop.client_order_id) not in rig.broker.calls


# -- every interleaving of the stop's fill and the close ---------------------------------------

ACTIONS = st.sampled_from(["cancel", "fill", "nothing"])


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    before=st.integers(0, 10),  # the stop filled this much before the close arrived
    on_cancel=ACTIONS,  # what the broker does with the cancel
    later=st.sampled_from(["cancel", "fill"]),  # how an unconfirmed cancel ends
    partial_in_flight=st.integers(0, 10),  # filled while the cancel was in flight
)
def test_stop_fill_against_close_never_sells_twice(
    before: int, on_cancel: str, later: str, partial_in_flight: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp, open_journal(Path(tmp) / "j.sqlite") as journal:
        asyncio.run(_interleave(journal, before, on_cancel, later, partial_in_flight))


async def _interleave(
    journal: SqliteJournal, before: int, on_cancel: str, later: str, in_flight: int
) -> None:
    rig = await make_rig(journal)
    broker, stop_id = rig.broker, rig.stop.client_order_id
    broker.prices["AAPL"] = D("97")
    if before:
        broker.fill(stop_id, D(before))  # the ledger learns it only from a lookup or event

    def cancel(coid: str) -> None:
        snap = broker.orders[coid]
        rest = snap.qty - snap.filled_qty
        if rest and in_flight and on_cancel != "nothing":
            broker.fill(coid, min(D(in_flight), rest))
        if on_cancel == "cancel":
            broker.end(coid)
        elif on_cancel == "fill" and not broker.orders[coid].status.is_final:
            broker.fill(coid)

    broker.on_cancel = cancel
    broker.script = [FILL]
    await rig.loop.handle(CLOSE)
    await rig.sync()
    if rig.loop.deferred:
        if later == "cancel":
            broker.end(stop_id)
        elif not broker.orders[stop_id].status.is_final:
            broker.fill(stop_id)
        broker.script = [FILL]
        await rig.loop.retry_deferred()
    await rig.sync()
    assert rig.loop.deferred == ()
    # the algorithm never sold more than it bought; the account never went short
    assert rig.sold() == D(10)
    assert rig.executor.book.qty(16, "AAPL") == 0
    assert (await broker.positions()).get("AAPL", D(0)) == 0
    held = D(10)
    for method, coid in broker.calls:
        if method == "submit" and coid in broker.orders and broker.orders[coid].side == "sell":
            assert broker.orders[coid].filled_qty <= held
            held -= broker.orders[coid].filled_qty


async def test_a_close_held_up_too_long_by_its_exits_is_an_error_told_once(
    journal: SqliteJournal,
) -> None:
    told: list[BotEvent] = []
    clock = [0.0]
    rig = await make_rig(journal, told=told, alert_after=60, monotonic=lambda: clock[0])
    await rig.loop.handle(CLOSE)  # the broker does not confirm the cancel
    clock[0] = 59.0
    await rig.loop.retry_deferred()
    assert errors(told) == []  # a short wait is normal: retried quietly
    clock[0] = 61.0
    await rig.loop.retry_deferred()
    (error,) = errors(told)
    assert error.algo_id == 16
    assert "has waited 61s" in error.detail and rig.stop.client_order_id in error.detail
    (row,) = journal.entries(EntryFilter(statuses=(Status.ERROR,)))
    assert row.detail == error.detail and row.symbol == "AAPL"
    clock[0] = 300.0
    await rig.loop.retry_deferred()
    assert len(errors(told)) == 1 and rig.closes() == []  # told once; still never sent blind


def errors(told: list[BotEvent]) -> list[ErrorRecorded]:
    return [e for e in told if isinstance(e, ErrorRecorded)]
