"""Exits in the running bot (AlphaHub simulator in, sim broker out, real journal): a bracket
whose stop fills makes the later close a ``not_held`` naming it; a limit day entry gets its oco
from the exit manager once filled, and the close cancels it first, then sells what is held."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import requests
from click.testing import CliRunner

from tests.web.conftest import served
from tradebot.broker.sim import SimBroker
from tradebot.cli.main import cli
from tradebot.config.loader import load_config
from tradebot.config.model import Mode
from tradebot.core.order_snapshot import OrderStatus
from tradebot.journal.interface import EntryFilter
from tradebot.journal.records import Status
from tradebot.journal.sqlite import SqliteJournal, open_journal
from tradebot.runtime.bot import Bot
from tradebot.runtime.observer import BotEvent, ErrorRecorded
from tradebot.simulators.alphahub.server import AlphaHubSimulator
from tradebot.web.sources import Sources

CONFIG = """\
alphahub: {{url: {hub}, email: demo@example.com, password: demo, connections: 1}}
broker:
  name: sim
  sim: {{prices: {{AAPL: 100}}, slippage_bps: 0}}
journal: {{path: journal/tradebot.sqlite}}
risk: {{kill_switch_file: null}}
algorithms:
  16:
    strategy: fixed_shares
    params: {{shares: 10}}
    exits: {{take_profit_pct: 5, stop_loss_pct: 2}}
{extra}"""


@dataclass
class Running:
    hub: AlphaHubSimulator
    bot: Bot
    sim: SimBroker
    journal_path: Path

    async def push(self, kind: str, side: str, price: float, handled: int) -> None:
        at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        leg = {"symbol": "AAPL", "side": side, "price": price, "timestamp": at}
        await self.hub.push(16, {kind: [leg]})
        await self.bot.wait_handled(handled)

    def read(self) -> SqliteJournal:
        return open_journal(self.journal_path, readonly=True)


@asynccontextmanager
async def running(tmp_path: Path, extra: str = "") -> AsyncIterator[Running]:
    async with AlphaHubSimulator(port=0) as hub:
        config_path = tmp_path / "config.yaml"
        config_path.write_text(CONFIG.format(hub=hub.url, extra=extra))
        config = load_config(config_path)
        sim = SimBroker(config.broker.sim)
        bot = Bot(config, config_path, Mode.PAPER, load=load_config, out=io.StringIO(), broker=sim)
        task = asyncio.create_task(bot.run())
        try:
            async with asyncio.timeout(30):
                await bot.ready.wait()
                await hub.wait_joined(16)
                yield Running(hub, bot, sim, tmp_path / "journal" / "tradebot.sqlite")
        finally:
            bot.request_stop()
            await task


async def until(check: Callable[[], bool]) -> None:
    """Wait for the bot's own tasks (event stream, exit manager) to get there."""
    async with asyncio.timeout(20):
        while not check():  # noqa: ASYNC110 (the bot's tasks, in another coroutine)
            await asyncio.sleep(0.05)


def rows(journal: SqliteJournal, status: Status) -> list[str]:
    return [e.detail for e in journal.entries(EntryFilter(statuses=(status,), newest_first=False))]


