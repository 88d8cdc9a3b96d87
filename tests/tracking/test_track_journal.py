"""``tradebot track`` over real journals (SQLite, written through the journal's own API) and the
real CLI: on generated histories the parts add up to the gap to the cent, and the chain's last
ledger is the account's P&L as the review computes it."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings

from tests.tracking.history import ALGO, OPS, Clock, play
from tradebot.cli.main import cli
from tradebot.config.loader import load_config
from tradebot.journal import open_journal
from tradebot.tracking.journal_facts import read_period
from tradebot.tracking.track import HISTORY_NOTE, track

CONFIG = f"""\
journal:
  path: journal.sqlite
algorithms:
  {ALGO}:
    strategy: allocation
    params: {{pct: 10, max_positions: 4}}
"""
EQUITY = Decimal(100_000)


@pytest.fixture(autouse=True)
def _no_alphahub_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI reads AlphaHub's history when it can: without credentials it cannot (and says
    so), so nothing here leaves the machine."""
    monkeypatch.delenv("ALPHAHUB_EMAIL", raising=False)
    monkeypatch.delenv("ALPHAHUB_PASSWORD", raising=False)


def _config(folder: Path, text: str = CONFIG) -> Path:
    path = folder / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _write(folder: Path, ops: Sequence[tuple[Any, ...]]) -> Path:
    path = folder / "journal.sqlite"
    path.unlink(missing_ok=True)
    clock = Clock()
    with open_journal(path, clock=clock) as journal:
        play(journal, clock, ops)
    return path


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(OPS)
def test_generated_histories_reconcile_to_the_cent(
    tmp_path: Path, ops: list[tuple[Any, ...]]
) -> None:
    path = _write(tmp_path, ops)
    config = load_config(_config(tmp_path), env={})
    with open_journal(path, readonly=True) as journal:
        tracked = track(journal, config, algo_ids=[ALGO], equity=EQUITY)
    (t,) = tracked
    d = t.decomposition
    assert sum((p.money for p in d.parts), Decimal(0)) == d.gap
    assert d.gap == d.algorithm.pnl - d.account.pnl
    # the chain's last ledger against the review's own P&L (summaries, average cost)
    assert t.reconciled, (d.account, t.reviewed)


SCENE: list[tuple[Any, ...]] = [
    # a winner bought at market, a bit above the signal, 61 shares of an ideal 62.5
    ("open", "AAA", "buy", Decimal(80), "market", 61, Decimal(1), Decimal("80.10")),
    # a limit partly filled, then a skipped open and a missed one (backfill, too old)
    ("open", "BBB", "sell", Decimal(25), "limit", 100, Decimal("0.5"), Decimal(25)),
    ("config",),  # the allocation changed mid-period
    ("gap",),  # the listener lost its connection for a while
    ("open", "CCC", "buy", Decimal(40), "skip", 3, Decimal(1), Decimal(40)),  # risk_limit
    ("open", "AAA", "buy", Decimal(82), "missed", 1, Decimal(1), Decimal(82)),
    # the stop sells AAA before the algorithm's close, which is skipped as not held
    ("exit", "AAA", False, Decimal(79)),
    ("close", "AAA", "sell", Decimal(90), "market", 1, Decimal(1), Decimal(90)),
    # a chased limit and its remainder
    ("open", "CCC", "buy", Decimal(30), "chased", 20, Decimal(1), Decimal("30.2")),
    # a signal that arrived while the algorithm was not in the config (skipped algo_unknown):
    # today's rules size it, 10000 / 4 / 70 = 35.71 shares, marked at AAA's last price, 79
    ("open", "AAA", "buy", Decimal(70), "skip", 2, Decimal(1), Decimal(70)),
]


def _scene(folder: Path) -> Path:
    _write(folder, SCENE)
    return _config(folder)


