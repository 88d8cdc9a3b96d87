"""Positions for the dashboard, kept current from the fills journaled since the last look.

The journal is append-only and positions come only from fills (journal/positions.py replays
them all: ~0.3 s on a journal of a million rows). The Positions page is asked for again and
again, so the book is replayed once and then only the newer fills are applied, in the same
order (by row id) and by the same rule (:meth:`PositionBook.apply_fill` for every partial or
final fill of one of our algorithms) as :func:`tradebot.journal.positions.rebuild_book`.
"""

from __future__ import annotations

import threading

from tradebot.core.book import PositionBook
from tradebot.core.signal import Side
from tradebot.journal.interface import EntryFilter, Journal
from tradebot.journal.records import FILL_STATUSES


class LiveBook:
    """One journal's positions, brought up to date on each :meth:`current` (worker thread)."""

    def __init__(self) -> None:
        self._book = PositionBook()
        self._last_id = 0
        self._lock = threading.Lock()

    def current(self, journal: Journal) -> PositionBook:
        """A copy of the book as the journal's fills make it now."""
        with self._lock:
            newer = EntryFilter(statuses=tuple(sorted(FILL_STATUSES)), after_id=self._last_id)
            for entry in journal.iter_entries(newer, page=5000):
                if entry.algo_id is not None and entry.symbol and entry.side and entry.qty:
                    self._book.apply_fill(entry.algo_id, entry.symbol, Side(entry.side), entry.qty)
                self._last_id = entry.id
            return PositionBook({(algo, symbol): qty for algo, symbol, qty in self._book})
