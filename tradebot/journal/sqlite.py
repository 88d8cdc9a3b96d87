"""The default journal store: one SQLite file in WAL mode, written by one connection.

Durability: every write is one transaction committed with ``synchronous=FULL``, which in WAL mode
fsyncs the write-ahead log on each commit. So when a ``record_*`` method returns, its rows survive
a process kill *and* a power loss; ``record_plan`` returning is what allows an order to leave the
process. (``NORMAL`` would only survive a process crash, not a power cut.)

One writer: a writing journal holds an exclusive ``flock`` on the journal file itself for its
lifetime, so a second bot on the same file fails fast instead of interleaving, however it names
the file: a hard link or a symbolic link reaches the same inode, and the same lock. (A lock file
beside the journal would be keyed on the name; two names would get two WAL files and corrupt
the journal.) The OS releases it when the process dies, even by ``kill -9``. On Linux ``flock``
and SQLite's own POSIX locks do not interact. Within the process a lock serialises threads (the
executor writes through ``asyncio.to_thread``). Readers (the review commands) take no lock.

Never started anew: a new journal is built under a temporary name and linked into place
complete (schema and tag), so an empty or untagged file at the path was not made by tradebot
and is refused, never overwritten (a journal truncated to 0 bytes must not quietly become a
fresh one whose positions are all zero).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradebot.broker.base import OrderSnapshot
from tradebot.clock import utcnow
from tradebot.core.book import PositionBook
from tradebot.core.events import OrderEvent
from tradebot.core.orders import OrderIntent, Plan, SkippedLeg, SkipReason
from tradebot.core.signal import Signal
from tradebot.exceptions import JournalCorrupt, JournalError
from tradebot.journal import orderlog, queries, schema
from tradebot.journal.interface import EntryFilter, StoredSignal
from tradebot.journal.positions import rebuild_book
from tradebot.journal.records import AppliedFill, Entry, FillFact, Status, StoredIntent, to_micros
from tradebot.journal.rows import INSERT, Row, intent_row, signal_rows, skipped_row

_SQLITE_HEADER = b"SQLite format 3\x00"
_CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB


@contextmanager
def translate_errors(path: Path) -> Iterator[None]:
    """sqlite3 errors become JournalCorrupt (damaged / not a database) or JournalError."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        code = getattr(exc, "sqlite_errorcode", None)
        if code in _CORRUPT_CODES or "malformed" in str(exc) or "not a database" in str(exc):
            raise JournalCorrupt(f"journal {path} is damaged: {exc}") from exc
        raise JournalError(f"journal {path}: {exc}") from exc


