"""What ``tradebot journal archive`` leaves in the journal of the decisions it moved out.

The journal's guard against sending an order twice is the INTENT row per deterministic client
order id (:func:`~tradebot.journal.orderlog.insert_plan`), and the backfill asks the journal
whether a leg was decided (:func:`~tradebot.runtime.recovered.journaled_legs`). An archive moves
old rows out; without a trace, the same old signal pushed again (AlphaHub re-pushing it, the
backfill reading history from before the cutoff) would find nothing and be sent again. So the
archive keeps, in the same transaction that deletes the rows, one *tombstone* per decision it
moves: the client order id of every INTENT (kind ``order``) and the leg identity of every
decided leg (kind ``leg``: received, rejected by its signal's rules, skipped). Both guards read
them: an intent whose id is tombstoned is a skipped duplicate, a tombstoned leg is decided. The
table is the same on SQLite and PostgreSQL (the shared code reads it on both).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from tradebot.journal.dialect import Conn
from tradebot.journal.records import Status

TABLE = "tradebot_archived"
#: the table in both schemas (SQLite: :data:`CREATE_SQLITE`)
CREATE = f"CREATE TABLE {TABLE} (kind TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (kind, key))"
#: SQLite stores the rows in the key's own b-tree: half the bytes of a table plus its index
CREATE_SQLITE = f"{CREATE} WITHOUT ROWID"


class Kind(StrEnum):
    ORDER = "order"  # a client order id that had an INTENT row
    LEG = "leg"  # a leg identity (:attr:`~tradebot.core.signal.LegId.key`) that was decided


#: the rows that are a decision on a leg: received (then planned), rejected, skipped (the
#: backfill's question too, :func:`tradebot.runtime.recovered.journaled_legs`)
DECIDED = (Status.LEG, Status.LEG_REJECTED, Status.SKIPPED)
DECIDED_SQL = ", ".join(f"'{s}'" for s in DECIDED)


def archived(conn: Conn, kind: Kind, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` an archive moved out as a decision of ``kind`` (one indexed read)."""
    if not keys:
        return set()
    marks = ", ".join("?" * len(keys))
    sql = f"SELECT key FROM {TABLE} WHERE kind = ? AND key IN ({marks})"  # noqa: S608 - "?" only
    return {str(r[0]) for r in conn.execute(sql, (str(kind), *keys))}


def bury(conn: Conn, ids: Sequence[int]) -> int:
    """In the caller's transaction, before the rows ``ids`` leave ``entries``: a tombstone for
    each decision among them; returns how many tombstones are new."""
    marks = ", ".join("?" * len(ids))
    added = conn.execute(
        f"INSERT INTO {TABLE} (kind, key) SELECT DISTINCT ?, client_order_id FROM entries "  # noqa: S608
        f"WHERE id IN ({marks}) AND status = 'intent' AND client_order_id IS NOT NULL "
        "ON CONFLICT DO NOTHING",
        (str(Kind.ORDER), *ids),
    ).rowcount
    added += conn.execute(
        f"INSERT INTO {TABLE} (kind, key) SELECT DISTINCT ?, leg FROM entries "  # noqa: S608
        f"WHERE id IN ({marks}) AND status IN ({DECIDED_SQL}) AND leg IS NOT NULL "
        "ON CONFLICT DO NOTHING",
        (str(Kind.LEG), *ids),
    ).rowcount
    return int(added)


def every(conn: Conn) -> list[tuple[str, str]]:
    """Every tombstone, as ``(kind, key)``: what ``tradebot journal migrate`` copies along."""
    rows = conn.execute(f"SELECT kind, key FROM {TABLE} ORDER BY kind, key")  # noqa: S608
    return [(str(kind), str(key)) for kind, key in rows]


def keep(conn: Conn, tombstones: Sequence[tuple[str, str]]) -> None:
    """Add these tombstones (those already there stay as they are)."""
    for kind, key in tombstones:
        conn.execute(
            f"INSERT INTO {TABLE} (kind, key) VALUES (?, ?) ON CONFLICT DO NOTHING",  # noqa: S608
            (kind, key),
        )
