"""The summaries (:mod:`tradebot.journal.summary`) in the database: kept in the transaction
that writes each row, built for an existing journal, read by the review, and verified.

The SQL is the shared dialect (:mod:`tradebot.journal.dialect`): one text for SQLite and
PostgreSQL. Several processes may write one PostgreSQL journal at once, so no update is lost:
counters are ``INSERT ... ON CONFLICT DO UPDATE SET n = n + 1``; a row whose exact decimals
change (a position, a day's P&L, a leg, an execution row) is first locked by an upsert that
returns it (``ON CONFLICT DO UPDATE ... RETURNING``: PostgreSQL locks the row until the
transaction ends, and a writer that waited reads the committed value), then written back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

from tradebot.core.book import PositionBook
from tradebot.core.ids import remainder_id
from tradebot.journal import track_summary
from tradebot.journal.dialect import Conn, Cursor
from tradebot.journal.rows import INSERT, INSERT_IF_ABSENT
from tradebot.journal.summary import (
    COUNTED,
    ORDER_STATUSES,
    Figures,
    Leg,
    MemoryStore,
    Pnl,
    Position,
    SummaryRow,
    apply,
    nearest_rank,
)

#: the summary tables, the same text on both databases (BIGINT is an INTEGER to SQLite); every
#: key starts with the account (``""``: the rows every account shares, a signal's)
#: the latency percentiles: an index walk per algorithm and interval, every account's or one's
#: (the account last in the index: a walk for one account never reads the table)
LATENCY_INDEXES = tuple(
    f"CREATE INDEX ix_sum_leg_{column} ON sum_leg (algo_id, {column}, account)"
    for column in ("signal_us", "first_us", "last_us")
)

TABLES = (
    """
    CREATE TABLE sum_count (
        account TEXT NOT NULL, algo_id BIGINT NOT NULL, day BIGINT NOT NULL,
        symbol TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL, n BIGINT NOT NULL,
        PRIMARY KEY (account, algo_id, day, symbol, status, reason)
    )
    """,
    """
    CREATE TABLE sum_pnl (
        account TEXT NOT NULL, algo_id BIGINT NOT NULL, day BIGINT NOT NULL,
        symbol TEXT NOT NULL, fills BIGINT NOT NULL, realised TEXT NOT NULL,
        slippage TEXT NOT NULL, notional TEXT NOT NULL,
        PRIMARY KEY (account, algo_id, day, symbol)
    )
    """,
    """
    CREATE TABLE sum_position (
        account TEXT NOT NULL, algo_id BIGINT NOT NULL, symbol TEXT NOT NULL,
        qty TEXT NOT NULL, cost TEXT NOT NULL, realised TEXT NOT NULL,
        PRIMARY KEY (account, algo_id, symbol)
    )
    """,
    # one row per leg (head = coid), and one per other name a leg's rows carry (a chased
    # limit's remainder: head = the limit's id, other columns empty); the latency columns
    # (:mod:`tradebot.journal.latency`): its signal's receipt, and the three intervals kept
    # beside it so each percentile is an index walk, not a read of every leg
    """
    CREATE TABLE sum_leg (
        coid TEXT PRIMARY KEY, head TEXT NOT NULL, account TEXT,
        algo_id BIGINT, style TEXT, sign INTEGER, planned TEXT, started BIGINT,
        reference TEXT, chased INTEGER, filled TEXT, cost TEXT,
        first_fill BIGINT, last_fill BIGINT, completed_at BIGINT, fill_us BIGINT,
        ended INTEGER, closed INTEGER,
        received BIGINT, signal_us BIGINT, first_us BIGINT, last_us BIGINT
    )
    """,
    # the time-to-fill percentiles: an index walk per (algorithm, style), every account's or
    # one's (the account in the index: the walk never reads the table)
    "CREATE INDEX ix_sum_leg_fill ON sum_leg (algo_id, style, fill_us, account)",
    # the exits still open (the Positions page's live exits), without a scan of every leg
    "CREATE INDEX ix_sum_leg_open_exit ON sum_leg (coid) "
    "WHERE closed = 0 AND substr(style, 1, 5) = 'exit '",
    *LATENCY_INDEXES,
    """
    CREATE TABLE sum_style (
        account TEXT NOT NULL, algo_id BIGINT NOT NULL, style TEXT NOT NULL,
        legs BIGINT NOT NULL, filled_legs BIGINT NOT NULL, partial_legs BIGINT NOT NULL,
        unfilled_legs BIGINT NOT NULL, working BIGINT NOT NULL, unmeasured_legs BIGINT NOT NULL,
        planned_qty TEXT NOT NULL, filled_qty TEXT NOT NULL, slippage TEXT NOT NULL,
        slipped_notional TEXT NOT NULL, signal_n BIGINT NOT NULL DEFAULT 0,
        first_n BIGINT NOT NULL DEFAULT 0, last_n BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (account, algo_id, style)
    )
    """,
    "CREATE TABLE sum_skipped (reason TEXT PRIMARY KEY, n BIGINT NOT NULL)",
    """
    CREATE TABLE sum_algo_count (
        account TEXT NOT NULL, algo_id BIGINT NOT NULL, status TEXT NOT NULL,
        n BIGINT NOT NULL,
        PRIMARY KEY (account, algo_id, status)
    )
    """,
    """
    CREATE TABLE sum_algo_day (
        account TEXT NOT NULL, algo_id BIGINT NOT NULL, day BIGINT NOT NULL,
        fills BIGINT NOT NULL, realised TEXT NOT NULL, slippage TEXT NOT NULL,
        notional TEXT NOT NULL,
        PRIMARY KEY (account, algo_id, day)
    )
    """,
    """
    CREATE TABLE sum_algo_pnl (
        account TEXT NOT NULL, algo_id BIGINT NOT NULL, fills BIGINT NOT NULL,
        realised TEXT NOT NULL, slippage TEXT NOT NULL, notional TEXT NOT NULL,
        PRIMARY KEY (account, algo_id)
    )
    """,
)
NAMES = (
    "sum_count",
    "sum_pnl",
    "sum_position",
    "sum_leg",
    "sum_style",
    "sum_skipped",
    "sum_algo_count",
    "sum_algo_pnl",
    "sum_algo_day",
)


def create(conn: Conn) -> None:
    """The summaries per account (SQLite v8, PostgreSQL v7), in the caller's transaction: the
    tables of the schema before (per algorithm: their keys cannot take the account) dropped,
    made again with the account in every key, and built from every row."""
    for name in NAMES:
        conn.execute(f"DROP TABLE IF EXISTS {name}")
    for statement in TABLES:
        conn.execute(statement)
    build(conn)


_LEG_COLUMNS = (
    "algo_id, style, sign, planned, started, reference, chased, filled, cost, first_fill, "
    "last_fill, completed_at, fill_us, ended, closed, received, signal_us, first_us, last_us, "
    "account"
)
_FIGURE_COLUMNS = (
    "legs, filled_legs, partial_legs, unfilled_legs, working, unmeasured_legs, planned_qty, "
    "filled_qty, slippage, slipped_notional, signal_n, first_n, last_n"
)


def _text(value: Decimal) -> str:
    # str, not dec_text: exact, and a round trip gives the very same Decimal back
    return str(value)


def _leg_params(leg: Leg) -> tuple[Any, ...]:
    return (
        leg.algo_id,
        leg.style,
        leg.sign,
        _text(leg.planned),
        leg.started,
        None if leg.reference is None else _text(leg.reference),
        int(leg.chased),
        _text(leg.filled),
        _text(leg.cost),
        leg.first_fill,
        leg.last_fill,
        leg.completed_at,
        leg.fill_us,
        int(leg.ended),
        int(leg.closed),
        leg.received,
        *leg.latency_us,
        leg.account,
    )


def _leg_from(coid: str, r: Sequence[Any]) -> Leg:
    return Leg(
        coid,
        int(r[0]),
        str(r[1]),
        int(r[2]),
        Decimal(r[3]),
        int(r[4]),
        None if r[5] is None else Decimal(r[5]),
        bool(r[6]),
        Decimal(r[7]),
        Decimal(r[8]),
        r[9],
        r[10],
        r[11],
        bool(r[13]),
        bool(r[14]),
        received=None if r[15] is None else int(r[15]),
        account=str(r[19]),
    )


def _position_params(p: Position) -> tuple[str, str, str]:
    return (_text(p.qty), _text(p.cost), _text(p.realised))


def _pnl_params(p: Pnl) -> tuple[Any, ...]:
    return (p.fills, _text(p.realised), _text(p.slippage), _text(p.notional))


def _figure_params(f: Figures) -> tuple[Any, ...]:
    return (
        f.legs,
        f.filled_legs,
        f.partial_legs,
        f.unfilled_legs,
        f.working,
        f.unmeasured_legs,
        _text(f.planned_qty),
        _text(f.filled_qty),
        _text(f.slippage),
        _text(f.slipped_notional),
        *f.latencies,
    )


def _figures_from(r: Sequence[Any]) -> Figures:
    legs, filled, partial, unfilled, working, unmeasured = (int(v) for v in r[:6])
    planned, filled_qty, slippage, notional = (Decimal(v) for v in r[6:10])
    return Figures(
        legs,
        filled,
        partial,
        unfilled,
        working,
        unmeasured,
        planned,
        filled_qty,
        slippage,
        notional,
        tuple(int(v) for v in r[10:13]),
    )


class SqlLookups:
    """The fold's reads from the rows (both indexed point lookups)."""

    def __init__(self, conn: Conn) -> None:
        self._conn = conn

    def intent_price(self, coid: str) -> Any:
        row = self._conn.execute(
            "SELECT price FROM entries WHERE client_order_id = ? AND status = 'intent' LIMIT 1",
            (coid,),
        ).fetchone()
        return None if row is None else row[0]

    def signal_leg(self, leg_key: Any) -> tuple[Any, Any] | None:
        if leg_key is None:
            return None
        row = self._conn.execute(
            "SELECT price, ts FROM entries WHERE leg = ? AND status = 'leg' ORDER BY id LIMIT 1",
            (leg_key,),
        ).fetchone()
        return None if row is None else (row[0], row[1])


