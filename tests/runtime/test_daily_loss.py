"""A daily loss realised by fills that came with the broker's answer to the submission (the sim
broker fills at once) binds the next plan, like fills from the event stream do."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from tradebot.broker.sim import SimBroker
from tradebot.config.loader import load_config
from tradebot.config.model import Mode
from tradebot.journal.interface import EntryFilter
from tradebot.journal.records import Status
from tradebot.journal.sqlite import open_journal
from tradebot.runtime.bot import Bot
from tradebot.simulators.alphahub.server import AlphaHubSimulator

CONFIG = """\
alphahub: {{url: {hub}, email: demo@example.com, password: demo, connections: 1}}
broker:
  name: sim
  sim: {{prices: {{VRTX: 100, JBHT: 100}}}}
journal: {{path: journal/tradebot.sqlite}}
risk: {{kill_switch_file: null, max_daily_loss: 50}}
algorithms:
  14: {{strategy: fixed_notional, params: {{notional: 5000}}}}
  16: {{strategy: fixed_notional, params: {{notional: 5000}}}}
"""


async def test_a_loss_filled_in_the_submit_answer_stops_the_next_open(tmp_path: Path) -> None:
    async with AlphaHubSimulator(port=0) as hub:
        config_path = tmp_path / "config.yaml"
        config_path.write_text(CONFIG.format(hub=hub.url))
        config = load_config(config_path)
        sim = SimBroker(config.broker.sim)
        out = io.StringIO()
        bot = Bot(config, config_path, Mode.PAPER, load=load_config, out=out, broker=sim)
        running = asyncio.create_task(bot.run())
        at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")

        def leg(symbol: str, side: str, price: float) -> dict[str, object]:
            return {"symbol": symbol, "side": side, "price": price, "timestamp": at}

        try:
            async with asyncio.timeout(20):
                await bot.ready.wait()
                await hub.wait_joined(16)
                await hub.push(14, {"open": [leg("VRTX", "buy", 100)]})
                await bot.wait_handled(1)
                sim.set_price("VRTX", Decimal(90))
                await hub.push(14, {"close": [leg("VRTX", "sell", 90)]})  # $500 lost today
                await bot.wait_handled(2)
                await hub.push(16, {"open": [leg("JBHT", "buy", 100)]})
                await bot.wait_handled(3)
        finally:
            bot.request_stop()
            await running
    with open_journal(tmp_path / "journal" / "tradebot.sqlite", readonly=True) as journal:
        rows = journal.entries(EntryFilter(symbols=("JBHT",), newest_first=False))
        fills = journal.entries(EntryFilter(symbols=("VRTX",), statuses=(Status.FILLED,)))
    assert len(fills) == 2  # both VRTX orders filled in the submit answers
    assert [e.status for e in rows if e.status is Status.INTENT] == []
    (skip,) = [e for e in rows if e.status is Status.SKIPPED]
    assert "max_daily_loss" in skip.detail
