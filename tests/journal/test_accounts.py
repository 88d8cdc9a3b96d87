"""Many accounts, one journal (issue 22): every row an account causes names it, the rows all
accounts share say so (``""``), each account decides a leg once, its book and its open orders
read back alone; a journal from before accounts becomes the ``default`` account's, in one
transaction. On SQLite and on a real PostgreSQL (tests/pgserver.py)."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from tests.execution.fixed_planner import make_signal
from tradebot.core.events import OrderFilled
from tradebot.core.ids import client_order_id
from tradebot.core.order_shape import MARKET
from tradebot.core.orders import IntentRole, OrderIntent, Plan, SkippedLeg, SkipReason, TimeInForce
from tradebot.core.signal import Leg
from tradebot.exceptions import JournalError
from tradebot.journal import EntryFilter, Status, open_journal, pgschema, schema
from tradebot.journal.postgres import PostgresJournal
from tradebot.journal.records import SHARED_ACCOUNT, SHARED_STATUSES

SIGNAL = make_signal(
    16, closes=(("IBM", "sell", "140.1"),), opens=(("JBHT", "buy", "216.08"), ("X", "sell", "1"))
)
JBHT, X = SIGNAL.open_legs
#: the broker account both config accounts trade in: the ids must still differ
BROKER = "PA-SHARED"


def _intent(leg: Leg, qty: str, account: str) -> OrderIntent:
    return OrderIntent(
        client_order_id=client_order_id(BROKER, [leg.id], "open", account=account),
        algo_id=leg.algo_id,
        symbol=leg.symbol,
        side=leg.side,
        qty=Decimal(qty),
        price=MARKET,
        time_in_force=TimeInForce.DAY,
        role=IntentRole.OPEN,
        leg_ids=(leg.id,),
        reference_price=leg.price,
    )


def _plan(account: str, qty: str) -> Plan:
    """``account``'s decision on SIGNAL: buy JBHT, skip X (and the close: nothing held)."""
    (close,) = SIGNAL.close_legs
    skipped = (
        SkippedLeg(X.id, SkipReason.NOT_HELD, "short refused", leg=X),
        SkippedLeg(close.id, SkipReason.NOT_HELD, "nothing held", leg=close),
    )
    return Plan((_intent(JBHT, qty, account),), skipped)


def _fill(intent: OrderIntent, broker_id: str) -> OrderFilled:
    return OrderFilled(
        client_order_id=intent.client_order_id,
        broker_order_id=broker_id,
        at=SIGNAL.received_at,
        symbol=intent.symbol,
        side=intent.side,
        qty=intent.qty,
        price=Decimal("216.1"),
        cum_qty=intent.qty,
        order_qty=intent.qty,
        partial=False,
    )


def test_two_accounts_decide_one_leg_each_on_their_own_rows(journal_at: str | Path) -> None:
    main, family = _plan("main", "30"), _plan("family", "10")
    with open_journal(journal_at) as journal:
        signal_id, new_main = journal.record_signal_and_plan(SIGNAL, main, account="main")
        new_family = journal.record_plan(signal_id, family, account="family")
        # each account's order is new: one decision per leg per account, never a "duplicate"
        assert new_main == main.intents and new_family == family.intents
        # the same account deciding the leg again is a duplicate, and sends nothing
        assert journal.record_plan(signal_id, family, account="family") == ()
        # the broker's stream of the shared broker account carries both orders: each order's
        # rows are its own account's, whichever stream reported them
        journal.record_events([_fill(new_main[0], "b-1")], account="family")
        journal.record_event(_fill(new_family[0], "b-2"), account="main")
        # a foreign order's rows are the reporting account's
        foreign = replace(_fill(new_main[0], "b-3"), client_order_id="manual-7", symbol="IBM")
        journal.record_event(foreign, account="family")
        journal.record_drift("JBHT", Decimal(40), Decimal(41), account="main")
        rows = journal.entries(EntryFilter(newest_first=False))
        assert journal.rebuild_book(account="main").qty(16, "JBHT") == Decimal(30)
        assert journal.rebuild_book(account="family").qty(16, "JBHT") == Decimal(10)
        assert journal.rebuild_book(account="default").qty(16, "JBHT") == 0
        assert journal.rebuild_book().qty(16, "JBHT") == Decimal(40)  # every account's
        # the summaries are per algorithm still: they add the accounts up, and agree
        assert journal.summary_book().qty(16, "JBHT") == Decimal(40)
        assert journal.verify_summaries().agrees
        assert (
            journal.entries(EntryFilter(accounts=("family",), statuses=(Status.FILLED,)))
            == [r for r in rows if r.status is Status.FILLED and r.account == "family"][::-1]
        )
    by_status: dict[Status, list[str]] = {}
    for row in rows:
        by_status.setdefault(row.status, []).append(row.account)
    assert by_status[Status.SIGNAL] == [SHARED_ACCOUNT]
    assert by_status[Status.LEG] == [SHARED_ACCOUNT] * 3  # each leg once, shared
    assert by_status[Status.PLAN] == ["main", "family", "family"]
    assert by_status[Status.INTENT] == ["main", "family"]
    assert by_status[Status.SKIPPED] == ["main"] * 2 + ["family"] * 2 + ["family"] * 3
    assert by_status[Status.FILLED] == ["main", "family", "family"]
    assert [r.data.get("not_ours") for r in rows if r.status is Status.FILLED] == [
        None,
        None,
        True,
    ]
    assert by_status[Status.DRIFT] == ["main"]


