"""Execution benchmark: ``market``, ``limit`` and ``limit_then_market`` side by side, on the same
signals over the same random-walk market, through the real executor, the real Alpaca adapter
and the local Alpaca server, journaled and measured by ``tradebot report``'s execution review.

    python benchmarks/execution.py [--signals 1000] [--seed N]

Prints, per style: legs, fill rate (filled / planned quantity), legs filled completely, average
slippage against the signal's price (quantity-weighted, bps, positive = worse for us), median
and 90th percentile time to fill (simulated seconds, of legs filled completely), peak RSS and
wall time of that style's run.

How it runs (one child process per style, one after the other):

* **The market:** ``--symbols`` random walks, one price a simulated second per symbol (steps of
  ``--vol`` of the price, normally distributed, rounded to the cent), written as the local
  server's JSONL ``--price-path`` and read back with its own parser. The same ``--seed`` gives
  the same path and the same signals, hence the same figures.
* **Compressed clock:** one loop turn is one simulated second. The server's path is stepped by
  hand (``step_price_path``), and the journal, the server and the chaser read the simulated
  clock, so a minute of market takes as long as the pipeline needs for that minute's work. After
  each turn the benchmark waits until every order the server has decided to fill is filled, and
  records what changed by looking each order up through the adapter (the re-check's path), so
  every fill is journaled in the simulated second it happened: times are exact to that second.
* **Signals:** one every ``--spacing`` seconds, round robin over the symbols, 100 shares: buys
  of the even symbols, short sales of the odd ones (one direction per symbol, so no order has
  to cross the account's zero). The signal's price is the market's ``--latency`` seconds
  before the bot receives it; the order goes out on receipt, sized and priced at the market
  then (a limit at that reference price, ``limit_offset_pct`` 0). Algorithm ids cycle over
  50, so a later signal of the same algorithm and symbol never supersedes a chase in progress.
* **limit_then_market:** the real :class:`~tradebot.execution.chaser.Chaser` (``chase_after``
  60 s, ``chase_pct`` 0.33), ticked every simulated second as the bot ticks it every second.
* **limit:** a day order; one still working ``--limit-life`` seconds after it was sent is
  canceled, standing in for the session's close.

What it cannot show: the local server fills a market order at its last price, with no spread
and no queue, so a market order's slippage here is only the price's move during ``--latency``; a
real one also pays half the spread, and a real limit may rest unfilled while the price touches
it (the server, like the market, fills it only once the price trades through).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import resource
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from targets import note

from tradebot.broker.alpaca import AlpacaBroker
from tradebot.config.model import AlpacaConfig, Config, Mode
from tradebot.core.book import PositionBook
from tradebot.core.ids import client_order_id, remainder_id
from tradebot.core.order_shape import MARKET, ChaseTerms, Limit
from tradebot.core.orders import IntentRole, OrderIntent, Plan, TimeInForce
from tradebot.core.risk import DayState
from tradebot.core.signal import Leg, LegKind, Side, Signal
from tradebot.execution import Executor
from tradebot.execution.chaser import Chaser
from tradebot.execution.limits_in_force import LimitsInForce
from tradebot.journal import open_journal
from tradebot.journal.execution_review import StyleStats, execution_report
from tradebot.simulators.alpaca.faults import FillScript
from tradebot.simulators.alpaca.prices import load_price_path
from tradebot.simulators.alpaca.server import AlpacaServer

KEY, SECRET = "PKBENCHEXEC0000001", "bench-exec-secret"
STYLES = ("market", "limit", "limit_then_market")
START = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # a Tuesday, 10:00 in New York
QTY = Decimal(100)
ALGOS = 50
TAIL = 120  # simulated seconds after the last signal: every chase has ended by then


def walks(seed: int, symbols: int, seconds: int, vol: float) -> dict[str, list[Decimal]]:
    """Each symbol's price at every simulated second: a random walk in cents from $100."""
    rng = random.Random(seed)
    out: dict[str, list[Decimal]] = {}
    for n in range(symbols):
        price = Decimal(100)
        prices = [price]
        for _ in range(seconds):
            step = Decimal(str(round(rng.gauss(0.0, vol), 6)))
            price = max(Decimal("1.00"), (price * (1 + step)).quantize(Decimal("0.01")))
            prices.append(price)
        out[f"SYM{n:02d}"] = prices
    return out


