"""Run the demo: the AlphaHub simulator, a broker (the local Alpaca-compatible server through the
real Alpaca adapter, or the in-process ``sim`` broker), and the real bot, all on 127.0.0.1.

The bot is the same :class:`~tradebot.runtime.bot.Bot` that ``tradebot run`` starts, reading a
config file written into the demo folder; only the signals and the broker are stand-ins.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import shutil
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TextIO

from tradebot.broker.sim import SimBroker
from tradebot.config.loader import load_config
from tradebot.config.model import Mode
from tradebot.demo.scenario import market_prices, steps
from tradebot.exceptions import TradebotError
from tradebot.runtime.bot import Bot
from tradebot.runtime.observer import BotEvent, FillsRecorded
from tradebot.simulators.alpaca.server import AlpacaServer
from tradebot.simulators.alphahub.server import AlphaHubSimulator

ALGORITHMS = (14, 16, 17, 18)
MARKER = ".tradebot-demo"
#: seconds; a step that takes longer means something is wrong
STEP_TIMEOUT = 20.0
#: the local Alpaca server trades this far above the signal price (so slippage shows; well
#: inside the price collar)
FILL_OFFSET = Decimal("0.03")

_ALGORITHMS_YAML = """\
algorithms:
  14:
    name: Minotaur 1-Stock
    strategy: allocation
    params: {pct: 20, max_positions: 1}
    allow_short: true
  16:
    name: Minotaur 3-Stock
    strategy: allocation
    params: {pct: 30, max_positions: 3}
    allow_short: true
  17:
    name: Minotaur Optimus 1
    strategy: allocation
    params: {pct: 20, max_positions: 1}
  18:
    name: The Optimizer
    strategy: percent_of_equity
    params: {pct: 10}
    exits: {take_profit_pct: 6, stop_loss_pct: 3}
"""


def demo_config(alphahub_url: str, broker_yaml: str) -> str:
    return f"""\
# Written by `tradebot demo`: every service here is a local simulator on 127.0.0.1.
mode: paper
alphahub:
  url: {alphahub_url}
  email: demo@example.com
  password: demo
  connections: 2
  heartbeat_interval: 5
broker:
{broker_yaml}
journal:
  path: journal/tradebot.sqlite
risk:
  max_order_notional: 25000
  max_signal_age: 300
  kill_switch_file: tradebot.halt
{_ALGORITHMS_YAML}"""


def _broker_yaml(server: AlpacaServer | None) -> str:
    if server is None:
        return "  name: sim\n  sim:\n    cash: 100000\n    slippage_bps: 5"
    return (
        "  name: alpaca\n  alpaca:\n"
        f"    url: {server.url}\n    stream_url: {server.stream_url}\n"
        f"    data_url: {server.url}\n"
        "    key_id: demo-key\n    secret_key: demo-secret"
    )


def prepare_folder(folder: Path) -> None:
    """Create the demo folder, or clear the previous demo's journal (only in a demo folder)."""
    if folder.exists() and any(folder.iterdir()) and not (folder / MARKER).exists():
        raise TradebotError(
            f"{folder} exists and was not made by `tradebot demo`; choose another --dir"
        )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("made by tradebot demo; safe to delete\n")
    shutil.rmtree(folder / "journal", ignore_errors=True)


