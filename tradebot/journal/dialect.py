"""What the journal's SQL needs from a database connection, so one copy of it serves both stores.

The SQL in :mod:`~tradebot.journal.queries`, :mod:`~tradebot.journal.orderlog` and
:mod:`~tradebot.journal.positions` is written once, in the subset SQLite and PostgreSQL share
(``?`` placeholders, row-value comparisons, partial unique indexes, ``ON CONFLICT DO NOTHING``),
against :class:`Conn`. A ``sqlite3.Connection`` is one as it is; :class:`PgConn` adapts a psycopg
connection: ``?`` becomes ``%s``, and an INSERT returns its new id (``lastrowid``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import psycopg


class Cursor(Protocol):
    """The part of a DB-API cursor the journal uses."""

    @property
    def lastrowid(self) -> int | None: ...
    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Conn(Protocol):
    """A connection inside the caller's transaction: ``execute`` with ``?`` placeholders."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...


@lru_cache(maxsize=256)
def to_pyformat(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (and a literal ``%`` doubled).

    The journal's SQL never has a ``?`` or ``%`` inside a string literal (values are always
    bound), so a plain replacement is exact.
    """
    if "'" in sql and any(c in part for part in sql.split("'")[1::2] for c in "?%"):
        raise ValueError("'?' or '%' inside a string literal: bind the value instead")
    return sql.replace("%", "%%").replace("?", "%s")


class PgCursor:
    """A psycopg cursor with ``lastrowid`` (from ``RETURNING id``)."""

    def __init__(self, cursor: psycopg.Cursor[Any], lastrowid: int | None) -> None:
        self._cursor = cursor
        self.lastrowid = lastrowid
        self.rowcount = cursor.rowcount

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cursor)


class PgConn:
    """A psycopg connection speaking the journal's SQL."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> PgCursor:
        query = to_pyformat(sql)
        inserting = query.lstrip().upper().startswith("INSERT INTO ENTRIES")
        if inserting:
            query += " RETURNING id"
        cursor = self._conn.execute(query, tuple(parameters))
        lastrowid = None
        if inserting:
            row = cursor.fetchone()
            lastrowid = None if row is None else int(row[0])  # None: ON CONFLICT DO NOTHING
        return PgCursor(cursor, lastrowid)
