"""The rows ``tradebot track`` reads (:mod:`tradebot.tracking.journal_facts`), narrow and as
stored: one status at a time, only the columns it uses, no subquery per row.

Each page walks the ``(status, ts)`` index in ``(ts, id)`` order (keyset paging: the journal
is free between pages); the algorithms are filtered beside it (``+algo_id``: SQLite must not
take the ``(algo_id, ts)`` index instead and sort what is left of the journal for every
page). A mark is read per symbol, newest first, from the ``(symbol, ts)`` index: a few rows
each, never every order row of every algorithm.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tradebot.journal.dialect import Conn
from tradebot.journal.queries import ORDER_STATUSES
from tradebot.journal.records import to_micros

#: per status, the columns read, and what a row must have to be read at all
COLUMNS = {
    "leg": ("id, ts, algo_id, symbol, leg, side, price", "leg IS NOT NULL"),
    "skipped": ("id, ts, algo_id, leg, data", "leg IS NOT NULL"),
    "intent": (
        "id, ts, algo_id, symbol, client_order_id, side, qty, data",
        "client_order_id IS NOT NULL",
    ),
    "partial": (
        "id, ts, algo_id, symbol, client_order_id, side, qty, price",
        "client_order_id IS NOT NULL",
    ),
}
COLUMNS["filled"] = COLUMNS["partial"]

_PAGE = """
SELECT {columns} FROM entries
WHERE status = ? AND {having} AND ts < ? AND (ts, id) > (?, ?) AND +algo_id IN ({algos}){mine}
ORDER BY ts, id
LIMIT ?
"""
_PRICES = f"""
SELECT ts, id, price FROM entries
WHERE symbol = ? AND status IN ({", ".join(f"'{s}'" for s in ORDER_STATUSES)})
  AND client_order_id IS NOT NULL AND ts < ? AND (ts, id) < (?, ?)
ORDER BY ts DESC, id DESC
LIMIT ?
"""  # noqa: S608 (constant statuses)
_END = 2**62


def rows_page(
    conn: Conn,
    status: str,
    algo_ids: Sequence[int],
    until: datetime | None,
    after: tuple[int, int],
    size: int,
    *,
    account: str | None = None,
) -> list[tuple[Any, ...]]:
    """Up to ``size`` rows of ``status`` (a key of :data:`COLUMNS`) of these algorithms before
    ``until``, after ``after`` (a ``(ts, id)`` key), oldest first, as stored; ``account``: its
    rows only, but LEG rows, which every account receives (None: every account's)."""
    if not algo_ids:
        return []
    columns, having = COLUMNS[status]
    mine = account is not None and status != "leg"
    sql = _PAGE.format(
        columns=columns,
        having=having,
        algos=", ".join("?" * len(algo_ids)),
        mine=" AND account = ?" if mine else "",
    )
    end = _END if until is None else to_micros(until)
    params = (status, end, *after, *algo_ids, *((account,) if mine else ()), size)
    return conn.execute(sql, params).fetchall()


def prices_page(
    conn: Conn, symbol: str, until: datetime | None, before: tuple[int, int], size: int
) -> list[tuple[int, int, Any]]:
    """Up to ``size`` of the symbol's order rows before ``until`` and before ``before`` (a
    ``(ts, id)`` key), newest first: ``(ts, id, price as stored)``."""
    end = _END if until is None else to_micros(until)
    found = conn.execute(_PRICES, (symbol, end, *before, size)).fetchall()
    return [(int(ts), int(ident), price) for ts, ident, price in found]


_NEXT_ALGO = "SELECT min(algo_id) FROM entries WHERE algo_id > ?"
_HAS_ROWS = "SELECT 1 FROM entries WHERE algo_id = ? AND status IN ({statuses}) AND ts < ? LIMIT 1"


def algorithms(conn: Conn, statuses: Sequence[str], until: datetime | None) -> list[int]:
    """The algorithms with a row of one of ``statuses`` before ``until``: each algorithm id
    found by one seek in the ``(algo_id, ts)`` index (a skip scan: a few hundred seeks, not a
    million rows grouped), then one probe of its rows. A value that is not an integer is passed
    over (SQLite sorts text after every number)."""
    end = _END if until is None else to_micros(until)
    has = _HAS_ROWS.format(statuses=", ".join("?" * len(statuses)))
    out: list[int] = []
    after: Any = -(2**63)
    while True:
        found = conn.execute(_NEXT_ALGO, (after,)).fetchone()
        after = None if found is None else found[0]
        if after is None or isinstance(after, str | bytes):
            return out
        if isinstance(after, int) and conn.execute(has, (after, *statuses, end)).fetchone():
            out.append(after)
