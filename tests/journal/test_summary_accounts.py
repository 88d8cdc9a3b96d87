"""The summaries per account (issue 22; SQLite v8, PostgreSQL v7): each account's figures are
what its own rows make, every account's (None) what they make together, the signals every
account shares counted once; ``journal verify`` checks them per account; a journal written
before gets them built from its rows in the upgrade's one transaction. On SQLite and on a real
PostgreSQL (tests/pgserver.py)."""

from __future__ import annotations

import sqlite3
import tempfile
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings

from tests.journal.summary_ops import OPS, VARIED, Clock, play
from tradebot.core.orders import Plan
from tradebot.exceptions import JournalError
from tradebot.journal import open_journal
from tradebot.journal.interface import Journal
from tradebot.journal.review import daily_points, live_exits, review_rows, review_summaries

ACCOUNTS = ("default", "family")


class AsAccount:
    """``journal`` as ``account`` writes it: its plans and events name the account, and its
    client order ids carry the account's prefix (core/ids.py), so summary_ops' plays run for
    any account."""

    def __init__(self, journal: Journal, account: str) -> None:
        self._journal = journal
        self._account = account

    def _id(self, coid: str) -> str:
        return coid if self._account == "default" else f"{self._account}.{coid}"

    def _plan(self, plan: Plan) -> Plan:
        return Plan(
            tuple(replace(i, client_order_id=self._id(i.client_order_id)) for i in plan.intents),
            plan.skipped,
        )

    def record_signal_and_plan(self, signal: Any, plan: Plan) -> Any:
        return self._journal.record_signal_and_plan(signal, self._plan(plan), account=self._account)

    def record_plan(self, signal_id: int | None, plan: Plan) -> Any:
        return self._journal.record_plan(signal_id, self._plan(plan), account=self._account)

    def record_event(self, event: Any) -> Any:
        moved = replace(event, client_order_id=self._id(event.client_order_id))
        return self._journal.record_event(moved, account=self._account)

    def record_rejected(self, coid: str, reason: str) -> int:
        return self._journal.record_rejected(self._id(coid), reason)

    def record_failed(self, coid: str, reason: str) -> int:
        return self._journal.record_failed(self._id(coid), reason)


def _figures(journal: Journal, account: str | None, *, from_rows: bool) -> dict[str, Any]:
    found = review_rows if from_rows else review_summaries
    algos, execution = found(journal, account=account)
    return {"report": [a.as_dict() for a in algos], "execution": execution.as_dict()}


def check_accounts(journal: Journal) -> None:
    """Each account's summaries, and every account's, equal what its rows make."""
    verdict = journal.verify_summaries()
    assert verdict.agrees, [(t.name, t.first) for t in verdict.tables if not t.agrees]
    for account in (*ACCOUNTS, None):
        summed = _figures(journal, account, from_rows=False)
        assert summed == _figures(journal, account, from_rows=True), account
        assert list(journal.summary_book(account=account)) == list(
            journal.rebuild_book(account=account)
        )
        exits = journal.unresolved_intents(account=account)
        narrowed = journal.unresolved_intents(
            client_order_ids=journal.open_exit_ids(account=account), account=account
        )
        assert {s.intent.client_order_id for s in exits if s.intent.role == "exit"} <= {
            s.intent.client_order_id for s in narrowed
        }


def _play_both(journal: Journal, clock: Clock, first: list[Any], second: list[Any]) -> None:
    play(AsAccount(journal, "default"), clock, first)  # type: ignore[arg-type]
    play(AsAccount(journal, "family"), clock, second)  # type: ignore[arg-type]
    play(AsAccount(journal, "default"), clock, second)  # type: ignore[arg-type]


