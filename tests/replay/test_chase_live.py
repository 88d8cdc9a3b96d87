"""The replay's chase against the live chaser's: `tradebot run` as a real process with the sim
broker and the AlphaHub simulator on 127.0.0.1, then `tradebot replay` of the same legs
beside that run's journal: the same orders, chased remainders, fills and P&L."""

from __future__ import annotations

import asyncio
import json
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import BotProcess, entries, until, wait_subscribed
from tradebot.cli.main import main
from tradebot.journal.records import Status
from tradebot.replay.history_file import history_text
from tradebot.simulators.alphahub import AlphaHubSimulator


def _config(hub: AlphaHubSimulator) -> str:
    # 14: a limit at the market (100); the sim's 10 bps put it at 100.10: it rests, and the
    # chaser sends it at market after 1 s. 16: a limit 0.5% through the market fills at once.
    return f"""\
alphahub:
  url: {hub.url}
  email: {hub.email}
  password: {hub.password}
  connections: 2
  heartbeat_interval: 1
  heartbeat_timeout: 2
  join_timeout: 2
  reconnect: {{first_delay: 0.05, max_delay: 0.5, healthy_after: 2}}
broker:
  name: sim
  sim: {{cash: 100000, slippage_bps: 10, fill_delay: 0, prices: {{AAA: 100, BBB: 50}}}}
dashboard: {{enabled: false}}
journal:
  path: journal/tradebot.sqlite
  recheck_interval: 1
risk:
  max_signal_age: 600
algorithms:
  14: {{strategy: fixed_shares, params: {{shares: 10}}, order_type: limit_then_market,
        chase_after: 1}}
  16: {{strategy: fixed_shares, params: {{shares: 10}}, order_type: limit_then_market,
        chase_after: 1, limit_offset_pct: 0.5}}
"""


def _leg(symbol: str, price: float, at: str) -> dict[str, Any]:
    return {"price": price, "side": "buy", "symbol": symbol, "timestamp": at}


async def test_the_replay_chases_as_the_running_bot_did(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    legs = {14: [_leg("AAA", 100.0, at)], 16: [_leg("BBB", 50.0, at)]}
    async with AlphaHubSimulator(port=0) as hub:
        config = tmp_path / "config.yaml"
        config.write_text(_config(hub), encoding="utf-8")
        bot = BotProcess(config)
        await bot.start()
        try:
            await wait_subscribed(hub, (14, 16))
            for algo_id, items in legs.items():
                await hub.push(algo_id, {"open": items})
            journal = tmp_path / "journal" / "tradebot.sqlite"
            # two fills: BBB's limit, and AAA's remainder after its chase (the limit rests)
            await until(
                lambda: len(entries(journal, statuses=(Status.FILLED,))) == 2,
                "the limit's fill and the remainder's",
            )
            assert await bot.stop(signal.SIGTERM) == 0, bot.output()
        finally:
            if bot.running:
                await bot.stop(signal.SIGKILL)
    intents = [e.client_order_id for e in entries(journal, statuses=(Status.INTENT,))]
    assert len(intents) == 3 and sum(str(c).endswith("-m") for c in intents) == 1
    history = tmp_path / "history.json"
    history.write_text(history_text(legs), encoding="utf-8")
    args = ["replay", "--history", str(history), "--config", str(config), "--format", "json"]
    code = await asyncio.to_thread(main, [*args, "--journal", str(journal)])
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    for block in data["algorithms"]:
        replayed, live = block["columns"]["replay config.yaml"], block["columns"]["journal"]
        assert replayed == live, block["algo_id"]
    total = data["algorithms"][0]["columns"]["journal"]
    assert (total["orders"], total["chased"], total["fills"]) == (3, 1, 2)
    # AAA: 10 at 100.10 (the remainder, at market); BBB: 10 at 50.05 (its limit, at once)
    assert total["unrealised"] == "-1.50"
