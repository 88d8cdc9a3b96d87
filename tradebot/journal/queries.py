"""SQL for reading the journal: one filtered, index-friendly SELECT, and row decoding."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tradebot.journal.dialect import Conn
from tradebot.journal.interface import EntryFilter
from tradebot.journal.records import Entry, FillFact, OrderRow, Status, from_micros, to_micros

COLUMNS = (
    "id, ts, status, algo_id, symbol, client_order_id, signal_id, leg, side, qty, price, "
    "detail, data, account"
)


def decode(row: Sequence[Any]) -> Entry:
    return Entry(
        id=row[0],
        at=from_micros(row[1]),
        status=Status(row[2]),
        algo_id=row[3],
        symbol=row[4],
        client_order_id=row[5],
        signal_id=row[6],
        leg=row[7],
        side=row[8],
        qty=None if row[9] is None else Decimal(row[9]),
        price=None if row[10] is None else Decimal(row[10]),
        detail=row[11],
        data=json.loads(row[12]),
        account=row[13],
    )


def _any_of(column: str, values: Sequence[Any], clauses: list[str], args: list[Any]) -> None:
    if values:
        clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
        args.extend(values)


def conditions(where: EntryFilter) -> tuple[list[str], list[Any]]:
    """The WHERE clauses for ``where`` (joined with AND) and their bound values."""
    clauses: list[str] = []
    args: list[Any] = []
    _any_of("id", where.ids, clauses, args)
    _any_of("algo_id", where.algo_ids, clauses, args)
    _any_of("symbol", where.symbols, clauses, args)
    _any_of("status", [str(s) for s in where.statuses], clauses, args)
    _any_of("client_order_id", where.client_order_ids, clauses, args)
    _any_of("leg", where.legs, clauses, args)
    _any_of("account", where.accounts, clauses, args)
    if where.signal_ids:
        marks = ", ".join("?" * len(where.signal_ids))
        clauses.append(f"(signal_id IN ({marks}) OR id IN ({marks}))")
        args.extend(where.signal_ids)
        args.extend(where.signal_ids)
    if where.since is not None:
        clauses.append("ts >= ?")
        args.append(to_micros(where.since))
    if where.until is not None:
        clauses.append("ts < ?")
        args.append(to_micros(where.until))
    if where.after_id is not None:
        clauses.append("id > ?")
        args.append(where.after_id)
    if where.before_id is not None:
        clauses.append("id < ?")
        args.append(where.before_id)
    return clauses, args


def build(where: EntryFilter, *, after: tuple[int, int] | None = None) -> tuple[str, list[Any]]:
    """The SELECT for ``where``. Every filter maps to an indexed column ending in ``ts``.

    ``after`` is the ``(ts, id)`` of the last row of the previous page (keyset paging, on the
    id): the query resumes right after it in the requested order, whatever was written
    meanwhile.
    """
    clauses, args = conditions(where)
    if after is not None and where.after_id is None:
        clauses.append("id < ?" if where.newest_first else "id > ?")
        args.append(after[1])
    # only constants and "?" placeholders are interpolated; every value is bound
    sql = f"SELECT {COLUMNS} FROM entries"  # noqa: S608
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    if where.after_id is not None:
        # following: in write order, so nothing written meanwhile is skipped
        sql += " ORDER BY id"
    else:
        # in id order (the order rows were written), never by time: a row's time can be
        # earlier than the row before it (a batch carries each row's own moment), and a
        # listing sorted by time would reorder rows the live feed showed in write order
        sql += " ORDER BY id DESC" if where.newest_first else " ORDER BY id"
    if where.limit is not None:
        sql += " LIMIT ?"
        args.append(where.limit)
    return sql, args


def select(conn: Conn, where: EntryFilter, *, after: tuple[int, int] | None = None) -> list[Entry]:
    return [decode(row) for row in select_stored(conn, where, after=after)]


def select_stored(
    conn: Conn, where: EntryFilter, *, after: tuple[int, int] | None = None
) -> list[tuple[Any, ...]]:
    """The rows of :func:`select` as stored (:data:`COLUMNS`), undecoded."""
    sql, args = build(where, after=after)
    return [tuple(row) for row in conn.execute(sql, args).fetchall()]


def count(conn: Conn, where: EntryFilter) -> dict[tuple[int | None, Status], int]:
    """Rows matching ``where`` per (algorithm, status), counted by the database."""
    clauses, args = conditions(where)
    sql = "SELECT algo_id, status, count(*) FROM entries"
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    sql += " GROUP BY algo_id, status"
    return {(algo, Status(status)): n for algo, status, n in conn.execute(sql, args)}


def newest_ids(conn: Conn, status: Status) -> dict[int, int]:
    """Per algorithm, the id of its newest row of ``status``: one grouped read."""
    sql = (
        "SELECT algo_id, max(id) FROM entries WHERE status = ? AND algo_id IS NOT NULL"
        " GROUP BY algo_id"
    )
    return {int(algo): int(newest) for algo, newest in conn.execute(sql, (str(status),))}


_FILLS = """
SELECT f.id, f.ts, f.algo_id, f.symbol, f.side, f.qty, f.price,
       (SELECT i.price FROM entries i WHERE i.client_order_id = f.client_order_id
                                        AND i.status = 'intent')
