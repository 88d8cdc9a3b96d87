"""The small interface every journal store implements (a SQLite file, or PostgreSQL).

Contract, for every implementation:

* Append-only. Nothing is updated or deleted; a later row supersedes an earlier one.
* Every write method returns only after its rows are durable (committed and synced): in
  particular :meth:`Journal.record_plan` has made every intent durable before it returns, so an
  order is on disk before it leaves the process.
* Exactly once: an INTENT per client order id, a fill per ``(client order id, cumulative qty)``,
  a LEG row per leg identity, guarded by the database (several processes may share a server
  journal). Recording the same broker fact twice changes nothing and returns no new fills.
* Positions are derived only from recorded fills (:meth:`Journal.rebuild_book`).
* Every row names its account (``account``; docs/journal.md, "Accounts"): the rows an
  account causes carry its name, the rows every account shares (a signal and its legs as
  received, gaps, start, stop, config) carry ``""``
  (:func:`~tradebot.journal.records.row_account`). Writers take ``account`` where a row has
  one, ``default`` unless told: a journal of one account never names it. An order's rows are
  its intent's account's, and the intent's is the one its client order id names.
* Summaries (:mod:`tradebot.journal.summary`) are written in the transaction of the rows they
  summarise: what the review reads never lags the rows, and :meth:`Journal.verify_summaries`
  recomputes them from the rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from tradebot.core.book import PositionBook
from tradebot.core.events import OrderEvent
from tradebot.core.ids import DEFAULT_ACCOUNT
from tradebot.core.order_snapshot import OrderSnapshot
from tradebot.core.orders import OrderIntent, Plan
from tradebot.core.signal import Signal
from tradebot.journal.records import (
    AppliedFill,
    Entry,
    FillFact,
    OrderRow,
    Status,
    StoredIntent,
)

if TYPE_CHECKING:
    from tradebot.journal.latency import LatencyReport, LegTimes
    from tradebot.journal.summary import Position
    from tradebot.journal.summary_check import Verdict
    from tradebot.journal.summary_sql import Summaries
    from tradebot.journal.track_summary import Summary


@dataclass(frozen=True, slots=True)
class EntryFilter:
    """Which rows to read. Empty tuples and None mean "any"."""

    ids: tuple[int, ...] = ()
    algo_ids: tuple[int, ...] = ()
    symbols: tuple[str, ...] = ()
    statuses: tuple[Status, ...] = ()
    client_order_ids: tuple[str, ...] = ()
    signal_ids: tuple[int, ...] = ()  # rows of these signals (the SIGNAL row itself included)
    legs: tuple[str, ...] = ()
    #: rows of these accounts; a row shared by every account has ``""``
    #: (:data:`~tradebot.journal.records.SHARED_ACCOUNT`)
    accounts: tuple[str, ...] = ()
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    after_id: int | None = None  # only rows written after this one (for --follow)
    before_id: int | None = None  # only rows written before this one (the next page)
    newest_first: bool = True
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class StoredSignal:
    """A journaled signal, rebuilt, with its row id."""

    signal_id: int
    signal: Signal


class Journal(Protocol):
    """The append-only record of everything tradebot sees, decides and does."""

    # -- lifecycle and context ------------------------------------------------------------------
    def record_start(self, detail: str, data: Mapping[str, Any] | None = None) -> int: ...
    def record_stop(self, detail: str, data: Mapping[str, Any] | None = None) -> int: ...
    def record_config(self, detail: str, data: Mapping[str, Any]) -> int:
        """A config loaded or changed; ``data`` must already have secrets masked."""
        ...

    def record_gap(self, detail: str, *, algo_id: int | None = None) -> int: ...
    def record_error(
        self,
        detail: str,
        *,
        algo_id: int | None = None,
        symbol: str | None = None,
        client_order_id: str | None = None,
        signal_id: int | None = None,
        account: str = DEFAULT_ACCOUNT,
    ) -> int: ...

    # -- the order story ------------------------------------------------------------------------
    def record_signal(self, signal: Signal, *, sync: bool = True) -> int:
        """The raw frame, its parsed legs and its rejected legs; returns the signal id.

        ``sync=False``: committed in order, kept by a process kill, but not flushed to disk by
        itself: the next synced commit (a plan's, before any order leaves) or
        :meth:`make_durable` does it. Only for a signal that causes nothing before its plan."""
        ...

    @property
    def unsynced(self) -> bool:
        """Whether a ``sync=False`` commit may not be on disk yet."""
        ...

    def make_durable(self) -> None:
        """Flush every commit so far to disk (a no-op unless :attr:`unsynced`)."""
        ...

    def record_plan(
        self, signal_id: int | None, plan: Plan, *, account: str = DEFAULT_ACCOUNT
    ) -> tuple[OrderIntent, ...]:
        """``account``'s plan: its intents (durable on return) and skipped legs, in one
        transaction.

        Returns the intents that were new; an intent whose client order id is already journaled
        is recorded as a skipped duplicate and must not be sent again. Raises ValueError, and
        writes nothing, when an intent's client order id names another account.
        """
        ...

    def record_signal_and_plan(
        self, signal: Signal, plan: Plan, *, account: str = DEFAULT_ACCOUNT
    ) -> tuple[int, tuple[OrderIntent, ...]]:
        """:meth:`record_signal` and :meth:`record_plan` in one transaction (one fsync): the
        signal id and the new intents, every one durable on return."""
        ...

    def record_snapshot(
        self, snapshot: OrderSnapshot, *, source: str, account: str = DEFAULT_ACCOUNT
    ) -> tuple[AppliedFill, ...]:
        """The broker's view of an order (from submit or a lookup): new fills and outcome.
        ``account``: whose broker showed it (the account of a foreign order's rows)."""
        ...

    def record_event(
        self, event: OrderEvent, *, account: str = DEFAULT_ACCOUNT
    ) -> tuple[AppliedFill, ...]:
        """One broker event from ``account``'s broker; returns the fills it added (none when
        already recorded)."""
        ...

    def record_events(
        self, events: Sequence[OrderEvent], *, account: str = DEFAULT_ACCOUNT
    ) -> tuple[AppliedFill, ...]:
        """Several events in one transaction (one fsync): :meth:`record_event` for each."""
        ...

    def record_rejected(self, client_order_id: str, reason: str) -> int: ...
    def record_failed(self, client_order_id: str, reason: str) -> int:
        """Give up on an intent that never reached the broker; this is its final outcome."""
        ...

    def record_chase(
        self, intent: OrderIntent, detail: str, data: Mapping[str, Any], signal_id: int | None
    ) -> int:
        """A chase step of a limit_then_market limit (its cancel, about to be asked for): the
        write-ahead record that tells a restart the cancel was ours, and why."""
        ...

    def record_exit(
        self, intent: OrderIntent, detail: str, data: Mapping[str, Any], signal_id: int | None
    ) -> int:
        """A step of an entry's exits (``data.step``): placed after the fill, left without
        exits, or canceled for a close (written before the cancel goes out, like a chase's)."""
        ...

    def record_drift(
        self, symbol: str, ours: Decimal, broker: Decimal, *, account: str = DEFAULT_ACCOUNT
    ) -> int: ...
    def record_recovery(
        self,
        detail: str,
        data: Mapping[str, Any] | None = None,
        *,
        account: str = DEFAULT_ACCOUNT,
    ) -> int: ...

    # -- reading --------------------------------------------------------------------------------
    def rebuild_book(self, *, account: str | None = None) -> PositionBook:
        """The positions the fills make: ``account``'s, or every account's (None)."""
        ...

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
        """Intents without a final outcome, oldest first (closes before opens within a plan);
        ``account``'s only, unless None.

        ``after_id`` keeps intents journaled after that row; ``unanswered`` keeps those the
        broker never answered for (no submission answer, acceptance, fill or lookup on record):
        their outcome is unknown. ``algo_id`` and ``symbols`` keep only that algorithm's
        orders in those symbols; ``client_order_ids`` (not None) only those orders.
        """
        ...

    def unplanned_signals(
        self, *, since: datetime | None = None, account: str | None = None
    ) -> tuple[StoredSignal, ...]:
        """Signals with legs but no PLAN row (a crash between the two; with several processes,
        one another process journaled); ``since``: only those journaled at or after it;
        ``account``: no PLAN row of that account's (None: of any account's)."""
        ...

    def archived_legs(self, keys: Sequence[str]) -> set[str]:
        """Which of these leg identities were decided in rows an archive moved out."""
        ...

    def entries(self, where: EntryFilter) -> Sequence[Entry]: ...
    def iter_entries(self, where: EntryFilter, *, page: int = 2000) -> Iterator[Entry]:
        """The rows of :meth:`entries`, read ``page`` at a time: memory stays flat however many
        match (exports of a year of trading). Rows written while iterating may or may not be
        included; none is repeated or skipped among those that were there at the start."""
        ...

    def iter_stored(self, where: EntryFilter, *, page: int = 2000) -> Iterator[tuple[Any, ...]]:
        """The rows of :meth:`iter_entries` as stored, undecoded: one tuple per row, its columns
        in the order of :data:`tradebot.journal.queries.COLUMNS` (an export formats them
        without building an :class:`Entry` per row)."""
        ...

    def count_entries(self, where: EntryFilter) -> Mapping[tuple[int | None, Status], int]:
        """How many rows match, per (algorithm, status), without reading them."""
        ...

    def newest_ids(self, status: Status) -> dict[int, int]:
        """Per algorithm, the id of its newest row of ``status`` (one grouped read over the
        status's index, however many algorithms)."""
        ...

    def fill_history(
        self, *, until: datetime | None = None, page: int = 5000, account: str | None = None
    ) -> Iterator[FillFact]:
        """Our fills before ``until`` (all when None; ``account``'s, None: every account's),
        oldest first, streamed, each with the price on its order's intent: what P&L and
        slippage are computed from."""
        ...

    def order_history(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        all_fills: bool = False,
        page: int = 5000,
    ) -> Iterator[OrderRow]:
        """The intents, fills and outcomes of our orders in ``[since, until)`` (with
        ``all_fills``, the fills before ``since`` too: P&L needs their cost), oldest first,
        streamed and undecoded: what the review computes P&L and execution quality from."""
        ...

    def tracking_rows(
        self,
        status: Status,
        *,
        algo_ids: Sequence[int],
        until: datetime | None = None,
        account: str | None = None,
        page: int = 5000,
    ) -> Iterator[tuple[Any, ...]]:
        """These algorithms' rows of ``status`` (leg, skipped, intent, partial or filled)
        before ``until``, oldest first by ``(ts, id)``, streamed, only the columns tracking
        reads, as stored (:data:`tradebot.journal.tracking_sql.COLUMNS`); ``account``: its
        rows only, but LEG rows, which every account receives (None: every account's)."""
        ...

    def tracking_summary(self, algo_id: int, *, account: str | None = None) -> Summary:
        """One algorithm's rows of the tracking summary, ``account``'s or every account's
        (:func:`tradebot.journal.track_summary.read`), as kept for the whole journal."""
        ...

    def algorithms_with(
        self, statuses: Sequence[Status], *, until: datetime | None = None
    ) -> list[int]:
        """The algorithms (ascending) with a row of one of ``statuses`` before ``until``,
        found without reading their rows."""
        ...

    def order_prices(
        self, symbol: str, *, until: datetime | None = None, page: int = 20
    ) -> Iterator[tuple[int, int, Any]]:
        """The prices on ``symbol``'s order rows (intents, fills, outcomes) before ``until``,
        newest first, as stored: ``(ts, id, price)``, read a few at a time (a mark is the first
        that is a price)."""
        ...

    # The summaries' reads take ``account``: that account's figures (its signals are the
    # shared ones), or every account's added up (None: a journal of one account reads as
    # before accounts); :mod:`tradebot.journal.summary_sql`.
    def summaries(self, *, account: str | None = None) -> Summaries:
        """The review's figures as the summaries hold them (per algorithm; per algorithm and
        execution style; rows left out, by reason)."""
        ...

    def summary_accounts(self) -> list[str]:
        """The accounts the summaries hold rows of (sorted), read without a scan of the rows."""
        ...

    def summary_book(self, *, account: str | None = None) -> PositionBook:
        """The positions as the summaries hold them: :meth:`rebuild_book` without the replay."""
        ...

    def summary_positions(self, *, account: str | None = None) -> dict[tuple[int, str], Position]:
        """(algorithm, symbol) -> quantity, average cost and realised P&L from its own fills, as
        the summaries hold them (flat positions too: their realised P&L)."""
        ...

    def daily_pnl(self, *, account: str | None = None) -> list[tuple[int, int, Decimal]]:
        """(day since the epoch, algorithm, realised P&L that day), oldest first."""
        ...

    def latency(self, *, account: str | None = None) -> LatencyReport:
        """The whole journal's latency per algorithm (signal to order, order to first and last
        fill; p50, p90, p99), from the summaries (:mod:`tradebot.journal.latency`)."""
        ...

    def leg_times(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        account: str | None = None,
    ) -> list[LegTimes]:
        """Each leg (entries and closes) sent in ``[since, until)``: its signal's receipt, its
        send and fill times, from the summaries (:mod:`tradebot.journal.latency`)."""
        ...

    def open_exit_ids(self, *, account: str | None = None) -> list[str]:
        """Exits whose leg is not closed (filled completely or ended): a superset of the
        exits live at the broker, read without a scan of the intents."""
        ...

    def verify_summaries(self, *, limit: int = 5) -> Verdict:
        """Recompute every summary from the rows and compare, per table."""
        ...

    def last_id(self) -> int: ...
    def close(self) -> None: ...
