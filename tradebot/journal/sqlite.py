"""The default journal store: one SQLite file in WAL mode, written by one connection.

Durability: every write is one transaction committed with ``synchronous=FULL``, which in WAL mode
fsyncs the write-ahead log on each commit. So when a ``record_*`` method returns, its rows survive
a process kill *and* a power loss; ``record_plan`` returning is what allows an order to leave the
process. (``NORMAL`` would only survive a process crash, not a power cut.) The one exception is
asked for by name: ``record_signal(signal, sync=False)`` commits with ``NORMAL`` (the signal loop's
signal that causes nothing before its plan), and the plan's FULL commit, which fsyncs the WAL
with every frame before its own, makes it durable before any order leaves
(:meth:`SqliteJournal.make_durable` when no such commit follows).

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
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from tradebot.clock import utcnow
from tradebot.exceptions import JournalCorrupt, JournalError
from tradebot.journal import schema, summary_sql
from tradebot.journal.base import JournalBase
from tradebot.journal.dialect import Conn

_SQLITE_HEADER = b"SQLite format 3\x00"
_CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB


def translated(path: Path, exc: sqlite3.DatabaseError) -> JournalError:
    """What a sqlite3 error is raised as: JournalCorrupt (damaged / not a database) or
    JournalError."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code in _CORRUPT_CODES or "malformed" in str(exc) or "not a database" in str(exc):
        return JournalCorrupt(f"journal {path} is damaged: {exc}")
    return JournalError(f"journal {path}: {exc}")


@contextmanager
def translate_errors(path: Path) -> Iterator[None]:
    """sqlite3 errors become JournalCorrupt (damaged / not a database) or JournalError."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        raise translated(path, exc) from exc


class SqliteJournal(JournalBase):
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
        # the writer lock keeps every other writer out: the summaries it has read or written
        # stay true between its transactions (see summary_sql.SqlStore)
        self._kept = None if readonly else summary_sql.SqlStore(conn, keep=True)
        # the one write transaction's connection with its summaries, made once (writes are
        # serialised by the mutex, and each ends with its flush)
        self._tx_conn = None if self._kept is None else summary_sql.Tx(conn, self._kept)

    def _kept_summaries(self) -> summary_sql.SqlStore | None:
        return self._kept

    # -- plumbing ------------------------------------------------------------------------------
    def _tx(self, *, sync: bool = True) -> AbstractContextManager[sqlite3.Connection]:
        return self._transaction(sync, None)

    def _writing(self, *, sync: bool = True) -> AbstractContextManager[Conn]:
        # JournalBase._writing over _tx, in one generator: the same steps, fewer layers on the
        # path every write takes (benchmarks/README.md, "Durable writes, one per commit")
        if self._tx_conn is None:
            raise JournalError(f"journal {self.path} is open read-only")
        return self._transaction(sync, self._tx_conn)

    @contextmanager
    def _transaction(self, sync: bool, tx: summary_sql.Tx | None) -> Iterator[Any]:
        """One write transaction, committed with its own fsync unless ``sync`` is False; with
        ``tx``, the block gets it and the summaries of its rows are flushed before the commit
        (forgotten if it does not commit)."""
        if self.readonly:
            raise JournalError(f"journal {self.path} is open read-only")
        conn = self._conn
        with self._mutex:
            try:
                if not sync:  # this commit only: appended to the WAL, not fsynced (_unsynced)
                    conn.execute("PRAGMA synchronous = NORMAL")
                try:
                    changes = conn.total_changes
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        if tx is None:
                            yield conn
                        else:
                            yield tx
                            tx.flush()
                        conn.execute("COMMIT")
                    except BaseException:
                        if conn.in_transaction:  # a failed COMMIT leaves it open too
                            conn.execute("ROLLBACK")
                        raise
                finally:
                    if not sync:  # outside any transaction: SQLite refuses it inside one
                        conn.execute("PRAGMA synchronous = FULL")
            except BaseException as exc:
                if tx is not None:
                    tx.store.forget()  # rolled back: what it remembered may not be stored
                if isinstance(exc, sqlite3.DatabaseError):
                    raise translated(self.path, exc) from exc
                raise
            if not sync:
                self._unsynced = True
            elif conn.total_changes != changes:
                # a FULL commit that wrote fsyncs the WAL: every frame before its own with it
                # (one that wrote nothing appends nothing and fsyncs nothing)
                self._unsynced = False

    def make_durable(self) -> None:
        with self._mutex, translate_errors(self.path):
            if not self._unsynced:
                return
            # the WAL holds every commit (a checkpoint fsyncs it before it copies and resets
            # it): one fsync of the file is what a FULL commit would have done
            main = self._conn.execute("PRAGMA database_list").fetchone()[2]  # SQLite's name
            try:
                fd = os.open(f"{main}-wal", os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError as exc:
                raise JournalError(f"journal {self.path}: {exc.strerror or exc}") from exc
            self._unsynced = False

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._mutex, translate_errors(self.path):
            yield self._conn

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        with self._mutex, translate_errors(self.path):
            self._conn.execute("BEGIN")  # deferred: a read transaction, one WAL snapshot
            try:
                yield self._conn
            finally:
                self._conn.execute("COMMIT")

    def leg_guard_after(self) -> int:
        """The row id the unique leg guard starts after (0: it covers every row); see
        :func:`tradebot.journal.schema._v3`."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'ux_entries_leg'"
            ).fetchone()
        return schema.leg_guard_after(None if row is None else row[0])

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
        fsync_dir(where.parent)
    finally:
        Path(tmp).unlink(missing_ok=True)


def fsync_dir(folder: Path) -> None:
    """Make a file created, renamed or removed in ``folder`` durable (the folder's entry)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