@given(first=OPS, second=OPS)
@example(first=VARIED, second=VARIED[::-1])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_each_accounts_summaries_are_its_own_rows(first: list[Any], second: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        clock = Clock()
        with open_journal(Path(folder) / "j.sqlite", clock=clock) as journal:
            _play_both(journal, clock, first, second)
            check_accounts(journal)


def test_two_accounts_apart_and_together(journal_at: str | Path) -> None:
    clock = Clock()
    with open_journal(journal_at, clock=clock) as journal:
        play(AsAccount(journal, "default"), clock, VARIED)  # type: ignore[arg-type]
        alone = _figures(journal, None, from_rows=False)
        book_alone = list(journal.summary_book())
        positions_alone = journal.summary_positions()
        play(AsAccount(journal, "family"), clock, VARIED)  # type: ignore[arg-type]
        check_accounts(journal)
        assert journal.summary_accounts() == ["default", "family"]
        # the default account reads what it read alone but the signals, which every account
        # shares (the family's play received as many again)
        now = _figures(journal, "default", from_rows=False)
        for before, after in zip(alone["report"], now["report"], strict=True):
            assert after.pop("signals") == 2 * before.pop("signals")
        assert now == alone
        family = journal.summaries(account="family")
        default = journal.summaries(account="default")
        assert family.pnl == default.pnl and family.styles == default.styles
        assert list(journal.summary_book(account="default")) == book_alone
        assert journal.summary_positions(account="default") == positions_alone
        assert journal.summary_positions(account="family") == positions_alone
        # every account's: the two added up, signals counted once each
        every = journal.summaries()
        own = Counter({k: n for k, n in family.counts.items() if k[1] != "signal"})
        assert every.counts == dict(Counter(default.counts) + own)
        for algo, pnl in default.pnl.items():
            assert every.pnl[algo] == pnl + family.pnl[algo]
        for key, position in positions_alone.items():
            both = journal.summary_positions()[key]
            assert (both.qty, both.realised) == (2 * position.qty, 2 * position.realised)
            assert both.cost == (position.cost if position.qty else 0)
        assert journal.summary_book().qty(1, "AAA") == 2 * journal.summary_book(
            account="family"
        ).qty(1, "AAA")
        days = journal.daily_pnl()
        assert len(days) == len({(d, a) for d, a, _ in days})  # one point per day and algorithm
        assert sum(r for *_, r in days) == sum(
            r for *_, r in journal.daily_pnl(account="default")
        ) + sum(r for *_, r in journal.daily_pnl(account="family"))
        assert daily_points(journal, account="family")
        assert live_exits(journal, account="family") == live_exits(journal, account="default")
        assert journal.summary_accounts() == ["default", "family"]
        nobody = journal.summaries(account="nobody")  # the shared signals, nothing of its own
        assert ({s for _, s in nobody.counts}, nobody.pnl, nobody.styles) == ({"signal"}, {}, {})
        assert review_summaries(journal, account="nobody")[0] == []


def test_an_account_following_nothing_of_an_algorithm_lists_none_of_its_signals(
    journal_at: str | Path,
) -> None:
    clock = Clock()
    with open_journal(journal_at, clock=clock) as journal:
        only_algo_one = [op for op in VARIED if op[0] != "open" or op[1] == 1]
        play(AsAccount(journal, "default"), clock, VARIED)  # type: ignore[arg-type]
        play(AsAccount(journal, "family"), clock, only_algo_one)  # type: ignore[arg-type]
        check_accounts(journal)
        family = review_summaries(journal, account="family")[0]
        assert [a.algo_id for a in family] == [1]
        # its signals are the shared ones: every signal of algorithm 1, the default's plays too
        every = review_summaries(journal)[0]
        assert family[0].counts["signal"] == every[0].counts["signal"]
        assert family[0].counts["intent"] < every[0].counts["intent"]


def test_verify_names_an_accounts_disagreement(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    clock = Clock()
    with open_journal(path, clock=clock) as journal:
        play(AsAccount(journal, "default"), clock, VARIED)  # type: ignore[arg-type]
        play(AsAccount(journal, "family"), clock, VARIED)  # type: ignore[arg-type]
    conn = sqlite3.connect(path)
    with conn:  # the family's position moved to the default account: the totals still agree
        conn.execute("DELETE FROM sum_position WHERE account = 'default' AND symbol = 'BBB'")
        conn.execute("UPDATE sum_position SET account = 'default' WHERE symbol = 'BBB'")
        conn.execute("UPDATE sum_leg SET account = 'default' WHERE coid = 'family.tb-1'")
    conn.close()
    with open_journal(path, readonly=True) as reader:
        verdict = reader.verify_summaries()
    bad = {t.name: t.first for t in verdict.tables if not t.agrees}
    assert set(bad) == {"sum_position", "sum_leg"}
    assert any("('family', 2, 'BBB')" in line for line in bad["sum_position"])
    assert any("family.tb-1" in line for line in bad["sum_leg"])


def _as_before(journal_at: str | Path) -> None:
    """The journal as the tradebot before summaries per account left it: its version put
    back (v7 / PostgreSQL v6) and its summary tables emptied (the upgrade must build them)."""
    if isinstance(journal_at, Path):
        with sqlite3.connect(journal_at) as db:
            for name in ("sum_count", "sum_position", "sum_leg", "sum_algo_pnl"):
                db.execute(f"DELETE FROM {name}")
            db.execute("PRAGMA user_version = 7")
        db.close()
        return
    with psycopg.connect(journal_at, autocommit=True) as db:
        for name in ("sum_count", "sum_position", "sum_leg", "sum_algo_pnl"):
            db.execute(f"DELETE FROM {name}")
        db.execute("DELETE FROM tradebot_journal_schema WHERE version >= 7")


def test_the_upgrade_builds_the_accounts_summaries_in_one_transaction(
    journal_at: str | Path,
) -> None:
    clock = Clock()
    with open_journal(journal_at, clock=clock) as journal:
        play(AsAccount(journal, "default"), clock, VARIED)  # type: ignore[arg-type]
        play(AsAccount(journal, "family"), clock, VARIED[:8])  # type: ignore[arg-type]
        kept = {a: _figures(journal, a, from_rows=False) for a in (*ACCOUNTS, None)}
    _as_before(journal_at)
    # a failure half-way (a view where a summary table was: it cannot be dropped as a table)
    # leaves the journal as it was, and the next open, once it can, upgrades it
    blocker = "CREATE VIEW sum_skipped AS SELECT 1 AS reason"
    if isinstance(journal_at, Path):
        with sqlite3.connect(journal_at) as db:
            db.execute("DROP TABLE sum_skipped")
            db.execute(blocker)
        db.close()
    else:
        with psycopg.connect(journal_at, autocommit=True) as db:
            db.execute("DROP TABLE sum_skipped")
            db.execute(blocker)
    with pytest.raises((JournalError, sqlite3.Error, psycopg.Error)):
        open_journal(journal_at).close()
    # the version before summaries per account (later migrations are put back with it)
    before = 7 if isinstance(journal_at, Path) else 6
    if isinstance(journal_at, Path):
        with sqlite3.connect(journal_at) as db:
            assert db.execute("PRAGMA user_version").fetchone()[0] == before
            assert db.execute("SELECT count(*) FROM sum_count").fetchone()[0] == 0
            db.execute("DROP VIEW sum_skipped")
        db.close()
    else:
        with psycopg.connect(journal_at, autocommit=True) as db:
            row = db.execute("SELECT max(version) FROM tradebot_journal_schema").fetchone()
            assert row is not None and row[0] == before
            db.execute("DROP VIEW sum_skipped")
    with open_journal(journal_at) as journal:  # upgraded on open, from the rows
        check_accounts(journal)
        assert {a: _figures(journal, a, from_rows=False) for a in (*ACCOUNTS, None)} == kept


def test_one_accounts_latency_walks_the_index_alone(tmp_path: Path) -> None:
    """SQLite v10: the latency indexes carry the account, so one account's percentile reads no
    leg's row (a plan that reads the table is 20x slower on 300,000 legs)."""
    path = tmp_path / "journal.sqlite"
    with open_journal(path):
        pass
    conn = sqlite3.connect(path)
    try:
        for column in ("signal_us", "first_us", "last_us"):
            names = [r[2] for r in conn.execute(f"PRAGMA index_info(ix_sum_leg_{column})")]
            assert names == ["algo_id", column, "account"]
            plan = conn.execute(
                f"EXPLAIN QUERY PLAN SELECT {column} FROM sum_leg WHERE algo_id = 1"
                f" AND {column} IS NOT NULL AND account = 'main' ORDER BY {column} LIMIT 1"
            ).fetchall()
            assert "COVERING INDEX" in str(plan), plan
    finally:
        conn.close()
