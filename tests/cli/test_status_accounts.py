"""``tradebot status`` per account (issue 22): a config of several accounts lists each one's
mode, broker, the kill switch it obeys, today's orders and fills and newest row (the rows
written through the journal's writers: tests/cli/two_accounts.py); ``--account NAME`` one;
an unknown name refused naming the config's accounts; a config of one account unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli import two_accounts
from tests.cli.test_status_cmd import run, status_file, write
from tradebot.cli.main import main


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    text = two_accounts.config_text()
    path.write_text(
        text + "journal: {path: j.sqlite}\nrisk: {kill_switch_file: tradebot.halt}\n",
        encoding="utf-8",
    )
    two_accounts.write(tmp_path / "j.sqlite")
    return path


def _lines(out: str) -> dict[str, str]:
    at = out.splitlines().index("accounts:")
    return {line.split()[0]: line for line in out.splitlines()[at + 1 :] if line.startswith("  ")}


def test_each_account_with_its_kill_switch_and_todays_rows(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["halt", "--account", "family", "--reduce-only", "--config", str(config)]) == 0
    capsys.readouterr()
    write(config)
    code, out, err = run(capsys, config)
    assert code == 0, err
    assert out.startswith("tradebot running | PAPER")
    lines = _lines(out)
    assert sorted(lines) == ["family", "main"]
    assert "kill switch off;" in lines["main"]
    assert "kill switch reduce_only (" in lines["family"]
    assert "today 2 orders, 2 fills" in lines["main"]
    assert "today 3 orders, 2 fills" in lines["family"]  # and its rejected MSFT order
    assert " rejected at " in lines["family"] and " filled at " in lines["main"]
    code, out, _ = run(capsys, config, "--json")
    found = {a["account"]: a for a in json.loads(out)["accounts"]}
    assert (found["family"]["kill_switch"], found["main"]["kill_switch"]) == ("reduce_only", "off")
    assert (found["family"]["orders_today"], found["family"]["fills_today"]) == (3, 2)
    assert (found["main"]["mode"], found["main"]["broker"]) == ("paper", "sim")
    # a global halt: every account obeys it
    assert main(["halt", "--config", str(config)]) == 0
    capsys.readouterr()
    lines = _lines(run(capsys, config)[1])
    assert all("kill switch halt (" in line for line in lines.values())


def test_one_account_and_an_unknown_one(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(config)
    code, out, _ = run(capsys, config, "--account", "main")
    assert code == 0 and sorted(_lines(out)) == ["main"]
    code, out, err = run(capsys, config, "--account", "nobody")
    assert code == 2 and "unknown account 'nobody': the config has family, main" in err
    code, out, err = run(capsys, config, "--account", "Fam.ily")
    assert code == 2 and "lower case" in err


def test_without_a_status_file_the_accounts_are_still_shown(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not status_file(config).exists()
    code, out, err = run(capsys, config)
    assert code == 1 and "status" in err
    assert sorted(_lines(out)) == ["family", "main"]


def test_a_config_of_one_account_reads_as_before(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("journal:\n  path: j.sqlite\n", encoding="utf-8")
    write(config)
    code, out, _ = run(capsys, config)
    assert code == 0 and "accounts:" not in out
    code, out, _ = run(capsys, config, "--json")
    assert "accounts" not in json.loads(out)
