"""The tracking summary (:mod:`tradebot.journal.track_summary`) per account: kept by every
write in its transaction (a leg under the shared account, a skip, an order and its fills under
their row's account), checked by ``journal verify``, built for an older journal by the
migration (SQLite v9, PostgreSQL v8)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.tracking.history import ALGO, SECOND, Clock, play, second_account
from tests.tracking.rowwise_facts import read_periods as rowwise_periods
from tests.tracking.test_track_journal import SCENE
from tradebot.core.ids import DEFAULT_ACCOUNT
from tradebot.journal import open_journal
from tradebot.journal.records import SHARED_ACCOUNT
from tradebot.journal.track_summary import NAMES
from tradebot.tracking.journal_facts import read_periods

pytestmark = pytest.mark.parametrize("journal_at", ["sqlite", "postgres"], indirect=True)


def _sql(where: str | Path, sql: str) -> list[tuple[Any, ...]]:
    if isinstance(where, Path):
        conn = sqlite3.connect(where)
        try:
            return [tuple(r) for r in conn.execute(sql).fetchall()]
        finally:
            conn.close()
    with psycopg.connect(where, autocommit=True) as pg:
        return [tuple(r) for r in pg.execute(sql).fetchall()]


def _two_accounts(where: str | Path) -> list[str]:
    """The scene of the default account, then the second account's skip, missed leg, filled
    order and unfilled order, about four of its legs: the legs' keys."""
    clock = Clock()
    with open_journal(where, clock=clock) as journal:
        play(journal, clock, SCENE)
    keys = sorted(str(r[0]) for r in _sql(where, "SELECT leg FROM entries WHERE status = 'leg'"))
    with open_journal(where, clock=clock) as journal:
        second_account(journal, clock, keys[:4], [0, 1, 2, 3])
    return keys


def _tables(where: str | Path) -> dict[str, list[tuple[Any, ...]]]:
    return {name: sorted(_sql(where, f"SELECT * FROM {name}"), key=repr) for name in NAMES}


def _verdict(where: str | Path) -> dict[str, bool]:
    with open_journal(where, readonly=True) as journal:
        verdict = journal.verify_summaries()
    return {t.name: t.agrees for t in verdict.tables if t.name.startswith("sum_track_")}


def test_each_write_keeps_its_rows_account_apart_and_verify_agrees(
    journal_at: str | Path,
) -> None:
    keys = _two_accounts(journal_at)
    # every row folded again from the rows: what each write kept
    assert _verdict(journal_at) == {"sum_track_leg": True, "sum_track_order": True}
    legs = _sql(
        journal_at,
        "SELECT account, count(head_id), count(skip_id), sum(served) FROM sum_track_leg "
        "WHERE algo_id = 5 GROUP BY account ORDER BY account",
    )
    by_account = {a: (heads, skips, served) for a, heads, skips, served in legs}
    # every leg once, under the shared account; the second account's two skips and two
    # orders under its name, beside the default account's own
    assert by_account[SHARED_ACCOUNT][0] == len(keys)
    assert by_account[SHARED_ACCOUNT][1:] == (0, 0)
    assert by_account[SECOND] == (0, 2, 2)
    assert by_account[DEFAULT_ACCOUNT][0] == 0 and by_account[DEFAULT_ACCOUNT][1] > 0
    orders = _sql(
        journal_at,
        "SELECT account, count(intent_id), count(fills) FROM sum_track_order "
        "GROUP BY account ORDER BY account",
    )
    assert dict((a, (i, f)) for a, i, f in orders)[SECOND] == (2, 1)
    # the summary one account's decision short: verify names the table
    _sql_write(journal_at, f"DELETE FROM sum_track_order WHERE account = '{SECOND}'")
    assert _verdict(journal_at) == {"sum_track_leg": True, "sum_track_order": False}


def _sql_write(where: str | Path, sql: str) -> None:
    if isinstance(where, Path):
        conn = sqlite3.connect(where)
        with conn:
            conn.execute(sql)
        conn.close()
        return
    with psycopg.connect(where, autocommit=True) as pg:
        pg.execute(sql)


#: the versions that build the tracking summary
TRACK_SQLITE, TRACK_PG = 9, 8


def test_the_migration_builds_the_summary_per_account_for_an_older_journal(
    journal_at: str | Path,
) -> None:
    """A journal of the version before (its tracking tables gone, or left as an older tradebot
    made them): opening it builds them, per account, from its rows, as every write kept them."""
    _two_accounts(journal_at)
    kept = _tables(journal_at)
    with open_journal(journal_at, readonly=True) as journal:
        before = {
            a: read_periods(journal, [ALGO], since=None, until=None, account=a)
            for a in (None, DEFAULT_ACCOUNT, SECOND)
        }
    # the tables of an older shape (no account), the version put back to before them (SQLite
    # v9 and PostgreSQL v8 build them; the later steps run again after them, harmless)
    for name in NAMES:
        _sql_write(journal_at, f"DROP TABLE {name}")
    _sql_write(journal_at, "CREATE TABLE sum_track_leg (algo_id BIGINT, leg TEXT)")
    _sql_write(journal_at, "INSERT INTO sum_track_leg VALUES (5, 'stale')")
    if isinstance(journal_at, Path):
        _sql_write(journal_at, f"PRAGMA user_version = {TRACK_SQLITE - 1}")
    else:
        _sql_write(journal_at, f"DELETE FROM tradebot_journal_schema WHERE version >= {TRACK_PG}")
    with open_journal(journal_at) as journal:
        for account, period in before.items():
            found = read_periods(journal, [ALGO], since=None, until=None, account=account)
            assert found == period
            slow = rowwise_periods(journal, [ALGO], since=None, until=None, account=account)
            assert found[ALGO].legs == slow[ALGO].legs
    assert _tables(journal_at) == kept
    if isinstance(journal_at, Path):  # stored in their keys' order: an algorithm's rows together
        made = _sql(journal_at, "SELECT sql FROM sqlite_master WHERE name LIKE 'sum_track_%'")
        assert len(made) == 2 and all(str(sql).endswith("WITHOUT ROWID") for (sql,) in made)
    assert _verdict(journal_at) == {"sum_track_leg": True, "sum_track_order": True}