def test_a_plan_naming_another_accounts_orders_is_refused_whole(journal_at: str | Path) -> None:
    with open_journal(journal_at) as journal:
        signal_id = journal.record_signal(SIGNAL)
        before = journal.last_id()
        for plan, account in ((_plan("main", "1"), "family"), (_plan("default", "1"), "main")):
            with pytest.raises(ValueError, match="account"):
                journal.record_plan(signal_id, plan, account=account)
        with pytest.raises(ValueError, match="account name"):
            journal.record_drift("JBHT", Decimal(0), Decimal(1), account="Not.A.Name")
        assert journal.last_id() == before  # nothing written


def test_recovery_reads_one_accounts_open_orders_and_unplanned_signals(
    journal_at: str | Path,
) -> None:
    with open_journal(journal_at) as journal:
        signal_id, (mine,) = journal.record_signal_and_plan(
            SIGNAL, _plan("main", "3"), account="main"
        )
        assert [s.signal_id for s in journal.unplanned_signals(account="family")] == [signal_id]
        assert journal.unplanned_signals(account="main") == ()
        assert journal.unplanned_signals() == ()  # planned by some account
        (theirs,) = journal.record_plan(signal_id, _plan("family", "1"), account="family")
        assert journal.unplanned_signals(account="family") == ()
        main_open = journal.unresolved_intents(account="main")
        assert [s.intent for s in main_open] == [mine]
        assert [s.intent for s in journal.unresolved_intents(account="family")] == [theirs]
        assert len(journal.unresolved_intents()) == 2
        journal.record_failed(theirs.client_order_id, "gave up")
        (failed,) = journal.entries(EntryFilter(statuses=(Status.FAILED,)))
        assert failed.account == "family"  # from the order's id, not the default


def test_a_single_account_journal_never_names_an_account(journal_at: str | Path) -> None:
    # every current caller: no account given, every row the default's or shared
    with open_journal(journal_at) as journal:
        journal.record_start("starting")
        signal_id = journal.record_signal(SIGNAL)
        (intent,) = journal.record_plan(signal_id, _plan("default", "2"))
        journal.record_event(_fill(intent, "b-1"))
        journal.record_recovery("checked")
        rows = journal.entries(EntryFilter())
    assert intent.client_order_id.startswith("tb16-JBHT-o-")
    for row in rows:
        assert row.account == (SHARED_ACCOUNT if row.status in SHARED_STATUSES else "default")


def test_a_leader_claims_a_leg_once_per_account(pg_url: str) -> None:
    key = JBHT.id.key
    with open_journal(pg_url) as journal:
        assert isinstance(journal, PostgresJournal)
        signal_id, _ = journal.record_signal_and_plan(SIGNAL, _plan("main", "3"), account="main")
        assert journal.planned_legs([key], account="main") == {key}
        assert journal.planned_legs([key], account="family") == set()
        assert journal.planned_legs([key]) == set()  # the default account's
        journal.record_plan(signal_id, _plan("family", "1"), account="family")
        assert journal.planned_legs([key], account="family") == {key}


