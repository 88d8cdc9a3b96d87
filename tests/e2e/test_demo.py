"""`tradebot demo`: the README's first command. It must play the whole scripted session offline
and leave a journal that the review commands read."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from tests.e2e.harness import entries
from tradebot.cli.main import main
from tradebot.journal.records import Status


@pytest.mark.parametrize("broker", ["alpaca", "sim"])
def test_the_demo_plays_its_session_and_leaves_a_reviewable_journal(
    tmp_path: Path, broker: str, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "demo"
    assert main(["demo", "--dir", str(folder), "--broker", broker]) == 0
    out = capsys.readouterr().out
    assert (
        "== demo step 12" in out
        and "exit: stop-loss tb18-NVDA-o-" in out
        and "== report" in out
        and "== positions" in out
        and "== tracking" in out
    )
    _assert_tracking_table(out.split("== tracking", 1)[1])
    journal = folder / "journal" / "tradebot.sqlite"

    every_intent = entries(journal, statuses=(Status.INTENT,))
    intents = [e for e in every_intent if e.data["role"] != "exit"]
    # 3 + 1 + 1 (the duplicate push traded once) + 1 + 1 (the close pushed while no connection
    # was subscribed, recovered from the history) + 1 + 3 + 2 (a flip is two orders)
    assert len(intents) == 13
    # The Optimizer's two entries (NVDA, MU) went as brackets: two legs each, journaled with
    # them; NVDA's stop-loss fired on the market's fall, and its close was skipped, naming it
    exits = {e.client_order_id: e for e in every_intent if e.data["role"] == "exit"}
    nvda = next(e.client_order_id for e in intents if e.symbol == "NVDA")
    assert sorted(exits) == sorted(
        f"{entry.client_order_id}-{kind}"
        for entry in intents
        if entry.algo_id == 18 and entry.symbol in ("NVDA", "MU")
        for kind in ("sl", "tp")
    )
    (nvda_close,) = [e for e in entries(journal, symbols=("NVDA",), statuses=(Status.SKIPPED,))]
    assert nvda_close.data["reason"] == "not_held" and f"{nvda}-sl" in nvda_close.detail
    assert sorted(str(e.side) for e in intents if e.symbol == "AAPL") == ["buy", "sell"]
    aapl_legs = entries(journal, symbols=("AAPL",), statuses=(Status.LEG,))
    assert [e.data["source"] for e in aapl_legs] == ["live", "backfill"]
    skips = {(e.symbol, e.data.get("reason")) for e in entries(journal, statuses=(Status.SKIPPED,))}
    assert ("MSFT", "not_held") in skips
    assert (None, "invalid") in skips
    assert ("AMD", "price_off_market") in skips  # priced a decimal point away from the market
    filled = {e.client_order_id for e in entries(journal, statuses=(Status.FILLED,))}
    assert filled == {e.client_order_id for e in intents} | {f"{nvda}-sl"}
    assert any(e.status is Status.GAP for e in entries(journal, statuses=(Status.GAP,)))
    # the lapse's position check ran while the recovered order filled: no false drift
    assert entries(journal, statuses=(Status.DRIFT,)) == []

    config = str(folder / "config.yaml")
    assert main(["journal", "--config", config, "--format", "json", "--limit", "0"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == len(entries(journal))
    assert main(["report", "--config", config, "--format", "json"]) == 0
    report = {r["algo_id"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(report) == {14, 16, 17, 18}
    assert report[16]["fills"] == 6
    assert main(["track", "--config", config, "--format", "json"]) == 0
    tracked = {r["algo_id"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(tracked) == {14, 16, 17, 18}
    for row in tracked.values():
        parts = sum((Decimal(v) for v in row["parts"].values()), Decimal(0))
        assert parts == Decimal(row["gap"]) and row["reconciled"] is True
    assert Decimal(tracked[18]["parts"]["exits"]) != 0  # NVDA's stop-loss fired before its close


def _assert_tracking_table(table: str) -> None:
    """Each algorithm's block in the demo's tracking table: its parts add up to its gap."""
    blocks = [b for b in table.split("\nalgorithm ")[1:] if "gap (algorithm - account)" in b]
    assert len(blocks) == 4, table
    for block in blocks:
        lines = block.splitlines()
        (gap,) = [line for line in lines if "gap (algorithm - account)" in line]
        parts = [line for line in lines if line.startswith("    ") and line.strip()]
        assert len(parts) >= 8  # missed, sizing, three execution styles, exits, ..., fees

        def money(line: str) -> Decimal:
            return Decimal(line.split()[-3] if line.endswith("bps") else line.split()[-1])

        assert sum((money(p) for p in parts), Decimal(0)) == money(gap)
        assert "parts add up to the gap; account's result matches the review" in block


def test_the_demo_refuses_a_folder_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("mine")
    assert main(["demo", "--dir", str(tmp_path)]) == 1
    assert (tmp_path / "precious.txt").read_text() == "mine"
