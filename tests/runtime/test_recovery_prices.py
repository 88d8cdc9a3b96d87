"""A signal journaled before a crash but never planned is planned at the next start against the
broker's reference prices, like any other signal (issue 10 §1)."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from tradebot.broker.sim import SimBroker
from tradebot.config.loader import load_config
from tradebot.config.model import Mode
from tradebot.core.signal import parse_signal
from tradebot.journal.interface import EntryFilter
from tradebot.journal.records import Status
from tradebot.journal.sqlite import open_journal
from tradebot.runtime.bot import Bot
from tradebot.simulators.alphahub.server import AlphaHubSimulator

CONFIG = """\
alphahub: {{url: {hub}, email: demo@example.com, password: demo, connections: 1}}
broker:
  name: sim
  sim: {{prices: {{AAPL: 189.50, NVDA: 131.20}}}}
journal: {{path: journal/tradebot.sqlite}}
risk: {{kill_switch_file: null}}
algorithms:
  17: {{strategy: fixed_notional, params: {{notional: 5000}}}}
"""


async def test_recovery_plans_unplanned_signals_at_the_reference_price(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S")
    legs = [("AAPL", "189.40"), ("NVDA", "1.312")]  # NVDA: a slipped decimal point
    payload = {
        "open": [{"symbol": s, "side": "buy", "price": p, "timestamp": stamp} for s, p in legs]
    }
    journal_path = tmp_path / "journal" / "tradebot.sqlite"
    journal_path.parent.mkdir()
    with open_journal(journal_path) as journal:
        journal.record_signal(parse_signal(17, payload, received_at=now))  # then the process died
    async with AlphaHubSimulator(port=0) as hub:
        config_path = tmp_path / "config.yaml"
        config_path.write_text(CONFIG.format(hub=hub.url))
        out = io.StringIO()
        bot = Bot(load_config(config_path), config_path, Mode.PAPER, load=load_config, out=out)
        running = asyncio.create_task(bot.run())
        try:
            async with asyncio.timeout(30):
                await bot.ready.wait()
        finally:
            bot.request_stop()
            await running
    with open_journal(journal_path, readonly=True) as journal:
        rows = journal.entries(EntryFilter(newest_first=False))
    (intent,) = [e for e in rows if e.status is Status.INTENT]
    assert (intent.symbol, intent.qty) == ("AAPL", Decimal(26))  # 5,000 / 189.50
    assert Decimal(intent.data["reference_price"]) == Decimal("189.50")
    assert intent.data["price_source"] == "reference"
    skips = {e.symbol: e.data["reason"] for e in rows if e.status is Status.SKIPPED}
    assert skips == {"NVDA": "price_off_market"}


async def test_recovery_judges_the_reference_by_its_age_like_a_live_signal(tmp_path: Path) -> None:
    """Issue 19 §3: the restart plans with the same age rule. The sim market's NVDA price was
    last set five days ago: it is no reference, so (the sim broker being its own market) the
    signal's price stands in, and the order says why."""
    now = datetime.now(UTC)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S")
    legs = [("AAPL", "189.40"), ("NVDA", "150.00")]  # a stale 131.20 would refuse NVDA at 150
    payload = {
        "open": [{"symbol": s, "side": "buy", "price": p, "timestamp": stamp} for s, p in legs]
    }
    journal_path = tmp_path / "journal" / "tradebot.sqlite"
    journal_path.parent.mkdir()
    with open_journal(journal_path) as journal:
        journal.record_signal(parse_signal(17, payload, received_at=now))  # then the process died
    async with AlphaHubSimulator(port=0) as hub:
        config_path = tmp_path / "config.yaml"
        config_path.write_text(CONFIG.format(hub=hub.url))
        config = load_config(config_path)
        sim = SimBroker(config.broker.sim)
        sim.set_price("NVDA", Decimal("131.20"), at=now - timedelta(days=5, hours=1))
        out = io.StringIO()
        bot = Bot(config, config_path, Mode.PAPER, load=load_config, out=out, broker=sim)
        running = asyncio.create_task(bot.run())
        try:
            async with asyncio.timeout(30):
                await bot.ready.wait()
        finally:
            bot.request_stop()
            await running
    with open_journal(journal_path, readonly=True) as journal:
        rows = journal.entries(EntryFilter(newest_first=False))
    intents = {e.symbol: e for e in rows if e.status is Status.INTENT}
    assert intents["AAPL"].data["price_source"] == "reference"  # set at start: current
    nvda = intents["NVDA"]
    assert (nvda.qty, nvda.data["price_source"]) == (Decimal(33), "signal")  # 5,000 / 150
    assert any("NVDA is 5d 1h old" in note for note in nvda.data["notes"])
