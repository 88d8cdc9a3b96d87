"""The order journal: an append-only, durable record of everything tradebot sees and does.

Open it with :func:`open_journal`: a SQLite file (the default, needs no setup) or a PostgreSQL
URL (:mod:`tradebot.journal.postgres`, for several machines). Everything else talks to the
:class:`~tradebot.journal.interface.Journal` protocol; both stores inherit one implementation of
it (:mod:`tradebot.journal.base`) over one SQL text (:mod:`tradebot.journal.dialect`).
"""

from tradebot.journal.interface import EntryFilter, Journal, StoredSignal
from tradebot.journal.opener import open_journal
from tradebot.journal.records import AppliedFill, Entry, Status, StoredIntent
from tradebot.journal.sqlite import SqliteJournal

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
