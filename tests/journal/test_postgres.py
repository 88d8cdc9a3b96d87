"""What the PostgreSQL journal adds: a schema it creates and versions, several processes on one
journal (each order and fill recorded once), fencing, durability settings, masked passwords,
and ``tradebot journal migrate``. Against a real server (tests/pgserver.py)."""

from __future__ import annotations

import sqlite3
import threading
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from tests.execution.fixed_planner import intent_for, make_signal
from tests.journal.generate import generate
from tests.pgserver import PASSWORD, PgServer
from tradebot.cli.main import cli, main
from tradebot.core.order_snapshot import OrderSnapshot, OrderStatus
from tradebot.core.orders import IntentRole, Plan
from tradebot.core.signal import Side
from tradebot.exceptions import JournalError, NotLeader
from tradebot.journal import EntryFilter, Status, open_journal, pgschema, schema
from tradebot.journal.postgres import open_postgres

SIGNAL = make_signal(7, opens=(("AAPL", "buy", "190.5"), ("MSFT", "sell", "410.25")))


def _plan() -> Plan:
    legs = SIGNAL.open_legs
    return Plan(
        tuple(intent_for(leg, Decimal("3.5"), leg.side, IntentRole.OPEN) for leg in legs), ()
    )


def _sql(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql.encode())
        return cur.fetchall() if cur.description else []


def test_the_schema_is_created_versioned_and_left_alone_on_reopen(pg_url: str) -> None:
    open_journal(pg_url).close()
    applied = _sql(pg_url, "SELECT version FROM tradebot_journal_schema ORDER BY version")
    assert applied == [(v,) for v in range(1, pgschema.LATEST + 1)]
    with open_journal(pg_url) as journal:
        journal.record_start("again")
    assert _sql(pg_url, "SELECT count(*) FROM tradebot_journal_schema") == [(pgschema.LATEST,)]


def test_a_journal_from_a_newer_tradebot_is_refused(pg_url: str) -> None:
    open_journal(pg_url).close()
    _sql(pg_url, f"INSERT INTO tradebot_journal_schema (version) VALUES ({pgschema.LATEST + 1})")
    with pytest.raises(JournalError, match="upgrade tradebot"):
        open_journal(pg_url)


def test_a_foreign_entries_table_is_refused_and_left_untouched(pg_url: str) -> None:
    _sql(pg_url, "CREATE TABLE entries (x int)")
    with pytest.raises(JournalError, match="not a tradebot journal"):
        open_journal(pg_url)
    assert _sql(pg_url, "SELECT to_regclass('tradebot_journal_schema') IS NULL") == [(True,)]


def test_a_reader_needs_a_journal_and_cannot_write(pg_url: str) -> None:
    with pytest.raises(JournalError, match="no journal"):
        open_journal(pg_url, readonly=True)
    open_journal(pg_url).close()
    with open_journal(pg_url, readonly=True) as reader, pytest.raises(JournalError):
        reader.record_start("no")


