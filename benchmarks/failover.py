"""Several `tradebot run` processes on one PostgreSQL journal: how long a failover takes, and
what the server journal costs a signal.

1. **Failover:** three processes (one leader, two standbys) between the simulators and one
   PostgreSQL server (fsync on). The leader is killed with -9 and a signal is pushed at once;
   measured: kill -> that signal's order read by the local Alpaca server (the new leader's
   first order), over ``--kills`` kills (the killed process is started again as a standby).
   Bounded by ``journal.failover_timeout`` (the lease must run out) plus a third of it (a
   standby's look) plus the new leader's start-up and recovery.
2. **Signal -> submit:** one process, the same signals 50 ms apart, pushed frame -> order read
   by the server, with the SQLite file and with PostgreSQL, in the same run.

    python benchmarks/failover.py [--kills 10] [--timeout 10] [--signals 40]
"""

from __future__ import annotations

import argparse
import asyncio
import signal as sig
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests.pgserver: the tests' throw-away server

from targets import check, note  # noqa: E402

from tests.e2e.harness import BotProcess, bot_config, leg  # noqa: E402
from tests.pgserver import running_server  # noqa: E402
from tradebot.journal.postgres import open_postgres  # noqa: E402
from tradebot.simulators.alpaca.server import AlpacaServer  # noqa: E402
from tradebot.simulators.alphahub.server import AlphaHubSimulator  # noqa: E402

ALGO = 14  # fixed 10 shares


class TimedServer(AlpacaServer):
    """The local Alpaca server, noting when each order for a symbol arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: dict[str, float] = {}
        self.arrived = threading.Condition()

    def handle(self, method: str, path: str, query: dict[str, str], body: object) -> Any:
        if method == "POST" and path == "/v2/orders" and isinstance(body, dict):
            with self.arrived:
                self.arrivals.setdefault(str(body.get("symbol")), time.perf_counter())
                self.arrived.notify_all()
        return super().handle(method, path, query, body)

    async def wait_for(self, symbol: str) -> float:
        def wait() -> float:
            with self.arrived:
                if not self.arrived.wait_for(lambda: symbol in self.arrivals, 60.0):
                    raise TimeoutError(f"no order for {symbol}")
                return self.arrivals[symbol]

        return await asyncio.to_thread(wait)


def config(hub: str, server: AlpacaServer, url: str | None, timeout: float) -> str:
    text = bot_config(hub, server, journal_url=url)
    return text.replace(
        "  recheck_interval: 1", f"  recheck_interval: 1\n  failover_timeout: {timeout}"
    )


async def started(bot: BotProcess, text: str) -> None:
    while text not in bot.output():
        if not bot.running:
            raise RuntimeError(bot.output())
        await asyncio.sleep(0.05)


async def push(hub: AlphaHubSimulator, server: AlpacaServer, symbol: str) -> float:
    server.set_price(symbol, Decimal("100"))
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    at = time.perf_counter()
    await hub.push(ALGO, {"open": [leg(symbol, "buy", "100", stamp)]})
    return at


def leader_pid(url: str) -> int | None:
    with open_postgres(url, readonly=True) as store:
        lead = store.leadership()
    return int(lead[1].split(":")[1]) if lead and lead[1] and lead[2] else None


async def failovers(url: str, kills: int, failover: float, folder: Path) -> list[float]:
    server = TimedServer()
    server.start()
    out: list[float] = []
    try:
        async with AlphaHubSimulator(port=0) as hub:
            bots: list[BotProcess] = []

            async def start(name: str, ready: str) -> BotProcess:
                (folder / name).mkdir(parents=True)
                path = folder / name / "config.yaml"
                path.write_text(config(hub.url, server, url, failover))
                bot = BotProcess(path)
                await bot.start()
                bots.append(bot)
                await started(bot, ready)
                return bot

            await start("p0", "role     leader")
            for n in (1, 2):
                await start(f"p{n}", "standby:")
            try:
                for kill in range(kills):
                    while (pid := leader_pid(url)) is None:  # noqa: ASYNC110 (another process)
                        await asyncio.sleep(0.05)
                    lead = next(b for b in bots if b.proc and b.proc.pid == pid)
                    await hub.wait_joined(ALGO, 6)
                    killed = time.perf_counter()
                    await lead.kill9()
                    symbol = f"FO{kill}"
                    await push(hub, server, symbol)
                    out.append(await server.wait_for(symbol) - killed)
                    print(f"  kill {kill + 1}: first order from the new leader {out[-1]:.2f} s")
                    await start(f"p{3 + kill}", "standby:")
            finally:
                for bot in bots:
                    if bot.running:
                        await bot.stop(sig.SIGKILL)
    finally:
        server.stop()
    return out


async def latencies(url: str | None, signals: int, folder: Path) -> list[float]:
    server = TimedServer()
    server.start()
    out: list[float] = []
    try:
        async with AlphaHubSimulator(port=0) as hub:
            path = folder / "config.yaml"
            path.write_text(config(hub.url, server, url, 10))
            bot = BotProcess(path)
            await bot.start()
            try:
                await started(bot, "algorithms:")
                await hub.wait_joined(ALGO, 2)
                for n in range(signals):
                    symbol = f"LAT{n}"
                    at = await push(hub, server, symbol)
                    out.append(await server.wait_for(symbol) - at)
                    await asyncio.sleep(0.05)
            finally:
                await bot.stop(sig.SIGTERM)
    finally:
        server.stop()
    return out


def summary(name: str, values: list[float], unit: float, suffix: str) -> str:
    med, top = statistics.median(values) * unit, max(values) * unit
    return f"{name:<32} median {med:8.2f} {suffix}   max {top:8.2f} {suffix}   (n={len(values)})"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=10.0, help="journal.failover_timeout")
    parser.add_argument("--signals", type=int, default=40)
    args = parser.parse_args()
    with running_server(fsync=True) as pg, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print(f"failover: 3 processes, failover_timeout {args.timeout:g} s, {args.kills} kills")
        killed = await failovers(pg.create_database(), args.kills, args.timeout, root / "fo")
        (root / "sqlite").mkdir()
        (root / "pg").mkdir()
        print(f"signal -> submit: {args.signals} signals, one process")
        lite = await latencies(None, args.signals, root / "sqlite")
        server = await latencies(pg.create_database(), args.signals, root / "pg")
    print()
    print(summary("kill -9 -> new leader's order", killed, 1, "s "))
    print(summary("signal -> submit, SQLite", lite, 1000, "ms"))
    print(summary("signal -> submit, PostgreSQL", server, 1000, "ms"))
    # docs/operations.md: a standby takes over within failover_timeout
    check("failover kill -9 -> new leader's order, max", max(killed), "<=", args.timeout, "s")
    note("signal -> submit, SQLite, median", statistics.median(lite) * 1000, "ms")
    note("signal -> submit, PostgreSQL, median", statistics.median(server) * 1000, "ms")


if __name__ == "__main__":
    asyncio.run(main())
