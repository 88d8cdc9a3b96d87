"""``tradebot journal archive``: old rows move to an archive file; nothing a running bot needs
moves, nothing is lost, and the summaries still agree with the rows (``journal verify``).

The journal is a varied history (every kind of order, fills, cancels, remainders, skips,
duplicates) written through the real journal API months ago, then a start a day ago.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.journal.summary_ops import VARIED, Clock, play
from tradebot.cli.main import main
from tradebot.core.orders import Plan, SkipReason
from tradebot.exceptions import JournalError
from tradebot.journal import open_journal as open_tradebot_journal
from tradebot.journal.archive import (
    Head,
    _remove,
    _write_archive,
    archive,
    choose,
    parse_before,
)
from tradebot.journal.interface import EntryFilter
from tradebot.journal.records import Status, intent_from_entry
from tradebot.journal.rows import Row
from tradebot.journal.sqlite import open_journal
from tradebot.runtime.recovered import DECIDED, journaled_legs, last_frame

BEFORE = date(2026, 6, 1)  # VARIED is written in March 2026

#: more history: a flat round trip on CCC, one left open on DDD, each algorithm's newest signal
MORE: list[tuple[Any, ...]] = [
    ("day", 0, 24),
    ("open", 2, "CCC", "buy", "market", 3, "100", False),
    ("fill", 0, 3, "100"),
    ("open", 2, "CCC", "sell", "market", 3, "101", False),
    ("fill", 0, 3, "101"),
    ("open", 1, "DDD", "buy", "market", 4, "100", False),
    ("fill", 0, 4, "100"),
    ("open", 2, "EEE", "buy", "market", 1, "100", False),
    ("reject", 0),
]


def make_journal(path: Path) -> None:
    clock = Clock()
    with open_journal(path, clock=clock) as journal:
        journal.record_start("tradebot started", {})
        play(journal, clock, [*VARIED, *MORE])
        journal.record_stop("tradebot stopped")
    recent = datetime.now(UTC) - timedelta(days=1)
    with open_journal(path, clock=lambda: recent) as journal:
        journal.record_start("tradebot started again", {})


def state(path: Path) -> dict[str, Any]:
    """What recovery and the positions read from the journal."""
    with open_journal(path, readonly=True) as store:
        return {
            "book": sorted(store.rebuild_book()),
            "summary book": sorted(store.summary_book()),
            "unresolved": sorted(s.intent.client_order_id for s in store.unresolved_intents()),
            "unplanned": [s.signal_id for s in store.unplanned_signals()],
            "open exits": sorted(store.open_exit_ids()),
            "last frames": {a: last_frame(store, a) for a in (1, 2)},
        }


def raw(path: Path) -> dict[int, tuple[Any, ...]]:
    with open_journal(path, readonly=True) as store:
        return {r[0]: tuple(r) for r in store.raw_rows(after_id=0, limit=1_000_000)}


def verified(path: Path) -> bool:
    with open_journal(path, readonly=True) as store:
        return store.verify_summaries().agrees


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    path = tmp_path / "tradebot.sqlite"
    make_journal(path)
    return path


def test_archive_moves_old_rows_and_keeps_what_recovery_and_positions_need(
    journal: Path,
) -> None:
    before_state, before_rows = state(journal), raw(journal)
    assert before_state["unresolved"], "the history leaves orders open"
    done = archive(journal, BEFORE)
    assert done.path is not None and done.rows > 0
    assert done.path.name == f"tradebot.archive-{done.first:%Y%m%d}-{done.last:%Y%m%d}.sqlite"
    left, moved = raw(journal), raw(done.path)
    assert len(moved) == done.rows
    assert not left.keys() & moved.keys()
    assert {**left, **moved} == before_rows  # every row in exactly one place, unchanged
    assert state(journal) == before_state
    assert verified(journal) and verified(done.path)
    with open_journal(journal, readonly=True) as store:
        symbols = {s for _, s, _ in store.rebuild_book()}
    assert "CCC" not in symbols  # the flat round trip moved...
    assert any(row[4] == "CCC" for row in moved.values())
    assert any(row[4] == "DDD" for row in left.values())  # ...the open position stayed


def test_nothing_to_move_leaves_the_journal_alone(journal: Path) -> None:
    rows = raw(journal)
    done = archive(journal, date(2026, 1, 1))
    assert done.path is None and done.rows == 0
    assert raw(journal) == rows


def test_an_archive_of_the_same_days_is_never_overwritten(journal: Path) -> None:
    done = archive(journal, BEFORE)
    assert done.path is not None
    make_journal(journal.with_name("second.sqlite"))
    second = journal.with_name("second.sqlite")
    os.link(done.path, second.with_name(done.path.name.replace("tradebot.", "second.")))
    rows = raw(second)
    with pytest.raises(JournalError, match="exists already"):
        archive(second, BEFORE)
    assert raw(second) == rows


def test_the_last_week_stays() -> None:
    today = date(2026, 12, 7)
    assert parse_before("2026-11-30", today) == date(2026, 11, 30)
    with pytest.raises(JournalError, match="last 7 days"):
        parse_before("2026-12-01", today)
    with pytest.raises(JournalError, match="YYYY-MM-DD"):
        parse_before("yesterday", today)


def _h(i: int, ts: int, status: str, **kw: Any) -> Head:
    values: dict[str, Any] = {
        "algo_id": None,
        "symbol": None,
        "coid": None,
        "signal_id": None,
        "side": None,
        "qty": None,
    }
    values.update(kw)
    return Head(i, ts, status, **values)


def test_a_story_moves_whole_or_not_at_all() -> None:
    rows = [
        _h(1, 10, "signal", algo_id=1),
        _h(2, 11, "leg", algo_id=1, symbol="A", signal_id=1),
        _h(3, 12, "intent", algo_id=1, symbol="A", signal_id=1, coid="c1", side="buy", qty="1"),
        _h(4, 100, "filled", algo_id=1, symbol="A", coid="c1", side="buy", qty="1"),
        _h(5, 101, "signal", algo_id=1),
    ]
    assert choose(rows, before=50) == []  # its fill is after DATE: the signal stays with it
    assert choose(rows, before=200) == []  # the position is open: all of it stays


def test_a_flat_position_moves_up_to_its_flat_point_only() -> None:
    def order(i: int, coid: str, side: str, ts: int) -> list[Head]:
        common = {"algo_id": 1, "symbol": "A", "coid": coid, "side": side, "qty": "2"}
        return [_h(i, ts, "intent", **common), _h(i + 1, ts + 1, "filled", **common)]

    rows = [
        *order(1, "buy1", "buy", 10),
        *order(3, "sell1", "sell", 20),
        *order(5, "buy2", "buy", 30),  # open since: stays
        _h(7, 40, "signal", algo_id=1),  # the newest signal: stays
    ]
    assert choose(rows, before=100) == [1, 2, 3, 4]


def test_open_orders_and_unplanned_signals_stay() -> None:
    rows = [
        _h(1, 10, "signal", algo_id=1),
        _h(2, 11, "plan", algo_id=1, signal_id=1),
        _h(3, 12, "intent", algo_id=1, symbol="A", signal_id=1, coid="c1"),
        _h(4, 13, "signal", algo_id=2),  # never planned
        _h(5, 14, "signal", algo_id=2),
        _h(6, 15, "plan", algo_id=2, signal_id=5),
        _h(7, 16, "signal", algo_id=3),
        _h(8, 17, "plan", algo_id=3, signal_id=7),
        _h(9, 18, "signal", algo_id=3),
        _h(10, 19, "plan", algo_id=3, signal_id=9),
    ]
    assert choose(rows, before=100) == [7, 8]


# -- the command -------------------------------------------------------------------------------


def test_the_command_archives_then_verify_agrees(
    journal: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = state(journal)
    assert main(["journal", "archive", "--journal", str(journal), "--before", "2026-06-01"]) == 0
    assert "moved to" in capsys.readouterr().out
    with pytest.raises(SystemExit) as verify:  # the verify command exits by itself
        main(["journal", "verify", "--journal", str(journal)])
    assert verify.value.code == 0
    assert "summaries agree with the rows" in capsys.readouterr().out
    assert state(journal) == before


def test_the_command_refuses_a_postgresql_journal(capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql://bot:pw-secret-1@127.0.0.1:1/tradebot"
    code = main(["journal", "archive", "--journal", url, "--before", "2026-06-01"])
    err = capsys.readouterr().err
    assert code == 4 and "SQLite journal only" in err
    assert "pw-secret-1" not in err


def test_the_command_refuses_while_a_bot_holds_the_journal(journal: Path) -> None:
    rows = raw(journal)
    with open_journal(journal):  # the running bot's lock
        code = main(["journal", "archive", "--journal", str(journal), "--before", "2026-06-01"])
    assert code == 4
    assert raw(journal) == rows


@pytest.mark.parametrize("step", ["archive_copied", "archive_deleted"])
def test_a_crash_mid_archive_loses_nothing(journal: Path, step: str) -> None:
    """Killed (SIGKILL) after the archive is written, and again inside the transaction that
    removes the rows: every row is still in the journal, which still verifies."""
    rows, before = raw(journal), state(journal)
    env = {**os.environ, "TRADEBOT_FAULT": step}
    command = ["journal", "archive", "--journal", str(journal), "--before", "2026-06-01"]
    proc = subprocess.run(
        [sys.executable, "-m", "tradebot", *command], env=env, capture_output=True, check=False
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert raw(journal) == rows
    assert state(journal) == before
    assert verified(journal)
    archives = list(journal.parent.glob("tradebot.archive-*.sqlite"))
    assert len(archives) == 1  # complete: a copy of rows the journal still holds
    assert set(raw(archives[0])) < set(rows)
    # run again: refused until the interrupted archive is moved away, then done
    assert main(command) == 4
    archives[0].unlink()
    assert main(command) == 0
    assert verified(journal)


def test_rows_the_archive_does_not_hold_are_never_removed(journal: Path) -> None:
    """The removal's own count: an archive missing one row of those chosen (damaged, or
    written by another run) removes nothing."""
    rows = raw(journal)
    heads = [Head(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[8], r[9]) for r in rows.values()]
    ids = choose(heads, before=int(datetime(2026, 6, 1, tzinfo=UTC).timestamp() * 1e6))
    assert len(ids) > 1
    target = journal.with_name("short.sqlite")
    conn = sqlite3.connect(journal, isolation_level=None)
    try:
        _write_archive(conn, ids[:-1], target)
        with pytest.raises(JournalError, match="they disagree, nothing removed"):
            _remove(conn, ids, target)
    finally:
        conn.close()
    assert raw(journal) == rows
    assert verified(journal)


def test_vacuum_gives_the_space_back(tmp_path: Path) -> None:
    path = tmp_path / "tradebot.sqlite"
    make_journal(path)
    with open_journal(path) as store:  # enough old rows for pages to come free
        store.write_rows([Row(datetime(2026, 3, 1, tzinfo=UTC), Status.GAP, "x" * 2000)] * 200)
    rows = len(raw(path))
    size = path.stat().st_size
    done = archive(path, BEFORE, vacuum=True)
    assert done.rows > 200
    assert path.stat().st_size < size / 2
    assert len(raw(path)) == rows - done.rows
    assert verified(path)


# -- what guards the moved decisions: the tombstones -------------------------------------------


def _decisions(path: Path) -> tuple[set[str], set[str]]:
    """The order ids of the INTENT rows and the identities of the decided legs in ``path``."""
    orders: set[str] = set()
    legs: set[str] = set()
    decided = {str(s) for s in DECIDED}
    for row in raw(path).values():
        status, coid, leg = row[2], row[5], row[7]
        if status == Status.INTENT and coid:
            orders.add(coid)
        elif status in decided and leg:
            legs.add(leg)
    return orders, legs


def _tombstones(path: Path) -> tuple[set[str], set[str]]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT kind, key FROM tradebot_archived").fetchall()
    finally:
        conn.close()
    return {k for kind, k in rows if kind == "order"}, {k for kind, k in rows if kind == "leg"}


def test_every_decision_moved_out_leaves_a_tombstone(journal: Path) -> None:
    old = datetime(2026, 3, 2, tzinfo=UTC)
    refused = "1:open:QQQ:buy:2026-03-02T00:00:00Z"  # a leg its signal's rules refused
    skipped = "2:close:RRR:sell:2026-03-02T00:00:00Z"  # a backfilled leg journaled, not traded
    with open_journal(journal) as store:
        store.write_rows(
            [
                Row(old, Status.LEG_REJECTED, "weights", algo_id=1, symbol="QQQ", leg=refused),
                Row(old, Status.SKIPPED, "journal only", algo_id=2, symbol="RRR", leg=skipped),
            ]
        )
    done = archive(journal, BEFORE)
    assert done.path is not None
    orders, legs = _decisions(done.path)
    assert orders and {refused, skipped} < legs
    assert _tombstones(journal) == (orders, legs)
    assert _tombstones(done.path) == (set(), set())  # the archive itself guards nothing


def test_an_archived_order_planned_again_is_a_skipped_duplicate(journal: Path) -> None:
    """The same signal pushed again after its rows were archived plans the same order id: it
    is journaled as a duplicate, never returned to be sent."""
    done = archive(journal, BEFORE)
    assert done.path is not None
    with open_journal(done.path, readonly=True) as moved:
        stored = moved.entries(EntryFilter(statuses=(Status.INTENT,), newest_first=False))
    intent = intent_from_entry(stored[0])
    with open_journal(journal) as store:
        assert not store.entries(EntryFilter(client_order_ids=(intent.client_order_id,)))
        assert store.record_plan(None, Plan((intent,))) == ()  # nothing to send
        (skip,) = store.entries(EntryFilter(statuses=(Status.SKIPPED,), limit=1))
        assert skip.data.get("reason") == str(SkipReason.DUPLICATE)
        assert intent.client_order_id in skip.detail and "archived" in skip.detail
        assert not store.entries(EntryFilter(statuses=(Status.INTENT,), since=skip.at))
    assert verified(journal)


def test_an_archived_leg_is_decided_for_the_backfill(journal: Path) -> None:
    """The backfill asks the journal which history legs were decided: a leg whose rows were
    archived is, and is never recovered (traded) again."""
    done = archive(journal, BEFORE)
    assert done.path is not None
    _, legs = _decisions(done.path)
    unknown = "1:open:QQQ:buy:2026-03-01T00:00:00"
    with open_journal(journal, readonly=True) as store:
        assert not store.entries(EntryFilter(legs=tuple(legs)))  # the rows are gone...
        assert journaled_legs(store, [*legs, unknown]) == legs  # ...the decisions are not


def test_the_tombstones_guard_a_postgresql_journal_too(journal_at: str | Path) -> None:
    """Both schemas hold the table the shared duplicate check reads (a journal archived on
    SQLite and then migrated, say)."""
    clock = Clock()
    with open_tradebot_journal(journal_at, clock=clock) as store:
        play(store, clock, VARIED[:3])
        (entry,) = store.entries(EntryFilter(statuses=(Status.INTENT,), limit=1))
        intent = replace(intent_from_entry(entry), client_order_id="tb-archived-1")
        sql = "INSERT INTO tradebot_archived (kind, key) VALUES ('order', 'tb-archived-1')"
        if isinstance(journal_at, Path):
            with sqlite3.connect(journal_at) as conn:
                conn.execute(sql)
        else:
            with psycopg.connect(journal_at, autocommit=True) as conn:
                conn.execute(sql.encode())
        assert store.record_plan(None, Plan((intent,))) == ()
        (skip,) = store.entries(EntryFilter(statuses=(Status.SKIPPED,), limit=1))
        assert skip.data.get("reason") == str(SkipReason.DUPLICATE)
        fresh = replace(intent, client_order_id="tb-fresh-1")
        assert store.record_plan(None, Plan((fresh,))) == (fresh,)


def test_a_migrated_journal_keeps_the_tombstones(journal: Path, pg_url: str) -> None:
    """``tradebot journal migrate`` of an archived journal: PostgreSQL refuses the archived
    orders as duplicates too."""
    done = archive(journal, BEFORE)
    assert done.path is not None
    with open_journal(done.path, readonly=True) as moved:
        stored = moved.entries(EntryFilter(statuses=(Status.INTENT,), limit=1))
    intent = intent_from_entry(stored[0])
    assert main(["journal", "migrate", "--from", str(journal), "--to", pg_url]) == 0
    with open_tradebot_journal(pg_url) as store:
        assert store.record_plan(None, Plan((intent,))) == ()
        (skip,) = store.entries(EntryFilter(statuses=(Status.SKIPPED,), limit=1))
        assert skip.data.get("reason") == str(SkipReason.DUPLICATE)
