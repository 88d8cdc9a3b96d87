"""The one-row write path skips only what provably changes nothing (issue 24, the durable
writes): a row of a status no summary reads is not folded at all, and an intent's data is
decoded once for both summaries, with the same result as each decoding it."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.pgserver import PgServer
from tradebot.core.order_shape import MARKET
from tradebot.core.orders import IntentRole, OrderIntent, TimeInForce
from tradebot.core.signal import LegId, LegKind, Side
from tradebot.exceptions import JournalError
from tradebot.journal import open_journal, track_summary
from tradebot.journal.opener import open_journal as open_any
from tradebot.journal.records import Status, intent_data
from tradebot.journal.rows import Row
from tradebot.journal.summary import MemoryStore, SummaryRow, apply
from tradebot.journal.summary_sql import FOLDED, SqlStore

INTENT_DATA = json.dumps(
    {
        "order_type": "limit",
        "role": "open",
        "chase": {"after": 5},
        "legs": [
            {
                "algo_id": 3,
                "kind": "open",
                "side": "buy",
                "symbol": "AAA",
                "timestamp": "2026-03-02T14:30:00.000000Z",
            }
        ],
    }
)
#: what each status's row carries, every column a summary could read filled in
DATA = {
    Status.INTENT: INTENT_DATA,
    Status.SKIPPED: json.dumps({"reason": "risk", "detail": "max_position"}),
}


def _row(status: Status) -> tuple[Any, ...]:
    """(id, ts, status, algo, symbol, coid, leg, side, qty, price, data, account)."""
    leg = "3:open:AAA:buy:2026-03-02T14:30:00Z"
    data = DATA.get(status, json.dumps({"reason": "x", "broker_order_id": "b-1"}))
    coid = "tb1-AAA-o-1"
    ts = 1_772_000_000_000_000
    return (7, ts, str(status), 3, "AAA", coid, leg, "buy", "5", "100", data, "default")


def _tables() -> sqlite3.Connection:
    memory = sqlite3.connect(":memory:")
    for statement in track_summary.tables(memory):
        memory.execute(statement)
    return memory


def _folded(row: tuple[Any, ...], *, decoded: Any = None) -> tuple[MemoryStore, list[Any]]:
    """What folding ``row`` changes: the summaries' store, and the tracking summary's rows."""
    store = MemoryStore()
    ident, ts, status, algo, symbol, coid, leg, side, qty, price, data, account = row
    summary_data = data if decoded is None else decoded
    apply(
        store,
        SummaryRow(
            ident, ts, status, algo, symbol, coid, leg, side, qty, price, summary_data, account
        ),
    )
    conn = _tables()
    track_summary.fold(
        conn,
        ident,
        ts,
        status,
        algo,
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
    stored = [r for name in track_summary.NAMES for r in conn.execute(f"SELECT * FROM {name}")]
    return store, stored


def _changed(store: MemoryStore, stored: list[Any]) -> bool:
    kept = (store.counts, store.algo_counts, store.pnl, store.positions, store.legs)
    return bool(stored) or any(kept) or bool(store.figures) or bool(store.skipped)


@pytest.mark.parametrize("status", list(Status))
def test_a_status_left_out_of_the_fold_changes_no_summary(status: Status) -> None:
    """``insert`` returns before folding a row whose status is not in FOLDED: for every status,
    either it is in FOLDED or folding its row (every column filled) changes nothing."""
    store, stored = _folded(_row(status))
    if str(status) not in FOLDED:
        assert not _changed(store, stored), status
    else:
        assert _changed(store, stored), f"{status} is folded but changes nothing here"


def test_an_intent_decoded_once_folds_as_one_decoded_by_each_summary() -> None:
    row = _row(Status.INTENT)
    once_store, once_rows = _folded(row, decoded=json.loads(row[10]))
    each_store, each_rows = _folded(row)
    assert once_rows == each_rows
    assert once_store.figures == each_store.figures and once_store.counts == each_store.counts
    assert [vars_of(leg) for leg in once_store.legs.values()] == [
        vars_of(leg) for leg in each_store.legs.values()
    ]
    assert once_store.skipped == each_store.skipped == {}
    order = next(r for r in once_rows if r[2] == "tb1-AAA-o-1")  # sum_track_order's row
    assert (order[6], Decimal(order[7])) == ("limit", Decimal(5))  # the data was read
    assert [leg.style for leg in once_store.legs.values()] == ["limit_then_market"] * 2


def vars_of(leg: Any) -> tuple[Any, ...]:
    return tuple(getattr(leg, name) for name in leg.__slots__)


START = datetime(2026, 3, 2, 23, 59, 58, tzinfo=UTC)  # the stories cross a UTC day


def _story(n: int) -> list[Row]:
    """One order's rows as the benchmark writes them, one per commit: signal, leg, plan,
    intent, submitted, accepted, a partial and the final fill, a skip."""
    at = START + timedelta(seconds=n)
    symbol, coid = f"S{n % 3}", f"tb1-S-o-{n:016x}"
    leg = LegId(1 + n % 2, LegKind.OPEN, symbol, Side.BUY, at)
    intent = OrderIntent(
        coid,
        leg.algo_id,
        symbol,
        Side.BUY,
        Decimal(4),
        MARKET,
        TimeInForce.DAY,
        IntentRole.OPEN,
        (leg,),
        Decimal("10.5"),
    )
    common: dict[str, Any] = {"algo_id": leg.algo_id, "symbol": symbol, "side": "buy"}
    order = {**common, "client_order_id": coid, "qty": Decimal(4), "signal_id": n + 1}
    return [
        Row(at, Status.SIGNAL, "1 open", algo_id=leg.algo_id, data={"raw": "x"}),
        Row(at, Status.LEG, "open", **common, leg=leg.key, price=Decimal("10.5")),
        Row(at, Status.PLAN, "1 order", algo_id=leg.algo_id, data={}),
        Row(
            at,
            Status.INTENT,
            "buy 4",
            **order,
            leg=leg.key,
            price=Decimal("10.5"),
            data=intent_data(intent),
        ),
        Row(at, Status.SUBMITTED, "sent", **order, data={"broker_order_id": f"b{n}"}),
        Row(at, Status.ACCEPTED, "accepted", **order, data={}),
        Row(
            at,
            Status.PARTIAL,
            "1 @ 10.6",
            **{**order, "qty": Decimal(1)},
            price=Decimal("10.6"),
            cum_qty=Decimal(1),
        ),
        Row(
            at,
            Status.FILLED,
            "3 @ 10.4",
            **{**order, "qty": Decimal(3)},
            price=Decimal("10.4"),
            cum_qty=Decimal(4),
        ),
        Row(
            at,
            Status.SKIPPED,
            "risk: max",
            **common,
            leg=f"{leg.key}-x",
            data={"reason": "risk", "detail": "max"},
        ),
    ]


def _each_commit_carries_its_summaries(where: str | Path) -> None:
    with open_any(where) as journal, open_any(where, readonly=True) as reader:
        for n in range(4):
            for row in _story(n):
                journal.write_rows([row])
                # another connection: it sees what was committed, and only that
                verdict = reader.verify_summaries()
                assert verdict.agrees, (
                    row.status,
                    [t.name for t in verdict.tables if not t.agrees],
                )


def test_each_one_row_commit_carries_its_own_summaries_sqlite(tmp_path: Path) -> None:
    """The summaries of a row are in the commit that writes it, not in a later one: after every
    ``write_rows([row])``, a reader on another connection finds them agreeing with the rows."""
    open_journal(tmp_path / "j.sqlite").close()
    _each_commit_carries_its_summaries(tmp_path / "j.sqlite")


def test_each_one_row_commit_carries_its_own_summaries_postgres(pg_server: PgServer) -> None:
    _each_commit_carries_its_summaries(pg_server.create_database())


def test_a_write_sqlite_refuses_is_a_journal_error_and_leaves_the_journal_as_it_was(
    tmp_path: Path,
) -> None:
    """The one-generator write transaction translates SQLite's errors as every other path of
    the store does (JournalError), rolls back the whole write, and the next write works."""
    story = _story(0)
    with open_journal(tmp_path / "j.sqlite") as journal:
        for row in story[:4]:
            journal.write_rows([row])
        again = story[3]  # the same INTENT: one per client order id (ux_entries_intent)
        with pytest.raises(JournalError, match="UNIQUE constraint failed") as refused:
            journal.write_rows([story[4], again])
        assert isinstance(refused.value.__cause__, sqlite3.IntegrityError)
        assert journal.last_id() == 4  # the SUBMITTED row before it rolled back too
        for row in story[4:]:
            journal.write_rows([row])
        assert journal.verify_summaries().agrees


def test_the_empty_flush_check_sees_every_field_a_transaction_fills() -> None:
    """``SqlStore._any_pending`` names again each field ``_pending`` makes: one left out there
    (a new summary's dirty set, say) would let a flush skip that summary's writes."""
    fields = [n for n in SqlStore._pending.__code__.co_names if n.startswith("_")]
    assert len(fields) >= 11
    for name in fields:
        store = SqlStore(sqlite3.connect(":memory:"), keep=True)
        assert not store._any_pending()
        pending = getattr(store, name)
        if isinstance(pending, set):
            pending.add(("x",))
        else:
            pending[("x",)] = 1
        assert store._any_pending(), name
