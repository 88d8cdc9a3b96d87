"""An order's life in the journal: what the broker said, recorded exactly once.

Every function here runs inside the caller's write transaction, so the "already recorded?"
read and the insert are atomic. The same broker fact arriving twice (a fill from the stream and
again from a lookup, a replayed event after a reconnect) is recorded once; fills are keyed by
cumulative quantity, so a missed partial fill is recovered from the next one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from tradebot.core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejectedEvent,
)
from tradebot.core.ids import DEFAULT_ACCOUNT, account_of
from tradebot.core.order_snapshot import OrderSnapshot, OrderStatus
from tradebot.core.orders import OrderIntent, Plan, SkippedLeg, SkipReason
from tradebot.core.signal import LegKind, Refusal, RejectedLeg, Side, Signal, SignalSource
from tradebot.journal import summary_sql, tombstones
from tradebot.journal.dialect import Conn
from tradebot.journal.interface import StoredSignal
from tradebot.journal.queries import COLUMNS, decode
from tradebot.journal.records import (
    FINAL_STATUSES,
    AppliedFill,
    Status,
    StoredIntent,
    from_micros,
    intent_from_entry,
    to_micros,
)
from tradebot.journal.rows import (
    Row,
    held_from_data,
    intent_row,
    leg_from_data,
    signal_rows,
    skipped_row,
)

_FINAL = tuple(str(s) for s in FINAL_STATUSES)
_FINAL_SQL = ", ".join(f"'{s}'" for s in _FINAL)
#: rows that show the broker knows an order (its answer to the submission, an acceptance, a
#: fill, or what a lookup found); an unresolved intent with none of them has an unknown outcome
_ANSWERED = (Status.SUBMITTED, Status.ACCEPTED, Status.PARTIAL, Status.RECOVERY)
_ANSWERED_SQL = ", ".join(f"'{s}'" for s in _ANSWERED)
_SNAPSHOT_FINAL = {
    OrderStatus.CANCELED: Status.CANCELED,
    OrderStatus.REJECTED: Status.REJECTED,
    OrderStatus.EXPIRED: Status.EXPIRED,
}


def _cols(alias: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in COLUMNS.split(","))


def signal_algo(conn: Conn, signal_id: int | None) -> int | None:
    if signal_id is None:
        return None
    row = conn.execute("SELECT algo_id FROM entries WHERE id = ?", (signal_id,)).fetchone()
    return None if row is None else row[0]


def insert_signal(conn: Conn, signal: Signal) -> int:
    """The SIGNAL row (the frame as received, always) and the LEG / LEG_REJECTED rows under
    it, each leg once by its identity; returns the signal id."""
    head, children = signal_rows(signal)
    signal_id = summary_sql.insert(conn, head.params())
    assert signal_id
    for row in children:
        # a leg already on record (seen by another process sharing the journal, or pushed
        # again after the listener's de-dup window) is not recorded twice: the unique leg
        # guard decides, in the database
        summary_sql.insert(conn, replace(row, signal_id=signal_id).params(), if_absent=True)
    return signal_id


def check_plan_account(plan: Plan, account: str) -> None:
    """Refuse a plan whose orders name another account than the one that planned it: an
    order journaled under one account and sent for another is how two accounts get confused."""
    for intent in plan.intents:
        if account_of(intent.client_order_id) != account:
            raise ValueError(
                f"order {intent.client_order_id} is account "
                f"{account_of(intent.client_order_id)!r}'s, not {account!r}'s"
            )


def insert_plan(
    conn: Conn,
    signal_id: int | None,
    algo: int | None,
    plan: Plan,
    at: datetime,
    account: str = DEFAULT_ACCOUNT,
) -> tuple[OrderIntent, ...]:
    """The PLAN row, each new intent, and the skipped legs; a journaled order id is a duplicate.
    Every row is ``account``'s (its decision on the signal); each intent's id must name it
    (:func:`check_plan_account`, which the caller runs before the transaction's first write).

    Each intent is inserted *if absent* (the unique INTENT-per-order-id guard decides, in the
    database): with several processes on one journal, the one whose insert lands owns the order
    and every other records it as a skipped duplicate, so it can never be sent twice. An order
    id whose INTENT an archive moved out is a duplicate too (:mod:`~.tombstones`).
    """
    new: list[OrderIntent] = []
    detail = f"{len(plan.intents)} orders, {len(plan.skipped)} skipped"
    coids = [i.client_order_id for i in plan.intents]
    plan_data = {"orders": coids, "notes": list(plan.notes)}
    summary_sql.insert(
        conn,
        Row(
            at,
            Status.PLAN,
            detail,
            algo_id=algo,
            signal_id=signal_id,
            data=plan_data,
            account=account,
        ).params(),
    )
    archived = tombstones.archived(conn, tombstones.Kind.ORDER, coids)
    for intent in plan.intents:
        row = intent_row(at, intent, signal_id)
        coid = intent.client_order_id
        if coid in archived or summary_sql.insert(conn, row.params(), if_absent=True) == 0:
            where = " (and archived)" if coid in archived else ""
            dup = SkippedLeg(
                intent.leg_ids[0], SkipReason.DUPLICATE, f"order {coid} already journaled{where}"
            )
            summary_sql.insert(conn, skipped_row(at, dup, signal_id, account).params())
            continue
        new.append(intent)
    for skip in plan.skipped:
        summary_sql.insert(conn, skipped_row(at, skip, signal_id, account).params())
    return tuple(new)


def _order(conn: Conn, coid: str, account: str) -> tuple[int | None, int | None, str]:
    """(algo_id, signal_id, account) of our intent with this id; for a foreign order (None,
    None, ``account``: the account whose broker told us about it)."""
    # Foreign orders (placed by hand on the same account, or by another program) do reach the
    # event stream. They are recorded, so the journal explains the account, but without an
    # algorithm: no ledger owns them, and a position they leave shows up as drift. Our own
    # order's rows are its intent's account's, whichever account's stream reported it (two
    # accounts may share one broker account, and both streams then carry every order).
    sql = (
        "SELECT algo_id, signal_id, account FROM entries "
        "WHERE client_order_id = ? AND status = 'intent'"
    )
    row = conn.execute(sql, (coid,)).fetchone()
    return (None, None, account) if row is None else (row[0], row[1], row[2])


#: how a row of broker activity the bot did not cause opens (its ``data`` has ``not_ours``)
NOT_OURS = "not ours: "


def _mark(
    algo_id: int | None, detail: str, data: dict[str, object]
) -> tuple[str, dict[str, object]]:
    """A foreign order's row says so, in its detail and its data (every view shows it)."""
    if algo_id is not None:
        return detail, data
    return NOT_OURS + detail, {**data, "not_ours": True}


def _has(conn: Conn, coid: str, statuses: tuple[str, ...]) -> bool:
    # The order's few rows through the order id's index, the statuses checked here: with
    # ``status IN (?)`` for a single status SQLite took the (status, ts) index instead and
    # walked every row of that status in the journal (each acceptance read every acceptance)
    rows = conn.execute("SELECT status FROM entries WHERE client_order_id = ?", (coid,))
    return any(row[0] in statuses for row in rows)


def _filled(conn: Conn, coid: str) -> tuple[Decimal, Decimal]:
    """(quantity filled so far, its notional) from the recorded fills."""
    sql = (
        "SELECT qty, price FROM entries "
        "WHERE client_order_id = ? AND status IN ('partial', 'filled')"
    )
    qty = notional = Decimal(0)
    for q, p in conn.execute(sql, (coid,)):
        qty += Decimal(q)
        notional += Decimal(q) * Decimal(p)
    return qty, notional


def _insert(conn: Conn, row: Row) -> int:
    return summary_sql.insert(conn, row.params())


def _fill(
    conn: Conn,
    coid: str,
    at: datetime,
    *,
    symbol: str,
    side: Side,
    cum_qty: Decimal,
    price: Decimal,
    complete: bool,
    data: dict[str, object],
    account: str,
) -> tuple[AppliedFill, ...]:
    """Record the part of ``cum_qty`` not yet recorded; return it as an applied fill."""
    # Brokers report fills cumulatively. Recording only what goes beyond the quantity already
    # on record makes every source idempotent: the stream's fill, a lookup's snapshot and a
    # replay after a reconnect can arrive in any order and the order's total is counted once;
    # a partial fill the stream lost is made up by the next report.
    so_far, _ = _filled(conn, coid)
    delta = cum_qty - so_far
    if delta <= 0:
        return ()
    algo_id, signal_id, account = _order(conn, coid, account)
    status = Status.FILLED if complete else Status.PARTIAL
    detail, data = _mark(
        algo_id, f"{status} {side} {delta} {symbol} @ {price} (total {cum_qty})", data
    )
    # if absent: another process sharing the journal may have recorded this very fill since
    # the read above (the unique (client order id, cum_qty) guard); then it is not ours to apply
    recorded = summary_sql.insert(
        conn,
        Row(
            at,
            status,
            detail,
            algo_id=algo_id,
            symbol=symbol,
            client_order_id=coid,
            signal_id=signal_id,
            side=str(side),
            qty=delta,
            price=price,
            cum_qty=cum_qty,
            data={**data, "cum_qty": cum_qty},
            account=account,
        ).params(),
        if_absent=True,
    )
    if algo_id is None or recorded == 0:
        return ()  # a foreign order's fill, or one already recorded: no book changes
    return (AppliedFill(coid, algo_id, symbol, side, delta, price),)


def final_row(
    conn: Conn,
    coid: str,
    status: Status,
    reason: str,
    at: datetime,
    account: str = DEFAULT_ACCOUNT,
    **data: object,
) -> int:
    """A final outcome for the order, unless it already has one (then 0)."""
    # The first final outcome wins: a cancel confirmed after a fill (or recovery's "failed"
    # racing a late event) must not rewrite how the order ended.
    if _has(conn, coid, _FINAL):
        return 0
    algo_id, signal_id, account = _order(conn, coid, account)
    row = conn.execute(
        "SELECT symbol FROM entries WHERE client_order_id = ? LIMIT 1", (coid,)
    ).fetchone()
    detail, marked = _mark(algo_id, reason, {"reason": reason, **data})
    return _insert(
        conn,
        Row(
            at,
            status,
            detail,
            algo_id=algo_id,
            client_order_id=coid,
            symbol=row[0] if row else None,
            signal_id=signal_id,
            data=marked,
            account=account,
        ),
    )


def _accepted(conn: Conn, coid: str, broker_id: str | None, at: datetime, account: str) -> None:
    if _has(conn, coid, (str(Status.ACCEPTED),)):
        return
    algo_id, signal_id, account = _order(conn, coid, account)
    detail, data = _mark(algo_id, "the broker has the order", {"broker_order_id": broker_id})
    _insert(
        conn,
        Row(
            at,
            Status.ACCEPTED,
            detail,
            algo_id=algo_id,
            client_order_id=coid,
            signal_id=signal_id,
            data=data,
            account=account,
        ),
    )


def apply_event(
    conn: Conn, event: OrderEvent, at: datetime, account: str = DEFAULT_ACCOUNT
) -> tuple[AppliedFill, ...]:
    """Record a broker event at ``at`` (when we learnt it); the broker's own time is kept in
    ``data.broker_at``, so the journal reads in the order things were recorded. ``account``
    is the account whose broker reported it: the account of a foreign order's rows (ours are
    their intent's account's)."""
    coid, broker_id = event.client_order_id, event.broker_order_id
    if isinstance(event, OrderFilled):
        data: dict[str, object] = {
            "broker_order_id": broker_id,
            "broker_at": event.at,
            "fill_qty": event.qty,
            "order_qty": event.order_qty,
        }
        return _fill(
            conn,
            coid,
            at,
            symbol=event.symbol,
            side=event.side,
            cum_qty=event.cum_qty,
            price=event.price,
            complete=not event.partial,
            data=data,
            account=account,
        )
    if isinstance(event, OrderAccepted):
        _accepted(conn, coid, broker_id, at, account)
    elif isinstance(event, OrderCanceled | OrderRejectedEvent | OrderExpired):
        status = Status(event.kind)
        reason = event.reason or str(status)
        final_row(
            conn, coid, status, reason, at, account, broker_order_id=broker_id, broker_at=event.at
        )
    return ()


def apply_snapshot(
    conn: Conn, snap: OrderSnapshot, at: datetime, source: str, account: str = DEFAULT_ACCOUNT
) -> tuple[AppliedFill, ...]:
    """Record what a submit or lookup showed: acceptance, fills not yet seen, the outcome.
    ``account``: the account whose broker showed it (as for :func:`apply_event`)."""
    coid = snap.client_order_id
    algo_id, signal_id, account = _order(conn, coid, account)
    # Unlike events, every snapshot is recorded as a row of its own: each one is evidence of
    # what the broker showed at that moment (the answer to the submit, or what a lookup found),
    # and an intent with such a row counts as answered (see _ANSWERED). The facts in it
    # (acceptance, fills, outcome) still go through the once-only paths below.
    status = Status.SUBMITTED if source == "submit" else Status.RECOVERY
    detail = f"{source}: broker status {snap.status}, filled {snap.filled_qty} of {snap.qty}"
    _insert(
        conn,
        Row(
            at,
            status,
            detail,
            algo_id=algo_id,
            symbol=snap.symbol,
            client_order_id=coid,
            signal_id=signal_id,
            side=str(snap.side),
            qty=snap.qty,
            data={"broker_order_id": snap.broker_order_id, "broker_status": str(snap.status)},
            account=account,
        ),
    )
    if snap.status in (OrderStatus.PENDING, OrderStatus.PARTIALLY_FILLED):
        _accepted(conn, coid, snap.broker_order_id, at, account)
    applied: tuple[AppliedFill, ...] = ()
    if snap.filled_qty > 0 and snap.filled_avg_price is not None:
        so_far, notional = _filled(conn, coid)
        delta = snap.filled_qty - so_far
        # the price of the unseen part, from the average over the whole order
        price = snap.filled_avg_price
        if delta > 0 and so_far > 0:
            implied = (snap.filled_qty * snap.filled_avg_price - notional) / delta
            price = implied if implied > 0 else price
        applied = _fill(
            conn,
            coid,
            at,
            symbol=snap.symbol,
            side=snap.side,
            cum_qty=snap.filled_qty,
            price=price,
            complete=snap.status is OrderStatus.FILLED,
            data={"broker_order_id": snap.broker_order_id, "from": source},
            account=account,
        )
    final = _SNAPSHOT_FINAL.get(snap.status)
    if final is not None:
        final_row(
            conn,
            coid,
            final,
            snap.reason or str(final),
            at,
            account,
            broker_order_id=snap.broker_order_id,
        )
    # A bracket's (or an oco's) legs: each is named by our id, the EXIT intent journaled with
    # its parent, so its fills land on the algorithm's ledger like any order's.
    for leg in snap.legs:
        applied += _leg_snapshot(conn, leg, at, source, account)
    return applied


def _leg_snapshot(
    conn: Conn, leg: OrderSnapshot, at: datetime, source: str, account: str
) -> tuple[AppliedFill, ...]:
    """A leg recorded like its own lookup, but only once something about it is new: a parent
    looked up every few seconds must not write a row per leg each time."""
    coid = leg.client_order_id
    new_fill = leg.filled_qty > _filled(conn, coid)[0]
    if leg.status.is_final:
        new_status = not _has(conn, coid, _FINAL)
    else:
        new_status = not _has(conn, coid, (str(Status.ACCEPTED),))
    if not (new_fill or new_status):
        return ()
    return apply_snapshot(conn, leg, at, source, account)


def unresolved_intents(
    conn: Conn,
    *,
    after_id: int = 0,
    unanswered: bool = False,
    algo_id: int | None = None,
    symbols: Sequence[str] = (),
    client_order_ids: Sequence[str] | None = None,
    account: str | None = None,
) -> tuple[StoredIntent, ...]:
    # ``account`` (not None): only that account's orders (recovery runs per account).
    # ``client_order_ids`` (not None) narrows it to those orders, read by the order id index, a
    # few hundred at a time (the dashboard asks for the exits whose leg is still open)
    if client_order_ids is not None:
        out: list[StoredIntent] = []
        ids = sorted(set(client_order_ids))
        for start in range(0, len(ids), 500):
            out += _unresolved(
                conn, after_id, unanswered, algo_id, symbols, ids[start : start + 500], account
            )
        return tuple(sorted(out, key=lambda s: s.entry_id))
    return tuple(_unresolved(conn, after_id, unanswered, algo_id, symbols, None, account))


def _unresolved(
    conn: Conn,
    after_id: int,
    unanswered: bool,
    algo_id: int | None,
    symbols: Sequence[str],
    coids: Sequence[str] | None,
    account: str | None,
) -> list[StoredIntent]:
    # "Unresolved" is an intent with no final outcome. With ``unanswered`` it is narrower: no
    # answer of any kind from the broker either, which is what the running bot's re-check
    # wants (an answered order is followed by the event stream; only silence needs a lookup).
    # ``after_id`` lets a caller that checks repeatedly skip what it has already settled.
    # interpolated parts are module constants (column names, status literals)
    # ``algo_id``/``symbols`` narrow it to one algorithm's orders in those symbols (a close
    # looking for the exits in its way), read through the symbol index, not every intent.
    ended = _FINAL_SQL + (", " + _ANSWERED_SQL if unanswered else "")
    narrow = ""
    params: list[object] = [after_id]
    if algo_id is not None:
        narrow += " AND i.algo_id = ?"
        params.append(algo_id)
    if symbols:
        narrow += f" AND i.symbol IN ({', '.join('?' for _ in symbols)})"
        params.extend(symbols)
    if coids is not None:
        narrow += f" AND i.client_order_id IN ({', '.join('?' for _ in coids)})"
        params.extend(coids)
    if account is not None:
        narrow += " AND i.account = ?"
        params.append(account)
    sql = (
        f"SELECT {_cols('i')}, s.ts FROM entries i "  # noqa: S608
        "LEFT JOIN entries s ON s.id = i.signal_id AND s.status = 'signal' "
        f"WHERE i.status = 'intent' AND i.id > ?{narrow} AND NOT EXISTS (SELECT 1 FROM entries f "
        f"WHERE f.client_order_id = i.client_order_id AND f.status IN ({ended})) "
        "ORDER BY i.id"
    )
    out = []
    for row in conn.execute(sql, tuple(params)).fetchall():
        entry = decode(row[:-1])
        intent = intent_from_entry(entry)
        if _filled(conn, intent.client_order_id)[0] >= intent.qty:
            continue  # fully filled, though the broker never said "filled" in so many words
        received = None if row[-1] is None else from_micros(row[-1])
        out.append(StoredIntent(entry.id, entry.signal_id, received, intent))
    return out


def unplanned_signals(
    conn: Conn, *, since: datetime | None = None, account: str | None = None
) -> tuple[StoredSignal, ...]:
    # ``account`` (not None): signals without a plan row *of that account* (each account
    # plans every signal once; a signal row is shared by all).
    # A signal without a plan row is one the bot journaled and then never planned: it crashed
    # in between, or stopped with the signal still queued (the bot journals those on purpose,
    # so the next start can plan them while they are fresh). ``since`` bounds the scan to
    # recent rows (the (status, ts) index): the leader polls for other processes' signals.
    recent = "" if since is None else "AND s.ts >= ? "
    whose = "" if account is None else "AND p.account = ? "
    sql = (
        f"SELECT {_cols('s')} FROM entries s WHERE s.status = 'signal' {recent}"  # noqa: S608
        "AND NOT EXISTS (SELECT 1 FROM entries p "
        f"WHERE p.signal_id = s.id AND p.status = 'plan' {whose}) ORDER BY s.id"
    )
    args: list[object] = [] if since is None else [to_micros(since)]
    args += [] if account is None else [account]
    out = []
    for row in conn.execute(sql, tuple(args)):
        entry = decode(row)
        d, algo = entry.data, entry.algo_id or 0
        closes = tuple(leg_from_data(algo, LegKind.CLOSE, x) for x in d.get("close_legs", ()))
        opens = tuple(leg_from_data(algo, LegKind.OPEN, x) for x in d.get("open_legs", ()))
        if not closes and not opens:
            continue  # nothing to trade: no plan needed
        rejected = tuple(
            RejectedLeg(
                algo,
                None if r["kind"] is None else LegKind(r["kind"]),
                r["index"],
                r["reason"],
                r["raw"],
                refusal=Refusal(r.get("refusal", Refusal.INVALID)),
            )
            for r in d.get("rejected", ())
        )
        held = tuple(held_from_data(algo, x) for x in d.get("held_legs", ()))
        source = SignalSource(d.get("source", SignalSource.LIVE))
        raw = str(d.get("raw", ""))
        signal = Signal(algo, entry.at, closes, opens, rejected, raw=raw, held=held, source=source)
        out.append(StoredSignal(entry.id, signal))
    return tuple(out)
