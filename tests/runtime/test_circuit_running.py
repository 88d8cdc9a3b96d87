"""The circuit breaker in a real running bot: the AlphaHub simulator, the local Alpaca-compatible
server failing every order and every account read (HTTP 503), the journal, ``/metrics``.

The bot's own wiring is what is tested: the executor asks the breaker, the bot's followers
probe and the re-check waits for it, the observers hear each change (the alert's words), the
gauge and ``/healthz`` follow, and once the server answers again every leg (the two that opened
the circuit, the one held while it was open, one after) is at the broker exactly once.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import requests

from tests.runtime.test_metrics_served import Running, parse, sample, until_true
from tradebot.config.loader import load_config
from tradebot.config.model import Mode
from tradebot.execution.circuit import BROKER_UNAVAILABLE
from tradebot.journal.interface import EntryFilter
from tradebot.journal.records import Status
from tradebot.journal.sqlite import open_journal
from tradebot.runtime.alerts import alerts_for
from tradebot.runtime.bot import Bot
from tradebot.runtime.observer import BotEvent, BrokerCircuitChanged
from tradebot.simulators.alpaca.faults import Fault
from tradebot.simulators.alpaca.server import AlpacaServer
from tradebot.simulators.alphahub.server import AlphaHubSimulator
from tradebot.web.attach import attach_observability

CONFIG = """\
alphahub: {{url: {hub}, email: demo@example.com, password: demo, connections: 1,
  heartbeat_interval: 1, heartbeat_timeout: 2, join_timeout: 2,
  reconnect: {{first_delay: 0.05, max_delay: 0.2}}}}
broker:
  name: alpaca
  alpaca: {{url: {url}, stream_url: {stream}, data_url: {url}, key_id: test-key,
    secret_key: test-secret, timeout: 2, max_attempts: 1, first_retry_delay: 0.05,
    max_retry_delay: 0.2, reconnect_delay: 0.1}}
  circuit: {{failures: 2, probe_every: 0.3}}
journal: {{path: journal/tradebot.sqlite, recheck_interval: 0.2, recovery_max_age: 120}}
risk: {{max_signal_age: 600}}
dashboard: {{port: 0}}
algorithms:
  17: {{strategy: fixed_shares, params: {{shares: 10}}}}
"""
DEADLINE = 20
OPEN = sample("tradebot_broker_circuit_open", account="default")
POST = ("POST", "/v2/orders")


class Heard:
    """An observer: every event the bot told."""

    def __init__(self) -> None:
        self.events: list[BotEvent] = []

    def notice(self, event: BotEvent) -> None:
        self.events.append(event)

    @property
    def circuit(self) -> list[BrokerCircuitChanged]:
        return [e for e in self.events if isinstance(e, BrokerCircuitChanged)]


@asynccontextmanager
async def running(
    folder: Path, hub: AlphaHubSimulator, server: AlpacaServer, heard: Heard
) -> AsyncIterator[Running]:
    path = folder / "config.yaml"
    path.write_text(CONFIG.format(hub=hub.url, url=server.url, stream=server.stream_url))
    config = load_config(path)
    out = io.StringIO()
    bot = Bot(config, path, Mode.PAPER, load=load_config, out=out)
    bot.observe(heard)
    plugged = attach_observability(bot, config, path)
    task = asyncio.create_task(bot.run())
    try:
        async with asyncio.timeout(DEADLINE):
            await bot.ready.wait()
            await plugged.dashboard.started.wait()
            await hub.wait_joined(17, 1)
        yield Running(hub, server, bot, plugged, folder)
    finally:
        bot.request_stop()
        await task
        await asyncio.to_thread(plugged.flush)
        print(out.getvalue())  # shown when the test fails


async def push(run: Running, symbol: str) -> None:
    handled = run.bot.handled
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    leg = {"symbol": symbol, "side": "buy", "price": 100.0, "timestamp": stamp}
    await run.hub.push(17, {"open": [leg]})
    async with asyncio.timeout(DEADLINE):
        await run.bot.wait_handled(handled + 1)


def coids(journal: Path) -> dict[str, str]:
    """Each symbol's client order id, as journaled."""
    with open_journal(journal, readonly=True) as store:
        rows = store.entries(EntryFilter(statuses=(Status.INTENT,)))
    return {r.symbol or "": r.client_order_id or "" for r in rows}


async def test_an_outage_opens_the_circuit_and_every_leg_goes_out_once_after_it(
    tmp_path: Path,
) -> None:
    heard = Heard()
    with AlpacaServer() as server:
        for symbol in ("AAPL", "MSFT", "NVDA", "TSLA"):
            server.set_price(symbol, Decimal(100))
        async with AlphaHubSimulator(port=0) as hub, running(tmp_path, hub, server, heard) as run:
            assert (await run.scrape())[OPEN] == 0
            server.add_fault(Fault.error(503, times=100_000))
            server.add_fault(Fault.error(503, times=100_000, method="GET", path="/v2/account"))
            await push(run, "AAPL")
            await push(run, "MSFT")
            seen = await run.until(OPEN, 1)
            assert seen[sample("tradebot_up")] == 1
            (opened,) = heard.circuit
            assert opened.change.open
            (alert,) = alerts_for(opened, opened.at.date(), set())
            assert (alert.event, alert.severity) == ("broker", "failure")
            assert "broker circuit open" in alert.text and "held" in alert.text
            health = await asyncio.to_thread(
                requests.get, run.url.removesuffix("metrics") + "healthz", timeout=10
            )
            assert "broker circuit is open" in health.json()["checks"]["broker"]

            # a leg planned while open: journaled with the reason, never sent
            sent = server.requests.count(POST)
            await push(run, "NVDA")
            nvda = coids(run.journal)["NVDA"]
            with open_journal(run.journal, readonly=True) as store:
                errors = store.entries(
                    EntryFilter(statuses=(Status.ERROR,), client_order_ids=(nvda,))
                )
            assert errors and all(e.detail.startswith(BROKER_UNAVAILABLE) for e in errors)
            assert server.requests.count(POST) == sent, "an order reached the broker while open"
            assert server.orders() == []

            # the broker answers again: the probe closes the circuit, the re-check sends
            server.clear_faults()
            await run.until(OPEN, 0)
            assert [e.change.open for e in heard.circuit] == [True, False]
            (alert,) = alerts_for(heard.circuit[1], heard.circuit[1].at.date(), set())
            assert (alert.event, alert.severity) == ("broker", "success")
            ids = coids(run.journal)
            await until_true(lambda: all(server.orders(ids[s]) for s in ("AAPL", "MSFT", "NVDA")))
            await push(run, "TSLA")  # trading resumes
            await until_true(lambda: bool(server.orders(coids(run.journal)["TSLA"])))
            final = parse(await run.text())
            reachable = sample("tradebot_broker_reachable", account="default")
            assert final[OPEN] == 0 and final[reachable] == 1
    ids = coids(tmp_path / "journal" / "tradebot.sqlite")
    assert sorted(ids) == ["AAPL", "MSFT", "NVDA", "TSLA"]
    for symbol, coid in ids.items():
        assert len(server.orders(coid)) == 1, symbol
    assert len(server.orders()) == 4
