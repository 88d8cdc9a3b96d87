"""Copy a SQLite journal into PostgreSQL, then prove the copy: ``tradebot journal migrate``.

The rows go across as stored (ids, text decimals, JSON, microsecond times), a batch per
transaction. Proof, before anything is reported as done: the same number of rows per
(algorithm, status) on both sides, the same last id, and the same positions rebuilt from each
side's fills. The target's summaries are then built from its rows, and it gets the tombstones
an archive left in the source (:mod:`~tradebot.journal.tombstones`), the same on both sides.

The target must be empty, or hold exactly a prefix of this journal (an earlier migration that
was interrupted): then the copy resumes after it. Anything else (another journal, rows that
differ) is refused before a single row is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tradebot.exceptions import JournalError
from tradebot.journal.interface import EntryFilter
from tradebot.journal.postgres import PostgresJournal
from tradebot.journal.records import Status
from tradebot.journal.sqlite import SqliteJournal

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class Migrated:
    rows: int  # rows in the journal, now on both sides
    copied: int  # rows this run copied (fewer when it resumed an interrupted copy)
    counts: dict[tuple[int | None, Status], int]
    positions: int  # (algorithm, symbol) positions held, the same on both sides


def _check_prefix(source: SqliteJournal, target: PostgresJournal, batch: int) -> int:
    """The target's last id when its rows are exactly this journal's first rows; else refuse."""
    there = target.last_id()
    if there == 0:
        return 0
    if there > source.last_id():
        raise JournalError(
            f"{target.path} already holds {there} rows, more than this journal's "
            f"{source.last_id()}: it is another journal; refusing to mix them (migrate to an "
            "empty database)"
        )
    after = 0
    while after < there:
        ours = source.raw_rows(after_id=after, limit=min(batch, there - after))
        theirs = target.raw_rows(after_id=after, limit=min(batch, there - after))
        if ours != theirs:
            at = next((a[0] for a, b in zip(ours, theirs, strict=False) if a != b), after + 1)
            raise JournalError(
                f"{target.path} is not empty and its row {at} differs from this journal's: it "
                "is another journal; refusing to mix them (migrate to an empty database)"
            )
        after = ours[-1][0]
    return there


def migrate(
    source: SqliteJournal,
    target: PostgresJournal,
    *,
    batch: int = 5000,
    progress: Progress | None = None,
) -> Migrated:
    """Copy ``source`` into ``target`` and verify it (see the module docstring).

    The source must not be written meanwhile: open it as the writer (its lock keeps the bot
    out). Raises :class:`JournalError` for a target holding something else, or a copy that
    does not verify.
    """
    total = source.last_id()
    after = _check_prefix(source, target, batch)
    if after == 0:
        target.set_leg_guard(source.leg_guard_after())
    copied = 0
    while True:
        rows = source.raw_rows(after_id=after, limit=batch)
        if not rows:
            break
        target.copy_rows(rows)
        copied += len(rows)
        after = rows[-1][0]
        if progress is not None:
            progress(after, total)
    target.rebuild_summaries()  # the copy wrote rows as stored: no summary kept them
    # what archives of the source left of the decisions they moved out: the same guards there
    target.keep_archived_decisions(source.archived_decisions())
    everything = EntryFilter()
    counts = dict(source.count_entries(everything))
    if dict(target.count_entries(everything)) != counts or target.last_id() != total:
        raise JournalError(f"copy to {target.path} does not verify: row counts differ")
    if target.archived_decisions() != source.archived_decisions():
        raise JournalError(f"copy to {target.path} does not verify: archived decisions differ")
    book = source.rebuild_book()
    if target.rebuild_book() != book:
        raise JournalError(f"copy to {target.path} does not verify: positions differ")
    return Migrated(
        rows=sum(counts.values()),
        copied=copied,
        counts=counts,
        positions=sum(1 for _ in book),
    )
