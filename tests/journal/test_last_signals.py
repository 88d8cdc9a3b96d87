"""Each algorithm's last signal, from the journal in one grouped read (the Now page asks on every
refresh): on SQLite and PostgreSQL alike (``journal_at``: one journal per backend)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.execution.fixed_planner import make_signal
from tradebot.journal import open_journal
from tradebot.journal.base import JournalBase
from tradebot.journal.last_signals import last_signals
from tradebot.journal.records import Status

AT = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)


@pytest.fixture
def journal(journal_at: str | Path) -> Iterator[JournalBase]:
    with open_journal(journal_at) as j:
        yield j


def test_the_newest_signal_of_each_algorithm_by_id(journal: JournalBase) -> None:
    ids = {}
    # received out of time order: the last one written is the last signal, whatever its time
    for n, (algo, minutes) in enumerate(((16, 0), (17, 5), (16, 10), (17, 1))):
        at = AT + timedelta(minutes=minutes)
        ids[n] = journal.record_signal(
            make_signal(algo, opens=(("AAPL", "buy", "100"),), received_at=at)
        )
    journal.record_error("not a signal", algo_id=16)
    assert journal.newest_ids(Status.SIGNAL) == {16: ids[2], 17: ids[3]}
    found = last_signals(journal)
    assert {a: e.id for a, e in found.items()} == {16: ids[2], 17: ids[3]}
    assert all(e.status is Status.SIGNAL for e in found.values())
    only = last_signals(journal, [17, 99])  # 99: no signal on record, left out
    assert {a: e.id for a, e in only.items()} == {17: ids[3]}
    assert last_signals(journal, []) == {}
