"""``tradebot track`` per account: each account's result against the same legs, by its own
rules and its own fills (tests/cli/two_accounts.py: main bought 30 AAPL at 100 and sold 10 at
110, family bought 10 at 101 and sold 4 at 90; the last price, 90, marks what they hold), never
the accounts added together, and the accounts side by side."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.cli import two_accounts
from tradebot.cli.main import cli

D = Decimal


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def journal(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The two accounts' journal on each backend (read through the journal's protocol)."""
    return two_accounts.on_backend(request, tmp_path_factory, two_accounts.write)


def _config(tmp_path: Path, main_shares: int = 1) -> Path:
    text = two_accounts.config_text()
    # main sizes algorithm 16 by three shares, family by one: each account's own rules
    text = text.replace(
        "16: {strategy: fixed_shares, params: {shares: 1}}",
        f"16: {{strategy: fixed_shares, params: {{shares: {main_shares}}}}}",
        1,
    )
    # and main follows algorithm 16 alone (it never ordered 17): 17 is not main's to track
    text = text.replace("      17: {strategy: fixed_shares, params: {shares: 1}}\n", "", 1)
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _track(tmp_path: Path, journal: str, *args: str) -> tuple[int, str]:
    config = _config(tmp_path, 3)
    result = CliRunner().invoke(
        cli, ["track", "--config", str(config), "--journal", str(journal), "--offline", *args]
    )
    return result.exit_code, result.output


def _figures(out: str) -> dict[tuple[str, int], dict[str, Any]]:
    return {(t["account"], t["algo_id"]): t for t in json.loads(out)}


def test_each_account_is_tracked_apart_by_its_own_rules_and_fills(
    tmp_path: Path, journal: str
) -> None:
    code, out = _track(tmp_path, journal, "--format", "json")
    assert code == 0, out
    found = _figures(out)
    assert set(found) == {("main", 16), ("family", 16), ("family", 17)}
    main, family = found["main", 16], found["family", 16]
    # the account's result: its own fills alone (realised, plus what it holds at 90)
    assert D(main["account_pnl"]) == 10 * (110 - 100) + 20 * (90 - 100)  # -100
    assert D(family["account_pnl"]) == 4 * (90 - 101) + 6 * (90 - 101)  # -110
    # the algorithm's result: the same legs, sized by each account's rules (3 shares, 1 share)
    assert D(main["algorithm_pnl"]) == 3 * (110 - 100)
    assert D(family["algorithm_pnl"]) == 1 * (110 - 100)
    for t in found.values():
        assert t["reconciled"], t
        assert sum(D(v) for v in t["parts"].values()) == D(t["gap"])
    # a window is read by the review's rule over the account's own fills: the same here
    code, out = _track(tmp_path, journal, "--since", "2026-11-01", "--format", "json")
    assert code == 0, out
    window = _figures(out)
    assert [window[k]["account_pnl"] for k in found] == [found[k]["account_pnl"] for k in found]
    assert all(t["reconciled"] for t in window.values())
    assert "skipped:undecided" not in found["family", 17]["parts"]
    # asked for, main's 17: main never decided the MSFT leg (family did): undecided
    code, out = _track(tmp_path, journal, "--algo", "17", "--account", "main", "--format", "json")
    assert code == 0, out
    assert "skipped:undecided" in _figures(out)["main", 17]["parts"]


def test_one_account_asked_for_and_the_accounts_side_by_side(tmp_path: Path, journal: str) -> None:
    code, out = _track(tmp_path, journal, "--account", "family", "--format", "json")
    assert code == 0, out
    assert set(_figures(out)) == {("family", 16), ("family", 17)}
    code, out = _track(tmp_path, journal)
    assert code == 0, out
    assert "account main: algorithm 16" in out and "account family: algorithm 16" in out
    beside = out[out.index("accounts side by side") :].splitlines()
    assert beside[0].split()[-2:] == ["main", "family"]
    results = {line.split("  ")[1].strip(): line.split()[-2:] for line in beside[2:5]}
    assert results["account's result"] == ["-100.00", "-110.00"]
    assert results["algorithm's result"] == ["+30.00", "+10.00"]
    seventeen = beside[beside.index("algorithm 17") + 1 :][:3]
    assert [line.split()[-2] for line in seventeen] == ["-", "-", "-"]  # main does not follow
    assert beside[-1] == "(-: the account does not follow the algorithm)"
    code, out = _track(tmp_path, journal, "--format", "csv")
    assert code == 0 and out.splitlines()[0] == "account,algo_id,figure,money,bps"


def test_an_unknown_or_malformed_account_is_refused(tmp_path: Path, journal: str) -> None:
    code, out = _track(tmp_path, journal, "--account", "nobody")
    assert code == 2 and "unknown account 'nobody'" in out and "family, main" in out
    code, out = _track(tmp_path, journal, "--account", "Bad Name")
    assert code == 2 and "--account" in out


def test_an_algorithm_an_account_has_orders_of_is_tracked_after_it_stopped_following_it(
    tmp_path: Path, journal: str
) -> None:
    """family's config no longer has 17, but family ordered it: its result is still family's."""
    text = _config(tmp_path, 3).read_text(encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(text.replace("      17: {strategy: fixed_shares, params: {shares: 1}}\n", ""))
    args = ["--journal", str(journal), "--offline", "--account", "family", "--format", "json"]
    result = CliRunner().invoke(cli, ["track", "--config", str(config), *args])
    assert result.exit_code == 0, result.output
    assert set(_figures(result.output)) == {("family", 16), ("family", 17)}
