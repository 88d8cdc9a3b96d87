"""The journal's SQLite schema and its migrations, applied in order on open.

The file is tagged with :data:`APPLICATION_ID` (``PRAGMA application_id``) so a foreign SQLite
file is recognised and refused; ``PRAGMA user_version`` is the schema version.

Time is ``ts INTEGER``: microseconds since the epoch, UTC. Integers are 8 bytes against 27 for an
ISO string, compare without collation, and keep the ``(algo_id, ts)`` index small, which is what
makes ``tradebot journal --algo X --since D`` an index range scan on a million rows. Display code
turns them back into ISO 8601 (:func:`tradebot.journal.records.iso`).

Money and quantities are ``TEXT`` holding an exact Decimal, never REAL.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Sequence

from tradebot.core.ids import DEFAULT_ACCOUNT
from tradebot.journal import summary_sql, tombstones, track_summary
from tradebot.journal.records import SHARED_ACCOUNT, SHARED_STATUSES

#: "TBJ1" — identifies a tradebot journal among SQLite files
APPLICATION_ID = 0x54424A31


def _v1(conn: sqlite3.Connection) -> None:
    """The first schema: one append-only table of entries."""
    conn.execute(
        """
        CREATE TABLE entries (
            id INTEGER PRIMARY KEY,
            ts INTEGER NOT NULL,
            status TEXT NOT NULL,
            algo_id INTEGER,
            symbol TEXT,
            client_order_id TEXT,
            signal_id INTEGER,
            leg TEXT,
            side TEXT,
            qty TEXT,
            price TEXT,
            detail TEXT NOT NULL DEFAULT '',
            data TEXT NOT NULL DEFAULT '{}'
        )
        """
    )
    conn.execute("CREATE INDEX ix_entries_ts ON entries (ts)")
    conn.execute("CREATE INDEX ix_entries_coid ON entries (client_order_id)")


def _v2(conn: sqlite3.Connection) -> None:
    """Exactly-once guards and the review indexes.

    * ``cum_qty`` on fill rows, unique per order: recording the same fill twice (stream replay,
      recovery lookup) is a no-op.
    * one INTENT row per client order id: the same order can never be made durable twice.
    * indexes for the review filters, each ending in ``ts`` so "newest first" is an index walk.
    """
    conn.execute("ALTER TABLE entries ADD COLUMN cum_qty TEXT")
    conn.execute(
        "UPDATE entries SET cum_qty = json_extract(data, '$.cum_qty') "
        "WHERE status IN ('partial', 'filled')"
    )
    conn.execute(
        "CREATE UNIQUE INDEX ux_entries_fill ON entries (client_order_id, cum_qty) "
        "WHERE status IN ('partial', 'filled')"
    )
    conn.execute(
        "CREATE UNIQUE INDEX ux_entries_intent ON entries (client_order_id) WHERE status = 'intent'"
    )
    conn.execute("CREATE INDEX ix_entries_algo_ts ON entries (algo_id, ts)")
    conn.execute("CREATE INDEX ix_entries_symbol_ts ON entries (symbol, ts)")
    conn.execute("CREATE INDEX ix_entries_status_ts ON entries (status, ts)")
    conn.execute("CREATE INDEX ix_entries_signal ON entries (signal_id)")
    conn.execute("CREATE INDEX ix_entries_leg ON entries (leg)")


def _v3(conn: sqlite3.Connection) -> None:
    """Each leg recorded once, by its identity (:data:`LEG_GUARD`): a leg that reaches the
    journal again (another process on a shared journal, a push after the listener's de-dup
    window) adds no second LEG row. A journal that already holds a leg twice keeps those rows:
    the guard then covers the rows written from now on (``id`` above the current last)."""
    twice = conn.execute(
        "SELECT 1 FROM entries WHERE status = 'leg' GROUP BY leg HAVING count(*) > 1 LIMIT 1"
    ).fetchone()
    after = int(conn.execute("SELECT coalesce(max(id), 0) FROM entries").fetchone()[0])
    conn.execute(leg_guard(after if twice else 0))


#: the unique index that records a leg once; rows up to ``id`` ``{after}`` are not covered
LEG_GUARD = (
    "CREATE UNIQUE INDEX ux_entries_leg ON entries (leg) WHERE status = 'leg' AND id > {after}"
)
_LEG_GUARD_AFTER = re.compile(r"status = 'leg' AND id > (\d+)")


def leg_guard(after: int) -> str:
    return LEG_GUARD.format(after=int(after))


def leg_guard_after(index_sql: str | None) -> int:
    """The ``id`` the leg guard starts after, read from its ``CREATE INDEX`` text (0: all)."""
    found = _LEG_GUARD_AFTER.search(index_sql or "")
    return int(found[1]) if found else 0


def _v4(conn: sqlite3.Connection) -> None:
    """The summaries the review reads, per algorithm; their tables are made, per account, by
    :func:`_v8` (every migration runs to the latest in one transaction), which drops these
    where an older tradebot made them."""


def _v5(conn: sqlite3.Connection) -> None:
    """What an archive leaves of the decisions it moves out (:mod:`tradebot.journal.tombstones`):
    the guards against an order sent twice read it."""
    conn.execute(tombstones.CREATE_SQLITE)


def _v6(conn: sqlite3.Connection) -> None:
    """Each leg's latency in the summaries (:mod:`tradebot.journal.latency`): their columns
    are in the tables :func:`_v8` makes and builds from the rows."""


def _v7(conn: sqlite3.Connection) -> None:
    """Each row names its account (issue 22; the rule: :func:`~.records.row_account`): a
    journal from before accounts is the ``default`` account's, but for the rows every account
    shares, which carry ``''``."""
    for statement in ACCOUNT_COLUMN:
        conn.execute(statement)


def _v8(conn: sqlite3.Connection) -> None:
    """The summaries per account (:func:`tradebot.journal.summary_sql.create`): made again with
    the account in every key and built from the rows, in the upgrade's one transaction."""
    summary_sql.create(conn)