def write_path(path: Path, prices: dict[str, list[Decimal]]) -> None:
    """The local server's ``--price-path`` format: a point whenever a price changes."""
    with path.open("w", encoding="utf-8") as out:
        for symbol, series in prices.items():
            for at, price in enumerate(series):
                if at == 0 or price != series[at - 1]:
                    out.write(json.dumps({"at": at, "symbol": symbol, "price": str(price)}) + "\n")


def adapter(server: AlpacaServer) -> AlpacaBroker:
    config = AlpacaConfig(
        url=server.url,
        stream_url=server.stream_url,
        data_url=server.url,
        stream=False,  # fills are recorded by lookup, in the simulated second they happen
        timeout=5,
    )
    return AlpacaBroker(config, Mode.PAPER, key_id=SecretStr(KEY), secret_key=SecretStr(SECRET))


def no_limits(broker: AlpacaBroker, now: Callable[[], datetime]) -> LimitsInForce:
    """The remainders' limits: every algorithm configured, no risk limit set (the benchmark
    measures how orders execute, not what the limits refuse)."""
    algorithms = {
        algo_id: {"strategy": "fixed_shares", "params": {"shares": int(QTY)}}
        for algo_id in range(1, ALGOS + 1)
    }
    rules = Config.model_validate({"algorithms": algorithms}).planning

    async def today() -> DayState:
        return DayState()

    return LimitsInForce(rules=lambda: rules, day=today, market=broker.reference_prices, now=now)


CHASE = ChaseTerms(chase_after=60.0, chase_pct=Decimal("0.33"))


def intent_for(leg: Leg, style: str, reference: Decimal) -> OrderIntent:
    limit, chased = style != "market", style == "limit_then_market"
    return OrderIntent(
        client_order_id=client_order_id("BENCH", [leg.id], "open"),
        algo_id=leg.algo_id,
        symbol=leg.symbol,
        side=leg.side,
        qty=QTY,
        price=Limit(reference, CHASE if chased else None) if limit else MARKET,
        time_in_force=TimeInForce.DAY,
        role=IntentRole.OPEN,
        leg_ids=(leg.id,),
        reference_price=reference,
    )