_LEG_SELECT = f"UPDATE sum_leg SET closed = closed WHERE coid = ? RETURNING head, {_LEG_COLUMNS}"  # noqa: S608
_LEG_UPSERT_MANY = (
    f"INSERT INTO sum_leg (coid, head, {_LEG_COLUMNS}) VALUES {{rows}} "  # noqa: S608
    "ON CONFLICT (coid) DO UPDATE SET head = excluded.head, "
    + ", ".join(f"{c} = excluded.{c}" for c in _LEG_COLUMNS.split(", "))
)
#: rows per multi-row statement (SQLite binds at most 32,766 values; a leg row binds 22)
_MANY = 200


@lru_cache(maxsize=1024)
def _statement(sql: str, width: int, count: int) -> str:
    """``sql`` with ``{rows}`` as ``count`` rows of ``width`` placeholders (made once each)."""
    marks = "(" + ", ".join("?" * width) + ")"
    return sql.format(rows=", ".join([marks] * count))


def _upsert_many(conn: Conn, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """``sql`` (an INSERT with ``{rows}`` where its VALUES go) for many rows, a few hundred
    per statement: a batch costs a few statements, not one per row."""
    if len(rows) == 1:  # a one-row write's: its values as they are
        conn.execute(_statement(sql, len(rows[0]), 1), rows[0])
        return
    for start in range(0, len(rows), _MANY):
        chunk = rows[start : start + _MANY]
        params = [value for row in chunk for value in row]
        conn.execute(_statement(sql, len(chunk[0]), len(chunk)), params)


_COUNT_UPSERT = (
    "INSERT INTO sum_count (account, algo_id, day, symbol, status, reason, n) VALUES {rows} "
    "ON CONFLICT (account, algo_id, day, symbol, status, reason) "
    "DO UPDATE SET n = sum_count.n + excluded.n"
)
_ALGO_COUNT_UPSERT = (
    "INSERT INTO sum_algo_count (account, algo_id, status, n) VALUES {rows} "
    "ON CONFLICT (account, algo_id, status) DO UPDATE SET n = sum_algo_count.n + excluded.n"
)
_MONEY_SETS = (
    "fills = excluded.fills, realised = excluded.realised, slippage = excluded.slippage, "
    "notional = excluded.notional"
)
_ALGO_PNL_UPSERT = (
    "INSERT INTO sum_algo_pnl (account, algo_id, fills, realised, slippage, notional) "  # noqa: S608
    f"VALUES {{rows}} ON CONFLICT (account, algo_id) DO UPDATE SET {_MONEY_SETS}"
)
_ALGO_DAY_UPSERT = (
    "INSERT INTO sum_algo_day (account, algo_id, day, fills, realised, slippage, notional) "  # noqa: S608
    f"VALUES {{rows}} ON CONFLICT (account, algo_id, day) DO UPDATE SET {_MONEY_SETS}"
)
_PNL_UPSERT = (
    "INSERT INTO sum_pnl (account, algo_id, day, symbol, fills, realised, slippage, "  # noqa: S608
    f"notional) VALUES {{rows}} ON CONFLICT (account, algo_id, day, symbol) "
    f"DO UPDATE SET {_MONEY_SETS}"
)
_POSITION_UPSERT = (
    "INSERT INTO sum_position (account, algo_id, symbol, qty, cost, realised) VALUES {rows} "
    "ON CONFLICT (account, algo_id, symbol) DO UPDATE SET qty = excluded.qty, "
    "cost = excluded.cost, realised = excluded.realised"
)
_REMAINDER_SUFFIX = remainder_id("")
_FIGURE_SETS = ", ".join(f"{c} = ?" for c in _FIGURE_COLUMNS.split(", "))
_STYLE_UPDATE = (
    f"UPDATE sum_style SET {_FIGURE_SETS} "  # noqa: S608
    "WHERE account = ? AND algo_id = ? AND style = ?"
)
_ALIAS_UPSERT = (
    "INSERT INTO sum_leg (coid, head) VALUES (?, ?) "
    "ON CONFLICT (coid) DO UPDATE SET head = excluded.head"
)
_SKIPPED_UPSERT = (
    "INSERT INTO sum_skipped (reason, n) VALUES (?, ?) "
    "ON CONFLICT (reason) DO UPDATE SET n = sum_skipped.n + excluded.n"
)


#: a kept store drops what it remembers past these sizes (it reads it again when needed)
_KEEP_LEGS = 20_000
_KEEP_ROWS = 5_000


class SqlStore(SqlLookups):
    """The fold's :class:`~tradebot.journal.summary.Store` in the caller's write transaction.

    A summary row is read (and, on PostgreSQL, locked until the transaction ends) the first
    time the transaction touches it, changed in memory, and written back once by
    :meth:`flush`, which must run before the commit: a batch of rows costs one write per
    summary row it touches, not one per journal row.

    ``keep``: the store of a journal's only writer (SQLite: its writer lock keeps every other
    out) remembers the summary rows it read or wrote from one transaction to the next, so a
    fill reads none of them again; :meth:`forget` after a transaction that did not commit.
    """

    def __init__(self, conn: Conn, *, keep: bool = False) -> None:
        super().__init__(conn)
        self._keep = keep
        self.forget()

    def bind(self, conn: Conn) -> None:
        self._conn = conn

    def forget(self) -> None:
        """Drop everything remembered (what the database holds is read again)."""
        # keyed as the tables are, the account first
        self._positions: dict[tuple[str, int, str], Position] = {}
        self._pnl: dict[tuple[str, int, int, str], Pnl] = {}
        self._algo_pnl: dict[tuple[str, int], Pnl] = {}
        self._algo_day: dict[tuple[str, int, int], Pnl] = {}
        self._figures: dict[tuple[str, int, str], Figures] = {}
        self._heads: dict[str, str | None] = {}  # a name -> its leg's id (None: no leg)
        self._legs: dict[str, Leg] = {}  # by the leg's own id
        self._prices: dict[str, Any] = {}  # intents' prices, by client order id
        self._pending()

    def _pending(self) -> None:
        self._counts: dict[tuple[str, int, int, str, str, str], int] = {}
        self._algo_counts: dict[tuple[str, int, str], int] = {}
        self._dirty_algo_pnl: set[tuple[str, int]] = set()
        self._dirty_algo_day: set[tuple[str, int, int]] = set()
        self._skips: dict[str, int] = {}
        self._touched: set[str] = set()  # legs to write back
        self._looked_up: set[str] = set()  # names read from the database in this transaction
        self._aliases: dict[str, str] = {}  # new names for a leg, to write
        self._dirty_positions: set[tuple[str, int, str]] = set()
        self._dirty_pnl: set[tuple[str, int, int, str]] = set()
        self._dirty_figures: set[tuple[str, int, str]] = set()

    def _any_pending(self) -> bool:
        """Whether this transaction changed or looked at anything (see :meth:`_pending`)."""
        return bool(
            self._counts
            or self._algo_counts
            or self._dirty_algo_pnl
            or self._dirty_algo_day
            or self._skips
            or self._touched
            or self._looked_up
            or self._aliases
            or self._dirty_positions
            or self._dirty_pnl
            or self._dirty_figures
        )

    def note_intent(self, coid: str, price: Any) -> None:
        if self._keep:
            if len(self._prices) >= _KEEP_LEGS:
                self._prices.clear()
            self._prices[coid] = price

    def intent_price(self, coid: str) -> Any:
        if coid in self._prices:
            return self._prices[coid]
        return super().intent_price(coid)

    def count(
        self, account: str, algo_id: int, day: int, symbol: str, status: str, reason: str
    ) -> None:
        key = (account, algo_id, day, symbol, status, reason)
        self._counts[key] = self._counts.get(key, 0) + 1
        total = (account, algo_id, status)
        self._algo_counts[total] = self._algo_counts.get(total, 0) + 1

    def position(self, account: str, algo_id: int, symbol: str) -> Position:
        key = (account, algo_id, symbol)
        found = self._positions.get(key)
        if found is not None:
            return found.copy()
        row = self._conn.execute(
            "INSERT INTO sum_position (account, algo_id, symbol, qty, cost, realised) "
            "VALUES (?, ?, ?, '0', '0', '0') ON CONFLICT (account, algo_id, symbol) "
            "DO UPDATE SET qty = sum_position.qty RETURNING qty, cost, realised",
            key,
        ).fetchone()
        found = Position(Decimal(row[0]), Decimal(row[1]), Decimal(row[2]))
        self._positions[key] = found
        return found.copy()

    def set_position(self, account: str, algo_id: int, symbol: str, position: Position) -> None:
        self._positions[account, algo_id, symbol] = position
        self._dirty_positions.add((account, algo_id, symbol))

    def add_pnl(self, account: str, algo_id: int, day: int, symbol: str, pnl: Pnl) -> None:
        key = (account, algo_id, day, symbol)
        found = self._pnl.get(key)
        if found is None:
            row = self._conn.execute(
                "INSERT INTO sum_pnl (account, algo_id, day, symbol, fills, realised, slippage, "
                "notional) VALUES (?, ?, ?, ?, 0, '0', '0', '0') "
                "ON CONFLICT (account, algo_id, day, symbol) "
                "DO UPDATE SET fills = sum_pnl.fills RETURNING fills, realised, slippage, notional",
                key,
            ).fetchone()
            found = Pnl(int(row[0]), Decimal(row[1]), Decimal(row[2]), Decimal(row[3]))
        self._pnl[key] = found + pnl
        self._dirty_pnl.add(key)
        algo = (account, algo_id)
        total = self._algo_pnl.get(algo)
        if total is None:
            row = self._conn.execute(
                "INSERT INTO sum_algo_pnl (account, algo_id, fills, realised, slippage, notional) "
                "VALUES (?, ?, 0, '0', '0', '0') ON CONFLICT (account, algo_id) "
                "DO UPDATE SET fills = sum_algo_pnl.fills "
                "RETURNING fills, realised, slippage, notional",
                algo,
            ).fetchone()
            total = Pnl(int(row[0]), Decimal(row[1]), Decimal(row[2]), Decimal(row[3]))
        self._algo_pnl[algo] = total + pnl
        self._dirty_algo_pnl.add(algo)
        day_key = (account, algo_id, day)
        daily = self._algo_day.get(day_key)
        if daily is None:
            row = self._conn.execute(
                "INSERT INTO sum_algo_day (account, algo_id, day, fills, realised, slippage, "
                "notional) VALUES (?, ?, ?, 0, '0', '0', '0') "
                "ON CONFLICT (account, algo_id, day) DO UPDATE SET fills = sum_algo_day.fills "
                "RETURNING fills, realised, slippage, notional",
                day_key,
            ).fetchone()
            daily = Pnl(int(row[0]), Decimal(row[1]), Decimal(row[2]), Decimal(row[3]))
        self._algo_day[day_key] = daily + pnl
        self._dirty_algo_day.add(day_key)

    def _read_leg(self, coid: str) -> None:
        # an UPDATE that changes nothing: it locks the row on PostgreSQL (FOR UPDATE is not
        # SQLite's, whose writer holds the whole database anyway)
        self._looked_up.add(coid)
        row = self._conn.execute(_LEG_SELECT, (coid,)).fetchone()
        if row is None:
            self._heads[coid] = None
            return
        head = str(row[0])
        self._heads[coid] = head
        if head == coid:
            self._legs[coid] = _leg_from(coid, row[1:])
        elif head not in self._heads:
            self._read_leg(head)

    def leg(self, coid: str) -> Leg | None:
        if coid not in self._heads:
            self._read_leg(coid)
        head = self._heads[coid]
        leg = None if head is None else self._legs.get(head)
        return None if leg is None or leg.closed else leg

    def intent_leg(self, coid: str) -> Leg | None:
        # Only a remainder's name can already lead to a leg: the database holds one INTENT per
        # client order id (ux_entries_intent), so no other intent's id was ever folded. The
        # signal path is spared a lookup per order.
        if not coid.endswith(_REMAINDER_SUFFIX):
            return None
        return self.leg(coid)

    def new_leg(self, leg: Leg, aliases: tuple[str, ...]) -> None:
        self._legs[leg.coid] = leg
        self._heads[leg.coid] = leg.coid
        self._touched.add(leg.coid)
        for alias in aliases:
            self._heads[alias] = leg.coid
            self._aliases[alias] = leg.coid

    def set_leg(self, leg: Leg) -> None:
        self._touched.add(leg.coid)

    def add_figures(self, account: str, algo_id: int, style: str, delta: Figures) -> None:
        key = (account, algo_id, style)
        found = self._figures.get(key)
        if found is None:
            row = self._conn.execute(
                f"INSERT INTO sum_style (account, algo_id, style, {_FIGURE_COLUMNS}) "  # noqa: S608
                "VALUES (?, ?, ?, 0, 0, 0, 0, 0, 0, '0', '0', '0', '0', 0, 0, 0) "
                "ON CONFLICT (account, algo_id, style) "
                f"DO UPDATE SET legs = sum_style.legs RETURNING {_FIGURE_COLUMNS}",
                key,
            ).fetchone()
            found = _figures_from(row)
        self._figures[key] = found.plus(delta)
        self._dirty_figures.add(key)

    def skip(self, reason: str) -> None:
        self._skips[reason] = self._skips.get(reason, 0) + 1

    def flush(self) -> None:
        """Write back what this transaction changed (counters as increments).

        Only the tables it changed are written: a signal's rows touch two counters, a plan's
        a leg and its style too (the SQL texts are made once, at import)."""
        if self._keep and not self._any_pending():
            return  # nothing written, nothing looked at: nothing to write or forget
        execute, conn = self._conn.execute, self._conn
        rows: list[tuple[Any, ...]]
        if self._counts:
            _upsert_many(conn, _COUNT_UPSERT, [(*key, n) for key, n in self._counts.items()])
        if self._algo_counts:
            rows = [(*key, n) for key, n in self._algo_counts.items()]
            _upsert_many(conn, _ALGO_COUNT_UPSERT, rows)
        # the rows were created (and locked) when first read: these only write their values
        if self._dirty_algo_pnl:
            rows = [(*a, *_pnl_params(self._algo_pnl[a])) for a in sorted(self._dirty_algo_pnl)]
            _upsert_many(conn, _ALGO_PNL_UPSERT, rows)
        if self._dirty_algo_day:
            rows = [(*k, *_pnl_params(self._algo_day[k])) for k in sorted(self._dirty_algo_day)]
            _upsert_many(conn, _ALGO_DAY_UPSERT, rows)
        if self._dirty_pnl:
            rows = [(*k, *_pnl_params(self._pnl[k])) for k in sorted(self._dirty_pnl)]
            _upsert_many(conn, _PNL_UPSERT, rows)
        if self._dirty_positions:
            positions = self._positions
            rows = [(*k, *_position_params(positions[k])) for k in sorted(self._dirty_positions)]
            _upsert_many(conn, _POSITION_UPSERT, rows)
        if self._touched:
            rows = [(c, c, *_leg_params(self._legs[c])) for c in sorted(self._touched)]
            _upsert_many(conn, _LEG_UPSERT_MANY, rows)
        for alias, head in self._aliases.items():
            if self._heads.get(alias) == head:  # not since made a leg of its own
                execute(_ALIAS_UPSERT, (alias, head))
        for style_key in self._dirty_figures:
            execute(_STYLE_UPDATE, (*_figure_params(self._figures[style_key]), *style_key))
        for reason, n in self._skips.items():
            execute(_SKIPPED_UPSERT, (reason, n))
        if not self._keep:
            self.forget()
            return
        # what stays remembered: open legs (a closed one changes no more), rows seen
        # (only what this transaction looked at is pruned: never a walk over all it keeps)
        for coid in self._touched:
            if self._legs[coid].closed:
                del self._legs[coid]
        for name in self._looked_up:
            points_to = self._heads.get(name)
            found = None if points_to is None else self._legs.get(points_to)
            if found is None or found.closed:
                self._heads.pop(name, None)
                if found is not None:
                    del self._legs[found.coid]
        for coid in self._touched:
            for name in (coid, remainder_id(coid)):
                if self._heads.get(name) == coid and coid not in self._legs:
                    del self._heads[name]
        if len(self._legs) > _KEEP_LEGS:
            self._legs.clear()
            self._heads.clear()
        for kept in (self._positions, self._pnl, self._figures, self._algo_pnl, self._algo_day):
            if len(kept) > _KEEP_ROWS:
                kept.clear()
        self._pending()


class Tx:
    """A write transaction's connection (:class:`~tradebot.journal.dialect.Conn`), with the
    summary changes of the rows written through it (:func:`insert`), held until :meth:`flush`
    (the journal calls it just before the commit)."""

    def __init__(self, conn: Conn, store: SqlStore | None = None) -> None:
        self._conn = conn
        self.store = SqlStore(conn) if store is None else store
        self.store.bind(conn)
        # the connection's own method: no call in between on the path of every statement
        self.execute: Callable[..., Cursor] = conn.execute

    def flush(self) -> None:
        self.store.flush()


def insert(conn: Conn, params: Sequence[Any], *, if_absent: bool = False) -> int:
    """Insert one row (``Row.params()``) and fold it into the summaries, in the caller's
    transaction; returns its id, 0 when a unique guard already held it (nothing folded).

    Through a :class:`Tx` the summary changes wait for its flush; on a bare connection they
    are written at once."""
    cursor = conn.execute(INSERT_IF_ABSENT if if_absent else INSERT, params)
    if if_absent and cursor.rowcount == 0:
        return 0
    row_id = cursor.lastrowid or 0
    ts, status, algo_id, symbol, coid, _signal, leg, side, qty, price, _cum, _detail, data = params[
        :13
    ]
    if status not in FOLDED:
        return row_id  # nothing to fold: neither summary reads a row of its status
    account = params[13]  # INSERT's last column (journal/rows.py)
    decoded = None
    if status == "intent" and isinstance(data, str):
        # both folds read an intent's data: its JSON decoded once (text that is not JSON is
        # left to each, which says so as before)
        try:
            decoded = json.loads(data)
        except ValueError:
            decoded = None
    store = conn.store if isinstance(conn, Tx) else SqlStore(conn)
    row = SummaryRow(
        row_id,
        ts,
        status,
        algo_id,
        symbol,
        coid,
        leg,
        side,
        qty,
        price,
        data if decoded is None else decoded,
        account,
    )
    apply(store, row)
    track_summary.fold(
        conn,
        row_id,
        ts,
        status,
        algo_id,
        symbol,
        coid,
        leg,
        side,
        qty,
        price,
        data,
        account,
        decoded=decoded,
    )
    if not isinstance(conn, Tx):
        store.flush()
    return row_id


#: the statuses a row is folded for: counted, an order's, or read by the tracking summary;
#: a row of any other status (a plan, a broker's acceptance, the process's own life) changes
#: no summary (:func:`tradebot.journal.summary.apply`, :func:`.track_summary.fold`)
FOLDED = COUNTED | ORDER_STATUSES | frozenset(track_summary.STATUSES)


# -- building and checking --------------------------------------------------------------------
_ROWS = (
    "SELECT id, ts, status, algo_id, symbol, client_order_id, leg, side, qty, price, data, "
    "account FROM entries WHERE id > ? ORDER BY id LIMIT ?"
)


def stored_rows(conn: Conn, *, page: int = 5000) -> Iterator[SummaryRow]:
    """Every row, oldest first, a page at a time (the connection is free between pages)."""
    after = 0
    while True:
        rows = conn.execute(_ROWS, (after, page)).fetchall()
        for r in rows:
            yield SummaryRow(*r)
        if len(rows) < page:
            return
        after = rows[-1][0]


def recompute(conn: Conn, *, keep_closed: bool = True) -> MemoryStore:
    """The summaries of every row, folded in memory by the rule that keeps them."""
    store = MemoryStore(SqlLookups(conn), keep_closed=keep_closed)
    for row in stored_rows(conn):
        apply(store, row)
    return store


def build(conn: Conn) -> None:
    """Fill the (empty) summary tables from the rows: the migration to summaries."""
    write(conn, recompute(conn))


def write(conn: Conn, store: MemoryStore) -> None:
    """Write a recomputed store into empty summary tables."""
    # the same multi-row upserts the writes use (into empty tables: plain inserts)
    _upsert_many(conn, _COUNT_UPSERT, [(*key, n) for key, n in store.counts.items()])
    _upsert_many(conn, _PNL_UPSERT, [(*k, *_pnl_params(p)) for k, p in store.pnl.items()])
    _upsert_many(conn, _ALGO_COUNT_UPSERT, [(*k, n) for k, n in store.algo_counts.items()])
    _upsert_many(conn, _ALGO_PNL_UPSERT, [(*k, *_pnl_params(p)) for k, p in store.algo_pnl.items()])
    _upsert_many(conn, _ALGO_DAY_UPSERT, [(*k, *_pnl_params(p)) for k, p in store.algo_day.items()])
    rows = [(*k, *_position_params(p)) for k, p in store.positions.items()]
    _upsert_many(conn, _POSITION_UPSERT, rows)
    sql_store = SqlStore(conn)
    for leg in store.heads.values():
        aliases = (remainder_id(leg.coid),) if leg.chased else ()
        live = tuple(a for a in aliases if store.legs.get(a) is leg)
        sql_store.new_leg(leg, live)
    sql_store.flush()
    for (account, algo, style), f in store.figures.items():
        conn.execute(
            f"INSERT INTO sum_style (account, algo_id, style, {_FIGURE_COLUMNS}) "  # noqa: S608
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (account, algo, style, *_figure_params(f)),
        )
    for reason, n in store.skipped.items():
        conn.execute("INSERT INTO sum_skipped (reason, n) VALUES (?, ?)", (reason, n))


# -- reading --------------------------------------------------------------------------------
# Each read takes ``account``: None is every account together (the accounts' rows added up: a
# journal of one account reads exactly what it did before accounts), a name that account's
# rows, with the signals every account shares (counted under "").
@dataclass
class Summaries:
    """What the review reads: small, whatever the journal's size."""

    counts: dict[tuple[int, str], int] = field(default_factory=dict)  # (algo, status)
    pnl: dict[int, Pnl] = field(default_factory=dict)  # per algorithm
    styles: dict[tuple[int, str], Figures] = field(default_factory=dict)
    #: per (algorithm, style): time to fill at the median and the 90th percentile, in
    #: microseconds, by nearest rank (None: no leg filled completely)
    fill_times: dict[tuple[int, str], dict[float, int | None]] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)


