"""The journal's behaviour, written once over a connection: both stores inherit it.

:class:`JournalBase` implements every method of the
:class:`~tradebot.journal.interface.Journal` protocol on top of two context managers a store
provides: :meth:`~JournalBase._tx` (one durable write transaction, serialised within the
process) and :meth:`~JournalBase._read`. The SQL is the shared dialect
(:mod:`tradebot.journal.dialect`), so every rule (exactly-once fills, one intent per order id,
positions from fills) lives in one place whichever database holds the rows.
"""

from __future__ import annotations

import heapq
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from tradebot import faults
from tradebot.core.book import PositionBook
from tradebot.core.events import OrderEvent
from tradebot.core.ids import DEFAULT_ACCOUNT, account_of
from tradebot.core.order_snapshot import OrderSnapshot
from tradebot.core.orders import OrderIntent, Plan
from tradebot.core.signal import Signal
from tradebot.journal import (
    orderlog,
    queries,
    summary_check,
    summary_sql,
    tombstones,
    track_summary,
    tracking_sql,
)
from tradebot.journal.dialect import Conn
from tradebot.journal.interface import EntryFilter, StoredSignal
from tradebot.journal.latency import LatencyReport, LegTimes
from tradebot.journal.latency import leg_times as latency_legs
from tradebot.journal.latency import read as latency_read
from tradebot.journal.positions import rebuild_book
from tradebot.journal.records import (
    AppliedFill,
    Entry,
    FillFact,
    OrderRow,
    Status,
    StoredIntent,
    to_micros,
)
from tradebot.journal.rows import Row
from tradebot.journal.summary import Position

_FILL_STATUSES = ("partial", "filled")


def _row_key(row: OrderRow) -> tuple[int, int]:
    return (row.ts, row.id)


#: every stored column, in the order :meth:`JournalBase.raw_rows` returns them
RAW_COLUMNS = (
    "id",
    "ts",
    "status",
    "algo_id",
    "symbol",
    "client_order_id",
    "signal_id",
    "leg",
    "side",
    "qty",
    "price",
    "cum_qty",
    "detail",
    "data",
    "account",
)
RAW_SELECT = f"SELECT {', '.join(RAW_COLUMNS)} FROM entries WHERE id > ? ORDER BY id LIMIT ?"  # noqa: S608


