"""``tradebot journal verify``: recompute every summary from the rows and compare.

The rows are folded oldest first by :func:`tradebot.journal.summary.apply`, the rule the
writes keep the summaries by, into memory that stays flat: the small tables (per account,
algorithm, day and symbol; per account, algorithm and symbol; per account, algorithm and
style; each key compared with its account) are a few rows per account, algorithm and symbol,
and a leg is compared with its stored row (its account too) and dropped as soon as it is
closed (only the legs still open are held).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tradebot.journal import track_summary
from tradebot.journal.dialect import Conn
from tradebot.journal.summary import Figures, Leg, MemoryStore, Pnl, Position, apply
from tradebot.journal.summary_sql import (
    _LEG_COLUMNS,
    SqlLookups,
    _figures_from,
    _leg_from,
    stored_rows,
)


@dataclass
class TableCheck:
    """One summary table: how many rows were compared, and the first that disagree."""

    name: str
    rows: int = 0
    disagreements: int = 0
    first: list[str] = field(default_factory=list)

    @property
    def agrees(self) -> bool:
        return self.disagreements == 0

    def differ(self, text: str, limit: int) -> None:
        self.disagreements += 1
        if len(self.first) < limit:
            self.first.append(text)


@dataclass
class Verdict:
    tables: list[TableCheck]
    journal_rows: int

    @property
    def agrees(self) -> bool:
        return all(t.agrees for t in self.tables)


def _compare(
    check: TableCheck, ours: dict[Any, Any], stored: Iterable[tuple[Any, Any]], limit: int
) -> None:
    """Each stored row against ours (taken out of ``ours`` as it goes: the stored table is
    streamed, never held), then what only ours has."""
    for key, theirs in stored:
        check.rows += 1
        mine = ours.pop(key, None)
        if mine != theirs:
            check.differ(f"{key}: rows say {mine!r}, summary holds {theirs!r}", limit)
    for key, mine in sorted(ours.items(), key=lambda kv: repr(kv[0])):
        check.rows += 1
        check.differ(f"{key}: rows say {mine!r}, summary holds None", limit)


def _stored_counts(conn: Conn) -> Iterator[tuple[Any, int]]:
    rows = conn.execute("SELECT account, algo_id, day, symbol, status, reason, n FROM sum_count")
    return (
        ((str(ac), int(a), int(d), str(s), str(st), str(r)), int(n))
        for ac, a, d, s, st, r, n in rows
    )


def _stored_pnl(conn: Conn) -> Iterator[tuple[Any, Pnl]]:
    rows = conn.execute(
        "SELECT account, algo_id, day, symbol, fills, realised, slippage, notional FROM sum_pnl"
    )
    return (((str(r[0]), int(r[1]), int(r[2]), str(r[3])), _pnl_of(r[4:])) for r in rows)


def _stored_algo_counts(conn: Conn) -> Iterator[tuple[Any, int]]:
    rows = conn.execute("SELECT account, algo_id, status, n FROM sum_algo_count")
    return (((str(ac), int(a), str(st)), int(n)) for ac, a, st, n in rows)


def _pnl_of(r: Any) -> Pnl:
    return Pnl(int(r[0]), Decimal(r[1]), Decimal(r[2]), Decimal(r[3]))


def _stored_algo_pnl(conn: Conn) -> Iterator[tuple[Any, Pnl]]:
    rows = conn.execute(
        "SELECT account, algo_id, fills, realised, slippage, notional FROM sum_algo_pnl"
    )
    return (((str(r[0]), int(r[1])), _pnl_of(r[2:])) for r in rows)


def _stored_algo_day(conn: Conn) -> Iterator[tuple[Any, Pnl]]:
    rows = conn.execute(
        "SELECT account, algo_id, day, fills, realised, slippage, notional FROM sum_algo_day"
    )
    return (((str(r[0]), int(r[1]), int(r[2])), _pnl_of(r[3:])) for r in rows)


def _stored_positions(conn: Conn) -> Iterator[tuple[Any, Position]]:
    rows = conn.execute("SELECT account, algo_id, symbol, qty, cost, realised FROM sum_position")
    return (
        ((str(ac), int(a), str(s)), Position(Decimal(q), Decimal(c), Decimal(r)))
        for ac, a, s, q, c, r in rows
    )


def _stored_figures(conn: Conn) -> Iterator[tuple[Any, Figures]]:
    rows = conn.execute(
        "SELECT account, algo_id, style, legs, filled_legs, partial_legs, unfilled_legs, working, "
        "unmeasured_legs, planned_qty, filled_qty, slippage, slipped_notional, signal_n, "
        "first_n, last_n FROM sum_style"
    )
    return (((str(r[0]), int(r[1]), str(r[2])), _figures_from(r[3:])) for r in rows)


_LEG = f"SELECT head, {_LEG_COLUMNS} FROM sum_leg WHERE coid = ?"  # noqa: S608 (a constant)


def _check_legs(conn: Conn, check: TableCheck, legs: Iterable[Leg], limit: int) -> None:
    for leg in legs:
        check.rows += 1
        row = conn.execute(_LEG, (leg.coid,)).fetchone()
        stored = None if row is None or row[0] != leg.coid else _leg_from(leg.coid, row[1:])
        if stored != leg:
            check.differ(f"{leg.coid}: rows say {leg}, summary holds {stored}", limit)
        elif row is not None and tuple(row[17:20]) != leg.latency_us:
            check.differ(
                f"{leg.coid}: rows make latencies {leg.latency_us} (us), summary holds "
                f"{tuple(row[17:20])}",
                limit,
            )


def verify(conn: Conn, *, limit: int = 5) -> Verdict:
    """Fold every row again and compare each summary table with it."""
    store = MemoryStore(SqlLookups(conn), keep_closed=False)
    legs = TableCheck("sum_leg")
    seen = 0
    rows = 0
    for row in stored_rows(conn):
        rows += 1
        apply(store, row)
        if store.closed:
            seen += len(store.closed)
            _check_legs(conn, legs, store.closed, limit)
            store.closed.clear()
    seen += len(store.heads)
    _check_legs(conn, legs, store.heads.values(), limit)
    heads = int(conn.execute("SELECT count(*) FROM sum_leg WHERE coid = head").fetchone()[0])
    if heads != seen:
        legs.differ(f"rows make {seen} legs, summary holds {heads}", limit)
    tables = []
    for name, ours, stored in (
        ("sum_count", store.counts, _stored_counts(conn)),
        ("sum_pnl", store.pnl, _stored_pnl(conn)),
        ("sum_position", store.positions, _stored_positions(conn)),
        ("sum_algo_count", store.algo_counts, _stored_algo_counts(conn)),
        ("sum_algo_pnl", store.algo_pnl, _stored_algo_pnl(conn)),
        ("sum_algo_day", store.algo_day, _stored_algo_day(conn)),
    ):
        check = TableCheck(name)
        _compare(check, ours, stored, limit)
        tables.append(check)
    tables.append(legs)
    styles = TableCheck("sum_style")
    _compare(styles, store.figures, _stored_figures(conn), limit)
    skipped = TableCheck("sum_skipped")
    stored_skips = ((str(r), int(n)) for r, n in conn.execute("SELECT reason, n FROM sum_skipped"))
    _compare(skipped, store.skipped, stored_skips, limit)
    tables += [styles, skipped]
    tables += check_tracking(conn, limit=limit)
    return Verdict(tables, rows)


def _by_algorithm(conn: Any, sql: str, algo_id: int) -> dict[Any, tuple[Any, ...]]:
    """An algorithm's rows of a tracking table by key: (algorithm, account, leg or order id)."""
    return {tuple(r[:3]): tuple(r[3:]) for r in conn.execute(sql, (algo_id,)).fetchall()}


def check_tracking(conn: Conn, *, limit: int = 5) -> list[TableCheck]:
    """The tracking summary (:mod:`~tradebot.journal.track_summary`) against the rows: folded
    again by the same statements into memory, then compared one algorithm at a time."""
    memory = track_summary.recompute(conn)
    try:
        checks = []
        for name in track_summary.NAMES:
            check = TableCheck(name)
            sql = f"SELECT * FROM {name} WHERE algo_id = ?"  # noqa: S608 (constant names)
            found = {int(a) for (a,) in conn.execute(f"SELECT DISTINCT algo_id FROM {name}")}  # noqa: S608
            found |= {int(a) for (a,) in memory.execute(f"SELECT DISTINCT algo_id FROM {name}")}  # noqa: S608
            for algo_id in sorted(found):
                ours = _by_algorithm(memory, sql, algo_id)
                stored = sorted(_by_algorithm(conn, sql, algo_id).items(), key=lambda kv: kv[0][1:])
                _compare(check, ours, ((k, v) for k, v in stored), limit)
            checks.append(check)
        return checks
    finally:
        memory.close()
