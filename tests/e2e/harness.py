"""End-to-end harness: `tradebot run` as a real process, the AlphaHub simulator and the local
Alpaca-compatible server hosted by the test on 127.0.0.1.

The broker's state lives in the test process, so the bot can be killed with SIGKILL and started
again and find its orders where it left them. Every wait is for a condition, with a deadline.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradebot.exceptions import JournalError
from tradebot.journal.interface import EntryFilter
from tradebot.journal.opener import open_journal
from tradebot.journal.records import Entry, Status
from tradebot.simulators.alpaca.faults import FillScript
from tradebot.simulators.alpaca.server import AlpacaServer
from tradebot.simulators.alphahub.server import AlphaHubSimulator

ALGOS = (14, 16, 17, 18)
DEADLINE = 30.0  # seconds any single condition may take before the test fails

ALGORITHMS_YAML = """\
algorithms:
  14:
    name: Minotaur 1-Stock
    strategy: fixed_shares
    params: {shares: 10}
    allow_short: true
  16:
    name: Minotaur 3-Stock
    strategy: fixed_shares
    params: {shares: 10}
    allow_short: true
  17:
    name: Minotaur Optimus 1
    strategy: fixed_notional
    params: {notional: 5000}
  18:
    name: The Optimizer
    strategy: fixed_notional
    params: {notional: 5000}
"""


def bot_config(
    hub_url: str, server: AlpacaServer, extra_risk: str = "", journal_url: str | None = None
) -> str:
    url_line = f"\n  url: {journal_url}" if journal_url else ""
    return f"""\
mode: paper
alphahub:
  url: {hub_url}
  email: demo@example.com
  password: demo
  connections: 2
  heartbeat_interval: 1
  heartbeat_timeout: 2
  join_timeout: 2
  reconnect: {{first_delay: 0.05, max_delay: 0.5, healthy_after: 2}}
broker:
  name: alpaca
  alpaca:
    url: {server.url}
    stream_url: {server.stream_url}
    data_url: {server.url}
    key_id: test-key
    secret_key: test-secret
    timeout: 2
    first_retry_delay: 0.05
    max_retry_delay: 0.5
    max_retry_after: 1
    reconnect_delay: 0.1
journal:
  path: journal/tradebot.sqlite{url_line}
  recheck_interval: 1
risk:
  max_signal_age: 600
  kill_switch_file: tradebot.halt
{extra_risk}
{ALGORITHMS_YAML}"""


async def until(condition: Callable[[], bool], what: str, deadline: float = DEADLINE) -> None:
    """Poll ``condition`` (cheap reads of files and servers) until it holds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while not condition():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class BotProcess:
    """``python -m tradebot run --config PATH`` with its output in a file."""

    def __init__(self, config_path: Path, env: dict[str, str] | None = None) -> None:
        self.config_path = config_path
        self.extra_env = env or {}
        self.log = config_path.parent / "bot.log"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("APCA_", "ALPHAHUB_"))}
        env["PYTHONUNBUFFERED"] = "1"
        env.update(self.extra_env)
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tradebot",
                "run",
                "--config",
                str(self.config_path),
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                stdin=asyncio.subprocess.DEVNULL,
                cwd=self.config_path.parent,
                env=env,
            )

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        async with asyncio.timeout(DEADLINE):
            return await self.proc.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def _exists(journal: Path | str) -> bool:
    """A journal file exists, or a PostgreSQL journal (URL) has been created by the bot."""
    if isinstance(journal, Path):
        return journal.exists()
    try:
        open_journal(journal, readonly=True).close()
    except JournalError as exc:
        if "no journal" in str(exc):
            return False
        raise
    return True


def entries(journal: Path | str, **where: Any) -> list[Entry]:
    """Journal rows (oldest first), read the way the review commands read: read-only."""
    if not _exists(journal):
        return []
    store = open_journal(journal, readonly=True)
    try:
        return list(store.entries(EntryFilter(newest_first=False, **where)))
    finally:
        store.close()


def unresolved(journal: Path | str) -> int:
    if not _exists(journal):
        return 0
    store = open_journal(journal, readonly=True)
    try:
        return len(store.unresolved_intents())
    finally:
        store.close()


@dataclass(frozen=True)
class Placed:
    """An order as the broker holds it."""

    client_order_id: str
    symbol: str
    side: str
    qty: Decimal
    status: str


def broker_orders(server: AlpacaServer) -> list[Placed]:
    return [
        Placed(o["client_order_id"], o["symbol"], o["side"], Decimal(o["qty"]), o["status"])
        for o in server.orders()
    ]


def broker_positions(server: AlpacaServer) -> dict[str, Decimal]:
    with server.lock:
        return {s: Decimal(p.qty) for s, p in server.account.open_positions().items()}


def book_from_journal(journal: Path | str) -> dict[tuple[int, str], Decimal]:
    store = open_journal(journal, readonly=True)
    try:
        return {(a, s): q for a, s, q in store.rebuild_book()}
    finally:
        store.close()


