"""Each algorithm's last signal, read from the journal (so a restart forgets none)."""

from __future__ import annotations

from collections.abc import Iterable

from tradebot.journal.interface import EntryFilter, Journal
from tradebot.journal.records import Entry, Status


def last_signals(journal: Journal, algo_ids: Iterable[int] | None = None) -> dict[int, Entry]:
    """The newest SIGNAL row (by id: the last one written) of each algorithm in ``algo_ids``
    (None: every algorithm with a signal on record) that has one."""
    if algo_ids is None:
        counted = journal.count_entries(EntryFilter(statuses=(Status.SIGNAL,)))
        algo_ids = sorted({a for a, _status in counted if isinstance(a, int)})
    found: dict[int, Entry] = {}
    for algo_id in algo_ids:
        newest = journal.entries(
            EntryFilter(statuses=(Status.SIGNAL,), algo_ids=(algo_id,), limit=1)
        )
        if newest:
            found[algo_id] = newest[0]
    return found
