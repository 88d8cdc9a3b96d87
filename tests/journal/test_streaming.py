"""Streaming reads: a page at a time, the same rows in the same order as the one-shot read,
counts and fills computed by the store, and no lock held between pages."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradebot.journal import Status, open_journal
from tradebot.journal.interface import EntryFilter
from tradebot.journal.opener import Store
from tradebot.journal.records import FILL_STATUSES
from tradebot.journal.rows import Row

START = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
KINDS = (Status.SIGNAL, Status.INTENT, Status.FILLED, Status.PARTIAL, Status.SKIPPED)


def _rows(count: int) -> list[Row]:
    """Rows with repeated timestamps (ties broken by id), several algorithms and symbols."""
    rows = []
    for n in range(count):
        status = KINDS[n % len(KINDS)]
        symbol = ("AAPL", "MSFT", "TSLA")[n % 3]
        rows.append(
            Row(
                START + timedelta(seconds=n // 3),  # three rows per second: ties on ts
                status,
                f"{status} {symbol} #{n}",
                algo_id=(n % 4) or None,
                symbol=symbol,
                client_order_id=f"tb-{n // 5}",
                side="buy" if n % 2 else "sell",
                qty=Decimal(n % 7 + 1),
                price=Decimal("100") + Decimal(n) / 100,
                cum_qty=Decimal(n) if status in FILL_STATUSES else None,
            )
        )
    return rows


def _journal(where: str | Path, count: int) -> Store:
    journal = open_journal(where)
    if journal.last_id() == 0:
        journal.write_rows(_rows(count))
    return journal


filters = st.builds(
    EntryFilter,
    algo_ids=st.sampled_from([(), (1,), (2, 3)]),
    symbols=st.sampled_from([(), ("AAPL",), ("MSFT", "TSLA")]),
    statuses=st.sampled_from([(), (Status.INTENT,), (Status.FILLED, Status.PARTIAL)]),
    since=st.sampled_from([None, START + timedelta(seconds=5)]),
    until=st.sampled_from([None, START + timedelta(seconds=20)]),
    after_id=st.sampled_from([None, 7]),
    newest_first=st.booleans(),
    limit=st.sampled_from([None, 1, 9, 40]),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(where=filters, page=st.integers(1, 6))
def test_iter_entries_reads_the_same_rows_in_the_same_order(
    journal_at: str | Path, where: EntryFilter, page: int
) -> None:
    journal = _journal(journal_at, 90)  # written by the first example, read by all
    try:
        assert list(journal.iter_entries(where, page=page)) == list(journal.entries(where))
    finally:
        journal.close()


def test_counts_and_fills_come_from_the_store_as_from_the_rows(journal_at: str | Path) -> None:
    with _journal(journal_at, 200) as journal:
        where = EntryFilter(statuses=(Status.SIGNAL, Status.INTENT), since=START)
        expected = Counter((e.algo_id, e.status) for e in journal.entries(where))
        assert dict(journal.count_entries(where)) == dict(expected)

        until = START + timedelta(seconds=40)
        intents = {
            e.client_order_id: e.price
            for e in journal.entries(EntryFilter(statuses=(Status.INTENT,)))
        }
        fills = journal.entries(
            EntryFilter(statuses=tuple(FILL_STATUSES), until=until, newest_first=False)
        )
        ours = [f for f in fills if f.algo_id is not None]
        facts = list(journal.fill_history(until=until, page=7))
        assert [(f.at, f.algo_id, f.symbol, f.side, f.qty, f.price) for f in facts] == [
            (f.at, f.algo_id, f.symbol, f.side, f.qty, f.price) for f in ours
        ]
        assert [f.intent_price for f in facts] == [intents.get(f.client_order_id) for f in ours]
        assert any(f.intent_price is not None for f in facts)


def test_no_lock_is_held_between_pages(journal_at: str | Path) -> None:
    """An export in progress never holds up the bot writing through the same journal."""
    with _journal(journal_at, 30) as journal:
        rows = journal.iter_entries(EntryFilter(newest_first=False), page=5)
        first = next(rows)
        wrote = threading.Event()

        def write() -> None:
            journal.record_error("written while an export is paused between pages")
            wrote.set()

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        if not wrote.wait(10):
            rows.close()  # lets the writer through before failing, so the test ends
            writer.join()
            pytest.fail("a write waited for a reader paused between pages")
        writer.join()
        rest = list(rows)
        assert first.id == 1
        assert len(rest) >= 29  # the 30 rows there at the start, none repeated or skipped
        assert [e.id for e in rest[:29]] == list(range(2, 31))
