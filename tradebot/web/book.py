"""Positions for the dashboard, as the journal's summaries hold them.

Positions come only from fills; the journal keeps them per algorithm and symbol in the
transaction that records each fill (:mod:`tradebot.journal.summary`), so the Positions page
reads a few rows, not the fills of a million-row journal (by the same rule as
:func:`tradebot.journal.positions.rebuild_book`; ``tradebot journal verify`` checks them).
"""

from __future__ import annotations

from tradebot.core.book import PositionBook
from tradebot.journal.interface import Journal


class LiveBook:
    """One journal's positions, read afresh on each :meth:`current` (worker thread)."""

    def current(self, journal: Journal) -> PositionBook:
        """The book as the journal's fills make it now."""
        return journal.summary_book()