class Run:
    """One style's run: the server, the executor and (for limit_then_market) the chaser."""

    def __init__(self, args: argparse.Namespace, style: str, workdir: Path) -> None:
        self.args, self.style, self.workdir = args, style, workdir
        self.second = 0
        self.seconds = args.signals * args.spacing + args.latency + args.limit_life + TAIL
        self.prices = walks(args.seed, args.symbols, self.seconds, args.vol)
        self.live: dict[str, tuple[str, Decimal]] = {}  # our open orders: last (status, filled)
        self.sent_at: dict[str, int] = {}  # plain limits: when they were sent
        self.chased: set[str] = set()  # limit_then_market limits that may get a remainder

    def now(self) -> datetime:
        return START + timedelta(seconds=self.second)

    async def run(self) -> dict[str, Any]:
        path = self.workdir / "path.jsonl"
        write_path(path, self.prices)
        points = load_price_path(path)  # the server's own parser: the file is a valid path
        server = AlpacaServer(key=KEY, secret=SECRET, cash=Decimal(10) ** 10, now=self.now)
        with server, open_journal(self.workdir / "journal.sqlite", clock=self.now) as journal:
            server.script_fills(FillScript(limits_cross=True))
            server.load_price_path(points)
            async with adapter(server) as broker:
                executor = Executor(journal, broker, PositionBook())
                chaser = Chaser(
                    executor,
                    busy=asyncio.Lock(),
                    stopping=asyncio.Event(),
                    max_age=timedelta(days=1),
                    now=self.now,
                    limits=no_limits(broker, self.now),
                    monotonic=lambda: float(self.second),
                )
                await self.loop(server, executor, chaser, points)
            report = execution_report(journal)
        return summary(self.style, [r for r in report.rows if r.style == self.style])

    async def loop(
        self, server: AlpacaServer, executor: Executor, chaser: Chaser, points: Any
    ) -> None:
        args, broker = self.args, executor.broker
        applied = 0
        for second in range(self.seconds + 1):
            self.second = second
            while applied < len(points) and points[applied].at <= second:
                server.step_price_path()
                applied += 1
            arriving = second - args.latency
            if arriving >= 0 and arriving % args.spacing == 0:
                n = arriving // args.spacing
                if n < args.signals:
                    await self.signal(n, server, executor)
            if self.style == "limit_then_market":
                await self.settle(server, executor)
                await chaser.tick()
                for limit in list(self.chased):
                    child = remainder_id(limit)
                    if _exists(server, child):  # the chaser sent the market remainder
                        self.live[child] = ("new", Decimal(0))
                        self.chased.discard(limit)
                    elif limit not in chaser.following:
                        self.chased.discard(limit)  # filled, or ended without a remainder
            if self.style == "limit":
                for coid, sent in list(self.sent_at.items()):
                    if second - sent >= args.limit_life and coid in self.live:
                        await broker.cancel(coid)  # the session's close ends a day order
                        del self.sent_at[coid]
            await self.settle(server, executor)

    async def signal(self, n: int, server: AlpacaServer, executor: Executor) -> None:
        args = self.args
        symbol = f"SYM{n % args.symbols:02d}"
        # one direction per symbol (even: buys; odd: short sales): the account's position in a
        # symbol then never has to cross zero, which one order may not do (Alpaca refuses a
        # sell beyond the long shares not held for other orders; the bot splits such orders)
        side = Side.BUY if n % args.symbols % 2 == 0 else Side.SELL
        stamp = self.now() - timedelta(seconds=args.latency)
        signal_price = self.prices[symbol][self.second - args.latency]
        leg = Leg(n % ALGOS + 1, LegKind.OPEN, symbol, side, signal_price, stamp)
        signal = Signal(leg.algo_id, self.now(), (), (leg,), raw=f"bench signal {n}")
        reference = self.prices[symbol][self.second]
        intent = intent_for(leg, self.style, reference)
        signal_id = await asyncio.to_thread(executor.journal.record_signal, signal)
        await executor.execute(Plan(intents=(intent,)), signal_id=signal_id)
        self.live[intent.client_order_id] = ("new", Decimal(0))
        if self.style == "limit":
            self.sent_at[intent.client_order_id] = self.second
        elif self.style == "limit_then_market":
            self.chased.add(intent.client_order_id)

    async def settle(self, server: AlpacaServer, executor: Executor) -> None:
        """Wait until every fill the server has scheduled happened, then journal what changed
        (a lookup through the adapter, as the re-check does), in this simulated second."""
        # the server fills on its own thread and signals nothing this loop could await
        while _due(server, self.live):  # noqa: ASYNC110
            await asyncio.sleep(0.0002)
        changed = [c for c in self.live if _state(server, c) != self.live[c]]
        for coid in changed:
            snapshot = await executor.broker.get_order(coid)
            assert snapshot is not None, coid
            await executor.record_snapshot(snapshot, "lookup")
            status, filled = _state(server, coid)
            if status in ("new", "accepted", "partially_filled"):
                self.live[coid] = (status, filled)
            else:
                del self.live[coid]


def _exists(server: AlpacaServer, coid: str) -> bool:
    with server.lock:
        return coid in server.account.by_client_id


def _state(server: AlpacaServer, coid: str) -> tuple[str, Decimal]:
    with server.lock:
        order = server.account.order(coid)
        return order.status, order.filled_qty


