"""What ``tradebot track`` reads of a journal, kept per leg and per order as rows are written.

:mod:`tradebot.tracking.journal_facts` turns these into each algorithm's
:class:`~tradebot.tracking.facts.Period`. They hold what the rows mean to it, each row read
once, when it is written (:func:`fold`, called by :func:`tradebot.journal.summary_sql.insert` in
the transaction that writes the row), so ``track`` reads a row per leg and per order instead of
the legs, skips, intents (and their JSON) and fills:

* ``sum_track_leg``, per (algorithm, account, leg key): under the shared account (``''``),
  its first readable LEG row by id (time, symbol, open or close, buy or sell, the signal's
  price) and the ids of its unreadable LEG rows (a leg is every account's, whatever the row's
  column says); under each account, its first readable SKIPPED row of that account by id
  (reason, whether an exit had closed it), whether an order of that account was sent for it
  (``served``: a non-exit intent names it among its legs), and the ids of its unreadable
  SKIPPED rows (the damaged ones are those below the first readable: counted on reading, so a
  row that arrives late, out of id order, still counts right);
* ``sum_track_order``, per (algorithm, account, client order id): its INTENT as tracking reads
  it (time and id, symbol, style, signed planned quantity, exit or not, the first of its
  legs' keys) and the fills of that id of the algorithm and account (``ts id qty price
  symbol``, ``;``-separated, in write order): a fill of no intent is a stray.

A read for one account (:func:`read`) joins the legs with that account's rows; for every
account, the accounts' rows are merged (a leg's first skip by id of any, served by any).

What a row means is the row read's (:mod:`tradebot.tracking.journal_facts`; the rules for one
row are here, once: :func:`leg_key`, :func:`head_of`, :func:`skip_of`, :func:`intent_of`,
:func:`fill_of`). Every change is one upsert that needs nothing read first (a minimum kept by a
``WHERE`` on the update, text appended), so concurrent writers of a PostgreSQL journal lose
nothing. The summary holds the whole journal: a read up to an earlier time reads the rows.

``tradebot journal verify`` folds every row again into an empty copy of these tables (the same
statements, in memory) and compares (:func:`recompute`).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, unquote

from tradebot.core.ids import exit_parts, remainder_id
from tradebot.core.signal import LegKind, Side
from tradebot.journal.dialect import Conn
from tradebot.journal.queries import positive
from tradebot.journal.records import SHARED_ACCOUNT, leg_id_from

#: keyed by the algorithm first (``track`` reads one algorithm at a time, every account of it or
#: one), then the account: a LEG row is every account's (:data:`SHARED_ACCOUNT`, whatever its
#: column says: a leg is received once for all), a SKIPPED row, an intent and a fill are their
#: row's account's
TABLES = (
    """
    CREATE TABLE sum_track_leg (
        algo_id BIGINT NOT NULL, account TEXT NOT NULL, leg TEXT NOT NULL,
        head_id BIGINT, head_ts BIGINT, symbol TEXT, buy INTEGER, is_open INTEGER, price TEXT,
        skip_id BIGINT, reason TEXT, by_exit INTEGER,
        served INTEGER NOT NULL DEFAULT 0, bad_heads TEXT, bad_skips TEXT,
        PRIMARY KEY (algo_id, account, leg)
    )
    """,
    # the client order id names its account (core/ids.py), but a row's own column decides
    """
    CREATE TABLE sum_track_order (
        algo_id BIGINT NOT NULL, account TEXT NOT NULL, coid TEXT NOT NULL,
        intent_id BIGINT, ts BIGINT, symbol TEXT, style TEXT, planned TEXT, is_exit INTEGER,
        lead TEXT, fills TEXT,
        PRIMARY KEY (algo_id, account, coid)
    )
    """,
)
NAMES = ("sum_track_leg", "sum_track_order")


def tables(conn: Conn) -> tuple[str, ...]:
    """:data:`TABLES` for ``conn``'s database: on SQLite, stored in their keys' order
    (``WITHOUT ROWID``: an algorithm's rows are read together, not one lookup per row through
    the key's index, a third of the read's time on a million rows)."""
    if isinstance(conn, sqlite3.Connection):
        return tuple(f"{statement.rstrip()} WITHOUT ROWID" for statement in TABLES)
    return TABLES


#: the statuses folded (every other row changes nothing here)
STATUSES = ("leg", "skipped", "intent", "partial", "filled")

#: the execution styles (:class:`tradebot.tracking.facts.Style`'s values)
MARKET, LIMIT, CHASED_REMAINDER = "market", "limit", "chased_remainder"

# -- what one row means -------------------------------------------------------------------------
#: the stamp a leg's identity is written with (:func:`tradebot.journal.records.iso`)
_STAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
#: a leg key's kind and side, as :class:`LegKind` and :class:`Side` accept them from JSON
_KINDS = {str(k): str(k) for k in LegKind}
_SIDES = {str(s): str(s) for s in Side}


def decimal(text: Any) -> Decimal | None:
    """A stored number, finite (any sign), else None."""
    try:
        value = Decimal(str(text))
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def leg_key(d: Any) -> str:
    """``leg_id_from(d).key``, without building a :class:`~tradebot.core.signal.LegId`: the
    stamp as the journal writes it (``2026-03-02T14:30:00.000000Z``) is checked by
    ``fromisoformat`` (what ``strptime`` accepts of it, at a tenth of the cost) and written
    back as :attr:`LegId.key` writes it (``...:00Z``, or ``...:00.250000Z``); any other stamp
    goes to :func:`leg_id_from` itself. Raises KeyError, TypeError or ValueError, as it does,
    for what is not a leg's identity (``tests/tracking/test_fast_read.py`` holds them equal)."""
    stamp = d["timestamp"]
    if not isinstance(stamp, str) or not _STAMP.fullmatch(stamp):
        return leg_id_from(d).key
    datetime.fromisoformat(stamp[:-1])  # the range check (month 13, February 30): ValueError
    at = stamp[:19] if stamp.endswith(".000000Z") else stamp[:26]
    algo, kind, side = int(d["algo_id"]), _KINDS[d["kind"]], _SIDES[d["side"]]
    return f"{algo}:{kind}:{d['symbol']}:{side}:{at}Z"