#: v7 on both databases: the column, and the shared rows already written marked as shared
#: (through the (status, ts) index). The unique guards stay as they are: client order ids carry
#: their account (:mod:`tradebot.core.ids`), so one INTENT per id is one per account and leg,
#: and a LEG row records a leg as received, which every account shares.
ACCOUNT_COLUMN = (
    f"ALTER TABLE entries ADD COLUMN account TEXT NOT NULL DEFAULT '{DEFAULT_ACCOUNT}'",
    f"UPDATE entries SET account = '{SHARED_ACCOUNT}' WHERE status IN "  # noqa: S608 (constants)
    f"({', '.join(repr(str(s)) for s in sorted(SHARED_STATUSES))})",
)


def _v9(conn: sqlite3.Connection) -> None:
    """What ``tradebot track`` reads, per leg and per order (:mod:`~.track_summary`), kept
    from now on by every write, built here from the rows already in the journal, per account
    (:func:`~.track_summary.create`)."""
    track_summary.create(conn)


def _v10(conn: sqlite3.Connection) -> None:
    """The latency indexes with the account (:data:`~.summary_sql.LATENCY_INDEXES`): one
    account's percentiles (``report --account``, the dashboard's account) walk the index alone,
    as every account's do, instead of reading each leg's row to see whose it is."""
    for statement in LATENCY_REINDEX:
        conn.execute(statement)


#: v10 on both databases: the three latency indexes made again with the account
LATENCY_REINDEX = (
    *(
        f"DROP INDEX IF EXISTS ix_sum_leg_{column}"
        for column in ("signal_us", "first_us", "last_us")
    ),
    *summary_sql.LATENCY_INDEXES,
)


#: migrations[i] takes the schema from version i to version i + 1
MIGRATIONS: Sequence[Callable[[sqlite3.Connection], None]] = (
    _v1,
    _v2,
    _v3,
    _v4,
    _v5,
    _v6,
    _v7,
    _v8,
    _v9,
    _v10,
)
LATEST = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, *, target: int = LATEST) -> int:
    """Bring the schema up to ``target`` in one transaction; returns the version found."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = int(conn.execute("PRAGMA user_version").fetchone()[0])
        for version in range(found, target):
            MIGRATIONS[version](conn)
        if found < target:
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {int(target)}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return found
