"""A position a close stripped of its exits, and whose close has not gone out a minute later, is
an ERROR told to the observers, once (runtime/close_watch.py); a close that went out, one sent
again, or one the exit manager already told about is not; a restart watches such positions
again. Real loop, planner, executor and journal over the scripted broker; the clock is driven,
never waited for."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest

from tests.core.helpers import make_config
from tests.runtime.closing_loop import closing_loop
from tests.runtime.test_close_cancel import CLOSE, errors, make_rig
from tests.scripted_broker import ACCEPT
from tradebot.core.book import PositionBook
from tradebot.core.orders import Plan
from tradebot.exceptions import OrderRejected
from tradebot.execution import Executor
from tradebot.execution.close_exits import REPROTECT
from tradebot.execution.resend import plan_resend
from tradebot.journal import EntryFilter, SqliteJournal, Status, open_journal
from tradebot.runtime.observer import BotEvent


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    with open_journal(tmp_path / "j.sqlite") as opened:
        yield opened


async def test_exits_canceled_and_the_close_not_out_in_a_minute_is_an_error_told_once(
    journal: SqliteJournal,
) -> None:
    told: list[BotEvent] = []
    clock = [0.0]
    rig = await make_rig(journal, told=told, alert_after=60, monotonic=lambda: clock[0])
    rig.broker.on_cancel = rig.broker.end  # the stop's cancel is confirmed at once
    rig.broker.script = [OrderRejected("insufficient qty available")]  # the close is refused
    await rig.loop.handle(CLOSE)
    assert rig.loop.deferred == () and rig.loop.watching == ((16, "AAPL"),)
    assert rig.executor.book.qty(16, "AAPL") == D(10)  # held, with no exit and no close
    clock[0] = 59.0
    await rig.loop.retry_deferred()
    assert errors(told) == []  # not yet a minute
    clock[0] = 61.0
    await rig.loop.retry_deferred()
    (error,) = errors(told)
    assert error.algo_id == 16 and error.detail.startswith("POSITION UNPROTECTED")
    assert "holds 10 AAPL" in error.detail and rig.stop.client_order_id in error.detail
    assert "61s ago" in error.detail
    (row,) = journal.entries(EntryFilter(statuses=(Status.ERROR,)))
    assert row.detail == error.detail and row.symbol == "AAPL" and row.algo_id == 16
    clock[0] = 600.0
    await rig.loop.retry_deferred()
    assert len(errors(told)) == 1  # told once


async def test_a_close_that_went_out_is_not_an_alert(journal: SqliteJournal) -> None:
    told: list[BotEvent] = []
    clock = [0.0]
    rig = await make_rig(journal, told=told, alert_after=60, monotonic=lambda: clock[0])
    rig.broker.on_cancel = rig.broker.end
    rig.broker.script = [ACCEPT]  # the close rests at the broker, unfilled: it is out
    await rig.loop.handle(CLOSE)
    assert rig.loop.watching == () and rig.executor.book.qty(16, "AAPL") == D(10)
    clock[0] = 120.0
    await rig.loop.retry_deferred()
    assert errors(told) == []


async def test_a_restart_watches_again_a_position_a_close_left_without_exits(
    journal: SqliteJournal,
) -> None:
    rig = await make_rig(journal)
    rig.broker.on_cancel = rig.broker.end
    rig.broker.script = [OrderRejected("insufficient qty available")]
    await rig.loop.handle(CLOSE)  # the stop canceled, the close refused; then the process died
    (cancel_row,) = journal.entries(EntryFilter(statuses=(Status.EXIT,)))
    assert cancel_row.signal_id is not None  # the cancel names the close it was for

    told: list[BotEvent] = []
    restarted = Executor(journal, rig.broker, journal.rebuild_book())
    clock = [1000.0]
    loop = closing_loop(
        restarted,
        journal,
        make_config(),
        now=cancel_row.at,
        told=told,
        monotonic=lambda: clock[0],
    )
    await loop.resume(cancel_row.at + timedelta(seconds=30))
    assert loop.watching == ((16, "AAPL"),)
    await loop.retry_deferred()
    assert errors(told) == []  # 30 s after the cancel: not yet
    clock[0] += 31
    await loop.retry_deferred()
    (error,) = errors(told)
    assert "POSITION UNPROTECTED" in error.detail and "61s ago" in error.detail
    assert f"signal #{cancel_row.signal_id}" in error.detail
    clock[0] += 600
    await loop.retry_deferred()
    assert len(errors(told)) == 1  # told once

    # a later start, once the ledger no longer holds the position: nothing to watch
    flat = Executor(journal, rig.broker, PositionBook())
    again = closing_loop(flat, journal, make_config(), now=cancel_row.at)
    await again.resume(cancel_row.at + timedelta(minutes=5))
    assert again.watching == ()


async def test_a_close_sent_again_after_the_refusal_ends_the_watch(
    journal: SqliteJournal,
) -> None:
    told: list[BotEvent] = []
    clock = [0.0]
    rig = await make_rig(journal, told=told, alert_after=60, monotonic=lambda: clock[0])
    rig.broker.on_cancel = rig.broker.end
    rig.broker.script = [OrderRejected("insufficient qty available")]
    await rig.loop.handle(CLOSE)
    (refused,) = rig.closes()
    # sent again outside the loop (a person's `tradebot resend`): the broker has it, resting
    again = plan_resend(journal, refused.client_order_id)
    rig.broker.script = [ACCEPT]
    (outcome,) = (await rig.executor.execute(Plan(intents=(again.intent,)))).outcomes
    assert outcome.snapshot is not None and rig.executor.book.qty(16, "AAPL") == D(10)
    clock[0] = 61.0
    await rig.loop.retry_deferred()
    assert errors(told) == [] and rig.loop.watching == ()


async def test_a_close_the_exit_manager_already_told_about_is_not_told_again(
    journal: SqliteJournal,
) -> None:
    told: list[BotEvent] = []
    clock = [0.0]
    rig = await make_rig(journal, told=told, alert_after=60, monotonic=lambda: clock[0])
    rig.broker.on_cancel = rig.broker.end
    rig.broker.script = [OrderRejected("insufficient qty available")]
    await rig.loop.handle(CLOSE)
    (refused,) = rig.closes()
    # the exit manager found the close over with shares held, and said so (execution.close_exits)
    journal.record_exit(refused, "held 10 AAPL, exits attached again", {"step": REPROTECT}, None)
    clock[0] = 61.0
    await rig.loop.retry_deferred()
    assert errors(told) == [] and rig.loop.watching == ()