#: the quantiles of the time to fill the report shows
QUANTILES = (0.5, 0.9)
_NTH_FILL = (
    "SELECT fill_us FROM sum_leg WHERE algo_id = ? AND style = ? AND fill_us IS NOT NULL "
    "{mine}ORDER BY fill_us LIMIT 1 OFFSET ?"
)


def _whose(account: str | None, *, shared: bool = False) -> tuple[str, tuple[str, ...]]:
    """The WHERE clause (and its parameters) of ``account``'s rows: every row for None; with
    ``shared``, the rows every account shares too."""
    if account is None:
        return "1 = 1", ()
    if shared:
        return "account IN (?, '')", (account,)
    return "account = ?", (account,)


def read(conn: Conn, account: str | None = None) -> Summaries:
    """The report's figures: a few rows per account, algorithm and execution style. The
    damaged rows left out (``skipped``) are the whole journal's."""
    out = Summaries()
    where, args = _whose(account, shared=True)
    for algo, status, n in conn.execute(
        "SELECT algo_id, status, sum(n) FROM sum_algo_count "  # noqa: S608 (constant clauses)
        f"WHERE {where} AND status IN ('signal', 'intent', 'skipped', 'rejected', 'failed') "
        "GROUP BY algo_id, status",
        args,
    ):
        out.counts[int(algo), str(status)] = int(n)
    where, args = _whose(account)
    for algo, fills, realised, slippage, notional in conn.execute(
        "SELECT algo_id, fills, realised, slippage, notional FROM sum_algo_pnl "  # noqa: S608
        f"WHERE {where} AND fills > 0",
        args,
    ):
        pnl = Pnl(int(fills), Decimal(realised), Decimal(slippage), Decimal(notional))
        out.pnl[int(algo)] = out.pnl.get(int(algo), Pnl()) + pnl
    for row in conn.execute(
        f"SELECT algo_id, style, {_FIGURE_COLUMNS} FROM sum_style WHERE {where}",  # noqa: S608
        args,
    ):
        key = (int(row[0]), str(row[1]))
        found = out.styles.get(key)
        figures = _figures_from(row[2:])
        out.styles[key] = figures if found is None else found.plus(figures)
    nth = _NTH_FILL.format(mine="" if account is None else "AND account = ? ")
    for (algo, style), f in out.styles.items():
        # the percentiles by an index walk (algo_id, style, fill_us, account), not every leg
        times: dict[float, int | None] = {}
        for q in QUANTILES:
            found_at = None
            if f.filled_legs:
                at = nearest_rank(q, f.filled_legs)
                found_at = conn.execute(nth, (algo, style, *args, at)).fetchone()
            times[q] = None if found_at is None else int(found_at[0])
        out.fill_times[algo, style] = times
    for reason, n in conn.execute("SELECT reason, n FROM sum_skipped"):
        out.skipped[str(reason)] = int(n)
    return out