@dataclass(frozen=True, slots=True)
class Head:
    """A readable LEG row, as the chain needs it."""

    ts: int
    symbol: str
    buy: bool
    is_open: bool
    price: Decimal


def head_of(ts: Any, symbol: Any, leg: str, side: Any, price: Decimal | None) -> Head | None:
    """A stored LEG row (``price``: its price, by :func:`decimal`), or None when damaged; its
    kind is in its key (``16:open:JBHT:buy:...``), so its data is never decoded."""
    kind = leg.split(":")[1] if leg.count(":") >= 4 else None
    if kind not in ("open", "close") or side not in ("buy", "sell") or not isinstance(ts, int):
        return None
    if not isinstance(symbol, str) or not symbol or price is None or price <= 0:
        return None
    return Head(ts, symbol, side == "buy", kind == "open", price)


def skip_of(data: Any) -> tuple[str, bool] | None:
    """A stored SKIPPED row's (reason, closed by an exit), or None when damaged."""
    try:
        found = json.loads(data) if isinstance(data, str) else None
    except ValueError:
        return None
    if not isinstance(found, dict) or not isinstance(found.get("reason"), str):
        return None
    return found["reason"], isinstance(found.get("exit"), dict)


@dataclass(frozen=True, slots=True)
class Intent:
    """An INTENT row as tracking reads it."""

    planned: Decimal  # signed
    exit: bool
    legs: tuple[str, ...]  # its legs' keys, those that parse
    style: str