class SqliteJournal:
    """The :class:`~tradebot.journal.interface.Journal` on SQLite. Use :func:`open_journal`."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        *,
        readonly: bool,
        lock_fd: int | None,
        clock: Callable[[], datetime],
    ) -> None:
        self._conn = conn
        self.path = path
        self.readonly = readonly
        self._lock_fd = lock_fd
        self._clock = clock
        self._mutex = threading.Lock()

    # -- plumbing ------------------------------------------------------------------------------
    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        if self.readonly:
            raise JournalError(f"journal {self.path} is open read-only")
        with self._mutex, translate_errors(self.path):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _write(self, rows: Sequence[Row]) -> int:
        with self._tx() as conn:
            last = 0
            for row in rows:
                last = conn.execute(INSERT, row.params()).lastrowid or 0
            return last

    def write_rows(self, rows: Sequence[Row]) -> int:
        """Append rows in one durable transaction (batching); returns the last row id."""
        return self._write(rows)

    def _one(self, status: Status, detail: str, **fields: Any) -> int:
        return self._write([Row(self._clock(), status, detail, **fields)])

    # -- lifecycle and context ------------------------------------------------------------------
    def record_start(self, detail: str, data: Mapping[str, Any] | None = None) -> int:
        return self._one(Status.START, detail, data=data or {})

    def record_stop(self, detail: str, data: Mapping[str, Any] | None = None) -> int:
        return self._one(Status.STOP, detail, data=data or {})

    def record_config(self, detail: str, data: Mapping[str, Any]) -> int:
        return self._one(Status.CONFIG, detail, data=data)

    def record_gap(self, detail: str, *, algo_id: int | None = None) -> int:
        return self._one(Status.GAP, detail, algo_id=algo_id)

    def record_error(
        self,
        detail: str,
        *,
        algo_id: int | None = None,
        symbol: str | None = None,
        client_order_id: str | None = None,
        signal_id: int | None = None,
    ) -> int:
        return self._one(
            Status.ERROR,
            detail,
            algo_id=algo_id,
            symbol=symbol,
            client_order_id=client_order_id,
            signal_id=signal_id,
        )

    def record_drift(self, symbol: str, ours: Decimal, broker: Decimal) -> int:
        detail = f"journal net {ours} != broker {broker} (difference {broker - ours})"
        data = {"journal": ours, "broker": broker}
        return self._one(Status.DRIFT, detail, symbol=symbol, qty=broker - ours, data=data)

    def record_recovery(self, detail: str, data: Mapping[str, Any] | None = None) -> int:
        return self._one(Status.RECOVERY, detail, data=data or {})

    # -- the order story ------------------------------------------------------------------------
    def record_signal(self, signal: Signal) -> int:
        with self._tx() as conn:
            return _insert_signal(conn, signal)

    def record_plan(self, signal_id: int | None, plan: Plan) -> tuple[OrderIntent, ...]:
        with self._tx() as conn:
            algo = orderlog.signal_algo(conn, signal_id)
            return _insert_plan(conn, signal_id, algo, plan, self._clock())

    def record_signal_and_plan(
        self, signal: Signal, plan: Plan
    ) -> tuple[int, tuple[OrderIntent, ...]]:
        with self._tx() as conn:
            signal_id = _insert_signal(conn, signal)
            return signal_id, _insert_plan(conn, signal_id, signal.algo_id, plan, self._clock())

    def record_snapshot(self, snapshot: OrderSnapshot, *, source: str) -> tuple[AppliedFill, ...]:
        with self._tx() as conn:
            return orderlog.apply_snapshot(conn, snapshot, self._clock(), source)

    def record_event(self, event: OrderEvent) -> tuple[AppliedFill, ...]:
        with self._tx() as conn:
            return orderlog.apply_event(conn, event, self._clock())

    def record_events(self, events: Sequence[OrderEvent]) -> tuple[AppliedFill, ...]:
        at = self._clock()
        with self._tx() as conn:
            return tuple(f for event in events for f in orderlog.apply_event(conn, event, at))

    def record_rejected(self, client_order_id: str, reason: str) -> int:
        with self._tx() as conn:
            return orderlog.final_row(conn, client_order_id, Status.REJECTED, reason, self._clock())

    def record_failed(self, client_order_id: str, reason: str) -> int:
        with self._tx() as conn:
            return orderlog.final_row(conn, client_order_id, Status.FAILED, reason, self._clock())

    # -- reading --------------------------------------------------------------------------------
    def rebuild_book(self) -> PositionBook:
        with self._mutex, translate_errors(self.path):
            return rebuild_book(self._conn)

    def unresolved_intents(
        self, *, after_id: int = 0, unanswered: bool = False
    ) -> tuple[StoredIntent, ...]:
        with self._mutex, translate_errors(self.path):
            return orderlog.unresolved_intents(self._conn, after_id=after_id, unanswered=unanswered)

    def unplanned_signals(self) -> tuple[StoredSignal, ...]:
        with self._mutex, translate_errors(self.path):
            return orderlog.unplanned_signals(self._conn)

    def entries(self, where: EntryFilter) -> Sequence[Entry]:
        with self._mutex, translate_errors(self.path):
            return queries.select(self._conn, where)

    def iter_entries(self, where: EntryFilter, *, page: int = 2000) -> Iterator[Entry]:
        # keyset paging: the lock is held for one page at a time, never across a yield, so a
        # long export never holds up the bot writing through the same journal object
        remaining = where.limit
        after: tuple[int, int] | None = None
        while remaining is None or remaining > 0:
            size = page if remaining is None else min(page, remaining)
            with self._mutex, translate_errors(self.path):
                rows = queries.select(self._conn, replace(where, limit=size), after=after)
            yield from rows
            if len(rows) < size:
                return
            if remaining is not None:
                remaining -= len(rows)
            last = rows[-1]
            if where.after_id is not None:  # following: in id order
                where = replace(where, after_id=last.id)
            else:
                after = (to_micros(last.at), last.id)

    def count_entries(self, where: EntryFilter) -> Mapping[tuple[int | None, Status], int]:
        with self._mutex, translate_errors(self.path):
            return queries.count(self._conn, where)

    def fill_history(
        self, *, until: datetime | None = None, page: int = 5000
    ) -> Iterator[FillFact]:
        after = (-1, -1)
        while True:
            with self._mutex, translate_errors(self.path):
                facts = queries.fills_page(self._conn, until, after, page)
            yield from facts
            if len(facts) < page:
                return
            after = facts[-1].key

    def last_id(self) -> int:
        with self._mutex, translate_errors(self.path):
            return int(self._conn.execute("SELECT coalesce(max(id), 0) FROM entries").fetchone()[0])

    def close(self) -> None:
        with self._mutex:
            self._conn.close()  # first: closing the lock's descriptor drops SQLite's locks
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # releases the flock
                self._lock_fd = None

    def __enter__(self) -> SqliteJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _with_signal(row: Row, signal_id: int) -> Row:
    return replace(row, signal_id=signal_id)


def _check_file(where: Path, info: os.stat_result) -> None:
    """A regular, non-empty file: anything else is not a journal tradebot made."""
    if not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise JournalError(f"journal {where} is {kind}")
    if info.st_size == 0:
        raise JournalCorrupt(
            f"journal {where} is empty (0 bytes): that is not a tradebot journal (tradebot "
            "never leaves an empty one), so it was truncated or made by something else. "
            "Not touching it: restore the journal from a backup, or move this file away to "
            "start a new journal (positions then start from zero and differences with the "
            "broker show as drift)"
        )


def _locked_fd(where: Path) -> int:
    """A descriptor on the journal file holding the single-writer ``flock`` (on the inode).

    It stays open while the journal is: closing any descriptor on the file would drop the
    POSIX locks SQLite holds on it in this process (so readers open none of their own).
    """
    # O_NONBLOCK: a FIFO at the path must not hang the bot
    fd = os.open(where, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    try:
        info = os.fstat(fd)
        if stat.S_ISREG(info.st_mode):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise JournalError(
                    f"journal {where} is in use by another tradebot process"
                ) from None
        _check_file(where, info)
        if os.pread(fd, len(_SQLITE_HEADER), 0) != _SQLITE_HEADER:
            raise JournalCorrupt(
                f"{where} is not a SQLite database; refusing to use or overwrite it"
            )
    except BaseException:
        os.close(fd)
        raise
    return fd


def _create(where: Path) -> None:
    """Build an empty, tagged journal under a temporary name and link it into place.

    Linking never replaces a file that appeared meanwhile (another bot won the race: its
    journal is used, and the lock decides who writes).
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{where.name}.new-", dir=where.parent)
    os.close(fd)
    try:
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            schema.migrate(conn)  # one transaction; synchronous=FULL (the default) fsyncs it
        finally:
            conn.close()
        try:
            os.link(tmp, where)
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            if not os.path.lexists(where):
                os.replace(tmp, where)
        _fsync_dir(where.parent)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _insert_signal(conn: sqlite3.Connection, signal: Signal) -> int:
    head, children = signal_rows(signal)
    signal_id = conn.execute(INSERT, head.params()).lastrowid
    assert signal_id is not None
    for row in children:
        conn.execute(INSERT, _with_signal(row, signal_id).params())
    return signal_id