def accounts(conn: Conn) -> list[str]:
    """The accounts the summaries hold rows of (sorted; never the shared ``""``)."""
    rows = conn.execute(
        "SELECT DISTINCT account FROM sum_algo_count WHERE account <> '' ORDER BY account"
    ).fetchall()
    return [str(r[0]) for r in rows]


def positions(conn: Conn, account: str | None = None) -> dict[tuple[int, str], Position]:
    """Every (algorithm, symbol) the fills ever touched: its quantity, average cost and realised
    P&L, flat ones too (the dashboard's money: unrealised from the cost, realised per symbol).

    Every account's (None): the accounts' quantities and realised P&L added, the cost their
    quantity-weighted average (so cost x quantity, and the unrealised P&L at any price, is the
    accounts' sum; 0 when their quantities cancel out)."""
    where, args = _whose(account)
    rows = conn.execute(
        f"SELECT algo_id, symbol, qty, cost, realised FROM sum_position WHERE {where}",  # noqa: S608
        args,
    ).fetchall()
    held: dict[tuple[int, str], list[Position]] = {}
    for a, s, q, c, r in rows:
        held.setdefault((int(a), str(s)), []).append(Position(Decimal(q), Decimal(c), Decimal(r)))
    out = {}
    for key, parts in held.items():
        if len(parts) == 1:
            out[key] = parts[0]
            continue
        qty = sum((p.qty for p in parts), Decimal(0))
        worth = sum((p.qty * p.cost for p in parts), Decimal(0))
        realised = sum((p.realised for p in parts), Decimal(0))
        out[key] = Position(qty, worth / qty if qty else Decimal(0), realised)
    return out