def intent_data(data: Any) -> dict[str, Any] | None:
    """An INTENT row's data, decoded (text that is not JSON, or not an object: None)."""
    try:
        found = json.loads(data) if isinstance(data, str) else {}
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def intent_of(coid: str, side: Any, amount: Decimal | None, data: dict[str, Any]) -> Intent:
    """An INTENT row (``amount``: its quantity, by :func:`decimal`) and its decoded data."""
    amount = amount or Decimal(0)
    planned = amount if side == "buy" else -amount
    is_exit = data.get("role") == "exit" or exit_parts(coid) is not None
    legs = []
    for d in data.get("legs", ()):
        try:
            legs.append(leg_key(d))
        except (KeyError, TypeError, ValueError, OverflowError):  # an algorithm of Infinity
            continue
    if data.get("order_type") == "limit":
        style = LIMIT
    elif coid == remainder_id(coid[:-2]):
        style = CHASED_REMAINDER
        # the rest of its limit's quantity, which the limit's intent already planned
        planned = Decimal(0)
    else:
        style = MARKET
    return Intent(planned, is_exit, tuple(legs), style)


def fill_of(side: Any, symbol: Any, qty: Any, price: Any) -> tuple[Decimal, Decimal] | None:
    """A fill row's (signed quantity, price), or None when it is not a readable fill."""
    if side not in ("buy", "sell") or not isinstance(symbol, str):
        return None
    amount, paid = positive(qty), positive(price)
    if amount is None or paid is None:
        return None
    return (amount if side == "buy" else -amount), paid


def algo_of(value: Any) -> int | None:
    """A row's algorithm as the reads take it (an integer; a bool is stored as one)."""
    return int(value) if isinstance(value, int) else None


# -- kept as rows are written -------------------------------------------------------------------
_HEAD_SETS = ("head_id", "head_ts", "symbol", "buy", "is_open", "price")
_HEAD = (
    "INSERT INTO sum_track_leg (algo_id, account, leg, head_id, head_ts, symbol, buy, "  # noqa: S608
    "is_open, price) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (algo_id, account, leg) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _HEAD_SETS)
    + " WHERE sum_track_leg.head_id IS NULL OR excluded.head_id < sum_track_leg.head_id"
)
_SKIP = (
    "INSERT INTO sum_track_leg (algo_id, account, leg, skip_id, reason, by_exit) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (algo_id, account, leg) DO UPDATE SET "
    "skip_id = excluded.skip_id, reason = excluded.reason, by_exit = excluded.by_exit "
    "WHERE sum_track_leg.skip_id IS NULL OR excluded.skip_id < sum_track_leg.skip_id"
)
_BAD = (
    "INSERT INTO sum_track_leg (algo_id, account, leg, {col}) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (algo_id, account, leg) DO UPDATE SET "
    "{col} = coalesce(sum_track_leg.{col} || ',', '') || excluded.{col}"
)
_BAD_HEAD, _BAD_SKIP = _BAD.format(col="bad_heads"), _BAD.format(col="bad_skips")
_SERVED = (
    "INSERT INTO sum_track_leg (algo_id, account, leg, served) VALUES (?, ?, ?, 1) "
    "ON CONFLICT (algo_id, account, leg) DO UPDATE SET served = 1 "
    "WHERE sum_track_leg.served = 0"
)
_INTENT = (
    "INSERT INTO sum_track_order (algo_id, account, coid, intent_id, ts, symbol, style, "
    "planned, is_exit, lead) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (algo_id, account, coid) DO UPDATE SET "
    "intent_id = excluded.intent_id, ts = excluded.ts, symbol = excluded.symbol, "
    "style = excluded.style, planned = excluded.planned, is_exit = excluded.is_exit, "
    "lead = excluded.lead"
)
_FILL = (
    "INSERT INTO sum_track_order (algo_id, account, coid, fills) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (algo_id, account, coid) DO UPDATE SET "
    "fills = coalesce(sum_track_order.fills || ';', '') || excluded.fills"
)