async def test_a_bracket_stop_fill_makes_the_close_not_held(tmp_path: Path) -> None:
    async with running(tmp_path) as run:
        await run.push("open", "buy", 100, 1)
        assert await run.sim.positions() == {"AAPL": Decimal(10)}
        # `tradebot positions` says what protects the position
        shown = CliRunner().invoke(
            cli, ["positions", "--journal", str(run.journal_path), "--no-broker"]
        )
        assert shown.exit_code == 0, shown.output
        (row,) = [line for line in shown.output.splitlines() if line.startswith("16 ")]
        assert row.split(None, 3)[3] == "sell 10: stop-loss 98, take-profit 105"
        # and so does the dashboard's Positions page
        with served(Sources(journal_path=run.journal_path)) as dash:
            api = await asyncio.to_thread(requests.get, f"{dash.url}api/positions", timeout=10)
            page = await asyncio.to_thread(requests.get, f"{dash.url}positions", timeout=10)
        (mine,) = [r for r in api.json()["rows"] if r["algo"] == "16"]
        assert mine["exits"] == "sell 10: stop-loss 98, take-profit 105"
        assert '<td class="exits">sell 10: stop-loss 98, take-profit 105</td>' in page.text
        run.sim.set_price("AAPL", Decimal("97.5"))  # through the 98.00 stop
        assert await run.sim.positions() == {}
        with run.read() as journal:
            await until(
                lambda: bool(
                    journal.entries(
                        EntryFilter(statuses=(Status.FILLED,), symbols=("AAPL",), limit=2)
                    )[1:]
                )
            )
        await run.push("close", "sell", 97.5, 2)
        flat = CliRunner().invoke(
            cli,
            ["positions", "--journal", str(run.journal_path), "--no-broker", "--format", "json"],
        )
        assert json.loads(flat.output)["positions"] == []  # flat: nothing left to protect
    with open_journal(tmp_path / "journal" / "tradebot.sqlite", readonly=True) as journal:
        (skip,) = rows(journal, Status.SKIPPED)
        assert skip.startswith("not_held: algorithm 16 holds no AAPL: its stop-loss")
        assert "-sl filled 10 @ 97.5" in skip
        sells = journal.entries(EntryFilter(statuses=(Status.FILLED,), symbols=("AAPL",)))
        assert [e.side for e in sells].count("sell") == 1


async def test_after_fill_exits_are_canceled_by_the_close_which_sells_what_is_held(
    tmp_path: Path,
) -> None:
    # limits a tenth of a percent past the price: a limit at exactly the price rests
    # (tradebot/market_model/rules.py), these fill on arrival, at the price
    extra = "    order_type: limit\n    limit_offset_pct: 0.1\n"
    async with running(tmp_path, extra) as run:
        await run.push("open", "buy", 100, 1)

        def placed() -> bool:
            with run.read() as journal:
                return any(r.endswith("-tp") for r in _intent_ids(journal))

        await until(placed)
        with run.read() as journal:
            ids = _intent_ids(journal)
        oco = next(i for i in ids if i.endswith("-tp"))
        snapshot = await run.sim.get_order(oco)
        assert snapshot is not None and snapshot.status is OrderStatus.PENDING
        assert [leg.client_order_id for leg in snapshot.legs] == [oco[: -len("-tp")] + "-sl"]
        await run.push("close", "sell", 100, 2)
        assert await run.sim.positions() == {}
        after = await run.sim.get_order(oco)
        assert after is not None and after.status is OrderStatus.CANCELED
    with open_journal(tmp_path / "journal" / "tradebot.sqlite", readonly=True) as journal:
        steps = [
            e.data.get("step")
            for e in journal.entries(EntryFilter(statuses=(Status.EXIT,), newest_first=False))
        ]
        assert steps.count("cancel_for_close") == 2  # the oco and its stop leg
        assert rows(journal, Status.ERROR) == []  # canceled by us: no unprotected alarm
        closes = [
            e
            for e in journal.entries(EntryFilter(statuses=(Status.INTENT,)))
            if e.data["role"] == "close"
        ]
        assert [e.qty for e in closes] == [Decimal(10)]


def _intent_ids(journal: SqliteJournal) -> list[str]:
    return [
        e.client_order_id or ""
        for e in journal.entries(EntryFilter(statuses=(Status.INTENT,), newest_first=False))
    ]


async def test_exits_canceled_at_the_broker_alert_a_person_through_the_observers(
    tmp_path: Path,
) -> None:
    """Someone cancels the bracket's legs at the broker (not the bot): the position is left
    unprotected, and the observers (the alerts plug-in among them) are told."""
    async with running(tmp_path) as run:
        told: list[ErrorRecorded] = []

        class Errors:
            def notice(self, event: BotEvent) -> None:
                if isinstance(event, ErrorRecorded):
                    told.append(event)

        run.bot.observe(Errors())
        await run.push("open", "buy", 100, 1)
        with run.read() as journal:
            legs = [i for i in _intent_ids(journal) if i.endswith(("-tp", "-sl"))]
        assert len(legs) == 2
        for leg in legs:
            await run.sim.cancel(leg)
        await until(lambda: any("POSITION UNPROTECTED" in e.detail for e in told))
        (alarm,) = [e for e in told if "POSITION UNPROTECTED" in e.detail]
        assert alarm.algo_id == 16 and "still holds 10 AAPL" in alarm.detail