def test_commits_are_durable_whatever_the_server_default(pg_url: str) -> None:
    """``synchronous_commit = off`` on the database would let a committed intent be lost in a
    crash; the journal sets it back on for its own session."""
    name = pg_url.rsplit("/", 1)[1]
    _sql(pg_url, f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    assert _sql(pg_url, "SHOW synchronous_commit") == [("off",)]
    with open_postgres(pg_url) as journal, journal._read() as conn:
        assert conn.execute("SHOW synchronous_commit").fetchone() == ("on",)


def test_two_processes_recording_the_same_plan_make_each_intent_once(pg_url: str) -> None:
    """Two bots (two connections) racing on the same signal: every order id is made durable by
    exactly one of them, the other records a duplicate; nobody fails, nothing is sent twice."""
    plans = [
        Plan(
            tuple(
                intent_for(leg, Decimal(n + 1), leg.side, IntentRole.OPEN)
                for leg in make_signal(n % 5 + 1, opens=((f"S{n}", "buy", "10"),)).open_legs
            ),
            (),
        )
        for n in range(40)
    ]
    first, second = open_journal(pg_url), open_journal(pg_url)
    won: list[list[str]] = [[], []]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def bot(n: int, journal: object) -> None:
        start.wait()
        try:
            for plan in plans:
                new = journal.record_plan(None, plan)  # type: ignore[attr-defined]
                won[n] += [i.client_order_id for i in new]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=bot, args=(n, j)) for n, j in enumerate((first, second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    first.close()
    second.close()
    assert errors == []
    every = [i.client_order_id for p in plans for i in p.intents]
    assert sorted(won[0] + won[1]) == sorted(every)  # each exactly once
    with open_journal(pg_url, readonly=True) as journal:
        intents = journal.entries(EntryFilter(statuses=(Status.INTENT,)))
        skipped = journal.entries(EntryFilter(statuses=(Status.SKIPPED,)))
    assert len(intents) == len(every) and len(skipped) == len(every)


def test_the_same_fill_from_two_processes_is_recorded_once(pg_url: str) -> None:
    with open_journal(pg_url) as one, open_journal(pg_url) as two:
        (intent, _) = one.record_plan(None, _plan())
        snap = OrderSnapshot(
            intent.client_order_id,
            "b-1",
            intent.symbol,
            Side.BUY,
            intent.qty,
            intent.qty,
            Decimal("190.49"),
            OrderStatus.FILLED,
        )
        assert len(one.record_snapshot(snap, source="lookup")) == 1
        assert two.record_snapshot(snap, source="lookup") == ()
        assert two.rebuild_book().qty(7, "AAPL") == Decimal("3.5")


def test_a_deposed_leader_cannot_make_an_intent_durable(pg_url: str) -> None:
    open_journal(pg_url).close()
    _sql(pg_url, "INSERT INTO tradebot_leadership (name, epoch) VALUES ('bot', 1)")
    with open_journal(pg_url, epoch=1) as leader:
        assert len(leader.record_plan(None, _plan())) == 2
        _sql(pg_url, "UPDATE tradebot_leadership SET epoch = 2 WHERE name = 'bot'")
        other = make_signal(7, opens=(("TSLA", "buy", "250"),))
        plan = Plan((intent_for(other.open_legs[0], Decimal(1), Side.BUY, IntentRole.OPEN),), ())
        with pytest.raises(NotLeader, match="no longer the leader"):
            leader.record_signal_and_plan(other, plan)
        # nothing of that transaction is on record: not the signal, not the intent
        assert len(leader.entries(EntryFilter(statuses=(Status.INTENT,)))) == 2
        assert leader.entries(EntryFilter(statuses=(Status.SIGNAL,))) == []
        leader.record_error("other rows are still written (the fence guards intents)")


def test_the_password_never_shows(pg_server: PgServer) -> None:
    url = pg_server.url("postgres", password="wrong-" + PASSWORD)
    with pytest.raises(JournalError) as caught:
        open_journal(url)
    assert "wrong-" + PASSWORD not in str(caught.value)
    assert "password authentication failed" in str(caught.value)
    good = pg_server.create_database()
    with open_journal(good) as journal:
        assert PASSWORD not in journal.path and PASSWORD not in repr(journal)
    result = CliRunner().invoke(cli, ["journal", "--journal", url])
    assert result.exit_code != 0 and "wrong-" + PASSWORD not in result.output


def test_a_dropped_connection_is_reopened_before_the_next_transaction(pg_url: str) -> None:
    with open_journal(pg_url) as journal:
        journal.record_start("first")
        _sql(
            pg_url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'tradebot'",
        )
        journal.record_start("second")  # a server restart between writes is not fatal
        assert [e.detail for e in journal.entries(EntryFilter())] == ["second", "first"]


# -- tradebot journal migrate ---------------------------------------------------------------------


def test_migrate_copies_everything_and_the_commands_read_the_same(
    tmp_path: Path, pg_url: str
) -> None:
    source = generate(tmp_path / "journal.sqlite")
    code = main(["journal", "migrate", "--from", str(source.path), "--to", pg_url, "--batch", "7"])
    assert code == 0
    for command in (
        ["journal", "--format", "json"],
        ["report", "--format", "json"],
        ["report", "--execution", "--format", "json"],
    ):
        here = CliRunner().invoke(cli, [*command, "--journal", str(source.path)])
        there = CliRunner().invoke(cli, [*command, "--journal", pg_url])
        assert here.exit_code == 0 and there.exit_code == 0, there.output
        assert here.stdout == there.stdout
    with open_journal(source.path) as a, open_journal(pg_url) as b:
        assert a.raw_rows(after_id=0, limit=10_000) == b.raw_rows(after_id=0, limit=10_000)
        # ids continue after the copied ones
        assert b.record_start("on the server now") == a.last_id() + 1


def test_migrate_refuses_another_journal_and_resumes_its_own_prefix(
    tmp_path: Path, pg_server: PgServer, capsys: pytest.CaptureFixture[str]
) -> None:
    source = generate(tmp_path / "journal.sqlite")
    other = pg_server.create_database()
    with open_journal(other) as journal:
        journal.record_start("another bot's journal")
    assert main(["journal", "migrate", "--from", str(source.path), "--to", other]) == 4
    assert "refusing to mix" in capsys.readouterr().err
    with open_journal(other, readonly=True) as journal:
        assert journal.last_id() == 1  # untouched

    target = pg_server.create_database()
    with open_journal(source.path) as a, open_journal(target) as b:
        b.copy_rows(a.raw_rows(after_id=0, limit=10))  # an interrupted earlier run
    result = CliRunner().invoke(
        cli, ["journal", "migrate", "--from", str(source.path), "--to", target]
    )
    assert result.exit_code == 0, result.output
    assert "copied now" in result.stdout and "verified" in result.stdout
    with open_journal(source.path) as a, open_journal(target) as b:
        assert a.raw_rows(after_id=0, limit=10_000) == b.raw_rows(after_id=0, limit=10_000)
        assert a.rebuild_book() == b.rebuild_book()


def test_migrate_refuses_while_the_bot_holds_the_journal(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "journal.sqlite"
    with open_journal(path) as running:
        running.record_start("the bot")
        assert main(["journal", "migrate", "--from", str(path), "--to", pg_url]) == 4
    assert "stop `tradebot run` first" in capsys.readouterr().err


def test_listing_options_keep_working_and_do_not_mix_with_migrate(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    generate(path)
    result = CliRunner().invoke(cli, ["journal", "--journal", str(path), "--status", "stop"])
    assert result.exit_code == 0 and "stopped by the user" in result.stdout
    result = CliRunner().invoke(
        cli, ["journal", "--status", "stop", "migrate", "--to", "postgresql://x@127.0.0.1/y"]
    )
    assert result.exit_code == 2 and "belong to the listing" in result.output


def test_migrate_keeps_legs_an_old_journal_recorded_twice(tmp_path: Path, pg_url: str) -> None:
    path = tmp_path / "v2.sqlite"
    db = sqlite3.connect(path, isolation_level=None)
    schema.migrate(db, target=2)
    db.executemany(
        "INSERT INTO entries (ts, status, algo_id, leg) VALUES (1, 'leg', 7, ?)",
        [("7:open:X:buy:2026-01-02T15:00:00Z",)] * 2,
    )
    db.close()
    open_journal(path).close()  # upgraded to the leg guard, which starts after row 2
    assert main(["journal", "migrate", "--from", str(path), "--to", pg_url]) == 0
    with open_journal(pg_url) as journal:
        assert len(journal.entries(EntryFilter(statuses=(Status.LEG,)))) == 2
        journal.record_signal(SIGNAL)
        journal.record_signal(SIGNAL)  # guarded from here on, as in the file
        assert len(journal.entries(EntryFilter(statuses=(Status.LEG,)))) == 2 + len(SIGNAL.legs)


def test_journal_url_in_config_is_checked_and_its_password_masked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    algo = "algorithms:\n  14:\n    strategy: fixed_shares\n    params: {shares: 1}\n"
    config = tmp_path / "config.yaml"
    monkeypatch.setenv("TB_TEST_PG_PASSWORD", "s3cret-" + PASSWORD)
    config.write_text(
        "journal:\n  url: postgresql://bot:${TB_TEST_PG_PASSWORD}@db.internal/tradebot\n" + algo
    )
    assert main(["config", "check", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "db.internal/tradebot" in out and "s3cret-" not in out
    config.write_text("journal:\n  url: mysql://bot@db.internal/tradebot\n" + algo)
    assert main(["config", "check", "--config", str(config)]) == 2
    assert "postgresql://" in capsys.readouterr().err


def test_a_sqlite_journal_takes_no_epoch(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="needs a PostgreSQL journal"):
        open_journal(tmp_path / "journal.sqlite", epoch=1)
