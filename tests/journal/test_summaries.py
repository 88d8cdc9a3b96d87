"""The journal's summaries (journal/summary.py) equal a recomputation from the rows, whatever
was written; the report and the pages read them and show what the rows show; an older journal
gets them built when a newer tradebot opens it; two writers lose no update."""

from __future__ import annotations

import multiprocessing
import sqlite3
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings

from tests.journal.generate import generate
from tests.journal.summary_ops import OPS, VARIED, Clock, check, play
from tests.pgserver import PgServer
from tradebot.cli.main import cli
from tradebot.core.events import OrderFilled
from tradebot.core.order_shape import MARKET
from tradebot.core.orders import IntentRole, OrderIntent, Plan, TimeInForce
from tradebot.core.signal import LegId, LegKind, Side
from tradebot.journal import open_journal, schema
from tradebot.journal.opener import open_journal as open_any
from tradebot.journal.records import Status
from tradebot.journal.review import live_exits, position_rows
from tradebot.journal.rows import Row
from tradebot.journal.summary_sql import NAMES
from tradebot.web.snapshot import BrokerState, not_asked
from tradebot.web.views import performance_view, positions_view


def _tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(path)
    try:
        return {n: sorted(conn.execute(f"SELECT * FROM {n}").fetchall()) for n in NAMES}
    finally:
        conn.close()


CHASED = [("open", 1, "AAA", "buy", "chased", 3, "100", False), ("chase", 0), ("fill", 0, 1, "100")]


