"""The order journal: an append-only, durable record of everything tradebot sees and does.

Open it with :func:`open_journal` (SQLite, the default, needs no setup). Everything else talks to
the :class:`~tradebot.journal.interface.Journal` protocol, so another store can serve it.
"""

from tradebot.journal.interface import EntryFilter, Journal, StoredSignal
from tradebot.journal.records import AppliedFill, Entry, Status, StoredIntent
from tradebot.journal.sqlite import SqliteJournal, open_journal

__all__ = [
    "AppliedFill",
    "Entry",
    "EntryFilter",
    "Journal",
    "SqliteJournal",
    "Status",
    "StoredIntent",
    "StoredSignal",
    "open_journal",
]
