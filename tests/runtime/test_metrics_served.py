"""/metrics of a real running bot, scraped over HTTP: the AlphaHub simulator, the local
Alpaca-compatible server (its fault knobs make the broker refuse or not answer), the journal.
Each gauge and each order outcome is read after the event that must move it; the text is read
with prometheus-client's own parser; no ``_created`` series."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

from tradebot.clock import utcnow
from tradebot.config.loader import load_config
from tradebot.config.model import Mode
from tradebot.journal.interface import EntryFilter
from tradebot.journal.records import Status
from tradebot.journal.sqlite import open_journal
from tradebot.runtime.bot import Bot
from tradebot.runtime.killswitch import clear_kill_switch, write_kill_switch
from tradebot.simulators.alpaca.faults import Fault
from tradebot.simulators.alpaca.server import AlpacaServer
from tradebot.simulators.alphahub.server import AlphaHubSimulator
from tradebot.web.attach import Observability, attach_observability

CONFIG = """\
alphahub: {{url: {hub}, email: demo@example.com, password: demo, connections: 2,
  heartbeat_interval: 1, heartbeat_timeout: 2, join_timeout: 2,
  reconnect: {{first_delay: 0.05, max_delay: 0.2}}}}
broker:
  name: alpaca
  alpaca: {{url: {url}, stream_url: {stream}, data_url: {url}, key_id: test-key,
    secret_key: test-secret, timeout: 2, max_attempts: 1, first_retry_delay: 0.05,
    max_retry_delay: 0.2, reconnect_delay: 0.1}}
journal: {{path: journal/tradebot.sqlite, recheck_interval: 0.2, recovery_max_age: 0.5}}
risk: {{kill_switch_file: tradebot.halt, max_signal_age: 600}}
dashboard: {{port: 0}}
algorithms:
  17: {{strategy: fixed_shares, params: {{shares: 10}}}}
"""

DEADLINE = 20
Key = tuple[str, frozenset[tuple[str, str]]]


@dataclass
class Running:
    hub: AlphaHubSimulator
    server: AlpacaServer
    bot: Bot
    plugged: Observability
    folder: Path

    @property
    def url(self) -> str:
        handle = self.plugged.dashboard.handle
        assert handle is not None and handle.url
        return handle.url + "metrics"

    @property
    def journal(self) -> Path:
        return self.folder / "journal" / "tradebot.sqlite"

    async def push_open(self, symbol: str) -> None:
        handled = self.bot.handled
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        leg = {"symbol": symbol, "side": "buy", "price": 100.0, "timestamp": stamp}
        await self.hub.push(17, {"open": [leg]})
        async with asyncio.timeout(DEADLINE):
            await self.bot.wait_handled(handled + 1)

    async def scrape(self) -> dict[Key, float]:
        return parse(await self.text())

    async def text(self) -> str:
        answer = await asyncio.to_thread(requests.get, self.url, timeout=10)
        assert answer.status_code == 200
        return answer.text

    async def until(self, key: Key, value: float) -> dict[Key, float]:
        """Scrape until ``key`` reads ``value``; the last scrape."""
        async with asyncio.timeout(DEADLINE):
            while (seen := await self.scrape()).get(key) != value:  # noqa: ASYNC110 (a scrape each time)
                await asyncio.sleep(0.05)
        return seen


def parse(text: str) -> dict[Key, float]:
    """Every sample, read by prometheus-client's parser: (name, labels) -> value."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def sample(name: str, **labels: str) -> Key:
    return (name, frozenset(labels.items()))


def orders(outcome: str) -> Key:
    return sample("tradebot_orders_total", account="default", algo="17", outcome=outcome)


@contextmanager
def alpaca() -> Iterator[AlpacaServer]:
    server = AlpacaServer()
    server.start()
    try:
        for symbol in ("AAPL", "NVDA", "MSFT", "TSLA"):
            server.set_price(symbol, Decimal(100))
        yield server
    finally:
        server.stop()


@asynccontextmanager
async def running(
    folder: Path, hub: AlphaHubSimulator, server: AlpacaServer
) -> AsyncIterator[Running]:
    path = folder / "config.yaml"
    path.write_text(CONFIG.format(hub=hub.url, url=server.url, stream=server.stream_url))
    config = load_config(path)
    out = io.StringIO()
    bot = Bot(config, path, Mode.PAPER, load=load_config, out=out)
    plugged = attach_observability(bot, config, path)
    task = asyncio.create_task(bot.run())
    try:
        async with asyncio.timeout(DEADLINE):
            await bot.ready.wait()
            await plugged.dashboard.started.wait()
            await hub.wait_joined(17, 2)
        yield Running(hub, server, bot, plugged, folder)
    finally:
        bot.request_stop()
        await task
        await asyncio.to_thread(plugged.flush)
        print(out.getvalue())  # shown when the test fails


