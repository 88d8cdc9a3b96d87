"""Several `tradebot run` processes on one PostgreSQL journal, between the simulators: every
process listens, one executes; the leader killed with -9 and paused past the failover timeout
(SIGSTOP, then SIGCONT: it must not send once it wakes). Orders are counted at the local
Alpaca server: every leg exactly once, positions equal to the broker's."""

from __future__ import annotations

import asyncio
import random
import signal
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tests.e2e.day import EXPECTED_LEDGERS, EXPECTED_NET, EXPECTED_ORDERS, Push, day
from tests.e2e.harness import (
    ALGOS,
    BotProcess,
    alpaca_server,
    book_from_journal,
    bot_config,
    broker_orders,
    broker_positions,
    entries,
    leg,
    move_market_to,
    unresolved,
    until,
)
from tests.pgserver import PgServer
from tradebot.journal.interface import EntryFilter
from tradebot.journal.postgres import open_postgres
from tradebot.journal.records import Status
from tradebot.simulators.alpaca.server import AlpacaServer
from tradebot.simulators.alphahub.server import AlphaHubSimulator

ALGO = 14  # fixed 10 shares: one order per leg
FAST_FAILOVER = "  recheck_interval: 1\n  failover_timeout: 2"


class Cuttable:
    """A TCP proxy to AlphaHub for one process: :meth:`cut` aborts its links and refuses new
    ones (that process hears nothing, the others still do); :meth:`mend` lets it back in."""

    def __init__(self, target_port: int) -> None:
        self._target = target_port
        self._links: list[asyncio.StreamWriter] = []
        self.open = True
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._link, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()

    def cut(self) -> None:
        self.open = False
        for writer in self._links:
            writer.transport.abort()
        self._links.clear()

    def mend(self) -> None:
        self.open = True

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.open:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target)
        self._links += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


def _through(url: str, port: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"127.0.0.1:{port}"))


SYMBOLS = ("AAPL", "MSFT", "NVDA", "TSLA", "AMD", "INTC", "ORCL", "META")


def _leader_pid(url: str) -> int | None:
    with open_postgres(url, readonly=True) as store:
        lead = store.leadership()
    if lead is None or lead[1] is None or not lead[2]:
        return None
    return int(lead[1].split(":")[1])


def _epoch(url: str) -> int:
    with open_postgres(url, readonly=True) as store:
        lead = store.leadership()
    return 0 if lead is None else lead[0]


class Fleet:
    """The test's `tradebot run` processes on one journal, each reaching AlphaHub through a
    :class:`Cuttable` proxy of its own.

    It does what systemd's ``Restart=`` does: a process that stops because it lost the lease
    (exit 4) is started again, as a standby. Not only a paused leader does: with every core busy
    a renewal can come later than the 1.2 s lease, and a standby then takes over from a live
    leader. The processes a test kills -9 it restarts itself (or not).
    """

    def __init__(self, folder: Path, hub: AlphaHubSimulator, server: AlpacaServer, url: str):
        self._folder, self._hub, self._server, self._url = folder, hub, server, url
        self.bots: list[BotProcess] = []
        self.links: dict[BotProcess, Cuttable] = {}
        self._watchers: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()

    async def start(self, name: str) -> BotProcess:
        folder = self._folder / name
        folder.mkdir(exist_ok=True)
        config = folder / "config.yaml"
        proxy = Cuttable(urlsplit(self._hub.url).port or 0)
        await proxy.start()
        text = bot_config(self._hub.url, self._server, journal_url=self._url)
        text = text.replace(self._hub.url, _through(self._hub.url, proxy.port))
        config.write_text(text.replace("  recheck_interval: 1", FAST_FAILOVER))
        bot = BotProcess(config)
        await bot.start()
        self.bots.append(bot)
        self.links[bot] = proxy
        self._watchers.append(asyncio.create_task(self._supervise(bot, name)))
        return bot

    async def _supervise(self, bot: BotProcess, name: str) -> None:
        assert bot.proc is not None
        if await bot.proc.wait() == 4 and not self._stopping.is_set():
            await self.start(f"{name}+")

    def by_pid(self, pid: int | None) -> BotProcess | None:
        return next((b for b in self.bots if b.proc and b.proc.pid == pid and b.running), None)

    async def leader(self) -> BotProcess:
        await until(lambda: self.by_pid(_leader_pid(self._url)) is not None, "a live leader")
        found = self.by_pid(_leader_pid(self._url))
        assert found is not None
        return found

    def _standing_by(self) -> bool:
        lead = _leader_pid(self._url)
        return any(
            b.running and b.proc and b.proc.pid != lead and "standby:" in b.output()
            for b in self.bots
        )

    async def standby(self) -> None:
        """Wait for a live standby (one started or restarted): a test only takes the leader
        away with someone there to take over."""
        await until(self._standing_by, "a standby")

    async def stop(self) -> list[int]:
        """Stop every running process cleanly (SIGTERM), restarting none; their exit codes."""
        self._stopping.set()
        return [await bot.stop(signal.SIGTERM) for bot in self.bots if bot.running]

    async def close(self) -> None:
        """Kill whatever still runs (a paused one woken first), and the proxies."""
        self._stopping.set()  # no more restarts; one already starting is stopped below
        while any(b.running for b in self.bots) or not all(w.done() for w in self._watchers):
            for bot in self.bots:
                if bot.running:
                    assert bot.proc is not None
                    bot.proc.send_signal(signal.SIGCONT)
                    await bot.stop(signal.SIGKILL)
            await asyncio.gather(*self._watchers, return_exceptions=True)
        for proxy in self.links.values():
            await proxy.stop()