@given(ops=OPS)
@example(ops=VARIED)
@example(ops=CHASED)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_writes_leave_the_summaries_equal_to_the_rows_sqlite(ops: list[Any]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        clock = Clock()
        with open_journal(Path(folder) / "j.sqlite", clock=clock) as journal:
            play(journal, clock, ops)
            check(journal)


@given(ops=OPS)
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_any_writes_leave_the_summaries_equal_to_the_rows_postgres(
    pg_server: PgServer, ops: list[Any]
) -> None:
    clock = Clock()
    with open_any(pg_server.create_database(), clock=clock) as journal:
        play(journal, clock, ops)
        check(journal)


FORMATS = (
    [],
    ["--format", "json"],
    ["--format", "csv"],
    ["--execution"],
    ["--execution", "--format", "json"],
    ["--execution", "--format", "csv"],
)


def _report(path: Path | str, *args: str) -> str:
    result = CliRunner().invoke(cli, ["report", "--journal", str(path), *args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("which", ["varied", "generated"])
def test_report_from_summaries_is_byte_identical_to_the_row_scan(
    which: str, tmp_path: Path
) -> None:
    path = tmp_path / "j.sqlite"
    if which == "generated":
        generate(path)
    else:
        clock = Clock()
        with open_journal(path, clock=clock) as journal:
            play(journal, clock, VARIED)
    for args in FORMATS:
        assert _report(path, *args) == _report(path, *args, "--from-rows")
    with open_journal(path, readonly=True) as reader:
        check(reader)
        page = performance_view(reader, not_asked("test"))
        assert page["report"] and page["execution"] and page["chart"]
        from_rows = position_rows(reader.rebuild_book(), {"AAA": Decimal(1)}, live_exits(reader))
        broker = BrokerState({"AAA": Decimal(1)}, "test")
        shown = positions_view(reader, broker)["rows"]
        assert [{k: r[k] for k in f} for r, f in zip(shown, from_rows, strict=True)] == from_rows


def test_an_older_journal_gets_its_summaries_built_on_open(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    clock = Clock()
    with open_journal(path, clock=clock) as journal:
        play(journal, clock, VARIED)
    kept = _tables(path)  # as the writes kept them, row by row
    assert all(kept[n] for n in ("sum_count", "sum_pnl", "sum_position", "sum_leg"))
    # the journal as the previous tradebot left it: schema v3, no summary tables
    conn = sqlite3.connect(path)
    with conn:
        for name in (*NAMES, "tradebot_archived"):
            conn.execute(f"DROP TABLE {name}")
        conn.execute("ALTER TABLE entries DROP COLUMN account")  # v7's
        conn.execute("PRAGMA user_version = 3")
    conn.close()
    assert schema.LATEST == 10
    with open_journal(path, readonly=True) as reader:  # a reader upgrades it too
        check(reader)
    assert _tables(path) == kept
    verified = CliRunner().invoke(cli, ["journal", "verify", "--journal", str(path)])
    assert verified.exit_code == 0, verified.output
    assert "summaries agree with the rows" in verified.output


def test_verify_names_the_first_disagreement_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    clock = Clock()
    with open_journal(path, clock=clock) as journal:
        play(journal, clock, VARIED)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE sum_pnl SET realised = '12345' WHERE algo_id = 1")
        conn.execute("UPDATE sum_count SET n = n + 1 WHERE status = 'signal'")
    conn.close()
    result = CliRunner().invoke(cli, ["journal", "verify", "--journal", str(path)])
    assert result.exit_code == 1, result.output
    out = result.output
    assert "sum_pnl" in out and "12345" in out and "summaries DISAGREE" in out
    assert "sum_count" in out and "'signal'" in out
    assert "sum_position" in out and "sum_leg" in out  # every table is reported


def test_journal_verify_help_says_what_it_does() -> None:
    result = CliRunner().invoke(cli, ["journal", "verify", "--help"])
    assert result.exit_code == 0
    assert "Recompute every summary" in result.output and "Exit status" in result.output


# -- two processes, one PostgreSQL journal ---------------------------------------------------------
PER_PROCESS = 40


def _intents(n: int) -> list[OrderIntent]:
    from datetime import UTC, datetime, timedelta

    at = datetime(2026, 3, 2, 15, tzinfo=UTC)
    return [
        OrderIntent(
            f"tb-c-{k}",
            7,
            "SYM",
            Side.BUY,
            Decimal(1),
            MARKET,
            TimeInForce.DAY,
            IntentRole.OPEN,
            (LegId(7, LegKind.OPEN, "SYM", Side.BUY, at + timedelta(seconds=k)),),
            Decimal(10),
        )
        for k in range(n)
    ]


def _write_fills(url: str, first: int, start: Any) -> None:
    from datetime import UTC, datetime

    at = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)
    with open_any(url, clock=lambda: at) as journal:
        start.wait()
        for intent in _intents(2 * PER_PROCESS)[first : first + PER_PROCESS]:
            journal.record_event(
                OrderFilled(
                    client_order_id=intent.client_order_id,
                    broker_order_id="b",
                    at=at,
                    symbol="SYM",
                    side=Side.BUY,
                    qty=Decimal(1),
                    price=Decimal(10),
                    cum_qty=Decimal(1),
                    order_qty=Decimal(1),
                    partial=False,
                )
            )


def test_two_processes_filling_one_algorithm_day_and_symbol_lose_no_update(
    pg_server: PgServer,
) -> None:
    from datetime import UTC, datetime

    url = pg_server.create_database()
    at = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)
    with open_any(url, clock=lambda: at) as journal:
        journal.record_plan(None, Plan(tuple(_intents(2 * PER_PROCESS))))
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Event()
    writers = [
        spawn.Process(target=_write_fills, args=(url, k * PER_PROCESS, start)) for k in (0, 1)
    ]
    for w in writers:
        w.start()
    start.set()
    for w in writers:
        w.join(timeout=120)
        assert w.exitcode == 0
    with open_any(url, readonly=True) as reader:
        found = reader.summaries()
        assert found.pnl[7].fills == 2 * PER_PROCESS
        assert found.counts[7, "intent"] == 2 * PER_PROCESS
        assert found.styles[7, "market"].filled_legs == 2 * PER_PROCESS
        assert dict(reader.summary_book().net_positions()) == {"SYM": Decimal(2 * PER_PROCESS)}
        check(reader)


def test_a_write_rolled_back_leaves_nothing_in_the_summaries(tmp_path: Path) -> None:
    """The writer remembers summary rows between transactions (SQLite: it is the only one);
    a transaction that does not commit must leave nothing remembered either."""
    clock = Clock()
    with open_journal(tmp_path / "j.sqlite", clock=clock) as journal:
        play(journal, clock, VARIED[:2])  # an order of 5, 2 filled
        fill = Row(
            clock(),
            Status.FILLED,
            "filled",
            algo_id=1,
            symbol="AAA",
            client_order_id="tb-1",
            side="buy",
            qty=Decimal(3),
            price=Decimal(100),
            cum_qty=Decimal(5),
        )
        naive = Row(datetime(2026, 3, 3), Status.ERROR, "a row that cannot be written")
        with pytest.raises(ValueError, match="timezone-aware"):
            journal.write_rows([fill, naive])
        play(journal, clock, [("open", 1, "AAA", "sell", "market", 2, "100", False)])
        play(journal, clock, [("fill", 0, 2, "101")])
        check(journal)