def _insert_plan(
    conn: sqlite3.Connection, signal_id: int | None, algo: int | None, plan: Plan, at: datetime
) -> tuple[OrderIntent, ...]:
    """The PLAN row, each new intent, and the skipped legs; a journaled order id is a duplicate."""
    new: list[OrderIntent] = []
    detail = f"{len(plan.intents)} orders, {len(plan.skipped)} skipped"
    coids = [i.client_order_id for i in plan.intents]
    plan_data = {"orders": coids, "notes": list(plan.notes)}
    conn.execute(
        INSERT,
        Row(at, Status.PLAN, detail, algo_id=algo, signal_id=signal_id, data=plan_data).params(),
    )
    for intent in plan.intents:
        if orderlog.intent_exists(conn, intent.client_order_id):
            dup = SkippedLeg(
                intent.leg_ids[0],
                SkipReason.DUPLICATE,
                f"order {intent.client_order_id} already journaled",
            )
            conn.execute(INSERT, skipped_row(at, dup, signal_id).params())
            continue
        conn.execute(INSERT, intent_row(at, intent, signal_id).params())
        new.append(intent)
    for skip in plan.skipped:
        conn.execute(INSERT, skipped_row(at, skip, signal_id).params())
    return tuple(new)


def open_journal(
    path: str | os.PathLike[str],
    *,
    readonly: bool = False,
    clock: Callable[[], datetime] = utcnow,
) -> SqliteJournal:
    """Open (creating if needed, unless ``readonly``) and migrate the journal at ``path``.

    Raises :class:`JournalCorrupt` for a damaged file or one that is not a tradebot journal
    (an empty file, text, another SQLite database: never overwritten), and :class:`JournalError`
    for a missing file when ``readonly``, a path that is not a file, a journal from a newer
    tradebot, or a journal another process is writing (under any name: hard or symbolic link).
    """
    where = Path(path)
    if readonly and not where.exists():
        raise JournalError(f"no journal at {where}")
    fd = None
    try:
        if readonly:
            _check_file(where, os.stat(where))  # SQLite itself refuses a non-SQLite file
        else:
            where.parent.mkdir(parents=True, exist_ok=True)
            if not os.path.lexists(where):
                _create(where)
            fd = _locked_fd(where)
    except OSError as exc:  # a directory, no permission, a read-only disk...
        raise JournalError(f"journal {where}: {exc.strerror or exc}") from exc
    try:
        with translate_errors(where):
            conn = sqlite3.connect(where, isolation_level=None, check_same_thread=False)
            try:
                if fd is not None:
                    _same_file(where, fd)
                _prepare(conn, where)
                if readonly:
                    conn.execute("PRAGMA query_only = ON")
            except BaseException:
                conn.close()
                raise
    except BaseException:
        if fd is not None:
            os.close(fd)
        raise
    return SqliteJournal(conn, where, readonly=readonly, lock_fd=fd, clock=clock)


def _same_file(where: Path, fd: int) -> None:
    """The file SQLite opened is the one checked and locked (not swapped in between)."""
    try:
        now = os.stat(where)
    except OSError as exc:
        raise JournalError(f"journal {where}: {exc.strerror or exc}") from exc
    locked = os.fstat(fd)
    if (now.st_dev, now.st_ino) != (locked.st_dev, locked.st_ino):
        raise JournalError(f"journal {where} was replaced while it was being opened; try again")


def _prepare(conn: sqlite3.Connection, where: Path) -> None:
    app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    tables = int(conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
    if app_id != schema.APPLICATION_ID:  # tradebot creates journals tagged (see _create)
        what = "a SQLite database with tables" if tables else "an empty SQLite database"
        raise JournalCorrupt(
            f"{where} is {what} but not a tradebot journal; not touching it (move it away, "
            "or point journal.path elsewhere)"
        )
    if version > schema.LATEST:
        raise JournalError(
            f"{where} has journal schema v{version}; this tradebot knows v1..v"
            f"{schema.LATEST}: upgrade tradebot"
        )
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA busy_timeout = 10000")
    if version < schema.LATEST:
        schema.migrate(conn)  # also for readers: a v1 journal stays readable after an upgrade
