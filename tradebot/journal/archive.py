"""``tradebot journal archive --before DATE``: move old rows to an archive file, losing nothing.

**Which rows move** (:func:`choose`, pure). A row moves only with its whole story, and only
when nothing still running needs it:

* a story is the rows joined by an order (a client order id, with its market remainder and its
  exits) or by a signal (the SIGNAL row, its legs, plan, skips and orders): all of a story's
  rows are older than DATE, or none of them moves;
* never an order without a final outcome (recovery asks the broker about it), nor a signal
  journaled and never planned (recovery plans it while fresh);
* per algorithm and symbol, only the fills up to a moment the position was flat: the rows left
  fold to the same positions, average costs included (:func:`~tradebot.journal.positions`); a
  position open since before DATE keeps all its rows;
* never an algorithm's newest SIGNAL row, nor the two newest START rows: the next start reads
  AlphaHub's history back from them (:func:`~tradebot.runtime.recovered.last_frame`).

DATE must be at least :data:`MIN_AGE_DAYS` days ago: a leg re-delivered from the last week
finds its decision in the journal itself (one leg, one fate). An older one finds the
*tombstone* the archive leaves of every decision it moves (:mod:`~tradebot.journal.tombstones`:
each INTENT's client order id, each decided leg's identity): an order is never sent twice
because its rows were archived, whatever AlphaHub or its history delivers again.

**How they move** (:func:`archive`, SQLite only). First the archive: a new tradebot journal
(same schema, the rows with their ids, its own summaries, so ``tradebot journal --journal
ARCHIVE`` and ``report`` read it), built under a temporary name, counted, fsynced and linked
into place beside the journal as ``<name>.archive-<first day>-<last day>.sqlite``. Then, in one
transaction of the journal: the rows are deleted by id only if the archive holds every one of
them, the number deleted must equal the number chosen, their tombstones are written, and the
summaries are rebuilt from the rows left (by :func:`~tradebot.journal.summary_sql.build`, the
rule ``journal verify`` checks); any difference rolls it all back. A crash before that commit
leaves every row in the journal (and a copy in the archive); after it, every row is in exactly
one of the two.

The journal is opened as its writer: a running bot holds it, and archiving waits for it to stop.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from tradebot import faults
from tradebot.core.ids import exit_parts
from tradebot.exceptions import JournalError
from tradebot.journal import schema, summary_sql, tombstones, track_summary
from tradebot.journal.base import RAW_COLUMNS
from tradebot.journal.records import FINAL_STATUSES, Status, to_micros
from tradebot.journal.sqlite import fsync_dir, open_journal

#: DATE is at least this many days ago (see the module docstring)
MIN_AGE_DAYS = 7
#: START rows kept whatever their age: the next start reads history back from the previous one
KEEP_STARTS = 2
_FILLS = frozenset({Status.PARTIAL.value, Status.FILLED.value})
_FINAL = frozenset(s.value for s in FINAL_STATUSES)
_COLUMNS = "id, ts, status, algo_id, symbol, client_order_id, signal_id, side, qty"


@dataclass(frozen=True, slots=True)
class Head:
    """What :func:`choose` reads of a row."""

    id: int
    ts: int
    status: str
    algo_id: int | None
    symbol: str | None
    coid: str | None
    signal_id: int | None
    side: str | None
    qty: str | None


def _family(coid: str) -> str:
    """The order a client order id belongs to: an exit's entry, a remainder's limit."""
    while True:
        parts = exit_parts(coid)
        if parts is not None:
            coid = parts[0]
        elif coid.endswith("-m"):
            coid = coid[:-2]
        else:
            return coid


class _Stories:
    """Union-find over rows, orders and signals."""

    def __init__(self) -> None:
        self._up: dict[object, object] = {}

    def find(self, node: object) -> object:
        up = self._up.setdefault(node, node)
        while up != node:
            self._up[node] = self._up.setdefault(up, up)
            node, up = up, self._up[up]
        return node

    def join(self, a: object, b: object) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self._up[ra] = rb


def _unresolved(rows: Sequence[Head]) -> tuple[set[str], set[int]]:
    """Orders with no final outcome; signals never planned."""
    intents: set[str] = set()
    ended: set[str] = set()
    signals: set[int] = set()
    planned: set[int] = set()
    for r in rows:
        if r.status == Status.INTENT and r.coid:
            intents.add(r.coid)
        elif r.status in _FINAL and r.coid:
            ended.add(r.coid)
        elif r.status == Status.SIGNAL:
            signals.add(r.id)
        elif r.status == Status.PLAN and r.signal_id is not None:
            planned.add(r.signal_id)
    return intents - ended, signals - planned


def choose(rows: Sequence[Head], before: int) -> list[int]:
    """The ids of the rows that may move (see the module docstring); ``rows``: every row of
    the journal, ``before``: DATE in microseconds."""
    stories = _Stories()
    for r in rows:
        stories.find(r.id)
        if r.coid:
            stories.join(r.id, ("order", _family(r.coid)))
        if r.signal_id is not None:
            stories.join(r.id, ("signal", r.signal_id))
        if r.status == Status.SIGNAL:
            stories.join(r.id, ("signal", r.id))
    open_orders, unplanned = _unresolved(rows)
    blocked = {stories.find(("order", _family(c))) for c in open_orders}
    blocked |= {stories.find(("signal", s)) for s in unplanned}
    blocked |= {stories.find(r.id) for r in rows if r.ts >= before}
    blocked |= {stories.find(r.id) for r in _newest(rows)}
    by_position: dict[tuple[int, str], list[Head]] = defaultdict(list)
    for r in rows:
        if r.algo_id is not None and r.symbol:
            by_position[(r.algo_id, r.symbol)].append(r)
    changed = True
    while changed:  # blocking a story may block a position's flat point: until nothing moves
        changed = False
        for held in by_position.values():
            cut = _flat_prefix(held, lambda r: stories.find(r.id) in blocked)
            for r in held:
                if r.id > cut and stories.find(r.id) not in blocked:
                    blocked.add(stories.find(r.id))
                    changed = True
    return [r.id for r in rows if stories.find(r.id) not in blocked]


def _newest(rows: Sequence[Head]) -> Iterable[Head]:
    """Each algorithm's newest SIGNAL row, and the newest START rows."""
    signals: dict[int | None, Head] = {}
    starts: list[Head] = []
    for r in rows:
        if r.status == Status.SIGNAL:
            signals[r.algo_id] = r
        elif r.status == Status.START:
            starts.append(r)
    return [*signals.values(), *starts[-KEEP_STARTS:]]