def newest_signal_at(journal: Path) -> float:
    with open_journal(journal, readonly=True) as store:
        (row,) = store.entries(EntryFilter(statuses=(Status.SIGNAL,), limit=1))
    return row.at.timestamp()


async def until_true(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(DEADLINE):
        while not check():  # noqa: ASYNC110 (a read of the server's state each time)
            await asyncio.sleep(0.05)


async def test_gauges_and_order_outcomes_after_each_event(tmp_path: Path) -> None:
    with alpaca() as server:
        async with AlphaHubSimulator(port=0) as hub, running(tmp_path, hub, server) as run:
            text = await run.text()
            assert not [line for line in text.splitlines() if "_created" in line]
            first = parse(text)
            assert first[sample("tradebot_up")] == 1
            assert first[sample("tradebot_connections_joined", algo="17")] == 2
            assert first[sample("tradebot_kill_switch_mode")] == 0
            assert first[sample("tradebot_equity_usd", account="default")] == 100_000
            assert first[sample("tradebot_broker_reachable", account="default")] == 1
            assert sample("tradebot_last_signal_timestamp_seconds", algo="17") not in first
            # every outcome's series is there from the start, at 0 (rate() and increase() see
            # the first order)
            zero = await run.until(orders("failed"), 0)
            assert [zero[orders(o)] for o in ("accepted", "filled", "rejected")] == [0, 0, 0]

            # a signal: its order accepted, then filled; the signal's time is the journal's
            await run.push_open("AAPL")
            seen = await run.until(orders("filled"), 1)
            assert seen[orders("accepted")] == 1
            assert seen[sample("tradebot_fills_total", account="default", algo="17")] == 1
            last = seen[sample("tradebot_last_signal_timestamp_seconds", algo="17")]
            assert last == newest_signal_at(run.journal)

            # the broker's equity moves with the price of what was bought; the gauge follows
            server.set_price("AAPL", Decimal(110))
            await run.push_open("MSFT")  # an order: the bot reads the account again
            await until_true(lambda: Decimal(server.account.account_json()["equity"]) > 100_000)
            equity = float(server.account.account_json()["equity"])
            seen = await run.until(sample("tradebot_equity_usd", account="default"), equity)

            # the broker refuses an order (HTTP 403 on submit): rejected, not accepted
            accepted = seen[orders("accepted")]
            server.add_fault(Fault.error(403))
            await run.push_open("NVDA")
            seen = await run.until(orders("rejected"), 1)
            assert seen[orders("accepted")] == accepted
            assert seen.get(orders("failed"), 0) == 0

            # the broker never answers a submission: the re-check finds no order and the
            # signal stale, and gives it up: failed (never reached the broker)
            server.add_fault(Fault.error(500, times=1000))
            await run.push_open("TSLA")
            seen = await run.until(orders("failed"), 1)
            server.clear_faults()
            assert seen[orders("rejected")] == 1
            assert seen[orders("accepted")] == accepted

            # the kill switch, read at each scrape: reduce-only, halt, running again
            switch = tmp_path / "tradebot.halt"
            write_kill_switch(switch, reduce_only=True, reason="test", now=utcnow())
            await run.until(sample("tradebot_kill_switch_mode"), 1)
            write_kill_switch(switch, reduce_only=False, reason="test", now=utcnow())
            await run.until(sample("tradebot_kill_switch_mode"), 2)
            clear_kill_switch(switch)
            await run.until(sample("tradebot_kill_switch_mode"), 0)

            # AlphaHub gone: the algorithm is joined on no connection
            await hub.stop()
            seen = await run.until(sample("tradebot_connections_joined", algo="17"), 0)
            assert seen[sample("tradebot_up")] == 1


async def test_a_restart_keeps_each_algorithms_last_signal(tmp_path: Path) -> None:
    with alpaca() as server:
        async with AlphaHubSimulator(port=0) as hub:
            async with running(tmp_path, hub, server) as run:
                await run.push_open("AAPL")
            at = newest_signal_at(tmp_path / "journal" / "tradebot.sqlite")
            async with running(tmp_path, hub, server) as again:
                seen = await again.until(
                    sample("tradebot_last_signal_timestamp_seconds", algo="17"), at
                )
                assert seen.get(orders("accepted"), 0) == 0  # counters start again; the gauge not
