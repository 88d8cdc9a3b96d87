"""``tradebot journal --account NAME``: one account's rows and the shared ones; the table
shows the account column only once the journal has an account other than ``default``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from click.testing import CliRunner

from tests.journal.test_accounts import SIGNAL, _plan
from tradebot.cli.main import cli
from tradebot.journal import open_journal


def _run(path: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["journal", "--journal", str(path), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_account_filter_and_column(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with open_journal(path) as journal:
        signal_id = journal.record_signal(SIGNAL)
        journal.record_plan(signal_id, _plan("default", "2"))
    header = _run(path).lower().splitlines()[0].split()
    assert "account" not in header  # one account: the table reads as it always did
    with open_journal(path) as journal:
        journal.record_plan(signal_id, _plan("family", "1"), account="family")
    header = _run(path).lower().splitlines()[0].split()
    assert header[:4] == ["id", "at", "status", "account"]
    family = json.loads(_run(path, "--account", "family", "--format", "json"))
    assert {r["account"] for r in family} == {"family", ""}
    assert {r["status"] for r in family if r["account"] == ""} == {"signal", "leg"}
    intents = json.loads(
        _run(path, "--account", "family", "--status", "intent", "--format", "json")
    )
    assert [r["client_order_id"][:7] for r in intents] == ["family."]
    rows = list(csv.DictReader(io.StringIO(_run(path, "--format", "csv"))))
    assert sorted({r["account"] for r in rows}) == ["", "default", "family"]
    assert "account" in _run(path, "--account", "family").lower().splitlines()[0].split()
    refused = CliRunner().invoke(cli, ["journal", "--journal", str(path), "--account", "Fam.ily"])
    assert refused.exit_code == 2 and "account name" in refused.output