def fold(
    conn: Conn,
    row_id: int,
    ts: Any,
    status: Any,
    algo_id: Any,
    symbol: Any,
    coid: Any,
    leg: Any,
    side: Any,
    qty: Any,
    price: Any,
    data: Any,
    account: Any,
    *,
    decoded: Any = None,
) -> None:
    """Fold one row (as stored, or as about to be) into the summary, in the caller's
    transaction: at most one upsert, and one more per leg an intent names. ``decoded``: an
    INTENT's data already decoded from its JSON text by the caller (None: decoded here)."""
    if status not in STATUSES:
        return
    algo = algo_of(algo_id)
    if algo is None:
        return
    # the row's account as the reads compare it (the column is NOT NULL TEXT)
    mine = account if isinstance(account, str) else str(account)
    if status == "leg" or status == "skipped":
        if not isinstance(leg, str):
            return  # a skip of a leg that never parsed: nothing to price
        if status == "leg":
            head = head_of(ts, symbol, leg, side, decimal(price))
            if head is None:
                conn.execute(_BAD_HEAD, (algo, SHARED_ACCOUNT, leg, str(row_id)))
            else:
                conn.execute(
                    _HEAD,
                    (
                        algo,
                        SHARED_ACCOUNT,
                        leg,
                        row_id,
                        head.ts,
                        head.symbol,
                        int(head.buy),
                        int(head.is_open),
                        str(head.price),
                    ),
                )
            return
        skip = skip_of(data)
        if skip is None:
            conn.execute(_BAD_SKIP, (algo, mine, leg, str(row_id)))
        else:
            conn.execute(_SKIP, (algo, mine, leg, row_id, skip[0], int(skip[1])))
        return
    if not isinstance(coid, str):
        return
    if status == "intent":
        found = decoded if isinstance(decoded, dict) else intent_data(data)
        if found is None:
            return
        intent = intent_of(coid, side, decimal(qty), found)
        lead = intent.legs[0] if intent.legs else None
        conn.execute(
            _INTENT,
            (
                algo,
                mine,
                coid,
                row_id,
                ts,
                symbol,
                intent.style,
                str(intent.planned),
                int(intent.exit),
                lead,
            ),
        )
        if not intent.exit:
            for key in dict.fromkeys(intent.legs):
                conn.execute(_SERVED, (algo, mine, key))
        return
    fill = fill_of(side, symbol, qty, price)
    if fill is not None:
        entry = f"{ts} {row_id} {fill[0]} {fill[1]} {quote(symbol, safe='')}"
        conn.execute(_FILL, (algo, mine, coid, entry))


# -- built from the rows ------------------------------------------------------------------------
_ROWS = (
    "SELECT id, ts, status, algo_id, symbol, client_order_id, leg, side, qty, price, data, "
    "account FROM entries WHERE id > ? AND status IN ('leg', 'skipped', 'intent', 'partial', "
    "'filled') ORDER BY id LIMIT ?"
)


def stored_rows(conn: Conn, *, page: int = 5000) -> Iterator[tuple[Any, ...]]:
    """The rows folded here, oldest first, a page at a time."""
    after = 0
    while True:
        rows = conn.execute(_ROWS, (after, page)).fetchall()
        yield from rows
        if len(rows) < page:
            return
        after = rows[-1][0]


def _fold_stored(target: Conn, source: Conn) -> int:
    n = 0
    for ident, ts, status, algo, symbol, coid, leg, side, qty, price, data, account in stored_rows(
        source
    ):
        fold(target, ident, ts, status, algo, symbol, coid, leg, side, qty, price, data, account)
        n += 1
    return n


def create(conn: Conn) -> None:
    """The tables made (again: a journal whose version was put back may hold older ones) and
    built from every row (SQLite v9, PostgreSQL v8), in the caller's transaction."""
    for name in NAMES:
        conn.execute(f"DROP TABLE IF EXISTS {name}")
    for statement in tables(conn):
        conn.execute(statement)
    _fold_stored(conn, conn)


def rebuild(conn: Conn) -> None:
    """Empty the tables and fold every row again (the migration that adds them, an archive's
    rows moved out, a copy written as stored), in the caller's transaction."""
    for name in NAMES:
        conn.execute(f"DELETE FROM {name}")  # noqa: S608 (constant table names)
    _fold_stored(conn, conn)