def _flat_prefix(held: Sequence[Head], is_blocked: Callable[[Head], bool]) -> int:
    """The largest row id up to which this position's rows may all move: its fills sum to zero
    there and no row up to it is blocked (0: none)."""
    qty = Decimal(0)
    cut = 0
    for r in held:  # in id order: the order positions are folded in
        if is_blocked(r):
            return cut
        if r.status in _FILLS and r.qty is not None:
            signed = Decimal(r.qty)
            qty += signed if r.side == "buy" else -signed
        if qty == 0:
            cut = r.id
    return cut


# -- moving them --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Archived:
    """What :func:`archive` did."""

    path: Path | None  # None: nothing to move
    rows: int
    first: date | None = None
    last: date | None = None


def parse_before(text: str, today: date) -> date:
    """DATE (``YYYY-MM-DD``), at least :data:`MIN_AGE_DAYS` before ``today``."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise JournalError(f"--before {text!r}: expected a date, YYYY-MM-DD") from None
    latest = today - timedelta(days=MIN_AGE_DAYS)
    if day > latest:
        raise JournalError(
            f"--before {day}: the last {MIN_AGE_DAYS} days stay in the journal (a leg delivered "
            f"again must find its decision there); use --before {latest} or earlier"
        )
    return day


def archive(journal_path: Path, before: date, *, vacuum: bool = False) -> Archived:
    """Move the rows :func:`choose` picks to an archive beside ``journal_path`` (see the
    module docstring). Raises JournalError, with nothing changed, when a count disagrees.

    The space the rows held is reused by the rows written next; ``vacuum``: give it back to
    the disk now (``VACUUM``: a rewrite of the journal, which needs its size free meanwhile)."""
    cutoff = to_micros(datetime(before.year, before.month, before.day, tzinfo=UTC))
    with open_journal(journal_path):  # the writer's lock (a running bot holds it) and checks
        conn = sqlite3.connect(journal_path, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout = 10000")
            rows = [Head(*r) for r in conn.execute(f"SELECT {_COLUMNS} FROM entries ORDER BY id")]  # noqa: S608
            ids = choose(rows, cutoff)
            if not ids:
                return Archived(None, 0)
            moving = {r.id: r for r in rows}
            first = _day(min(moving[i].ts for i in ids))
            last = _day(max(moving[i].ts for i in ids))
            target = journal_path.with_name(
                f"{journal_path.stem}.archive-{first:%Y%m%d}-{last:%Y%m%d}.sqlite"
            )
            _write_archive(conn, ids, target)
            faults.reached("archive_copied")
            _remove(conn, ids, target)
            if vacuum:
                conn.execute("VACUUM")
        finally:
            conn.close()
    return Archived(target, len(ids), first, last)


def _day(ts: int) -> date:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ts)).date()


def _write_archive(conn: sqlite3.Connection, ids: Sequence[int], target: Path) -> None:
    """The archive, complete and counted, linked into place (never over an existing file)."""
    if os.path.lexists(target):
        raise JournalError(
            f"{target} exists already (an earlier archive of these days, or one interrupted "
            "before it removed its rows from the journal): move it away and run again"
        )
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.new-", dir=target.parent)
    os.close(fd)
    try:
        out = sqlite3.connect(tmp, isolation_level=None)
        try:
            schema.migrate(out)  # a tagged tradebot journal, empty summaries
            out.execute("BEGIN IMMEDIATE")
            columns = ", ".join(f"e.{c}" for c in RAW_COLUMNS)
            out.execute("ATTACH DATABASE ? AS src", (_journal_file(conn),))
            for chunk in _chunks(ids):
                marks = ",".join("?" * len(chunk))
                out.execute(
                    f"INSERT INTO entries ({', '.join(RAW_COLUMNS)}) "  # noqa: S608
                    f"SELECT {columns} FROM src.entries e WHERE e.id IN ({marks}) ORDER BY e.id",
                    chunk,
                )
            copied = int(out.execute("SELECT count(*) FROM entries").fetchone()[0])
            if copied != len(ids):
                raise JournalError(f"archive: {copied} rows copied of {len(ids)}; nothing moved")
            for name in summary_sql.NAMES:
                out.execute(f"DELETE FROM {name}")  # noqa: S608 - our own table names
            summary_sql.build(out)
            track_summary.rebuild(out)
            out.execute("COMMIT")
            out.execute("DETACH DATABASE src")
        finally:
            out.close()
        os.link(tmp, target)  # never replaces a file that appeared meanwhile
        fsync_dir(target.parent)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _remove(conn: sqlite3.Connection, ids: Sequence[int], target: Path) -> None:
    """In one transaction: delete the rows the archive holds, rebuild the summaries."""
    conn.execute("ATTACH DATABASE ? AS arch", (str(target),))
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            held = deleted = 0
            for chunk in _chunks(ids):
                marks = ",".join("?" * len(chunk))
                tombstones.bury(conn, chunk)  # before the rows go: the guards still see them
                held += int(
                    conn.execute(
                        f"SELECT count(*) FROM arch.entries WHERE id IN ({marks})",  # noqa: S608
                        chunk,
                    ).fetchone()[0]
                )
                deleted += conn.execute(
                    f"DELETE FROM main.entries WHERE id IN ({marks})",  # noqa: S608
                    chunk,
                ).rowcount
            if not held == deleted == len(ids):
                raise JournalError(
                    f"archive: {len(ids)} rows chosen, {held} in {target.name}, {deleted} "
                    "deleted: they disagree, nothing removed from the journal"
                )
            for name in summary_sql.NAMES:
                conn.execute(f"DELETE FROM main.{name}")  # noqa: S608 - our own table names
            summary_sql.build(conn)
            track_summary.rebuild(conn)
            faults.reached("archive_deleted")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.execute("DETACH DATABASE arch")


def _journal_file(conn: sqlite3.Connection) -> str:
    for _, name, file in conn.execute("PRAGMA database_list"):
        if name == "main":
            return str(file)
    raise JournalError("archive: the journal's file is unknown")  # pragma: no cover


def _chunks(ids: Sequence[int], size: int = 500) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])
