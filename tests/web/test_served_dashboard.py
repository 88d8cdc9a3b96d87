"""The dashboard the running bot serves itself: its address after the banner and in the status
file, /healthz from the bot's own state, /metrics counting what it did, and a taken port that
changes nothing about trading. A real bot: the AlphaHub simulator, the sim broker, the journal."""

from __future__ import annotations

import asyncio
import io
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from tradebot.broker.sim import SimBroker
from tradebot.cli.main import main
from tradebot.config.loader import load_config
from tradebot.config.model import Mode
from tradebot.journal.interface import EntryFilter
from tradebot.journal.records import Status
from tradebot.journal.sqlite import open_journal
from tradebot.runtime.bot import Bot
from tradebot.runtime.status import read_status, status_path
from tradebot.simulators.alphahub.server import AlphaHubSimulator
from tradebot.web.attach import Observability, _broker_problem, attach_observability

CONFIG = """\
alphahub: {{url: {hub}, email: demo@example.com, password: demo, connections: 1,
  heartbeat_interval: 1, heartbeat_timeout: 2, join_timeout: 2,
  reconnect: {{first_delay: 0.05, max_delay: 0.2}}}}
broker:
  name: sim
  sim: {{prices: {{AAPL: 189.50, NVDA: 131.20}}, fill_delay: 0.05, cash: {cash}}}
journal: {{path: journal/tradebot.sqlite}}
risk: {{kill_switch_file: tradebot.halt}}
dashboard: {{port: {port}}}
algorithms:
  17: {{strategy: fixed_notional, params: {{notional: 5000}}}}
{extra}"""

DEADLINE = 10


@dataclass
class Running:
    hub: AlphaHubSimulator
    bot: Bot
    plugged: Observability
    out: io.StringIO
    config_path: Path

    @property
    def journal(self) -> Path:
        return self.config_path.parent / "journal" / "tradebot.sqlite"

    async def push_open(self, symbol: str, price: float) -> None:
        handled = self.bot.handled
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        leg = {"symbol": symbol, "side": "buy", "price": price, "timestamp": stamp}
        await self.hub.push(17, {"open": [leg]})
        await self.bot.wait_handled(handled + 1)

    def orders(self) -> list[str]:
        with open_journal(self.journal, readonly=True) as journal:
            rows = journal.entries(EntryFilter(statuses=(Status.INTENT,)))
        return sorted(f"{e.symbol}" for e in rows)


@asynccontextmanager
async def running_bot(
    tmp_path: Path, *, port: int = 0, extra: str = "", cash: int = 100_000
) -> AsyncIterator[Running]:
    async with AlphaHubSimulator(port=0) as hub:
        config_path = tmp_path / "config.yaml"
        config_path.write_text(CONFIG.format(hub=hub.url, port=port, extra=extra, cash=cash))
        config = load_config(config_path)
        out = io.StringIO()
        bot = Bot(
            config,
            config_path,
            Mode.PAPER,
            load=load_config,
            out=out,
            broker=SimBroker(config.broker.sim),
        )
        plugged = attach_observability(bot, config, config_path)
        task = asyncio.create_task(bot.run())
        try:
            async with asyncio.timeout(DEADLINE):
                await bot.ready.wait()
                await plugged.dashboard.started.wait()
                await hub.wait_joined(17)
            yield Running(hub, bot, plugged, out, config_path)
        finally:
            bot.request_stop()
            await task
            await asyncio.to_thread(plugged.flush)


async def get(url: str) -> requests.Response:
    return await asyncio.to_thread(requests.get, url, timeout=10)


async def until_ok(check: Any) -> None:
    async with asyncio.timeout(DEADLINE):
        while not await check():  # noqa: ASYNC110 (an HTTP or file read each time)
            await asyncio.sleep(0.05)


async def test_served_by_the_bot_with_its_address_after_the_banner_and_in_status(
    tmp_path: Path, capsys: Any
) -> None:
    async with running_bot(tmp_path) as run:
        handle = run.plugged.dashboard.handle
        assert handle is not None and handle.running and handle.url
        printed = run.out.getvalue()
        assert f"dashboard: {handle.url}" in printed
        # right after the banner: before any status summary or signal news
        assert printed.index("dashboard: http") > printed.index("journal")

        async def status_has_it() -> bool:
            try:
                _, doc = read_status(status_path(run.journal))
            except Exception:
                return False
            return doc.dashboard == handle.url

        await until_ok(status_has_it)
        assert main(["status", "--config", str(run.config_path)]) == 0
        assert f"dashboard: {handle.url}" in capsys.readouterr().out

        # the Now page shows the pushed signal; the positions come from the bot's own broker,
        # as of the last snapshot the bot's refresher took
        await run.push_open("AAPL", 189.4)
        now = await get(handle.url + "api/now")
        assert now.status_code == 200 and "AAPL" in now.text
        snapshots = run.plugged.dashboard.snapshots
        async with asyncio.timeout(DEADLINE):
            await snapshots.wait_refreshed(snapshots.refreshes + 1)  # one taken after the fill
        positions = await get(handle.url + "api/positions")
        assert positions.status_code == 200
        body = positions.json()
        assert body["broker_note"].startswith("broker positions as of ")
        assert body["broker_note"].endswith(" s ago (sim)")
        assert body["with_broker"] and body["broker"]["error"] is None


