"""`tradebot track` against a real run whose config was edited mid-run: the journal records the
rules at the start and at each reload, and each leg of the algorithm's result is sized by the
rules in force when it arrived (issue 21)."""

from __future__ import annotations

import json
import signal
from decimal import Decimal
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from tests.e2e.harness import entries, leg, running_bot, until
from tradebot.cli.main import cli
from tradebot.journal.records import Status


async def test_track_sizes_each_leg_by_the_allocation_in_force_when_it_arrived(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as env:
        # 17: fixed_notional 5,000 at the start: 50 AAPL at 100
        await env.push_and_wait(17, {"open": [leg("AAPL", "buy", "100.00", env.at)]})
        await env.push_and_wait(18, {"open": [leg("MSFT", "buy", "50.00", env.at)]})  # 100
        text = env.config.read_text()
        edited = text.replace("params: {notional: 5000}", "params: {notional: 2000}", 1)
        # 18 leaves the config (its subscription stays until a restart)
        head = edited.index("  18:\n")
        env.config.write_text(edited[:head])
        await until(lambda: "config reloaded: algorithms.17" in env.bot.output(), "the reload")
        # 17 at 2,000 now: 20 NVDA at 100; 18's leg arrives while it is not in the config
        await env.push_and_wait(17, {"open": [leg("NVDA", "buy", "100.00", env.at)]})
        await env.push_and_wait(18, {"open": [leg("INTC", "buy", "20.00", env.at)]})
        assert env.skips("INTC") == ["algo_unknown"]
        # the marks: another algorithm's orders at 110, 105 and 55
        for symbol, price in (("AAPL", "110.00"), ("NVDA", "105.00"), ("MSFT", "55.00")):
            await env.push_and_wait(14, {"open": [leg(symbol, "buy", price, env.at)]})
        await until(
            lambda: len(entries(env.journal, statuses=(Status.FILLED,))) == 6, "the six fills"
        )
        assert await env.bot.stop(signal.SIGTERM) == 0

    (start,) = entries(env.journal, statuses=(Status.START,))
    assert start.data["rules"]["17"] == {
        "strategy": "fixed_notional",
        "params": {"notional": "5000"},
    }
    reloads = [e.data for e in entries(env.journal, statuses=(Status.CONFIG,)) if "rules" in e.data]
    assert reloads[-1]["rules"]["17"]["params"] == {"notional": "2000"}
    assert "18" not in reloads[-1]["rules"]

    result = CliRunner().invoke(
        cli,
        ["track", "--config", str(env.config), "--format", "json", "--algo", "17", "--algo", "18"],
    )
    assert result.exit_code == 0, result.output
    rows: dict[int, dict[str, Any]] = {r["algo_id"]: r for r in json.loads(result.output)}
    # 17: 50 AAPL (5,000 at 100) +10 = 500, 20 NVDA (2,000 at 100) +5 = 100; today's config
    # alone would give 20 AAPL, 300 in all
    a = rows[17]
    assert a["algorithm_pnl"] == "600.00"
    assert a["account_pnl"] == "600.00" and a["gap"] == "0.00"  # the bot bought the same
    assert a["allocation"] == "2000.00"  # in force at the period's end, and said so
    assert any("basis points are of the one in force" in n for n in a["notes"])
    assert a["not_in_config"] == {"count": 0, "legs": []}
    # 18: 100 MSFT by the rules of the start, +5 = 500; INTC sized by no rules, named
    b = rows[18]
    assert b["algorithm_pnl"] == "500.00"
    assert b["not_in_config"]["count"] == 1
    assert b["not_in_config"]["legs"][0].startswith("18:open:INTC:buy:")
    assert b["allocation"] == "5000.00"
    for row in (a, b):
        assert row["reconciled"] is True
        assert sum(map(Decimal, row["parts"].values()), Decimal(0)) == Decimal(row["gap"])