@contextlib.contextmanager
def _alpaca_server(enabled: bool) -> Iterator[AlpacaServer | None]:
    if not enabled:
        yield None
        return
    server = AlpacaServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def run_demo(folder: Path, *, broker: str, out: TextIO) -> Path:
    """Play the scenario; returns the config file (its journal is ready for review)."""
    prepare_folder(folder)

    def say(text: str) -> None:
        print(text, file=out, flush=True)

    with _alpaca_server(broker == "alpaca") as server:
        async with AlphaHubSimulator(port=0) as hub:
            config_path = folder / "config.yaml"
            config_path.write_text(demo_config(hub.url, _broker_yaml(server)))
            config = load_config(config_path)
            # the sim broker is its own market: the demo moves it step by step, as it does the
            # local Alpaca server's
            sim: SimBroker | None = None
            move_market: Callable[[str, Decimal], None]
            if server is None:
                sim = SimBroker(config.broker.sim, account_id="SIM")
                move_market = sim.set_price
            else:
                move_market = functools.partial(_trade_above, server)
            bot = Bot(config, config_path, Mode.PAPER, load=load_config, out=out, broker=sim)
            fills = _Fills()
            bot.observe(fills)
            await played(bot, hub, lambda: _play(hub, bot, fills, move_market, say))
            # while the broker is still up, so positions show its view beside the journal's
            await asyncio.to_thread(review, config_path, say)
    return config_path


async def played(bot: Bot, hub: AlphaHubSimulator, play: Callable[[], Awaitable[None]]) -> None:
    """Run ``bot`` for the session ``play()`` plays: once it is ready and every algorithm is
    joined on both connections, then a clean stop, whatever the session did."""
    async with asyncio.TaskGroup() as tg:
        running = tg.create_task(bot.run(), name="bot")
        try:
            async with asyncio.timeout(STEP_TIMEOUT):
                await bot.ready.wait()
                for algo_id in ALGORITHMS:
                    await hub.wait_joined(algo_id, 2)
            await play()
        finally:
            bot.request_stop()
        await running


class _Fills:
    """Tells the demo when fills are recorded that no signal asked for (an exit's)."""

    def __init__(self) -> None:
        self.recorded = asyncio.Event()

    def notice(self, event: BotEvent) -> None:
        if isinstance(event, FillsRecorded):
            self.recorded.set()


async def _until_flat(bot: Bot, fills: _Fills, algo_id: int, symbol: str) -> None:
    """Wait until the algorithm's ledger holds none of ``symbol`` (an exit's fill landed)."""
    while bot.parts is None or bot.parts.executor.book.qty(algo_id, symbol):
        fills.recorded.clear()
        await fills.recorded.wait()


def _trade_above(server: AlpacaServer, symbol: str, price: Decimal) -> None:
    server.set_price(symbol, price + FILL_OFFSET)


def review(config_path: Path, say: Callable[[str], None]) -> None:
    """What a person reads after a session: the report, the positions and the tracking table,
    by the real commands."""
    from tradebot.cli.main import cli

    say("\n== report (tradebot report)")
    cli.main(["report", "--config", str(config_path)], standalone_mode=False)
    say("\n== positions (tradebot positions)")
    cli.main(["positions", "--config", str(config_path)], standalone_mode=False)
    say("\n== tracking: the algorithms' results against the account's (tradebot track)")
    cli.main(["track", "--config", str(config_path)], standalone_mode=False)


async def _play(
    hub: AlphaHubSimulator,
    bot: Bot,
    fills: _Fills,
    move_market: Callable[[str, Decimal], None],
    say: Callable[[str], None],
) -> None:
    handled = bot.handled
    for number, step in enumerate(steps(lambda: datetime.now(UTC)), start=1):
        say(f"\n== demo step {number}: {step.title}")
        if step.fault == "drop":
            hub.drop(hub.connections[0])
        elif step.fault == "lapse":
            hub.drop()  # every connection: the push below reaches nobody
        for symbol, price in market_prices(step).items():
            move_market(symbol, price)
        if step.payload is not None:
            await hub.push(step.algo_id, step.payload, times=step.times)
        if step.delivered:
            handled += 1
        async with asyncio.timeout(STEP_TIMEOUT):
            if step.flat is not None:
                await _until_flat(bot, fills, *step.flat)
            await bot.wait_handled(handled)
            for algo_id in ALGORITHMS:
                await hub.wait_joined(algo_id, 2)
    say("\n== demo: all steps played; stopping the bot")
