"""The followers' scan of new journal rows: each pass reads the rows written since the last one.

The exit manager (entries due exits, exits that ended unfilled) and the re-protection of closes
(:mod:`.close_exits`) each keep a cursor, the newest row id they have read. A scan returns the
rows of the statuses asked for, written after the cursor (the first scan, with no cursor: within
a look-back window), in id order, and the next cursor. The journal's newest id is read *before*
the rows: a row committed while they are read is left for the next scan, never skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from tradebot.journal.interface import EntryFilter, Journal
from tradebot.journal.records import Entry, Status


def _scan(
    journal: Journal, statuses: tuple[Status, ...], after: int | None, since: datetime
) -> tuple[list[Entry], int]:
    newest = journal.last_id()
    where = (
        EntryFilter(statuses=statuses, since=since)
        if after is None
        else EntryFilter(statuses=statuses, after_id=after)
    )
    rows = sorted(journal.entries(where), key=lambda r: r.id)
    return [r for r in rows if r.id <= newest], newest


async def new_rows(
    journal: Journal, statuses: Sequence[Status], *, after: int | None, since: datetime
) -> tuple[list[Entry], int]:
    """The rows of ``statuses`` after row ``after`` (None: since ``since``), in id order, and
    the cursor for the next scan; one hop to a worker thread."""
    return await asyncio.to_thread(_scan, journal, tuple(statuses), after, since)
