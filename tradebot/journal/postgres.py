"""The journal on a PostgreSQL server (``journal.url: postgresql://...``), for several machines.

Same behaviour as the SQLite store (:class:`~tradebot.journal.base.JournalBase` holds it, over
the shared SQL), with what a server adds:

* Durable on return: every write is one transaction, committed with ``synchronous_commit = on``
  (set on the session, whatever the server's default), so a committed intent is in the
  server's write-ahead log on disk (and on a synchronous standby, if the server has one) before
  ``record_plan`` returns.
* Several processes may write: the unique guards are the database's, and the intent and fill
  inserts are *insert-if-absent*, so an order or a fill recorded by one process is a duplicate
  for every other, never a second row or an error.
* Fencing: a journal opened with an ``epoch`` checks, in the very transaction that makes its
  intents durable, that ``tradebot_leadership`` still holds that epoch (row locked ``FOR
  SHARE``, so a new leader's bump waits for it); a deposed leader gets :class:`NotLeader` and
  writes nothing. Electing the leader is not the journal's business.
* One connection per journal object, serialised by a lock (the executor writes from threads);
  a connection the server dropped is reopened on the next call. A write whose commit was cut
  off is reported as a :class:`JournalError`, never retried blindly.

The URL carries the password (from the environment: ``${PGPASSWORD}`` in config): it is
registered with :mod:`tradebot.masking` before the first connection attempt, and
:attr:`PostgresJournal.path` is the URL with the password masked.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg

from tradebot.clock import utcnow
from tradebot.exceptions import JournalError, NotLeader
from tradebot.journal import pgschema
from tradebot.journal.base import RAW_COLUMNS, JournalBase
from tradebot.journal.dialect import Conn, PgConn
from tradebot.journal.schema import leg_guard
from tradebot.masking import mask, register_found_in

LEADERSHIP = "bot"  # the row of tradebot_leadership the bot's leader election uses


def shown(url: str) -> str:
    """The URL as it may be shown: password (and any registered secret) masked."""
    register_found_in(url)
    return mask(url)


@contextmanager
def translate_errors(where: str) -> Iterator[None]:
    """psycopg errors become JournalError, with every secret masked out of the message."""
    try:
        yield
    except psycopg.Error as exc:
        raise JournalError(f"journal {where}: {mask(str(exc)).strip()}") from None


class PostgresJournal(JournalBase):
    """The :class:`~tradebot.journal.interface.Journal` on PostgreSQL. Use :func:`open_postgres`."""

    def __init__(
        self,
        url: str,
        *,
        readonly: bool,
        clock: Callable[[], datetime],
        epoch: int | None = None,
    ) -> None:
        self._url = url
        self.path = shown(url)
        self.readonly = readonly
        self.epoch = epoch
        self._clock = clock
        self._mutex = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None

    # -- plumbing ------------------------------------------------------------------------------
    def _connection(self) -> psycopg.Connection[Any]:
        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            if conn is not None:
                conn.close()
            self._conn = conn = connect(self._url, readonly=self.readonly)
        return conn

    @contextmanager
    def _session(self) -> Iterator[Conn]:
        with self._mutex, translate_errors(self.path):
            conn = self._connection()
            try:
                conn.execute("BEGIN")
            except psycopg.OperationalError:
                # the server dropped the idle connection (a restart, a failover): nothing was
                # begun, so one new connection is safe; a failure after BEGIN is never retried
                conn = self._connection()
                conn.execute("BEGIN")
            try:
                yield PgConn(conn)
            except BaseException:
                if not conn.broken:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def _tx(self) -> Iterator[Conn]:
        if self.readonly:
            raise JournalError(f"journal {self.path} is open read-only")
        with self._session() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Conn]:
        with self._session() as conn:
            yield conn

    def _fence(self, conn: Conn) -> None:
        if self.epoch is None:
            return
        row = conn.execute(
            "SELECT epoch FROM tradebot_leadership WHERE name = ? FOR SHARE", (LEADERSHIP,)
        ).fetchone()
        current = None if row is None else int(row[0])
        if current != self.epoch:
            raise NotLeader(
                f"journal {self.path}: leadership epoch is now {current}, this process holds "
                f"{self.epoch}: it is no longer the leader and must not send orders"
            )

    def copy_rows(self, rows: Sequence[Sequence[Any]]) -> None:
        """Append rows as stored elsewhere (:data:`~tradebot.journal.base.RAW_COLUMNS`, ids
        included) in one durable transaction, and move the id sequence past them: how
        ``tradebot journal migrate`` moves a SQLite journal here, ids and all."""
        if not rows:
            return
        columns = ", ".join(RAW_COLUMNS)
        with self._tx(), translate_errors(self.path):
            conn = self._connection()
            with conn.cursor().copy(f"COPY entries ({columns}) FROM STDIN".encode()) as copy:
                for row in rows:
                    copy.write_row(row)
            conn.execute(
                "SELECT setval(pg_get_serial_sequence('entries', 'id'), "
                "(SELECT max(id) FROM entries))"
            )

    def set_leg_guard(self, after: int) -> None:
        """Start the unique leg guard after row ``after``, as the SQLite journal being copied
        here has it (legs it recorded twice before the guard existed are kept). Only on an
        empty journal: the copy's first step."""
        with self._tx() as conn:
            if conn.execute("SELECT 1 FROM entries LIMIT 1").fetchone() is not None:
                raise JournalError(f"journal {self.path} is not empty")
            conn.execute("DROP INDEX ux_entries_leg")
            conn.execute(leg_guard(after))

    def close(self) -> None:
        with self._mutex:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> PostgresJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PostgresJournal({self.path!r}, readonly={self.readonly})"


def connect(url: str, *, readonly: bool) -> psycopg.Connection[Any]:
    """A session set for the journal: durable commits, read-only when asked, a bounded wait."""
    conn = psycopg.connect(url, autocommit=True, connect_timeout=10, application_name="tradebot")
    try:
        # durable on return, whatever postgresql.conf or the role says
        conn.execute("SET synchronous_commit = on")
        if readonly:
            conn.execute("SET default_transaction_read_only = on")
    except BaseException:
        conn.close()
        raise
    return conn


def open_postgres(
    url: str,
    *,
    readonly: bool = False,
    clock: Callable[[], datetime] = utcnow,
    epoch: int | None = None,
) -> PostgresJournal:
    """Connect, and create or migrate the journal's schema (also for readers: a journal written
    by an older tradebot stays readable).

    Raises :class:`JournalError` when the server cannot be reached or refuses the login, when
    the database holds an ``entries`` table tradebot did not make (never touched), or a
    schema from a newer tradebot; and when ``readonly`` and there is no journal yet.
    """
    where = shown(url)
    with translate_errors(where):
        conn = connect(url, readonly=False)
        try:
            found = pgschema.version(conn)
            if found is None and pgschema.has_entries_table(conn):
                raise JournalError(
                    f"{where} has an 'entries' table that is not a tradebot journal; not "
                    "touching it (use another database or schema)"
                )
            if found is None and readonly:
                raise JournalError(f"no journal at {where}")
            if found is not None and found > pgschema.LATEST:
                raise JournalError(
                    f"{where} has journal schema v{found}; this tradebot knows v1..v"
                    f"{pgschema.LATEST}: upgrade tradebot"
                )
            if found is None or found < pgschema.LATEST:
                pgschema.migrate(conn)
        finally:
            conn.close()
    journal = PostgresJournal(url, readonly=readonly, clock=clock, epoch=epoch)
    with journal._read():  # connect now: a wrong URL fails at open, not at the first write
        pass
    return journal
