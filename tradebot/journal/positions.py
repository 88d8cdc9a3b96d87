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


def rebuild_book(conn: Conn) -> PositionBook:
    """The book as the journal's fills make it. Fills of orders not ours carry no algo_id."""
    rows = conn.execute(
        "SELECT algo_id, symbol, side, qty FROM entries "
        "WHERE status IN ('partial', 'filled') AND algo_id IS NOT NULL ORDER BY id"
    )
    return book_from_fills(rows)