# -- journals from before accounts ------------------------------------------------------------
def _write_as_before(journal_at: str | Path) -> dict[Status, int]:
    """A journal as the tradebot before accounts left it: written through today's API with
    nothing naming an account (which writes the same columns as before, plus ``account``),
    then the v7 column taken away and the version put back: the previous schema and rows."""
    with open_journal(journal_at) as journal:
        journal.record_start("old tradebot")
        signal_id = journal.record_signal(SIGNAL)
        (intent,) = journal.record_plan(signal_id, _plan("default", "5"))
        journal.record_event(_fill(intent, "b-1"))
        journal.record_drift("JBHT", Decimal(5), Decimal(6))
        journal.record_stop("stopped")
        counts = {status: n for (_, status), n in journal.count_entries(EntryFilter()).items()}
    if isinstance(journal_at, Path):
        with sqlite3.connect(journal_at) as db:
            db.execute("ALTER TABLE entries DROP COLUMN account")
            db.execute("PRAGMA user_version = 6")
        db.close()
    else:
        with psycopg.connect(journal_at, autocommit=True) as db:
            db.execute("ALTER TABLE entries DROP COLUMN account")
            db.execute("ALTER TABLE tradebot_planned_legs DROP COLUMN account")
            db.execute("ALTER TABLE tradebot_planned_legs ADD PRIMARY KEY (leg)")
            db.execute("DELETE FROM tradebot_journal_schema WHERE version >= 6")
    return counts


def _columns(journal_at: str | Path) -> list[str]:
    if isinstance(journal_at, Path):
        with sqlite3.connect(journal_at) as db:
            names = [r[1] for r in db.execute("PRAGMA table_info(entries)")]
        db.close()
        return names
    with psycopg.connect(journal_at) as db:
        rows = db.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'entries'"
        ).fetchall()
    return [str(r[0]) for r in rows]


def _version(journal_at: str | Path) -> int:
    if isinstance(journal_at, Path):
        with sqlite3.connect(journal_at) as db:
            found = int(db.execute("PRAGMA user_version").fetchone()[0])
        db.close()
        return found
    with psycopg.connect(journal_at) as db:
        row = db.execute("SELECT max(version) FROM tradebot_journal_schema").fetchone()
    return int(row[0]) if row else 0


def test_a_journal_from_before_accounts_is_the_default_accounts(journal_at: str | Path) -> None:
    counts = _write_as_before(journal_at)
    assert "account" not in _columns(journal_at)
    latest = schema.LATEST if isinstance(journal_at, Path) else pgschema.LATEST
    with open_journal(journal_at) as journal:  # migrated on open
        rows = journal.entries(EntryFilter())
        assert journal.verify_summaries().agrees
        assert journal.rebuild_book(account="default").qty(16, "JBHT") == Decimal(5)
        # the upgraded journal goes on: a second account decides the same leg
        signal_id = next(r.id for r in rows if r.status is Status.SIGNAL)
        assert journal.record_plan(signal_id, _plan("main", "1"), account="main") != ()
        assert journal.record_plan(signal_id, _plan("default", "5")) == ()  # decided before
    assert _version(journal_at) == latest
    assert {s: n for s, n in counts.items()} == {
        s: sum(1 for r in rows if r.status is s) for s in counts
    }
    for row in rows:
        assert row.account == (SHARED_ACCOUNT if row.status in SHARED_STATUSES else "default")


def test_the_migration_is_one_transaction(journal_at: str | Path) -> None:
    """A migration that fails half-way (here: marking the shared rows) leaves the journal as it
    was: no column, the old version; the next open, once it can, upgrades it."""
    _write_as_before(journal_at)
    if isinstance(journal_at, Path):
        with sqlite3.connect(journal_at) as db:
            db.execute(
                "CREATE TRIGGER no_update BEFORE UPDATE ON entries "
                "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )
        db.close()
    else:
        with psycopg.connect(journal_at, autocommit=True) as db:
            db.execute(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
            )
            db.execute(
                "CREATE TRIGGER no_update BEFORE UPDATE ON entries "
                "FOR EACH ROW EXECUTE FUNCTION refuse()"
            )
    with pytest.raises((JournalError, psycopg.Error), match="refused by the test"):
        open_journal(journal_at)
    assert "account" not in _columns(journal_at)
    assert _version(journal_at) == (6 if isinstance(journal_at, Path) else 5)
    if isinstance(journal_at, Path):
        with sqlite3.connect(journal_at) as db:
            db.execute("DROP TRIGGER no_update")
        db.close()
    else:
        with psycopg.connect(journal_at, autocommit=True) as db:
            db.execute("DROP TRIGGER no_update ON entries")
    open_journal(journal_at).close()
    assert "account" in _columns(journal_at)