async def test_one_executes_and_failover_sends_every_leg_once(
    tmp_path: Path, pg_server: PgServer
) -> None:
    url = pg_server.create_database()
    rng = random.Random(14)
    with alpaca_server() as server:
        async with AlphaHubSimulator(port=0) as hub:
            fleet = Fleet(tmp_path, hub, server, url)
            pushed: list[str] = []

            async def push(symbol: str) -> None:
                server.set_price(symbol, Decimal("100"))
                stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
                await hub.push(ALGO, {"open": [leg(symbol, "buy", "100", stamp)]})
                pushed.append(symbol)

            def ordered(symbol: str) -> bool:
                return any(o.symbol == symbol for o in broker_orders(server))

            try:
                first = await fleet.start("a")
                await until(lambda: "role     leader" in first.output(), "the first leader")
                for name in ("b", "c"):
                    standby = await fleet.start(name)
                    await until(lambda s=standby: "standby:" in s.output(), f"standby {name}")
                async with asyncio.timeout(30):
                    await hub.wait_joined(ALGO, 6)  # three processes, two connections each

                # 1. a signal heard by all three, executed once
                await push(SYMBOLS[0])
                await until(lambda: ordered(SYMBOLS[0]), "the first order")

                # 2. the leader's AlphaHub links cut: the standbys hear the signal and journal
                # it; the leader finds it in the journal and executes it
                lead = await fleet.leader()
                joined = len(hub.joined(ALGO))
                fleet.links[lead].cut()
                await until(lambda: len(hub.joined(ALGO)) <= joined - 2, "the leader's links cut")
                await push(SYMBOLS[7])
                await until(lambda: ordered(SYMBOLS[7]), "the order the leader did not hear")
                fleet.links[lead].mend()

                # 3. the leader killed -9 right after a push: a standby takes over, plans it
                await fleet.standby()
                lead = await fleet.leader()
                await push(SYMBOLS[1])
                await asyncio.sleep(rng.uniform(0, 0.05))
                await lead.kill9()
                await until(lambda: ordered(SYMBOLS[1]), "the order after the kill")
                await fleet.start("a2")  # as a supervisor would: back, as a standby
                await push(SYMBOLS[2])
                await until(lambda: ordered(SYMBOLS[2]), "an order from the new leader")

                # 4. the leader paused past the failover timeout: another takes over; woken, the
                # paused one stops (exit 4) and sends nothing
                await fleet.standby()
                paused = await fleet.leader()
                epoch = _epoch(url)
                assert paused.proc is not None
                paused.proc.send_signal(signal.SIGSTOP)
                await until(lambda: _epoch(url) > epoch, "a take-over from the paused leader")
                await push(SYMBOLS[3])
                await until(lambda: ordered(SYMBOLS[3]), "an order while the old leader sleeps")
                paused.proc.send_signal(signal.SIGCONT)
                async with asyncio.timeout(30):
                    assert await paused.proc.wait() == 4
                # whichever it meets first on waking: its lease renewal, the fence of the intent
                # for the frame it read from its socket, or (paused inside a transaction, more
                # likely with every core busy) the server having ended that transaction and its
                # session (idle_in_transaction_session_timeout), so nothing of it was committed
                woke = paused.output()
                assert any(
                    reason in woke
                    for reason in (
                        "taken over by another process",
                        "no longer the leader",
                        "idle-in-transaction timeout",
                        "server closed the connection unexpectedly",
                    )
                ), woke
                await push(SYMBOLS[4])
                await until(lambda: ordered(SYMBOLS[4]), "an order after the wake-up")

                # 5. killed again in the middle of two pushes
                await fleet.standby()
                lead = await fleet.leader()
                await push(SYMBOLS[5])
                await asyncio.sleep(rng.uniform(0, 0.2))
                await lead.kill9()
                await push(SYMBOLS[6])
                for symbol in SYMBOLS[5:]:
                    await until(lambda s=symbol: ordered(s), f"the order for {symbol}")

                await until(lambda: unresolved(url) == 0, "every order settled")
                await until(
                    lambda: all(o.status == "filled" for o in broker_orders(server)), "fills"
                )
            finally:
                await fleet.close()

    orders = broker_orders(server)
    assert Counter(o.symbol for o in orders) == dict.fromkeys(SYMBOLS, 1)  # each leg once
    assert len({o.client_order_id for o in orders}) == len(orders)
    # the journal: each leg once, one intent each; the copies other processes journaled were
    # planned as duplicates, never as second orders
    intents = entries(url, statuses=(Status.INTENT,))
    assert Counter(e.symbol for e in intents) == dict.fromkeys(SYMBOLS, 1)
    assert Counter(e.symbol for e in entries(url, statuses=(Status.LEG,))) == Counter(SYMBOLS)
    skipped = entries(url, statuses=(Status.SKIPPED,))
    assert {e.data["reason"] for e in skipped} <= {"duplicate"}
    book = book_from_journal(url)
    ours = {s: q for (_, s), q in book.items() if q}
    assert ours == {s: q for s, q in broker_positions(server).items() if q}
    assert ours == dict.fromkeys(SYMBOLS, Decimal(10))


