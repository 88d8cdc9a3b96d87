"""SQL for reading the journal: one filtered, index-friendly SELECT, and row decoding."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from tradebot.journal.interface import EntryFilter
from tradebot.journal.records import Entry, Status, from_micros, to_micros

COLUMNS = (
    "id, ts, status, algo_id, symbol, client_order_id, signal_id, leg, side, qty, price, "
    "detail, data"
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
    )


def _any_of(column: str, values: Sequence[Any], clauses: list[str], args: list[Any]) -> None:
    if values:
        clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
        args.extend(values)


def build(where: EntryFilter) -> tuple[str, list[Any]]:
    """The SELECT for ``where``. Every filter maps to an indexed column ending in ``ts``."""
    clauses: list[str] = []
    args: list[Any] = []
    _any_of("id", where.ids, clauses, args)
    _any_of("algo_id", where.algo_ids, clauses, args)
    _any_of("symbol", where.symbols, clauses, args)
    _any_of("status", [str(s) for s in where.statuses], clauses, args)
    _any_of("client_order_id", where.client_order_ids, clauses, args)
    _any_of("leg", where.legs, clauses, args)
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
    # only constants and "?" placeholders are interpolated; every value is bound
    sql = f"SELECT {COLUMNS} FROM entries"  # noqa: S608
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    if where.after_id is not None:
        # following: in write order, so nothing written meanwhile is skipped
        sql += " ORDER BY id"
    else:
        order = "DESC" if where.newest_first else "ASC"
        sql += f" ORDER BY ts {order}, id {order}"
    if where.limit is not None:
        sql += " LIMIT ?"
        args.append(where.limit)
    return sql, args


def select(conn: sqlite3.Connection, where: EntryFilter) -> list[Entry]:
    sql, args = build(where)
    return [decode(row) for row in conn.execute(sql, args)]
