"""`tradebot demo --accounts`: two accounts of one bot, each at its own local Alpaca server with
its own allocations, trade the demo's signals; the demo ends with each account's result, which
agrees with the journal."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tests.e2e.harness import entries
from tradebot.cli.main import main
from tradebot.journal.records import Entry, Status

NAMES = ("main", "family")


def _intents(journal: Path, account: str) -> list[Entry]:
    rows = entries(journal, statuses=(Status.INTENT,), accounts=(account,))
    return [e for e in rows if e.data["role"] != "exit"]


def _result(out: str, account: str) -> dict[str, str]:
    """The demo's result block of ``account``: label -> value."""
    block = out.split("== each account's result", 1)[1].split(f"account {account}: ", 1)[1]
    lines = block.splitlines()[1:5]
    return {line.split(None, 1)[0]: line.split(None, 1)[1].strip() for line in lines}


def test_the_accounts_demo_trades_the_same_signals_at_each_accounts_sizes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "demo"
    assert main(["demo", "--accounts", "--dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "== demo step 12" in out and "== each account's result" in out
    # the report, each account apart, before the results
    report = out.split("== report (tradebot report)", 1)[1].split("== each account's result")[0]
    assert "== account main ==" in report and "== account family ==" in report
    # each account at its own broker account (the banner of each names it)
    assert "account PA00DEMOMAIN: equity" in out and "account PA00DEMOFAMILY: equity" in out
    journal = folder / "journal" / "tradebot.sqlite"

    main_intents, family_intents = (_intents(journal, name) for name in NAMES)
    # the one-account demo's 13 orders, at each account (tests/e2e/test_demo.py)
    assert len(main_intents) == len(family_intents) == 13
    legs = [[(e.algo_id, e.symbol, str(e.side)) for e in rows] for rows in (main_intents,)]
    assert legs[0] == [(e.algo_id, e.symbol, str(e.side)) for e in family_intents]
    # different allocations: family's every order is smaller than main's for the same leg
    for ours, theirs in zip(main_intents, family_intents, strict=True):
        assert ours.client_order_id and ours.client_order_id.startswith("main.")
        assert theirs.client_order_id and theirs.client_order_id.startswith("family.")
        assert Decimal(0) < Decimal(theirs.qty or 0) < Decimal(ours.qty or 0), (ours, theirs)
    for name in NAMES:
        # each account's NVDA stop-loss fired at its own broker; its close was skipped, naming it
        (nvda_close,) = entries(
            journal, symbols=("NVDA",), statuses=(Status.SKIPPED,), accounts=(name,)
        )
        assert nvda_close.data["reason"] == "not_held" and "-sl" in nvda_close.detail
        filled = entries(journal, statuses=(Status.FILLED,), accounts=(name,))
        intended = {e.client_order_id for e in _intents(journal, name)}
        assert intended <= {e.client_order_id for e in filled}
        result = _result(out, name)
        assert result["orders"] == f"filled  {len(filled)}", result
        assert result["equity"].endswith("on 100,000.00)"), result
    # the results differ as the allocations do: main holds more of what both hold
    held = {name: _result(out, name)["positions"] for name in NAMES}
    assert held["main"] != held["family"] and held["main"] != "none", held
    # it ends with the accounts side by side against the algorithms: family's allocations are
    # half main's, so the algorithm's result by family's rules is half main's (fractional)
    beside = out.split("== tracking: each account against the algorithms", 1)[1].splitlines()
    assert beside[1].split() == ["accounts", "side", "by", "side", "main", "family"]
    at = beside.index("algorithm 16")
    main_16, family_16 = (Decimal(v.replace(",", "")) for v in beside[at + 1].split()[-2:])
    assert main_16 != 0 and abs(main_16 - 2 * family_16) <= Decimal("0.02"), beside[at + 1]
    assert "does not follow" not in out  # both follow every algorithm: no '-' to explain


def test_the_accounts_demo_refuses_the_sim_broker(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "demo"
    assert main(["demo", "--accounts", "--broker", "sim", "--dir", str(folder)]) == 2
    assert "--accounts runs each account at its own local Alpaca server" in capsys.readouterr().err
    assert not folder.exists()
