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
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from tradebot.clock import utcnow
from tradebot.core.ids import DEFAULT_ACCOUNT
from tradebot.core.orders import Plan
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


@dataclass(frozen=True, slots=True)
class ProcessBeat:
    """One process's heartbeat: who it is, what it does now, its AlphaHub connections."""

    holder: str  # host:pid:start, unique per process run
    host: str
    pid: int
    role: str  # "leader" or "standby"
    connections: str  # e.g. "2/2 up"


@dataclass(frozen=True, slots=True)
class ProcessRow:
    beat: ProcessBeat
    heartbeat_at: datetime
    age: float  # seconds since the heartbeat, on the server's clock


def planned_keys(plan: Plan) -> list[str]:
    """The leg identities a plan decides (ordered, each once): its intents' and its skips'."""
    keys = [leg.key for intent in plan.intents for leg in intent.leg_ids]
    keys += [s.key for s in plan.skipped if s.key is not None]
    return list(dict.fromkeys(keys))


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
    def _session(self, *, sync: bool | None = None) -> Iterator[Conn]:
        """One transaction; ``sync`` (a write's): False commits without waiting for the WAL
        flush, True makes sure the commit flushes it when an unsynced commit came before."""
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
                if sync is False:  # this transaction only (the session keeps "on")
                    conn.execute("SET LOCAL synchronous_commit = off")
                yield PgConn(conn)
                if sync and self._unsynced:
                    # a commit waits for the WAL's flush up to its own record, which covers
                    # every earlier commit, but only if it wrote WAL: a message in the WAL (no
                    # table, no privilege) makes sure of it, whatever the block wrote
                    conn.execute("SELECT pg_logical_emit_message(true, 'tradebot', 'durable')")
            except BaseException:
                if not conn.broken:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            if sync is not None:
                self._unsynced = not sync

    @contextmanager
    def _tx(self, *, sync: bool = True) -> Iterator[Conn]:
        if self.readonly:
            raise JournalError(f"journal {self.path} is open read-only")
        with self._session(sync=sync) as conn:
            yield conn

    def make_durable(self) -> None:
        if self._unsynced:
            with self._tx():
                pass  # a synced commit that writes WAL (see _session)

    @contextmanager
    def _read(self) -> Iterator[Conn]:
        with self._session() as conn:
            yield conn

    @contextmanager
    def _snapshot(self) -> Iterator[Conn]:
        with self._session() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
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

    def _claim(self, conn: Conn, signal_id: int | None, plan: Plan, account: str) -> None:
        for key in planned_keys(plan):
            conn.execute(
                "INSERT INTO tradebot_planned_legs (account, leg, signal_id) VALUES (?, ?, ?) "
                "ON CONFLICT (account, leg) DO NOTHING",
                (account, key, signal_id),
            )

    # -- several processes (tradebot.journal.lease) ----------------------------------------------
    def planned_legs(self, keys: Sequence[str], *, account: str = DEFAULT_ACCOUNT) -> set[str]:
        """Which of these leg identities a leader has already planned for ``account`` (under
        any signal)."""
        if not keys:
            return set()
        with self._read() as conn:
            rows = conn.execute(
                "SELECT leg FROM tradebot_planned_legs WHERE account = ? AND leg = ANY(?)",
                (account, list(keys)),
            ).fetchall()
        return {str(r[0]) for r in rows}

    def take_lead(self, holder: str, seconds: float) -> int | None:
        """Become the leader if nobody holds a live lease: the new epoch, else None.

        The lease is on the server's clock (``now()``), never a process's. Two standbys asking
        at once both run the UPDATE; the second waits on the row lock, re-reads the row, finds
        the lease live again and updates nothing: exactly one wins.
        """
        with self._tx() as conn:
            # a paused leader's open intent transaction holds the row (FOR SHARE): never wait
            # on it for long (the server ends that transaction: idle_in_transaction timeout)
            conn.execute("SET LOCAL lock_timeout = '2s'")
            conn.execute(
                "INSERT INTO tradebot_leadership (name, epoch) VALUES (?, 0) "
                "ON CONFLICT (name) DO NOTHING",
                (LEADERSHIP,),
            )
            row = conn.execute(
                "UPDATE tradebot_leadership SET epoch = epoch + 1, holder = ?, "
                "lease_until = now() + make_interval(secs => ?) WHERE name = ? AND "
                "(lease_until IS NULL OR lease_until < now()) RETURNING epoch",
                (holder, seconds, LEADERSHIP),
            ).fetchone()
        return None if row is None else int(row[0])

    def renew_lead(self, epoch: int, seconds: float) -> bool:
        """Extend the lease of ``epoch``; False when another process has taken over since."""
        with self._tx() as conn:
            row = conn.execute(
                "UPDATE tradebot_leadership SET lease_until = now() + make_interval(secs => ?) "
                "WHERE name = ? AND epoch = ? RETURNING epoch",
                (seconds, LEADERSHIP, epoch),
            ).fetchone()
        return row is not None

    def release_lead(self, epoch: int) -> None:
        """A clean stop: end the lease now, so a standby takes over without waiting it out."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE tradebot_leadership SET lease_until = NULL WHERE name = ? AND epoch = ?",
                (LEADERSHIP, epoch),
            )

    def leadership(self) -> tuple[int, str | None, bool] | None:
        """(epoch, holder, lease live) as the server sees it now; None before any leader."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT epoch, holder, coalesce(lease_until >= now(), false) "
                "FROM tradebot_leadership WHERE name = ?",
                (LEADERSHIP,),
            ).fetchone()
        return None if row is None else (int(row[0]), row[1], bool(row[2]))

    def beat(self, process: ProcessBeat) -> None:
        """Write this process's heartbeat row (``tradebot status`` lists them)."""
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO tradebot_processes (holder, host, pid, role, connections) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (holder) DO UPDATE SET role = "
                "excluded.role, connections = excluded.connections, heartbeat_at = now()",
                (process.holder, process.host, process.pid, process.role, process.connections),
            )

    def processes(self) -> list[ProcessRow]:
        """Every process that ever beat, most recent heartbeat first, with its age in seconds
        on the server's clock."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT holder, host, pid, role, connections, heartbeat_at, "
                "extract(epoch FROM now() - heartbeat_at) FROM tradebot_processes "
                "ORDER BY heartbeat_at DESC"
            ).fetchall()
        return [
            ProcessRow(ProcessBeat(r[0], r[1], int(r[2]), r[3], r[4]), r[5], float(r[6]))
            for r in rows
        ]

    def copy_rows(self, rows: Sequence[Sequence[Any]]) -> None:
        """Append rows as stored elsewhere (:data:`~tradebot.journal.base.RAW_COLUMNS`, ids
        included) in one durable transaction, and move the id sequence past them: how
        ``tradebot journal migrate`` moves a SQLite journal here, ids and all. No summary
        is kept: :meth:`rebuild_summaries` when the copy is done."""
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
        # a transaction is a few statements with no wait inside: one left open is a process
        # paused (SIGSTOP) or frozen mid-write; the server ends it, so the rows it locked (the
        # leadership row a take-over must bump) are freed and its commit fails when it wakes
        conn.execute("SET idle_in_transaction_session_timeout = '5s'")
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
    by an older tradebot stays readable). Safe to call from several processes at once on an
    empty database: one creates the journal, the others wait for it and open it
    (:func:`~tradebot.journal.pgschema.prepare`).

    Raises :class:`JournalError` when the server cannot be reached or refuses the login, when
    the database holds an ``entries`` table tradebot did not make (never touched), or a
    schema from a newer tradebot; and when ``readonly`` and there is no journal yet.
    """
    where = shown(url)
    with translate_errors(where):
        conn = connect(url, readonly=False)
        try:
            pgschema.prepare(conn, where, create=not readonly)
        finally:
            conn.close()
    journal = PostgresJournal(url, readonly=readonly, clock=clock, epoch=epoch)
    with journal._read():  # connect now: a wrong URL fails at open, not at the first write
        pass
    return journal