FROM entries f
WHERE f.status IN ('partial', 'filled') AND f.algo_id IS NOT NULL AND f.symbol IS NOT NULL
  AND f.qty IS NOT NULL AND f.price IS NOT NULL AND f.ts < ? AND (f.ts, f.id) > (?, ?){mine}
ORDER BY f.ts, f.id
LIMIT ?
"""


def fills_page(
    conn: Conn,
    until: datetime | None,
    after: tuple[int, int],
    size: int,
    account: str | None = None,
) -> tuple[list[FillFact], tuple[int, int] | None]:
    """Our fills (``account``'s; None: every account's) among the next ``size`` fill rows after
    ``after`` (a ``(ts, id)`` key), oldest first, each with its order's intent price, read
    without decoding whole rows; and the key the next page starts after (None: this was the
    last page)."""
    end = to_micros(until) if until is not None else 2**62
    if account is None:
        rows = conn.execute(_FILLS.format(mine=""), (end, *after, size)).fetchall()
    else:
        sql = _FILLS.format(mine=" AND f.account = ?")
        rows = conn.execute(sql, (end, *after, account, size)).fetchall()
    facts = [
        fact
        for row_id, ts, algo_id, symbol, side, qty, price, intent in rows
        if (fact := _fill_fact(row_id, ts, algo_id, symbol, side, qty, price, intent))
    ]
    more = len(rows) == size
    return facts, ((rows[-1][1], rows[-1][0]) if more else None)


_SIDES = ("buy", "sell")


def _fill_fact(
    row_id: int, ts: int, algo_id: Any, symbol: Any, side: Any, qty: Any, price: Any, intent: Any
) -> FillFact | None:
    """A fill row as the review needs it; None for a damaged row (written by hand, a bug): it
    is left out rather than stop every review, and the execution review counts such rows."""
    amount, paid = positive(qty), positive(price)
    if amount is None or paid is None or not isinstance(algo_id, int) or side not in _SIDES:
        return None
    if not isinstance(symbol, str):
        return None
    ref = positive(intent)
    return FillFact((ts, row_id), from_micros(ts), algo_id, symbol, side, amount, paid, ref)


def fill_of(row: OrderRow) -> FillFact | None:
    """A fill among the order rows (:meth:`Journal.order_history`), or None when damaged."""
    return _fill_fact(
        row.id, row.ts, row.algo_id, row.symbol, row.side, row.qty, row.price, row.intent_price
    )


def positive(text: Any) -> Decimal | None:
    """A stored decimal that is a finite number > 0, else None (a damaged row's value)."""
    if isinstance(text, bool) or not isinstance(text, str | int):
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() and value > 0 else None


#: the statuses of an order's life that execution quality is computed from
ORDER_STATUSES = ("intent", "partial", "filled", "canceled", "expired", "rejected", "failed")
#: per status, what else a row brings: an intent its data (the only JSON read) and its first
#: leg's signal price (the LEG row, by its indexed key); a fill its intent's price
_ORDER_EXTRA = {
    "intent": "e.data, (SELECT l.price FROM entries l WHERE l.leg = e.leg AND l.status = 'leg'"
    " ORDER BY l.id LIMIT 1), NULL",
    "partial": "NULL, NULL, (SELECT i.price FROM entries i WHERE i.client_order_id ="
    " e.client_order_id AND i.status = 'intent')",
}
_ORDER_EXTRA["filled"] = _ORDER_EXTRA["partial"]
#: one status at a time: its (status, ts) index then yields rows already in order, where a list
#: of statuses would be sorted again for every page
_ORDER_ROWS = """
SELECT e.id, e.ts, e.status, e.algo_id, e.symbol, e.client_order_id, e.side, e.qty, e.price,
       {extra}, e.account
FROM entries e
WHERE e.status = ? AND e.client_order_id IS NOT NULL AND e.ts >= ? AND e.ts < ?
  AND (e.ts, e.id) > (?, ?)
ORDER BY e.ts, e.id
LIMIT ?
"""


def order_rows_page(
    conn: Conn,
    status: str,
    since: datetime | None,
    until: datetime | None,
    after: tuple[int, int],
    size: int,
) -> list[OrderRow]:
    """Up to ``size`` rows of this status in ``[since, until)`` after ``after`` (a ``(ts, id)``
    key), oldest first, as stored: the caller decodes them and can skip a damaged one without
    losing the rest."""
    start = to_micros(since) if since is not None else -(2**62)
    end = to_micros(until) if until is not None else 2**62
    sql = _ORDER_ROWS.format(extra=_ORDER_EXTRA.get(status, "NULL, NULL, NULL"))
    rows = conn.execute(sql, (status, start, end, *after, size)).fetchall()
    return [OrderRow(*row) for row in rows]
