"""`tradebot run` never trades at a price nobody checked (issue 10 §1).

Before reference prices, the running bot with the sim broker filled 10,000,000,000,000 shares of
a leg priced at 1e-9, and every notional limit let it through.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from tests.e2e.harness import (
    ALGORITHMS_YAML,
    ALGOS,
    BotProcess,
    entries,
    last_id,
    leg,
    planned_after,
    running_bot,
    until,
    wait_subscribed,
)
from tradebot.journal.records import Status
from tradebot.simulators.alpaca.faults import Fault
from tradebot.simulators.alpaca.server import SNAPSHOTS
from tradebot.simulators.alphahub.server import AlphaHubSimulator

SIM_CONFIG = """\
mode: paper
alphahub:
  url: {hub}
  email: demo@example.com
  password: demo
  heartbeat_interval: 1
  heartbeat_timeout: 2
broker:
  name: sim
  sim:
    prices: {{AAPL: 189.50}}
journal:
  path: journal/tradebot.sqlite
risk:
  max_order_notional: 25000
  max_signal_age: 600
{algorithms}"""


async def test_the_sim_bot_never_fills_a_leg_priced_at_a_billionth_of_a_dollar(
    tmp_path: Path,
) -> None:
    async with AlphaHubSimulator(port=0) as hub:
        config = tmp_path / "config.yaml"
        config.write_text(SIM_CONFIG.format(hub=hub.url, algorithms=ALGORITHMS_YAML))
        journal = tmp_path / "journal" / "tradebot.sqlite"
        bot = BotProcess(config)
        await bot.start()
        try:
            await wait_subscribed(hub, ALGOS)
            at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
            # 17 and 18 size by notional (5,000): at 1e-9 that was 5e12 shares
            for algo_id, symbol, price in [
                (18, "ZZZZ", "0.000000001"),  # no sim price: the sanity bound alone refuses it
                (17, "AAPL", "0.0001"),  # the sim market says 189.50: outside the collar
                (18, "MSFT", "415.30"),  # no sim price: the signal's price stands in, noted
            ]:
                mark = last_id(journal)
                await hub.push(algo_id, {"open": [leg(symbol, "buy", price, at)]})
                await until(lambda a=algo_id, m=mark: planned_after(journal, a, m), "a plan")
            await until(lambda: bool(entries(journal, statuses=(Status.FILLED,))), "a fill")
        finally:
            await bot.stop()
    skips = {e.symbol: e.data.get("reason") for e in entries(journal, statuses=(Status.SKIPPED,))}
    assert skips.pop("AAPL") == "price_off_market"
    # 1e-9 is not a price: the leg is rejected as it is read, before any planning
    (rejected,) = entries(journal, statuses=(Status.LEG_REJECTED,))  # once, for two connections
    assert "price" in rejected.detail and "ZZZZ" in json.dumps(rejected.data)
    assert set(skips.values()) <= {"invalid"}  # the signal had no valid leg left to plan
    (fill,) = entries(journal, statuses=(Status.FILLED,))
    assert (fill.symbol, fill.qty) == ("MSFT", Decimal(12))  # 5,000 at 415.30
    (intent,) = entries(journal, statuses=(Status.INTENT,))
    assert intent.data["price_source"] == "signal"
    assert any("priced at the signal's 415.3" in note for note in intent.data["notes"])
    assert "buy 12 MSFT market (sized at the signal's 415.3)" in bot.output()


async def test_no_reference_price_from_alpaca_skips_the_legs_and_the_bot_goes_on(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as env:
        # every try of the snapshot request fails: the data API is down
        env.server.add_fault(Fault.error(503, times=3, method="GET", path=SNAPSHOTS))
        await env.push_and_wait(17, {"open": [leg("AAPL", "buy", "189.50", env.at)]})
        assert env.skips("AAPL") == ["no_reference_price"]
        assert env.orders("AAPL") == []
        # the data API is back: the next signal trades, sized at the market's price
        env.server.set_price("NVDA", Decimal("131.20"))
        await env.push_and_wait(
            17, {"open": [leg("NVDA", "buy", "130.00", env.at)]}, move_market=False
        )
        await until(lambda: env.orders("NVDA") == ["buy 38"], "the NVDA order")  # 5,000 / 131.20
        assert env.bot.running
    (skip,) = entries(env.journal, symbols=("AAPL",), statuses=(Status.SKIPPED,))
    assert "market data is unavailable" in skip.data["detail"]


async def test_a_five_day_old_snapshot_is_skipped_with_its_age_and_a_fresh_one_trades(
    tmp_path: Path,
) -> None:
    """Issue 19 §3: a market-data snapshot five days old agreed with the signal's price, sized
    the order and passed the collar. The running bot now refuses it, naming its age."""
    async with running_bot(tmp_path) as env:
        old = datetime.now(UTC) - timedelta(days=5, hours=2, minutes=3)
        env.server.set_price("AAPL", Decimal("189.50"), at=old)  # the feed stopped 5 days ago
        earlier = (datetime.now(UTC) - timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%S")
        await env.push_and_wait(
            17, {"open": [leg("AAPL", "buy", "189.50", earlier)]}, move_market=False
        )
        assert env.skips("AAPL") == ["no_reference_price"]
        assert env.orders("AAPL") == []
        # the feed trades again: the next signal is sized at its price
        env.server.set_price("AAPL", Decimal("189.50"))
        await env.push_and_wait(
            17, {"open": [leg("AAPL", "buy", "189.40", env.at)]}, move_market=False
        )
        await until(lambda: env.orders("AAPL") == ["buy 26"], "the AAPL order")  # 5,000 / 189.50
    (skip,) = entries(env.journal, symbols=("AAPL",), statuses=(Status.SKIPPED,))
    assert "reference price for AAPL is 5d 2h old (risk.reference_max_age 15m)" in skip.detail
