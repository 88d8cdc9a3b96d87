"""The journal stores: (SQLite) opening, refusing foreign or damaged files, migration, exactness."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from tests.execution.fixed_planner import intent_for, make_signal
from tradebot.core.order_snapshot import OrderSnapshot, OrderStatus
from tradebot.core.orders import IntentRole, Plan, SkippedLeg, SkipReason
from tradebot.core.signal import Side
from tradebot.exceptions import JournalCorrupt, JournalError
from tradebot.journal import EntryFilter, Status, open_journal, schema
from tradebot.journal.records import from_micros, to_micros

SIGNAL = make_signal(
    9, closes=(("IBM", "sell", "140.1"),), opens=(("JBHT", "buy", "216.08"), ("X", "sell", "0.1"))
)


def test_creates_directory_and_tags_the_file(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "journal.sqlite"
    with open_journal(path) as journal:
        journal.record_start("tradebot 0.1.0 starting")
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA application_id").fetchone()[0] == schema.APPLICATION_ID
    assert db.execute("PRAGMA user_version").fetchone()[0] == schema.LATEST
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_foreign_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("my trading notes\n" * 100)
    before = path.read_bytes()
    with pytest.raises(JournalCorrupt, match="not a SQLite database"):
        open_journal(path)
    assert path.read_bytes() == before


def test_a_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE customers (name TEXT)")
    before = path.read_bytes()
    with pytest.raises(JournalCorrupt, match="not a tradebot journal"):
        open_journal(path)
    assert path.read_bytes() == before


def test_an_empty_file_is_refused_never_started_anew(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    path.touch()  # issue 10: a truncated journal became a fresh one, with every position lost
    for readonly in (False, True):
        with pytest.raises(JournalCorrupt, match=r"is empty \(0 bytes\)") as info:
            open_journal(path, readonly=readonly)
        assert "restore the journal from a backup, or move this file away" in str(info.value)
    assert path.stat().st_size == 0
    assert [p.name for p in tmp_path.iterdir()] == ["journal.sqlite"]


def test_an_empty_sqlite_database_is_not_a_journal_either(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 7")  # a header, no tables, no tradebot tag
    before = path.read_bytes()
    with pytest.raises(JournalCorrupt, match="an empty SQLite database but not a tradebot"):
        open_journal(path)
    assert path.read_bytes() == before


def test_a_new_journal_appears_complete_with_nothing_left_beside_it(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with open_journal(path):
        pass
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA application_id").fetchone()[0] == schema.APPLICATION_ID
    db.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["journal.sqlite"]


def test_the_writer_lock_holds_through_hard_and_symbolic_links(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    hard = tmp_path / "elsewhere" / "hard.sqlite"
    hard.parent.mkdir()
    soft = tmp_path / "soft.sqlite"
    with open_journal(path) as journal:
        journal.record_start("bot one")
        os.link(path, hard)
        soft.symlink_to(path)
        for other in (hard, soft, path):
            with pytest.raises(JournalError, match="in use by another tradebot process"):
                open_journal(other)
    with open_journal(hard) as journal:  # released on close, whatever the name
        assert [e.detail for e in journal.entries(EntryFilter())] == ["bot one"]


def test_a_fifo_at_the_path_is_refused_without_hanging(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    os.mkfifo(path)
    for readonly in (False, True):
        with pytest.raises(JournalError, match="not a regular file"):
            open_journal(path, readonly=readonly)


def test_a_damaged_journal_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with open_journal(path) as journal:
        for n in range(300):
            journal.record_error(f"error {n}" * 20)
    with sqlite3.connect(path) as db:  # fold the WAL into the main file
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = bytearray(path.read_bytes())
    raw[4096 : 4096 * 4] = b"\xde\xad\xbe\xef" * (4096 * 3 // 4)  # smash pages 2-4
    path.write_bytes(bytes(raw))
    with pytest.raises(JournalCorrupt, match="damaged"), open_journal(path) as journal:
        journal.entries(EntryFilter())


def test_one_writer_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with open_journal(path):
        with pytest.raises(JournalError, match="in use"):
            open_journal(path)
        with open_journal(path, readonly=True) as reader:  # readers are welcome
            assert reader.entries(EntryFilter()) == []
    with open_journal(path):  # released on close
        pass


def test_readonly_refuses_a_missing_file_and_writes(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="no journal"):
        open_journal(tmp_path / "missing.sqlite", readonly=True)
    open_journal(tmp_path / "j.sqlite").close()
    with (
        open_journal(tmp_path / "j.sqlite", readonly=True) as reader,
        pytest.raises(JournalError, match="read-only"),
    ):
        reader.record_start("x")


def test_a_journal_from_a_newer_tradebot_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    open_journal(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {schema.LATEST + 1}")
    with pytest.raises(JournalError, match="upgrade tradebot"):
        open_journal(path)


def test_migration_from_the_first_schema_keeps_every_row(tmp_path: Path) -> None:
    path = tmp_path / "v1.sqlite"
    db = sqlite3.connect(path, isolation_level=None)
    schema.migrate(db, target=1)
    ts = to_micros(datetime(2026, 1, 2, 15, 0, tzinfo=UTC))
    v1_rows = [
        (
            ts,
            "intent",
            4,
            "AAPL",
            "cid-1",
            None,
            "4:open:AAPL:buy:2026-01-02T15:00:00Z",
            "buy",
            "10",
            "190.5",
            "open buy 10 AAPL market",
            '{"order_type":"market","time_in_force":"day","role":"open","legs":[{"algo_id":4,'
            '"kind":"open","symbol":"AAPL","side":"buy","timestamp":"2026-01-02T15:00:00.000000Z"}],'
            '"reference_price":"190.5","limit_price":null}',
        ),
        (
            ts + 1,
            "filled",
            4,
            "AAPL",
            "cid-1",
            None,
            None,
            "buy",
            "10",
            "190.52",
            "filled",
            '{"cum_qty":"10"}',
        ),
    ]
    db.executemany(
        "INSERT INTO entries (ts, status, algo_id, symbol, client_order_id, signal_id, leg, side,"
        " qty, price, detail, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        v1_rows,
    )
    db.close()
    with open_journal(path) as journal:
        rows = journal.entries(EntryFilter(algo_ids=(4,), newest_first=False))
        assert [r.status for r in rows] == [Status.INTENT, Status.FILLED]
        assert journal.rebuild_book().qty(4, "AAPL") == Decimal(10)
        assert journal.unresolved_intents() == ()
        # the v2 exactly-once guard now covers the migrated fill
        snap = OrderSnapshot(
            "cid-1",
            "b",
            "AAPL",
            Side.BUY,
            Decimal(10),
            Decimal(10),
            Decimal("190.52"),
            OrderStatus.FILLED,
        )
        assert journal.record_snapshot(snap, source="lookup") == ()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == schema.LATEST


def test_signal_plan_and_decimals_round_trip_exactly(journal_at: str | Path) -> None:
    later = SIGNAL.received_at.replace(microsecond=1)
    with open_journal(journal_at, clock=lambda: later) as journal:
        signal_id = journal.record_signal(SIGNAL)
        close_leg, open_leg, _ = SIGNAL.legs
        intent = intent_for(open_leg, Decimal("0.333333333333333333"), Side.BUY, IntentRole.OPEN)
        skip = SkippedLeg(close_leg.id, SkipReason.NOT_HELD, "algo 9 holds no IBM", leg=close_leg)
        new = journal.record_plan(signal_id, Plan((intent,), (skip,)))
        assert new == (intent,)
        story = journal.entries(EntryFilter(signal_ids=(signal_id,), newest_first=False))
        assert [e.status for e in story] == [
            Status.SIGNAL,
            Status.LEG,
            Status.LEG,
            Status.LEG,
            Status.PLAN,
            Status.INTENT,
            Status.SKIPPED,
        ]
        assert story[0].data["raw"] == SIGNAL.raw
        assert story[2].price == Decimal("216.08") and story[3].price == Decimal("0.1")
        (stored,) = journal.unresolved_intents()
        assert stored.intent == intent  # every field, the quantity to the last digit
        assert stored.signal_received_at == SIGNAL.received_at
        assert story[6].detail == "not_held: algo 9 holds no IBM"
    # stored as the exact text, on both backends (never a float)
    if isinstance(journal_at, Path):
        raw = sqlite3.connect(journal_at)
        sql = "SELECT qty, typeof(qty) FROM entries WHERE status = 'intent'"
    else:
        raw = psycopg.connect(journal_at)  # type: ignore[assignment]
        sql = "SELECT qty, pg_typeof(qty)::text FROM entries WHERE status = 'intent'"
    with contextlib.closing(raw):
        assert raw.execute(sql).fetchone() == ("0.333333333333333333", "text")


def test_time_is_utc_microseconds() -> None:
    moment = datetime(2026, 11, 24, 14, 30, 0, 123456, tzinfo=UTC)
    assert from_micros(to_micros(moment)) == moment
    with pytest.raises(ValueError, match="timezone-aware"):
        to_micros(datetime(2026, 11, 24))


def test_a_path_that_cannot_be_a_journal_is_a_journal_error(tmp_path: Path) -> None:
    (tmp_path / "dir.sqlite").mkdir()
    with pytest.raises(JournalError, match=r"dir\.sqlite"):
        open_journal(tmp_path / "dir.sqlite")
    (tmp_path / "file").write_text("x")
    with pytest.raises(JournalError, match="file"):
        open_journal(tmp_path / "file" / "journal.sqlite")  # parent is a file


def test_a_reader_in_the_writers_process_leaves_the_writers_locks_alone(tmp_path: Path) -> None:
    """Closing any descriptor on a file drops this process's POSIX locks on it, SQLite's own
    included; a reader that opened the file to check it would let another process's last close
    delete the write-ahead log under the running writer, and its later rows would be lost."""
    path = tmp_path / "journal.sqlite"
    with open_journal(path) as journal:
        journal.record_start("first")
        with open_journal(path, readonly=True) as reader:
            assert len(reader.entries(EntryFilter())) == 1
        other = (
            "import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); "
            "db.execute('SELECT count(*) FROM entries').fetchall(); db.close()"
        )
        subprocess.run([sys.executable, "-c", other, str(path)], check=True)
        assert Path(f"{path}-wal").exists()  # the other process knew it was not the last
        journal.record_start("second")
    with open_journal(path, readonly=True) as reader:
        assert [e.detail for e in reader.entries(EntryFilter())] == ["second", "first"]


def test_a_leg_is_recorded_once_however_often_it_arrives(journal_at: str | Path) -> None:
    """The same signal reaching the journal twice (another process sharing it, or a push after
    the listener's de-dup window): both frames are on record, each leg once."""
    two_writers = not isinstance(journal_at, Path)  # a SQLite file has one writer
    with open_journal(journal_at) as one:
        first = one.record_signal(SIGNAL)
        if two_writers:
            with open_journal(journal_at) as two:
                second = two.record_signal(SIGNAL)
        else:
            second = one.record_signal(SIGNAL)
    with open_journal(journal_at, readonly=True) as journal:
        assert len(journal.entries(EntryFilter(statuses=(Status.SIGNAL,)))) == 2
        legs = journal.entries(EntryFilter(statuses=(Status.LEG,), newest_first=False))
        assert sorted(e.leg or "" for e in legs) == sorted(leg.id.key for leg in SIGNAL.legs)
        assert {e.signal_id for e in legs} == {first}
        assert journal.entries(EntryFilter(signal_ids=(second,), statuses=(Status.LEG,))) == []


def test_a_journal_holding_a_leg_twice_keeps_it_and_guards_what_comes_next(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v2.sqlite"
    db = sqlite3.connect(path, isolation_level=None)
    schema.migrate(db, target=2)
    db.executemany(
        "INSERT INTO entries (ts, status, algo_id, leg) VALUES (1, 'leg', 9, ?)",
        [("9:open:X:buy:2026-01-02T15:00:00Z",)] * 2,
    )
    db.close()
    with open_journal(path) as journal:
        assert len(journal.entries(EntryFilter(statuses=(Status.LEG,)))) == 2  # kept
        assert journal.leg_guard_after() == 2
        journal.record_signal(SIGNAL)
        journal.record_signal(SIGNAL)
        assert len(journal.entries(EntryFilter(statuses=(Status.LEG,)))) == 2 + len(SIGNAL.legs)