def _decided(url: str, push: Push) -> bool:
    """Every well-formed leg of ``push`` is on record and planned, and no journaled signal waits
    for a plan: however many processes heard the push (one may have lost the lease and be
    starting again)."""
    wanted = {
        (kind, item["symbol"], item["side"])
        for kind in ("close", "open")
        for item in push.payload.get(kind) or ()
        if isinstance(item.get("price"), float)  # not the malformed leg (no identity)
    }
    with open_postgres(url, readonly=True) as store:
        rows = store.entries(EntryFilter(statuses=(Status.LEG,), algo_ids=(push.algo_id,)))
        keys = {e.leg for e in rows if e.leg and (e.leg.split(":")[1], e.symbol, e.side) in wanted}
        return (
            len(keys) == len(wanted)
            and store.planned_legs(sorted(keys)) == keys
            and not store.unplanned_signals()
        )


async def test_the_scripted_day_with_three_processes(tmp_path: Path, pg_server: PgServer) -> None:
    url = pg_server.create_database()
    pushes = day(datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    with alpaca_server() as server:
        async with AlphaHubSimulator(port=0) as hub:
            fleet = Fleet(tmp_path, hub, server, url)
            try:
                for name in ("a", "b", "c"):
                    bot = await fleet.start(name)
                    ready = "role     leader" if name == "a" else "standby:"
                    await until(lambda b=bot, r=ready: r in b.output(), f"process {name}")
                async with asyncio.timeout(30):
                    for algo_id in ALGOS:
                        await hub.wait_joined(algo_id, 6)
                for number, push in enumerate(pushes, start=1):
                    move_market_to(server, push.payload)
                    await hub.push(push.algo_id, push.payload)
                    await until(lambda p=push: _decided(url, p), f"push {number} planned")
                await until(lambda: unresolved(url) == 0, "every order settled")
                await until(
                    lambda: all(o.status == "filled" for o in broker_orders(server)), "fills"
                )
                assert set(await fleet.stop()) == {0}
            finally:
                await fleet.close()

    placed = sorted((o.symbol, o.side, o.qty) for o in broker_orders(server))
    assert placed == sorted((e.symbol, e.side, e.qty) for e in EXPECTED_ORDERS)
    book = book_from_journal(url)
    assert {k: v for k, v in book.items() if v} == {k: v for k, v in EXPECTED_LEDGERS.items() if v}
    net = {s: q for s, q in broker_positions(server).items() if q}
    assert net == EXPECTED_NET