def recompute(conn: Conn) -> sqlite3.Connection:
    """The tables as the rows make them, folded by the same statements into a private
    in-memory database (``tradebot journal verify`` compares them with the journal's)."""
    memory = sqlite3.connect(":memory:")
    for statement in tables(memory):
        memory.execute(statement)
    _fold_stored(memory, conn)
    return memory


# -- read ---------------------------------------------------------------------------------------
#: a leg with a readable LEG row, oldest LEG row first, with one account's decisions about it
HEAD_COLUMNS = (
    "leg, head_id, head_ts, symbol, buy, is_open, price, skip_id, reason, by_exit, served"
)
#: an order with its intent, in the order the intents were written (by time, then id)
INTENT_COLUMNS = "coid, symbol, style, planned, is_exit, lead, fills"
#: the accounts that decided something of the algorithm's legs or have its orders
_DECIDING = (
    "SELECT DISTINCT account FROM sum_track_leg WHERE algo_id = ? "
    "AND (skip_id IS NOT NULL OR served = 1 OR bad_skips IS NOT NULL) "
    "UNION SELECT DISTINCT account FROM sum_track_order WHERE algo_id = ?"
)
# -- one account's: the legs (every account's) joined with its decisions
_HEADS = (
    "SELECT h.leg, h.head_id, h.head_ts, h.symbol, h.buy, h.is_open, h.price, "  # noqa: S608
    "s.skip_id, s.reason, s.by_exit, s.served FROM sum_track_leg h "
    "LEFT JOIN sum_track_leg s ON s.algo_id = h.algo_id AND s.account = ? AND s.leg = h.leg "
    f"WHERE h.algo_id = ? AND h.account = '{SHARED_ACCOUNT}' AND h.head_id IS NOT NULL "
    "ORDER BY h.head_id"
)
_BAD_HEADS = (
    "SELECT bad_heads, head_id FROM sum_track_leg "  # noqa: S608 (a constant)
    f"WHERE algo_id = ? AND account = '{SHARED_ACCOUNT}' AND bad_heads IS NOT NULL"
)
_BAD_SKIPS = (
    "SELECT bad_skips, skip_id FROM sum_track_leg "
    "WHERE algo_id = ? AND account = ? AND bad_skips IS NOT NULL"
)
_INTENTS = (
    f"SELECT {INTENT_COLUMNS} FROM sum_track_order "  # noqa: S608 (constant columns)
    "WHERE algo_id = ? AND account = ? AND intent_id IS NOT NULL ORDER BY ts, intent_id"
)
_STRAYS = (
    "SELECT fills FROM sum_track_order "
    "WHERE algo_id = ? AND account = ? AND intent_id IS NULL AND fills IS NOT NULL"
)
# -- every account's, when several decided: merged here
_ALL_HEADS = (
    "SELECT leg, head_id, head_ts, symbol, buy, is_open, price FROM sum_track_leg "  # noqa: S608
    f"WHERE algo_id = ? AND account = '{SHARED_ACCOUNT}' AND head_id IS NOT NULL "
    "ORDER BY head_id"
)
_ALL_DECISIONS = (
    "SELECT leg, skip_id, reason, by_exit, served, bad_skips FROM sum_track_leg "
    "WHERE algo_id = ? AND (skip_id IS NOT NULL OR served = 1 OR bad_skips IS NOT NULL)"
)
_ALL_ORDERS = (
    "SELECT coid, intent_id, ts, symbol, style, planned, is_exit, lead, fills "
    "FROM sum_track_order WHERE algo_id = ?"
)


@dataclass(frozen=True, slots=True)
class Summary:
    """One algorithm's tracking summary, as stored, for one account or every one."""

    heads: list[Any]  # :data:`HEAD_COLUMNS`, oldest LEG row first
    damaged: int  # unreadable LEG and SKIPPED rows below their leg's first readable one
    intents: list[Any]  # :data:`INTENT_COLUMNS`, in the order the intents were written
    strays: list[Any]  # the ``fills`` of the ids the algorithm has no intent of