@contextmanager
def alpaca_server() -> Iterator[AlpacaServer]:
    server = AlpacaServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def wait_subscribed(hub: AlphaHubSimulator, algorithms: Sequence[int]) -> None:
    async with asyncio.timeout(DEADLINE):
        for algo_id in algorithms:
            await hub.wait_joined(algo_id, 2)


def leg(symbol: str, side: str, price: str, at: str) -> dict[str, Any]:
    return {"price": float(price), "side": side, "symbol": symbol, "timestamp": at}


def last_id(journal: Path | str) -> int:
    """The newest row id (0 for no journal yet)."""
    if not _exists(journal):
        return 0
    store = open_journal(journal, readonly=True)
    try:
        return store.last_id()
    finally:
        store.close()


def planned_after(journal: Path | str, algo_id: int, mark: int) -> bool:
    """Whether a signal of ``algo_id`` was planned after row ``mark`` (one push in flight)."""
    return bool(entries(journal, algo_ids=(algo_id,), statuses=(Status.PLAN,), after_id=mark))


def move_market_to(server: AlpacaServer, payload: dict[str, Any]) -> None:
    """The broker's market trades at the legs' prices, so they pass the price collar (legs
    with no symbol or no usable price, bad on purpose, leave it alone)."""
    for group in ("close", "open"):
        for item in payload.get(group) or ():
            try:
                server.set_price(item["symbol"], Decimal(str(item["price"])))
            except (KeyError, TypeError, ArithmeticError):
                continue


@dataclass
class Env:
    """A running bot with its simulators, as :func:`running_bot` yields it."""

    hub: AlphaHubSimulator
    server: AlpacaServer
    bot: BotProcess
    config: Path
    journal: Path | str  # a SQLite file, or a PostgreSQL URL

    @property
    def at(self) -> str:
        """A leg timestamp for now, in AlphaHub's naive UTC format."""
        return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")

    async def push_and_wait(
        self, algo_id: int, payload: dict[str, Any], *, move_market: bool = True
    ) -> None:
        """Push one frame and wait until the bot has planned it.

        ``move_market``: the broker's market first trades at the legs' prices, so they pass the
        price collar (False: leave the market where it is).
        """
        if move_market:
            move_market_to(self.server, payload)
        mark = last_id(self.journal)
        await self.hub.push(algo_id, payload)
        await until(
            lambda: planned_after(self.journal, algo_id, mark), f"a plan for algorithm {algo_id}"
        )

    def skips(self, symbol: str) -> list[str]:
        rows = entries(self.journal, symbols=(symbol,), statuses=(Status.SKIPPED,))
        return [str(e.data.get("reason")) for e in rows]

    def orders(self, symbol: str) -> list[str]:
        return [f"{o.side} {o.qty}" for o in broker_orders(self.server) if o.symbol == symbol]


@asynccontextmanager
async def running_bot(
    folder: Path, *, journal_url: str | None = None, env: dict[str, str] | None = None
) -> AsyncIterator[Env]:
    """`tradebot run` in ``folder``, subscribed to every algorithm, against fresh simulators;
    killed on the way out if the test left it running."""
    with alpaca_server() as server:
        async with AlphaHubSimulator(port=0) as hub:
            config = folder / "config.yaml"
            config.write_text(bot_config(hub.url, server, journal_url=journal_url))
            bot = BotProcess(config, env)
            await bot.start()
            try:
                await wait_subscribed(hub, ALGOS)
                journal = (
                    env_url(journal_url, env)
                    if journal_url
                    else folder / "journal" / "tradebot.sqlite"
                )
                yield Env(hub, server, bot, config, journal)
            finally:
                if bot.running:
                    await bot.stop(signal.SIGKILL)


@asynccontextmanager
async def configured_bot(
    folder: Path, algorithm_keys: dict[str, str], fills: FillScript | None = None
) -> AsyncIterator[Env]:
    """Like :func:`running_bot`, with keys added to algorithms of the config: each key of
    ``algorithm_keys`` is an algorithm's heading in :data:`ALGORITHMS_YAML` (``"  14:\n    name:
    ...\n"``), its value the lines that go under it; ``fills``: how the broker fills orders."""
    with alpaca_server() as server:
        if fills is not None:
            server.script_fills(fills)
        async with AlphaHubSimulator(port=0) as hub:
            config = folder / "config.yaml"
            text = bot_config(hub.url, server)
            for head, keys in algorithm_keys.items():
                assert head in text, head
                text = text.replace(head, head + keys)
            config.write_text(text)
            bot = BotProcess(config)
            await bot.start()
            try:
                await wait_subscribed(hub, ALGOS)
                yield Env(hub, server, bot, config, folder / "journal" / "tradebot.sqlite")
            finally:
                if bot.running:
                    await bot.stop(signal.SIGKILL)


def env_url(url: str, env: dict[str, str] | None) -> str:
    """The config's journal URL with its ``${VAR}`` filled in, for the test to read it."""
    for name, value in (env or {}).items():
        url = url.replace("${" + name + "}", value)
    return url


def plans(journal: Path | str) -> list[Entry]:
    return entries(journal, statuses=(Status.PLAN,))