class JournalBase(ABC):
    """Everything a journal does, given a store's transactions (see the module docstring)."""

    _clock: Callable[[], datetime]

    #: a commit made without its own fsync (``sync=False``) is not yet covered by a synced one
    _unsynced = False

    @abstractmethod
    def _tx(self, *, sync: bool = True) -> AbstractContextManager[Conn]:
        """One write transaction, committed durably when the block ends without an error.

        ``sync=False``: committed in order and kept by a process kill, but without its own
        flush to disk (SQLite ``synchronous=NORMAL``, PostgreSQL ``synchronous_commit=off``):
        the next synced commit, or :meth:`make_durable`, makes it durable with everything
        before it (both are write-ahead logs, flushed in order)."""

    @abstractmethod
    def _read(self) -> AbstractContextManager[Conn]:
        """A connection to read from, held by this thread for the block."""

    @abstractmethod
    def _snapshot(self) -> AbstractContextManager[Conn]:
        """A connection whose reads all see one moment of the journal (a read transaction)."""

    def _writing(self, *, sync: bool = True) -> AbstractContextManager[Conn]:
        """:meth:`_tx`, with the summaries of the rows written in it flushed before the
        commit (:class:`~tradebot.journal.summary_sql.Tx`): in the same transaction. (A store
        may do the same in fewer steps: SQLite's is one generator.)"""
        return self._summarised(sync)

    @contextmanager
    def _summarised(self, sync: bool) -> Iterator[Conn]:
        kept = self._kept_summaries()
        try:
            with self._tx(sync=sync) as conn:
                tx = summary_sql.Tx(conn, kept)
                yield tx
                tx.flush()
        except BaseException:
            if kept is not None:
                kept.forget()  # rolled back: what it remembered may not be in the database
            raise

    @property
    def unsynced(self) -> bool:
        """Whether a commit made with ``sync=False`` may not be on disk yet (the stores set
        and clear it under their lock, as they commit)."""
        return self._unsynced

    @abstractmethod
    def make_durable(self) -> None:
        """Put every commit so far on disk (a no-op unless :attr:`unsynced`): for a signal
        journaled with ``sync=False`` whose handling ended without a synced commit."""

    def _kept_summaries(self) -> summary_sql.SqlStore | None:
        """The summary store kept from one write transaction to the next: only a journal that
        is its database's only writer may keep one (see :class:`~.summary_sql.SqlStore`)."""
        return None

    def _claim(  # noqa: B027
        self, conn: Conn, signal_id: int | None, plan: Plan, account: str
    ) -> None:
        """A hook: a store shared by several processes records the legs ``plan`` decided (for
        ``account``: each account decides a leg once)."""

    def _fence(self, conn: Conn) -> None:  # noqa: B027 (a hook: most stores have no fence)
        """Called in the transaction that makes intents durable, before they are written: a
        store shared by several processes raises here when this one may no longer send."""

    def _write(self, rows: Sequence[Row]) -> int:
        with self._writing() as conn:
            last = 0
            for row in rows:
                last = summary_sql.insert(conn, row.params())
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
        account: str = DEFAULT_ACCOUNT,
    ) -> int:
        return self._one(
            Status.ERROR,
            detail,
            algo_id=algo_id,
            symbol=symbol,
            client_order_id=client_order_id,
            signal_id=signal_id,
            account=account,
        )

    def record_chase(
        self, intent: OrderIntent, detail: str, data: Mapping[str, Any], signal_id: int | None
    ) -> int:
        return self._command_row(Status.CHASE, intent, detail, data, signal_id)

    def record_exit(
        self, intent: OrderIntent, detail: str, data: Mapping[str, Any], signal_id: int | None
    ) -> int:
        return self._command_row(Status.EXIT, intent, detail, data, signal_id)

    def _command_row(
        self,
        status: Status,
        intent: OrderIntent,
        detail: str,
        data: Mapping[str, Any],
        signal_id: int | None,
    ) -> int:
        # fenced like an intent: the cancel it announces is a command to the broker, and a
        # process that is no longer the leader must not send one
        with self._writing() as conn:
            self._fence(conn)
            row = Row(
                self._clock(),
                status,
                detail,
                algo_id=intent.algo_id,
                symbol=intent.symbol,
                client_order_id=intent.client_order_id,
                signal_id=signal_id,
                leg=intent.leg_ids[0].key if intent.leg_ids else None,
                side=str(intent.side),
                qty=intent.qty,
                data=dict(data),
                account=account_of(intent.client_order_id),
            )
            row_id = summary_sql.insert(conn, row.params())
        if faults.ARMED:  # a crash-matrix step (tradebot/faults.py): durable, not yet sent
            faults.reached(f"{status}_recorded:{data.get('step', '')}")
        return row_id

    def record_drift(
        self, symbol: str, ours: Decimal, broker: Decimal, *, account: str = DEFAULT_ACCOUNT
    ) -> int:
        detail = f"journal net {ours} != broker {broker} (difference {broker - ours})"
        data = {"journal": ours, "broker": broker}
        return self._one(
            Status.DRIFT, detail, symbol=symbol, qty=broker - ours, data=data, account=account
        )

    def record_recovery(
        self,
        detail: str,
        data: Mapping[str, Any] | None = None,
        *,
        account: str = DEFAULT_ACCOUNT,
    ) -> int:
        return self._one(Status.RECOVERY, detail, data=data or {}, account=account)

    # -- the order story ------------------------------------------------------------------------
    def record_signal(self, signal: Signal, *, sync: bool = True) -> int:
        with self._writing(sync=sync) as conn:
            signal_id = orderlog.insert_signal(conn, signal)
        if faults.ARMED:  # a crash-matrix step (tradebot/faults.py)
            faults.reached("signal_recorded")
        return signal_id

    def record_plan(
        self, signal_id: int | None, plan: Plan, *, account: str = DEFAULT_ACCOUNT
    ) -> tuple[OrderIntent, ...]:
        orderlog.check_plan_account(plan, account)
        with self._writing() as conn:
            self._fence(conn)
            algo = orderlog.signal_algo(conn, signal_id)
            self._claim(conn, signal_id, plan, account)
            return orderlog.insert_plan(conn, signal_id, algo, plan, self._clock(), account)

    def record_signal_and_plan(
        self, signal: Signal, plan: Plan, *, account: str = DEFAULT_ACCOUNT
    ) -> tuple[int, tuple[OrderIntent, ...]]:
        orderlog.check_plan_account(plan, account)
        with self._writing() as conn:
            self._fence(conn)
            signal_id = orderlog.insert_signal(conn, signal)
            self._claim(conn, signal_id, plan, account)
            at = self._clock()
            return signal_id, orderlog.insert_plan(
                conn, signal_id, signal.algo_id, plan, at, account
            )

    def record_snapshot(
        self, snapshot: OrderSnapshot, *, source: str, account: str = DEFAULT_ACCOUNT
    ) -> tuple[AppliedFill, ...]:
        with self._writing() as conn:
            return orderlog.apply_snapshot(conn, snapshot, self._clock(), source, account)

    def record_event(
        self, event: OrderEvent, *, account: str = DEFAULT_ACCOUNT
    ) -> tuple[AppliedFill, ...]:
        with self._writing() as conn:
            return orderlog.apply_event(conn, event, self._clock(), account)

    def record_events(
        self, events: Sequence[OrderEvent], *, account: str = DEFAULT_ACCOUNT
    ) -> tuple[AppliedFill, ...]:
        at = self._clock()
        with self._writing() as conn:
            return tuple(
                f for event in events for f in orderlog.apply_event(conn, event, at, account)
            )

    def record_rejected(self, client_order_id: str, reason: str) -> int:
        at, account = self._clock(), account_of(client_order_id)
        with self._writing() as conn:
            return orderlog.final_row(conn, client_order_id, Status.REJECTED, reason, at, account)

    def record_failed(self, client_order_id: str, reason: str) -> int:
        at, account = self._clock(), account_of(client_order_id)
        with self._writing() as conn:
            return orderlog.final_row(conn, client_order_id, Status.FAILED, reason, at, account)

    # -- reading --------------------------------------------------------------------------------
    def rebuild_book(self, *, account: str | None = None) -> PositionBook:
        with self._read() as conn:
            return rebuild_book(conn, account)

    def unresolved_intents(
        self,
        *,
        after_id: int = 0,
        unanswered: bool = False,
        algo_id: int | None = None,
        symbols: Sequence[str] = (),
        client_order_ids: Sequence[str] | None = None,
        account: str | None = None,
    ) -> tuple[StoredIntent, ...]:
        with self._read() as conn:
            return orderlog.unresolved_intents(
                conn,
                after_id=after_id,
                unanswered=unanswered,
                algo_id=algo_id,
                symbols=symbols,
                client_order_ids=client_order_ids,
                account=account,
            )

    def unplanned_signals(
        self, *, since: datetime | None = None, account: str | None = None
    ) -> tuple[StoredSignal, ...]:
        with self._read() as conn:
            return orderlog.unplanned_signals(conn, since=since, account=account)

    def archived_legs(self, keys: Sequence[str]) -> set[str]:
        with self._read() as conn:
            return tombstones.archived(conn, tombstones.Kind.LEG, keys)

    def archived_decisions(self) -> list[tuple[str, str]]:
        """What archives left of the decisions they moved out (:mod:`.tombstones`)."""
        with self._read() as conn:
            return tombstones.every(conn)

    def keep_archived_decisions(self, kept: Sequence[tuple[str, str]]) -> None:
        with self._tx() as conn:
            tombstones.keep(conn, kept)

    def entries(self, where: EntryFilter) -> Sequence[Entry]:
        with self._read() as conn:
            return queries.select(conn, where)

    def iter_entries(self, where: EntryFilter, *, page: int = 2000) -> Iterator[Entry]:
        return map(queries.decode, self.iter_stored(where, page=page))

    def iter_stored(self, where: EntryFilter, *, page: int = 2000) -> Iterator[tuple[Any, ...]]:
        # keyset paging: the lock is held for one page at a time, never across a yield, so a
        # long export never holds up the bot writing through the same journal object
        remaining = where.limit
        after: tuple[int, int] | None = None
        while remaining is None or remaining > 0:
            size = page if remaining is None else min(page, remaining)
            with self._read() as conn:
                rows = queries.select_stored(conn, replace(where, limit=size), after=after)
            yield from rows
            if len(rows) < size:
                return
            if remaining is not None:
                remaining -= len(rows)
            last = rows[-1]
            if where.after_id is not None:  # following: in id order
                where = replace(where, after_id=last[0])
            else:
                after = (last[1], last[0])  # (ts, id) as stored

    def count_entries(self, where: EntryFilter) -> Mapping[tuple[int | None, Status], int]:
        with self._read() as conn:
            return queries.count(conn, where)

    def newest_ids(self, status: Status) -> dict[int, int]:
        with self._read() as conn:
            return queries.newest_ids(conn, status)

    def fill_history(
        self, *, until: datetime | None = None, page: int = 5000, account: str | None = None
    ) -> Iterator[FillFact]:
        after: tuple[int, int] | None = (-1, -1)
        while after is not None:
            with self._read() as conn:
                facts, after = queries.fills_page(conn, until, after, page, account)
            yield from facts

    def order_history(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        all_fills: bool = False,
        page: int = 5000,
    ) -> Iterator[OrderRow]:
        streams = [
            self._order_rows(
                status, None if all_fills and status in _FILL_STATUSES else since, until, page
            )
            for status in queries.ORDER_STATUSES
        ]
        return heapq.merge(*streams, key=_row_key)

    def _order_rows(
        self, status: str, since: datetime | None, until: datetime | None, page: int
    ) -> Iterator[OrderRow]:
        after = (-(2**62), -1)
        while True:
            with self._read() as conn:
                rows = queries.order_rows_page(conn, status, since, until, after, page)
            yield from rows
            if len(rows) < page:
                return
            after = rows[-1].key

    def tracking_rows(
        self,
        status: Status,
        *,
        algo_ids: Sequence[int],
        until: datetime | None = None,
        account: str | None = None,
        page: int = 5000,
    ) -> Iterator[tuple[Any, ...]]:
        after = (-(2**62), -1)
        algos = tuple(algo_ids)
        while True:
            with self._read() as conn:
                rows = tracking_sql.rows_page(
                    conn, str(status), algos, until, after, page, account=account
                )
            yield from rows
            if len(rows) < page:
                return
            after = (rows[-1][1], rows[-1][0])

    def algorithms_with(
        self, statuses: Sequence[Status], *, until: datetime | None = None
    ) -> list[int]:
        with self._read() as conn:
            return tracking_sql.algorithms(conn, [str(s) for s in statuses], until)

    def order_prices(
        self, symbol: str, *, until: datetime | None = None, page: int = 20
    ) -> Iterator[tuple[int, int, Any]]:
        before = (2**62, 2**62)
        while True:
            with self._read() as conn:
                rows = tracking_sql.prices_page(conn, symbol, until, before, page)
            yield from rows
            if len(rows) < page:
                return
            before = rows[-1][:2]

    def tracking_summary(
        self, algo_id: int, *, account: str | None = None
    ) -> track_summary.Summary:
        """One algorithm's legs and orders as ``track`` reads them, kept by every write
        (:mod:`tradebot.journal.track_summary`), read in one snapshot."""
        with self._snapshot() as conn:
            return track_summary.read(conn, algo_id, account)

    # -- the summaries (tradebot.journal.summary) --------------------------------------------------
    def summaries(self, *, account: str | None = None) -> summary_sql.Summaries:
        """What the review reads, kept by every write: small whatever the journal's size."""
        with self._read() as conn:
            return summary_sql.read(conn, account)

    def summary_accounts(self) -> list[str]:
        """The accounts the summaries hold rows of."""
        with self._read() as conn:
            return summary_sql.accounts(conn)

    def summary_book(self, *, account: str | None = None) -> PositionBook:
        """The positions as the summaries hold them (what :meth:`rebuild_book` replays)."""
        with self._read() as conn:
            return summary_sql.book(conn, account)

    def summary_positions(self, *, account: str | None = None) -> dict[tuple[int, str], Position]:
        """(algorithm, symbol) -> quantity, average cost, realised P&L, as the summaries hold
        them (flat positions too)."""
        with self._read() as conn:
            return summary_sql.positions(conn, account)

    def daily_pnl(self, *, account: str | None = None) -> list[tuple[int, int, Decimal]]:
        """(day since the epoch, algorithm, realised P&L that day), oldest first."""
        with self._read() as conn:
            return summary_sql.daily_pnl(conn, account)

    def latency(self, *, account: str | None = None) -> LatencyReport:
        """The whole journal's latency per algorithm, from the summaries (index walks)."""
        with self._read() as conn:
            return latency_read(conn, account)

    def leg_times(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        account: str | None = None,
    ) -> list[LegTimes]:
        """Each leg sent in ``[since, until)``: its signal's receipt, send and fill times."""
        with self._read() as conn:
            return latency_legs(
                conn,
                since=None if since is None else to_micros(since),
                until=None if until is None else to_micros(until),
                account=account,
            )

    def open_exit_ids(self, *, account: str | None = None) -> list[str]:
        """Exits whose leg is not closed: every exit still live at the broker is among them."""
        with self._read() as conn:
            return summary_sql.open_exit_ids(conn, account)

    def rebuild_summaries(self) -> None:
        """Build the summaries again from every row, in one transaction: after rows were copied
        in as stored (``tradebot journal migrate``), which keeps no summary."""
        kept = self._kept_summaries()
        if kept is not None:
            kept.forget()
        with self._tx() as conn:
            for name in summary_sql.NAMES:
                conn.execute(f"DELETE FROM {name}")  # noqa: S608 (constant table names)
            summary_sql.build(conn)
            track_summary.rebuild(conn)

    def verify_summaries(self, *, limit: int = 5) -> summary_check.Verdict:
        """Recompute every summary from the rows and compare (``tradebot journal verify``).

        Read in one transaction (a snapshot on both stores), so rows written meanwhile by the
        bot are not half-counted."""
        with self._snapshot() as conn:
            return summary_check.verify(conn, limit=limit)

    def raw_rows(self, *, after_id: int, limit: int) -> list[tuple[Any, ...]]:
        """Rows after ``after_id`` in id order, column for column as stored (:data:`RAW_COLUMNS`):
        what a copy to another store writes unchanged, so nothing is decoded, re-masked or
        re-encoded on the way."""
        with self._read() as conn:
            return [tuple(r) for r in conn.execute(RAW_SELECT, (after_id, limit)).fetchall()]

    def last_id(self) -> int:
        with self._read() as conn:
            return int(conn.execute("SELECT coalesce(max(id), 0) FROM entries").fetchone()[0])
