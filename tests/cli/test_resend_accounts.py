"""``tradebot resend`` of an account's order (issue 22): the new order is the original's
account's (its client order id names it), sent through that account's own broker (two local
Alpaca servers: the other account's never hears of it), its rows naming the account; refused
when the config no longer has the account, or --account names another."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.cli import two_accounts
from tradebot.cli.main import cli, main
from tradebot.journal import EntryFilter, Status, open_journal
from tradebot.simulators.alpaca.server import AlpacaServer


def _resend(config: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli, ["resend", two_accounts.REJECTED, "--config", str(config), "--yes", *args]
    )


def _orders(server: AlpacaServer) -> list[str]:
    with server.lock:
        return [o.client_order_id for o in server.account.orders.values()]


def test_a_resend_goes_through_its_accounts_own_broker(tmp_path: Path) -> None:
    journal = tmp_path / "journal" / "tradebot.sqlite"
    journal.parent.mkdir()
    two_accounts.write(journal)
    with (
        AlpacaServer(key="main-key", secret="main-secret") as main_server,
        AlpacaServer(key="family-key", secret="family-secret") as family_server,
    ):
        config = tmp_path / "config.yaml"
        urls = {
            "main": (main_server.url, main_server.stream_url),
            "family": (family_server.url, family_server.stream_url),
        }
        config.write_text(two_accounts.config_text(urls))
        result = _resend(config, "--wait", "5")
        assert result.exit_code == 0, result.output
        again = f"{two_accounts.REJECTED}-a1"
        assert f"as {again} (account family, paper)" in result.output
        assert f"{again}: filled" in result.output
        assert _orders(family_server) == [again]
        assert _orders(main_server) == []  # the other account's broker never heard of it
    with open_journal(journal, readonly=True) as store:
        rows = store.entries(EntryFilter(client_order_ids=(again,), newest_first=False))
        assert (rows[0].status, rows[0].account) == (Status.INTENT, "family")
        assert {r.account for r in rows} == {"family"}
        assert any(r.status is Status.FILLED for r in rows)
        # sized and booked against the family's positions, never the main account's
        assert store.rebuild_book(account="family").qty(17, "MSFT") == 5
        assert store.rebuild_book(account="main").qty(17, "MSFT") == 0


def test_a_resend_of_an_account_gone_from_the_config_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = tmp_path / "journal" / "tradebot.sqlite"
    journal.parent.mkdir()
    two_accounts.write(journal)
    config = tmp_path / "config.yaml"
    only_main = two_accounts.config_text().split("  family:")[0]
    config.write_text(only_main)
    args = ["resend", two_accounts.REJECTED, "--config", str(config), "--yes"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"{two_accounts.REJECTED} is account family's order" in err
    assert "the config has no account family (it has main)" in err
    # --account must be the order's own
    config.write_text(two_accounts.config_text())
    assert main([*args, "--account", "main"]) == 2
    assert "is account family's order, not main's" in capsys.readouterr().err
    # the account's own mode: live only with --live, --live refused for a paper account
    assert main([*args, "--live"]) == 2
    assert "--live, but account family is in mode: paper" in capsys.readouterr().err
    live = "  family:\n    mode: live\n    live_trading_acknowledged: true\n"
    config.write_text(two_accounts.config_text().replace("  family:\n", live))
    assert main(args) == 2
    assert "account family is in mode: live: pass --live" in capsys.readouterr().err
    bad = _resend(config, "--account", "Fam.ily")
    assert bad.exit_code == 2 and "lower case" in bad.output
    with open_journal(journal, readonly=True) as store:  # nothing was written nor sent
        again = f"{two_accounts.REJECTED}-a1"
        assert store.entries(EntryFilter(client_order_ids=(again,))) == []
