"""The dashboard a running bot of several accounts serves: each account's broker gauges, its
own snapshot and its health, from that account's own parts (the AlphaHub simulator, one local
Alpaca server per account, real HTTP). One account failing is that account's problem, named,
and the healthy one reads healthy."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families

from tradebot.config.loader import load_config
from tradebot.config.model import Mode
from tradebot.runtime.bot import Bot
from tradebot.simulators.alpaca.faults import Fault
from tradebot.simulators.alpaca.server import AlpacaServer
from tradebot.simulators.alphahub.server import AlphaHubSimulator
from tradebot.web.attach import Observability, attach_observability

DEADLINE = 30
CASH = {"main": Decimal(100_000), "family": Decimal(40_000)}
BROKER = """\
    broker:
      name: alpaca
      alpaca: {{url: {url}, stream_url: {stream}, data_url: {url}, key_id: {name}-key,
        secret_key: {name}-secret, timeout: 2, max_attempts: 1, first_retry_delay: 0.05,
        max_retry_delay: 0.2, reconnect_delay: 0.1}}
      circuit: {{failures: 1, probe_every: 30}}
    algorithms:
      17: {{strategy: fixed_shares, params: {{shares: 1}}}}
"""
CONFIG = """\
alphahub: {{url: {hub}, email: demo@example.com, password: demo, heartbeat_interval: 1,
  heartbeat_timeout: 2, join_timeout: 2, reconnect: {{first_delay: 0.05, max_delay: 0.2}}}}
journal: {{path: journal.sqlite, recheck_interval: 0.2, recovery_max_age: 0.5}}
risk: {{kill_switch_file: tradebot.halt, max_signal_age: 600}}
dashboard: {{port: 0}}
accounts:
"""


@contextmanager
def servers() -> Iterator[dict[str, AlpacaServer]]:
    made = {
        name: AlpacaServer(key=f"{name}-key", secret=f"{name}-secret", cash=cash)
        for name, cash in CASH.items()
    }
    for server in made.values():
        server.start()
    try:
        yield made
    finally:
        for server in made.values():
            server.stop()


@asynccontextmanager
async def running(
    folder: Path, hub: AlphaHubSimulator, alpaca: dict[str, AlpacaServer]
) -> AsyncIterator[tuple[Bot, str]]:
    text = CONFIG.format(hub=hub.url)
    for name, server in alpaca.items():
        text += f"  {name}:\n" + BROKER.format(url=server.url, stream=server.stream_url, name=name)
    path = folder / "config.yaml"
    path.write_text(text, encoding="utf-8")
    config = load_config(path, env={})
    out = io.StringIO()
    bot = Bot(config, path, Mode.PAPER, load=load_config, out=out)
    plugged: Observability = attach_observability(bot, config, path)
    task = asyncio.create_task(bot.run())
    try:
        async with asyncio.timeout(DEADLINE):
            await bot.ready.wait()
            await plugged.dashboard.started.wait()
            await hub.wait_joined(17, 1)
        handle = plugged.dashboard.handle
        assert handle is not None and handle.url
        yield bot, handle.url
    finally:
        bot.request_stop()
        await task
        await asyncio.to_thread(plugged.flush)
        print(out.getvalue())  # shown when the test fails


async def get(url: str) -> requests.Response:
    return await asyncio.to_thread(requests.get, url, timeout=10)


def equity(text: str) -> dict[str, float]:
    return {
        s.labels["account"]: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "tradebot_equity_usd"
    }


async def until(check: Any) -> Any:
    """``check()`` until it finds something (a read over HTTP or of a server's state each
    time: nothing to wait on in between)."""
    async with asyncio.timeout(DEADLINE):
        while not (found := await check()):  # noqa: ASYNC110 (a read each time)
            await asyncio.sleep(0.05)
    return found


async def test_each_accounts_gauges_snapshot_and_health_are_its_own(tmp_path: Path) -> None:
    with servers() as alpaca:
        async with AlphaHubSimulator(port=0) as hub, running(tmp_path, hub, alpaca) as (_, url):
            # each account's equity, from its own broker (not the first account's twice)
            async def both() -> dict[str, float] | None:
                found = equity((await get(url + "metrics")).text)
                return found if set(found) == set(CASH) else None

            assert await until(both) == {n: float(c) for n, c in CASH.items()}
            health = (await get(url + "healthz")).json()
            assert health["checks"]["broker"] == "ok", health

            # family's broker refuses every order: its circuit opens (one failure), main's not
            alpaca["family"].add_fault(Fault.error(503, times=1000, method="POST"))
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
            leg = {"symbol": "AAPL", "side": "buy", "price": 100.0, "timestamp": stamp}
            await hub.push(17, {"open": [leg]})

            async def family_open() -> str | None:
                checks = (await get(url + "healthz")).json()["checks"]
                problem: str | None = checks["broker"]
                return problem if problem and "circuit is open" in problem else None

            problem = await until(family_open)
            assert problem.startswith("account family: the broker circuit is open"), problem
            assert "account main" not in problem

            # main traded the leg at its own broker meanwhile
            async def main_holds() -> bool:
                return "AAPL" in alpaca["main"].account.positions

            await until(main_holds)
            assert "AAPL" not in alpaca["family"].account.positions
            now = (await get(url + "api/now")).json()
            rows = {a["name"]: a for a in now["account_rows"]}
            assert rows["family"]["circuit_open"] is True, rows
            assert rows["main"]["circuit_open"] is False, rows