def _json(config: Path, *args: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(cli, ["track", "--config", str(config), "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def test_the_cli_gives_each_part_and_they_sum_to_the_gap(tmp_path: Path) -> None:
    (row,) = _json(_scene(tmp_path), "--algo", str(ALGO))
    assert row["algo_id"] == ALGO
    parts = {k: Decimal(v) for k, v in row["parts"].items()}
    gap = Decimal(row["gap"])
    assert sum(parts.values(), Decimal(0)) == gap
    assert gap == Decimal(row["algorithm_pnl"]) - Decimal(row["account_pnl"])
    assert row["reconciled"] is True
    assert row["account_pnl"] == row["account_pnl_by_review"]
    # each part is there, with the sign a person expects
    assert parts["missed"] != 0
    assert parts["skipped:risk_limit"] != 0
    assert parts["exits"] > 0  # the stop sold at 79; the algorithm closed at 90
    assert parts["execution:market"] != 0
    # BBB's limit sold half at the signal's price; CCC's chased limit bought 10 at 30.20 (20
    # cents above its signal), its remainder 10 at 30.25: marked at 30.25
    assert parts["execution:limit"] == Decimal("2.00")
    assert parts["execution:chased_remainder"] == Decimal("2.50")
    assert parts["skipped:risk_limit"] < 0  # CCC fell from 40: the skip saved money
    assert parts["skipped:algo_unknown"] == Decimal("321.43")
    assert parts["fees"] == 0
    assert row["allocation"] == "10000.00"
    notes = " ".join(row["notes"])
    assert "journal's legs only: AlphaHub's history not read: no AlphaHub credentials" in notes
    assert row["history"]["read"] is False
    assert "changed during the period" in notes
    assert "1 listener gaps in the period" in notes
    assert "fees are 0" in notes


def test_a_symbol_with_no_mark_is_said_never_guessed(tmp_path: Path) -> None:
    _write(tmp_path, [("open", "CCC", "buy", Decimal(40), "skip", 1, Decimal(1), Decimal(40))])
    (row,) = _json(_config(tmp_path))
    assert row["unmarked"] == ["CCC"]
    assert "no mark for CCC" in " ".join(row["notes"])
    assert row["algorithm_pnl"] == "0.00"  # not valued: realised only


def test_an_algorithm_not_in_the_config_is_said(tmp_path: Path) -> None:
    _write(tmp_path, SCENE)
    config = _config(tmp_path, "journal:\n  path: journal.sqlite\n")
    (row,) = _json(config)
    assert "not in the config" in " ".join(row["notes"])
    assert row["reconciled"] is True
    assert sum(map(Decimal, row["parts"].values()), Decimal(0)) == Decimal(row["gap"])


def test_text_and_csv(tmp_path: Path) -> None:
    config = _scene(tmp_path)
    text = CliRunner().invoke(cli, ["track", "--config", str(config)])
    assert text.exit_code == 0, text.output
    assert "algorithm's result" in text.output
    assert "parts add up to the gap" in text.output
    assert "journal's legs only" in text.output
    out = CliRunner().invoke(cli, ["track", "--config", str(config), "--format", "csv"])
    lines = out.output.splitlines()
    assert lines[0] == "algo_id,figure,money,bps"
    rows = {line.split(",")[1]: Decimal(line.split(",")[2]) for line in lines[1:]}
    parts = sum((v for k, v in rows.items() if ":" in k or k in PLAIN_PARTS), Decimal(0))
    assert parts == rows["gap"]


PLAIN_PARTS = {"missed", "sizing", "exits", "unattributed", "fees"}


def test_a_window_counts_only_what_was_realised_in_it(tmp_path: Path) -> None:
    config = _scene(tmp_path)
    # AAA's stop (61 at 79, bought at 80.10) realised -67.10 at 14:40, before the window
    (row,) = _json(config, "--since", "2026-03-02T14:41:00")
    assert row["reconciled"] is True
    assert sum(map(Decimal, row["parts"].values()), Decimal(0)) == Decimal(row["gap"])
    (whole,) = _json(config)
    assert Decimal(whole["account_pnl"]) - Decimal(row["account_pnl"]) == Decimal("-67.10")
    # before 14:41: CCC's orders are not there yet, so neither is their mark
    (early,) = _json(config, "--until", "2026-03-02T14:41:00")
    assert early["reconciled"] is True
    assert "CCC" in early["unmarked"]


def test_help_explains_each_figure() -> None:
    out = CliRunner().invoke(cli, ["track", "--help"]).output
    for word in (
        "algorithm's result",
        "account's result",
        "missed",
        "skipped:REASON",
        "sizing",
        "execution:STYLE",
        "exits",
        "fees",
        "journal's legs only",
    ):
        assert word in out


@pytest.mark.parametrize("bad", ["-5", "lots"])
def test_a_bad_equity_is_refused(tmp_path: Path, bad: str) -> None:
    result = CliRunner().invoke(cli, ["track", "--config", str(_scene(tmp_path)), "--equity", bad])
    assert result.exit_code == 2


def test_the_mark_is_the_latest_reference_or_fill_price(tmp_path: Path) -> None:
    _scene(tmp_path)
    with open_journal(tmp_path / "journal.sqlite", readonly=True) as journal:
        period = read_period(journal, ALGO, since=None, until=None)
    # AAA: intent at 80, filled 80.10, stopped out at 79; CCC: limit at 30, its fill 30.20,
    # its remainder's 30.25
    assert period.marks == {"AAA": Decimal(79), "BBB": Decimal(25), "CCC": Decimal("30.25")}


def test_damaged_rows_are_left_out_and_counted_never_fatal(tmp_path: Path) -> None:
    """Rows edited in by hand: a leg priced ``abc``, a skip whose data is not JSON, and one
    without a reason. No write kept the tracking summary for them: ``journal verify`` says so,
    and once the summaries are built again from the rows (as a migration builds them), track
    counts them."""
    config = _scene(tmp_path)
    (before,) = _json(config)
    conn = sqlite3.connect(tmp_path / "journal.sqlite")
    with conn:
        for status, price, data in (
            ("leg", "abc", "{}"),
            ("skipped", None, "{not json"),
            ("skipped", None, '{"detail": "no reason"}'),
        ):
            conn.execute(
                "INSERT INTO entries (ts, status, algo_id, symbol, leg, side, price, detail, data)"
                " VALUES (1, ?, ?, 'AAA', ?, 'buy', ?, '', ?)",
                (status, ALGO, f"{ALGO}:open:AAA:buy:{data}", price, data),
            )
    conn.close()
    journal = str(tmp_path / "journal.sqlite")
    verified = CliRunner().invoke(cli, ["journal", "verify", "--journal", journal])
    assert verified.exit_code == 1 and "sum_track_leg" in verified.output, verified.output
    with open_journal(tmp_path / "journal.sqlite") as rebuilt:
        rebuilt.rebuild_summaries()
    verified = CliRunner().invoke(cli, ["journal", "verify", "--journal", journal])
    assert verified.exit_code == 0, verified.output
    (row,) = _json(config)
    assert "3 damaged leg or skip rows left out" in row["notes"]
    assert row["parts"] == before["parts"] and row["reconciled"] is True


def test_both_backends_give_the_same_figures(journal_at: str | Path, tmp_path: Path) -> None:
    """SQLite and PostgreSQL: the same writes, the same result, reconciled."""
    clock = Clock()
    with open_journal(journal_at, clock=clock) as journal:
        play(journal, clock, SCENE)
    config = load_config(_config(tmp_path), env={})
    with open_journal(journal_at, readonly=True) as journal:
        (t,) = track(journal, config, algo_ids=[ALGO], equity=EQUITY)
    assert t.reconciled
    assert HISTORY_NOTE in t.notes and t.history is None  # no history asked for: said
    assert t.decomposition.algorithm.pnl - t.decomposition.account.pnl == t.decomposition.gap
    (row,) = _json(_scene(tmp_path / "sqlite"))
    assert {p.name: p.money for p in t.decomposition.parts} == {
        k: Decimal(v) for k, v in row["parts"].items()
    }