def _due(server: AlpacaServer, live: dict[str, tuple[str, Decimal]]) -> bool:
    """An order of ours the server has scheduled to fill (a market order, or a limit the price
    traded through) and not yet filled: its fill runs on the server's own thread."""
    with server.lock:
        for coid in live:
            order = server.account.order(coid)
            # the bench peeks at the server's schedule: exact, where guessing from prices is not
            if order.is_open and order.id in server._scheduled:
                return True
    return False


def summary(style: str, rows: list[StyleStats]) -> dict[str, Any]:
    """The style's figures over every algorithm (they all trade the same way)."""
    seconds: array[int] = array("q")
    legs = filled = 0
    planned = done = slip = notional = Decimal(0)
    for r in rows:
        legs += r.legs
        filled += r.filled_legs
        planned += r.planned_qty
        done += r.filled_qty
        slip += r.slippage
        notional += r.slipped_notional
        seconds.extend(r.seconds)
    ranked = sorted(seconds)

    def quantile(q: float) -> float | None:
        if not ranked:
            return None
        return ranked[max(0, math.ceil(q * len(ranked)) - 1)] / 1_000_000

    return {
        "style": style,
        "legs": legs,
        "filled_legs": filled,
        "fill_rate_pct": float(done / planned * 100) if planned else None,
        "slippage_bps": float(slip / notional * 10_000) if notional else None,
        "median_fill_s": quantile(0.5),
        "p90_fill_s": quantile(0.9),
    }


def child(args: argparse.Namespace) -> None:
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tradebot-exec-bench-") as tmp:
        result = asyncio.run(Run(args, args.style, Path(tmp)).run())
    result["wall_s"] = time.perf_counter() - t0
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


ROWS: tuple[tuple[str, str, Callable[[dict[str, Any]], str]], ...] = (
    ("legs (filled completely)", "", lambda r: f"{r['legs']} ({r['filled_legs']})"),
    ("fill rate", "%", lambda r: _fmt(r["fill_rate_pct"], ".1f")),
    ("avg slippage vs signal", "bps", lambda r: _fmt(r["slippage_bps"], "+.2f")),
    ("median time to fill", "s", lambda r: _fmt(r["median_fill_s"], ".0f")),
    ("p90 time to fill", "s", lambda r: _fmt(r["p90_fill_s"], ".0f")),
    ("peak RSS", "MB", lambda r: _fmt(r["peak_rss_mb"], ".0f")),
    ("wall time", "s", lambda r: _fmt(r["wall_s"], ".1f")),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--signals", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--symbols", type=int, default=5)
    parser.add_argument("--spacing", type=int, default=5, help="simulated seconds between signals")
    parser.add_argument("--latency", type=int, default=1, help="signal price -> receipt, s")
    parser.add_argument("--limit-life", type=int, default=600, help="a plain limit's life, s")
    parser.add_argument("--vol", type=float, default=0.0001, help="price step per second")
    parser.add_argument("--style", choices=STYLES, help=argparse.SUPPRESS)  # one child's run
    args = parser.parse_args()
    if args.style:
        child(args)
        return
    forwarded = [a for a in sys.argv[1:]]
    results = []
    for style in STYLES:
        out = subprocess.run(
            [sys.executable, __file__, *forwarded, "--style", style],
            check=True,
            capture_output=True,
            text=True,
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(
        f"{args.signals} signals per style, seed {args.seed}: {args.symbols} symbols, one signal"
        f" every {args.spacing} simulated s, signal price {args.latency} s before receipt,"
        f" vol {args.vol:.4%}/s"
    )
    width = max(len(label) + len(unit) + 3 for label, unit, _ in ROWS)
    print(" " * width + "".join(f"{s:>20}" for s in STYLES))
    for label, unit, cell in ROWS:
        name = f"{label} ({unit})" if unit else label
        print(f"{name:<{width}}" + "".join(f"{cell(r):>20}" for r in results))
    for style, r in zip(STYLES, results, strict=True):  # no targets: figures to compare
        note(f"execution {style} fill rate", r["fill_rate_pct"], "%")
        if r["slippage_bps"] is not None:
            note(f"execution {style} avg slippage vs signal", r["slippage_bps"], "bps")


if __name__ == "__main__":
    main()
