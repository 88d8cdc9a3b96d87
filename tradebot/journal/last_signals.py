"""Each algorithm's last signal, read from the journal (so a restart forgets none)."""

from __future__ import annotations

from collections.abc import Iterable

from tradebot.journal.interface import EntryFilter, Journal
from tradebot.journal.records import Entry, Status


def last_signals(journal: Journal, algo_ids: Iterable[int] | None = None) -> dict[int, Entry]:
    """The newest SIGNAL row (by id: the last one written) of each algorithm in ``algo_ids``
    (None: every algorithm with a signal on record) that has one: one grouped read for the ids
    (the Now page asks on every refresh, of a journal of any size), then those rows by id."""
    newest = journal.newest_ids(Status.SIGNAL)
    wanted = newest if algo_ids is None else {a: newest[a] for a in algo_ids if a in newest}
    if not wanted:
        return {}
    rows = journal.entries(EntryFilter(ids=tuple(wanted.values())))
    by_id = {row.id: row for row in rows}
    return {algo: by_id[row_id] for algo, row_id in wanted.items() if row_id in by_id}
