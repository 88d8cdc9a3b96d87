"""A write on the order path costs the same whatever the journal's size: each of its reads goes
through an index to the order's own few rows, never through every row of some status.

Counted in SQLite's virtual-machine steps (a progress handler on the journal's connection), not
in time: the count is exact and the same on a busy machine."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from tradebot.core.events import OrderAccepted
from tradebot.core.order_snapshot import OrderSnapshot, OrderStatus
from tradebot.core.signal import Side
from tradebot.journal import SqliteJournal, Status
from tradebot.journal.rows import Row
from tradebot.journal.sqlite import open_journal

AT = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)
TICK = 100  # VM instructions per progress-handler call


def steps(journal: SqliteJournal, write: Callable[[], object]) -> int:
    """SQLite VM instructions (in units of TICK) ``write`` runs on the journal's connection."""
    count = 0

    def tick() -> int:
        nonlocal count
        count += 1
        return 0  # go on

    conn = journal._conn  # the store's one connection: where its writes run
    conn.set_progress_handler(tick, TICK)
    try:
        write()
    finally:
        conn.set_progress_handler(None, TICK)
    return count


def accepted_orders(journal: SqliteJournal, first: int, count: int) -> None:
    """``count`` other orders, each with an ACCEPTED row (what a day of trading leaves)."""
    rows = [
        Row(AT, Status.ACCEPTED, "the broker has the order", client_order_id=f"o{n}")
        for n in range(first, first + count)
    ]
    journal.write_rows(rows)


def pending(coid: str) -> OrderSnapshot:
    return OrderSnapshot(
        coid, f"b-{coid}", "IBM", Side.BUY, Decimal(1), Decimal(0), None, OrderStatus.PENDING
    )


def accepted(coid: str) -> OrderAccepted:
    return OrderAccepted(client_order_id=coid, broker_order_id=f"b-{coid}", at=AT)


def test_an_acceptance_reads_the_orders_rows_not_every_acceptance(tmp_path: Path) -> None:
    with open_journal(tmp_path / "j.sqlite") as journal:
        accepted_orders(journal, 0, 50)
        small = steps(journal, lambda: journal.record_snapshot(pending("s1"), source="submit"))
        small_event = steps(journal, lambda: journal.record_event(accepted("e1")))
        accepted_orders(journal, 50, 5000)  # a hundred times as many acceptances
        large = steps(journal, lambda: journal.record_snapshot(pending("s2"), source="submit"))
        large_event = steps(journal, lambda: journal.record_event(accepted("e2")))
    # a B-tree a few levels deeper costs a few steps more; a walk of the acceptances, 100x
    assert large <= small * 2 + 5, (small, large)
    assert large_event <= small_event * 2 + 5, (small_event, large_event)
