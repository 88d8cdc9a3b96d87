"""``tradebot report``, ``positions`` and ``explain`` on a journal of two accounts (issue 22):
``--account NAME`` shows one; without it each account apart, never added together; an
unknown or malformed name refused (exit 2). The rows are written through the journal's
writers (tests/cli/two_accounts.py), on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.cli import two_accounts
from tests.journal.test_accounts import SIGNAL, _plan
from tradebot.cli.main import cli
from tradebot.journal import open_journal
from tradebot.simulators.alpaca.server import AlpacaServer
from tradebot.simulators.alpaca.state import Position


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def journal(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The two accounts' journal on each backend; the commands read it through the protocol."""
    return two_accounts.on_backend(request, tmp_path_factory, two_accounts.write)


@pytest.fixture(autouse=True)
def _no_config_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./config.yaml unless a test writes one


def invoke(journal: str, command: str, *args: str) -> Result:
    return CliRunner().invoke(cli, [command, "--journal", journal, *args])


def run(journal: str, command: str, *args: str) -> str:
    result = invoke(journal, command, *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def by_algo(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {r["algo_id"]: r for r in rows}


# -- report ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("source", [(), ("--from-rows",)])
def test_report_shows_each_account_apart(journal: str, source: tuple[str, ...]) -> None:
    every = json.loads(run(journal, "report", "--format", "json", *source))
    assert sorted(every) == ["family", "main"]  # keyed by account, never one added-up list
    main, family = by_algo(every["main"]), by_algo(every["family"])
    assert sorted(main) == [16] and sorted(family) == [16, 17]
    # each account's sells realise against its own cost: 100 and -44 (added up: 56.5)
    assert (main[16]["realised_pnl"], family[16]["realised_pnl"]) == ("100", "-44")
    assert (main[16]["fills"], family[16]["fills"], family[17]["rejections"]) == (2, 2, 1)
    assert main[16]["signals"] == family[16]["signals"] == 2  # the signals they share
    one = json.loads(run(journal, "report", "--format", "json", "--account", "family", *source))
    assert one == every["family"]  # one account: today's shape, its own figures
    rows = list(csv.DictReader(io.StringIO(run(journal, "report", "--format", "csv", *source))))
    assert [(r["account"], r["algo_id"], r["realised_pnl"]) for r in rows] == [
        ("family", "16", "-44"),
        ("family", "17", "0"),
        ("main", "16", "100"),
    ]
    text = run(journal, "report", *source)
    assert text.index("== account family ==") < text.index("== account main ==")


def test_report_execution_and_latency_per_account(journal: str) -> None:
    for args in (("--latency",), ("--latency", "--since", "2026-11-01")):
        found = json.loads(run(journal, "report", "--format", "json", *args))
        legs = {
            a: {r["algo_id"]: r["signal_to_order_n"] for r in d["rows"]} for a, d in found.items()
        }
        assert legs == {"family": {16: 2, 17: 1}, "main": {16: 2}}, args
        main = json.loads(run(journal, "report", "--format", "json", "--account", "main", *args))
        assert {r["algo_id"]: r["signal_to_order_n"] for r in main["rows"]} == {16: 2}
    styles = json.loads(run(journal, "report", "--format", "json", "--execution"))
    legs = {a: [(r["algo_id"], r["legs"]) for r in d["rows"]] for a, d in styles.items()}
    assert legs == {"family": [(16, 2), (17, 1)], "main": [(16, 2)]}


def test_an_unknown_or_malformed_account_is_refused(journal: str, tmp_path: Path) -> None:
    for command in ("report", "positions", "explain"):
        extra = ("1",) if command == "explain" else ()
        unknown = invoke(journal, command, *extra, "--account", "nobody")
        assert unknown.exit_code == 2, unknown.output
        assert "unknown account 'nobody': the journal has family, main" in unknown.output
        bad = invoke(journal, command, *extra, "--account", "Main.X")
        assert bad.exit_code == 2 and "lower case" in bad.output, bad.output
    # the config's accounts are named too, and one only the config has is valid (no rows yet)
    (tmp_path / "config.yaml").write_text(
        two_accounts.config_text().replace(
            "  family:",
            "  spare:\n    broker: {name: sim}\n"
            "    algorithms: {16: {strategy: fixed_shares, params: {shares: 1}}}\n  family:",
        )
    )
    unknown = invoke(journal, "report", "--account", "nobody")
    assert "the config has family, main, spare; the journal has family, main" in unknown.output
    assert json.loads(run(journal, "report", "--format", "json", "--account", "spare")) == []


# -- positions ------------------------------------------------------------------------------------


def test_positions_of_two_accounts_in_one_symbol_are_two_positions(journal: str) -> None:
    found = json.loads(run(journal, "positions", "--no-broker", "--format", "json"))
    assert [(r["account"], r["algo"], r["symbol"], r["qty"]) for r in found["positions"]] == [
        ("family", "16", "AAPL", "6"),
        ("family", "NET", "AAPL", "6"),
        ("main", "16", "AAPL", "20"),
        ("main", "NET", "AAPL", "20"),
    ]
    assert found["broker"] == {"family": "broker not queried", "main": "broker not queried"}
    one = json.loads(
        run(journal, "positions", "--no-broker", "--format", "json", "--account", "main")
    )
    assert [(r["account"], r["qty"]) for r in one["positions"]] == [("main", "20"), ("main", "20")]
    lines = run(journal, "positions", "--no-broker").splitlines()
    assert lines[0].split() == ["ACCOUNT", "ALGO", "SYMBOL", "QTY"]
    assert [line.split() for line in lines[1:]] == [
        ["family", "16", "AAPL", "6"],
        ["family", "NET", "AAPL", "6"],
        ["main", "16", "AAPL", "20"],
        ["main", "NET", "AAPL", "20"],
    ]


def test_positions_beside_each_accounts_own_broker_and_a_drift_names_its_account(
    journal: str, tmp_path: Path
) -> None:
    with (
        AlpacaServer(key="main-key", secret="main-secret") as main,
        AlpacaServer(key="family-key", secret="family-secret") as family,
    ):
        with main.lock:
            main.account.positions["AAPL"] = Position(qty=Decimal(20))  # as the journal
        with family.lock:
            family.account.positions["AAPL"] = Position(qty=Decimal(9))  # 3 more than ours
        urls = {"main": (main.url, main.stream_url), "family": (family.url, family.stream_url)}
        config = tmp_path / "config.yaml"
        config.write_text(two_accounts.config_text(urls))
        result = CliRunner().invoke(
            cli, ["positions", "--journal", journal, "--config", str(config), "--format", "json"]
        )
        assert result.exit_code == 0, result.output
        found = json.loads(result.stdout)
        nets = {
            r["account"]: (r["broker"], r["drift"])
            for r in found["positions"]
            if r["algo"] == "NET"
        }
        assert nets == {"family": ("9", "3"), "main": ("20", "")}
        assert found["broker"] == {"family": "broker: alpaca", "main": "broker: alpaca"}
        text = CliRunner().invoke(
            cli, ["positions", "--journal", journal, "--config", str(config), "--account", "family"]
        )
        assert text.exit_code == 0, text.output
        assert text.stdout.splitlines()[-1].split() == ["family", "NET", "AAPL", "6", "9", "3"]
        assert "(account family: broker: alpaca)" in text.stderr


# -- explain --------------------------------------------------------------------------------------


def test_explain_names_each_rows_account_and_keeps_one(journal: str) -> None:
    rejected = two_accounts.REJECTED
    lines = run(journal, "explain", "1").splitlines()
    heads = [line for line in lines if line.startswith("#")]
    assert [h.split()[2] for h in heads] == [
        "SIGNAL",
        "LEG",
        "PLAN",
        "INTENT",
        "PLAN",
        "INTENT",
        "FILLED",
        "FILLED",
    ]
    whose = [h.split("account ")[1].split()[0] if "account " in h else "" for h in heads]
    assert whose == ["", "", "main", "main", "family", "family", "main", "family"]
    main = json.loads(run(journal, "explain", "1", "--format", "json", "--account", "main"))
    assert [(r["status"], r["account"]) for r in main] == [
        ("signal", ""),
        ("leg", ""),
        ("plan", "main"),
        ("intent", "main"),
        ("filled", "main"),
    ]
    story = json.loads(run(journal, "explain", rejected, "--format", "json", "--account", "family"))
    assert story[-1]["status"] == "rejected" and story[-1]["account"] == "family"
    other = invoke(journal, "explain", rejected, "--account", "main")
    assert other.exit_code == 1
    assert f"nothing of account main in the journal matches {rejected!r}" in other.output
    assert "family's" in other.output


def test_a_config_of_several_accounts_and_a_journal_of_one(tmp_path: Path) -> None:
    """Before the accounts trade (a journal of the default account's rows only): as before,
    the broker not asked (which one would it be?), never a traceback."""
    journal = tmp_path / "j.sqlite"
    with open_journal(journal) as store:
        store.record_signal_and_plan(SIGNAL, _plan("default", "2"))
    (tmp_path / "config.yaml").write_text(two_accounts.config_text())
    result = CliRunner().invoke(cli, ["positions", "--journal", str(journal)])
    assert result.exit_code == 0, result.output
    assert "the config has several accounts (pass --account)" in result.stderr