def book(conn: Conn, account: str | None = None) -> PositionBook:
    """The positions the journal's fills make, from the summary: ``account``'s, or every
    account's added up (None)."""
    where, args = _whose(account)
    rows = conn.execute(
        f"SELECT algo_id, symbol, qty FROM sum_position WHERE {where}",  # noqa: S608
        args,
    ).fetchall()
    held: dict[tuple[int, str], Decimal] = {}
    for a, s, q in rows:
        key = (int(a), str(s))
        held[key] = held.get(key, Decimal(0)) + Decimal(q)
    return PositionBook({key: qty for key, qty in held.items() if qty})


def daily_pnl(conn: Conn, account: str | None = None) -> list[tuple[int, int, Decimal]]:
    """(day, algorithm, realised P&L that day), oldest first: the equity chart's points."""
    where, args = _whose(account)
    rows = conn.execute(
        "SELECT day, algo_id, realised FROM sum_algo_day "  # noqa: S608
        f"WHERE {where} AND fills > 0 ORDER BY day, algo_id",
        args,
    ).fetchall()
    out: dict[tuple[int, int], Decimal] = {}
    for day, algo, realised in rows:  # in (day, algorithm) order: the accounts' added
        key = (int(day), int(algo))
        out[key] = out.get(key, Decimal(0)) + Decimal(realised)
    return [(day, algo, realised) for (day, algo), realised in out.items()]


def open_exit_ids(conn: Conn, account: str | None = None) -> list[str]:
    """The client order ids of exits whose leg is not closed: a superset of the exits live at
    the broker (a closed leg filled completely or ended)."""
    where, args = _whose(account)
    rows = conn.execute(
        "SELECT coid, head FROM sum_leg WHERE closed = 0 "  # noqa: S608
        f"AND substr(style, 1, 5) = 'exit ' AND {where}",
        args,
    ).fetchall()
    return [str(coid) for coid, head in rows if coid == head]
