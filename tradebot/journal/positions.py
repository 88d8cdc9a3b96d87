"""Positions per algorithm, derived from the journal's fills and nothing else."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from tradebot.core.book import PositionBook
from tradebot.core.signal import Side
from tradebot.journal.dialect import Conn


def book_from_fills(fills: Iterable[tuple[int, str, str, str]]) -> PositionBook:
    """Replay ``(algo_id, symbol, side, qty)`` fills in journal order into a fresh book."""
    book = PositionBook()
    for algo_id, symbol, side, qty in fills:
        book.apply_fill(algo_id, symbol, Side(side), Decimal(qty))
    return book


def rebuild_book(conn: Conn, account: str | None = None) -> PositionBook:
    """The book as the journal's fills make it: ``account``'s (each account plans from its
    own ledger), or every account's together (None: what a one-account journal holds). Fills
    of orders not ours carry no algo_id."""
    sql = (
        "SELECT algo_id, symbol, side, qty FROM entries "
        "WHERE status IN ('partial', 'filled') AND algo_id IS NOT NULL"
    )
    if account is None:
        return book_from_fills(conn.execute(sql + " ORDER BY id"))
    return book_from_fills(conn.execute(sql + " AND account = ? ORDER BY id", (account,)))
