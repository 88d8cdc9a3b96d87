"""Recovery in process: drift is recorded and reported, never traded; signals never planned."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tests.execution.fixed_planner import make_signal, simple_plan
from tests.scripted_broker import ScriptedBroker
from tradebot.core.book import PositionBook
from tradebot.exceptions import BrokerUnavailable
from tradebot.execution import Executor, recover
from tradebot.execution.recovery import NO_PLANNER, Drift
from tradebot.journal import EntryFilter, Status, open_journal
from tradebot.journal.base import JournalBase

SIGNAL = make_signal(5, opens=(("AAPL", "buy", "190"),))
NOW = SIGNAL.received_at + timedelta(seconds=2)


@pytest.fixture
def journal(journal_at: str | Path) -> Iterator[JournalBase]:
    """A journal on each backend: these tests are the store's behaviour, whichever it is."""
    with open_journal(journal_at) as j:
        yield j


async def test_clean_start_records_that_nothing_needed_doing(journal: JournalBase) -> None:
    report = await recover(journal, ScriptedBroker(), now=NOW, max_age=timedelta(minutes=1))
    assert report.clean and report.lines() == []
    (row,) = journal.entries(EntryFilter(statuses=(Status.RECOVERY,)))
    assert row.detail == "nothing to recover"


async def test_drift_is_recorded_and_reported_not_traded(journal: JournalBase) -> None:
    broker = ScriptedBroker()
    executor = Executor(journal, broker, PositionBook())
    await executor.handle(SIGNAL, simple_plan)
    broker.end_stream()
    await executor.consume_events()
    broker.extra_positions = {"AAPL": Decimal(-3), "GME": Decimal(5)}  # someone traded by hand
    calls_before = len(broker.calls)

    report = await recover(journal, broker, now=NOW, max_age=timedelta(minutes=1))

    assert report.book == PositionBook({(5, "AAPL"): Decimal(10)})
    assert report.drifts == (
        Drift("AAPL", Decimal(10), Decimal(7)),
        Drift("GME", Decimal(0), Decimal(5)),
    )
    assert any("POSITION DRIFT AAPL" in line for line in report.lines())
    assert [c for c in broker.calls[calls_before:] if c[0] == "submit"] == []
    rows = journal.entries(EntryFilter(statuses=(Status.DRIFT,), newest_first=False))
    assert [(r.symbol, r.qty) for r in rows] == [("AAPL", Decimal(-3)), ("GME", Decimal(5))]


async def test_signal_never_planned_without_a_planner_is_skipped_with_reason(
    journal: JournalBase,
) -> None:
    signal_id = journal.record_signal(SIGNAL)  # then the process died
    broker = ScriptedBroker()
    report = await recover(journal, broker, now=NOW, max_age=timedelta(minutes=1))
    assert report.abandoned == (signal_id,)
    assert broker.calls == []
    (skip,) = journal.entries(EntryFilter(statuses=(Status.SKIPPED,)))
    assert skip.detail == f"stale: {NO_PLANNER}" and skip.signal_id == signal_id
    assert journal.unplanned_signals() == ()


async def test_signal_never_planned_is_planned_when_fresh(journal: JournalBase) -> None:
    signal_id = journal.record_signal(SIGNAL)
    broker = ScriptedBroker()
    report = await recover(
        journal, broker, now=NOW, max_age=timedelta(minutes=1), planner=simple_plan
    )
    assert report.replanned == (signal_id,)
    assert [m for m, _ in broker.calls] == ["submit"]
    assert journal.unplanned_signals() == ()


async def test_only_the_signals_journaled_before_the_listener_started_are_recoverys(
    journal: JournalBase,
) -> None:
    """The running bot journals signals while it recovers: those are its signal loop's, and
    recovery leaves them unplanned (one path per signal). Seen failing when recovery ignored
    ``earlier`` (the later signal planned here too, and again by the loop)."""
    earlier = journal.record_signal(SIGNAL)  # then the process died
    later = journal.record_signal(make_signal(6, opens=(("MSFT", "buy", "400"),)))
    book = PositionBook()
    report = await recover(
        journal,
        ScriptedBroker(),
        now=NOW,
        max_age=timedelta(minutes=1),
        planner=simple_plan,
        book=book,
        earlier={earlier},
    )
    assert report.replanned == (earlier,) and report.book is book
    assert [u.signal_id for u in journal.unplanned_signals()] == [later]


async def test_a_re_send_that_never_reached_the_broker_is_not_reported_sent(
    journal: JournalBase,
) -> None:
    # the crash came before the order left; at recovery, every attempt to send it fails
    journal.record_signal_and_plan(SIGNAL, simple_plan(SIGNAL, PositionBook()))
    ((stored,),) = (journal.unresolved_intents(),)
    coid = stored.intent.client_order_id
    broker = ScriptedBroker()
    broker.script.append(BrokerUnavailable("503 on every attempt"))

    report = await recover(journal, broker, now=NOW, max_age=timedelta(minutes=1))

    assert broker.orders == {} and report.resent == ()
    ((unsent, why),) = report.unsent
    assert unsent == coid and "503 on every attempt" in why
    assert not any(line.startswith("re-sent") for line in report.lines())
    line = f"re-send of {coid} did not reach the broker: "
    assert any(text.startswith(line) for text in report.lines()), report.lines()
    (row,) = journal.entries(EntryFilter(statuses=(Status.RECOVERY,)))
    assert "re-sent" not in row.detail and line in row.detail
    assert row.data["resent"] == [] and row.data["unsent"] == [coid]
    assert not report.clean
    # still unknown, not final: the next look (re-check, restart) settles it by its id
    assert [s.intent.client_order_id for s in journal.unresolved_intents()] == [coid]

    broker.calls.clear()  # the broker is back: the next start sends it, and says so
    again = await recover(journal, broker, now=NOW, max_age=timedelta(minutes=1))
    assert again.resent == (coid,) and again.unsent == ()
    assert f"re-sent {coid} (never reached the broker)" in again.lines()
    assert list(broker.orders) == [coid]