def read(conn: Conn, algo_id: int, account: str | None = None) -> Summary:
    """One algorithm's summary (in the caller's snapshot): its legs (every account receives
    them) with ``account``'s skips, orders and fills (None: every account's, as if one: a leg's
    first skip of any account, its orders of any). Read joined in SQL when at most one account
    decided anything of the algorithm (a journal of one account), else merged here."""
    if account is None:
        deciding = [r[0] for r in conn.execute(_DECIDING, (algo_id, algo_id)).fetchall()]
        if len(deciding) > 1:
            return _merged(conn, algo_id)
        account = deciding[0] if deciding else SHARED_ACCOUNT
    bad = sum(damaged(ids, first) for ids, first in conn.execute(_BAD_HEADS, (algo_id,)))
    for ids, first in conn.execute(_BAD_SKIPS, (algo_id, account)):
        bad += damaged(ids, first)
    return Summary(
        conn.execute(_HEADS, (account, algo_id)).fetchall(),
        bad,
        conn.execute(_INTENTS, (algo_id, account)).fetchall(),
        [r[0] for r in conn.execute(_STRAYS, (algo_id, account)).fetchall()],
    )


def _merged(conn: Conn, algo_id: int) -> Summary:
    """:func:`read` of every account, when several decided: a leg's first skip by id among
    every account's, served when any account's order served it; an order's fills of every
    account (its id may be written under several by hand)."""
    first: dict[str, tuple[Any, Any, Any]] = {}
    served: set[str] = set()
    bad_skips: dict[str, list[str]] = {}
    for leg, skip_id, reason, by_exit, was_served, bad in conn.execute(_ALL_DECISIONS, (algo_id,)):
        if skip_id is not None:
            known = first.get(leg)
            if known is None or int(skip_id) < int(known[0]):
                first[leg] = (skip_id, reason, by_exit)
        if was_served:
            served.add(leg)
        if bad:
            bad_skips.setdefault(leg, []).append(str(bad))
    n = sum(damaged(ids, head) for ids, head in conn.execute(_BAD_HEADS, (algo_id,)))
    for leg, ids in bad_skips.items():
        n += damaged(",".join(ids), first.get(leg, (None,))[0])
    heads = [
        (*row, *first.get(row[0], (None, None, None)), int(row[0] in served))
        for row in conn.execute(_ALL_HEADS, (algo_id,)).fetchall()
    ]
    intents: dict[str, tuple[Any, ...]] = {}
    fills: dict[str, list[str]] = {}
    for coid, intent_id, *intent, text in conn.execute(_ALL_ORDERS, (algo_id,)).fetchall():
        if intent_id is not None:
            intents[coid] = (intent_id, *intent)
        if text:
            fills.setdefault(coid, []).append(text)
    ordered = sorted(intents.items(), key=lambda kv: (int(kv[1][1]), int(kv[1][0])))
    return Summary(
        heads,
        n,
        [(c, *i[2:], ";".join(fills[c]) if c in fills else None) for c, i in ordered],
        [";".join(texts) for coid, texts in fills.items() if coid not in intents],
    )


def damaged(ids: Any, first: Any) -> int:
    """How many of the unreadable rows' ids (``bad_heads``/``bad_skips``) are below the first
    readable row's (``first``; None: there is none, every one counts)."""
    if not ids:
        return 0
    found = [int(i) for i in str(ids).split(",")]
    return len(found) if first is None else sum(1 for i in found if i < int(first))


def fills(text: Any) -> Sequence[tuple[int, int, str, str, str]]:
    """A ``fills`` column: (ts, id, signed qty, price, symbol) per fill, in write order."""
    if not text:
        return ()
    out = []
    for entry in str(text).split(";"):
        ts, ident, qty, price, symbol = entry.split(" ")
        out.append((int(ts), int(ident), qty, price, unquote(symbol) if "%" in symbol else symbol))
    return out