async def test_healthz_is_200_when_subscribed_and_503_with_the_failing_check(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as run:
        handle = run.plugged.dashboard.handle
        assert handle is not None and handle.url
        healthy = await get(handle.url + "healthz")
        assert healthy.status_code == 200, healthy.text
        body = healthy.json()
        assert body["status"] == "ok"
        assert body["checks"] == {"subscriptions": "ok", "journal": "ok", "broker": "ok"}

        await run.hub.stop()  # AlphaHub is gone: algorithm 17 is subscribed nowhere

        async def failing() -> bool:
            return (await get(handle.url + "healthz")).status_code == 503

        await until_ok(failing)
        body = (await get(handle.url + "healthz")).json()
        assert body["status"] == "failing"
        assert body["failing"] == {
            "subscriptions": "not subscribed on any connection: algorithm 17"
        }


async def test_metrics_count_signals_orders_fills_and_latencies(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as run:
        handle = run.plugged.dashboard.handle
        assert handle is not None and handle.url
        await run.push_open("AAPL", 189.4)
        await run.push_open("NVDA", 131.2)

        async def filled() -> bool:
            text = (await get(handle.url + "metrics")).text
            return 'tradebot_fills_total{account="default",algo="17"} 2.0' in text

        await until_ok(filled)
        response = await get(handle.url + "metrics")
        assert response.headers["content-type"].startswith("text/plain")
        text = response.text
        assert 'tradebot_signals_total{account="default",algo="17"} 2.0' in text
        assert 'tradebot_legs_total{account="default",algo="17",outcome="planned"} 2.0' in text
        assert 'tradebot_orders_total{account="default",algo="17",outcome="accepted"} 2.0' in text
        assert 'tradebot_orders_total{account="default",algo="17",outcome="filled"} 2.0' in text
        assert 'tradebot_signal_to_order_seconds_count{account="default",algo="17"} 2.0' in text
        commits = re.search(r"tradebot_journal_commit_seconds_count (\d+)", text)
        assert commits and int(commits[1]) >= 4  # start, two signals with plans, fills


async def test_a_taken_port_is_reported_and_the_bot_trades_on(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        async with running_bot(tmp_path, port=port) as run:
            handle = run.plugged.dashboard.handle
            assert handle is not None and not handle.running
            assert f"dashboard: not started: port {port} in use on 127.0.0.1" in run.out.getvalue()
            await run.push_open("AAPL", 189.4)
            assert run.orders() == ["AAPL"]


async def test_dashboard_off_is_said_and_nothing_listens(tmp_path: Path) -> None:
    off = tmp_path
    async with AlphaHubSimulator(port=0) as hub:
        path = off / "config.yaml"
        text = CONFIG.format(hub=hub.url, port=0, extra="", cash=100_000).replace(
            "dashboard: {port: 0}", "dashboard: {enabled: false}"
        )
        path.write_text(text)
        config = load_config(path)
        out = io.StringIO()
        bot = Bot(config, path, Mode.PAPER, load=load_config, out=out)
        plugged = attach_observability(bot, config, path)
        task = asyncio.create_task(bot.run())
        try:
            async with asyncio.timeout(DEADLINE):
                await plugged.dashboard.started.wait()
        finally:
            bot.request_stop()
            await task
    assert "dashboard: off (dashboard.enabled: false)" in out.getvalue()


def test_a_broker_silent_for_a_minute_is_unhealthy() -> None:
    now = datetime(2026, 11, 24, 15, tzinfo=UTC)
    assert _broker_problem(now - timedelta(seconds=59), None, now) is None
    assert _broker_problem(now - timedelta(seconds=61), None, now) == (
        "the broker has not answered for 61 s"
    )
    assert _broker_problem(None, None, now) == "the broker has not answered yet"


def test_a_broker_whose_last_request_failed_is_unhealthy_at_once() -> None:
    """The same fact as the broker-unreachable alert (runtime/broker_reach.py): /healthz, the
    tradebot_broker_reachable gauge and the alert never disagree about a failed request."""
    now = datetime(2026, 11, 24, 15, tzinfo=UTC)
    failed_at = now - timedelta(seconds=2)
    assert _broker_problem(now - timedelta(seconds=17), failed_at, now) == (
        "the broker is unreachable since 2026-11-24T14:59:58+00:00"
        " (its last account request failed)"
    )
