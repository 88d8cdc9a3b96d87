"""Time per order submit: tradebot's Alpaca adapter vs a bare alpaca-py ``TradingClient``.

Both talk to the same local Alpaca server over loopback, in one run, interleaved in rounds so
server-side growth affects both alike. Orders are held (never filled) and the adapter's stream is
off: what is measured is the submit path (asset check, thread hop, error mapping, parsing).

    python benchmarks/broker.py [--orders N]

Target: adapter / bare <= 1.2.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from decimal import Decimal

from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import MarketOrderRequest
from pydantic import SecretStr
from targets import check, note

from tradebot.broker.alpaca import AlpacaBroker
from tradebot.config.model import AlpacaConfig, Mode
from tradebot.core.order_shape import MARKET
from tradebot.core.orders import IntentRole, OrderIntent
from tradebot.core.orders import TimeInForce as TbTimeInForce
from tradebot.core.signal import Side
from tradebot.simulators.alpaca.faults import FillScript
from tradebot.simulators.alpaca.server import AlpacaServer

KEY, SECRET = "PKBENCH", "bench-secret"


def intent(n: int) -> OrderIntent:
    return OrderIntent(
        client_order_id=f"tb-bench-{n}",
        algo_id=1,
        symbol="AAPL",
        side=Side.BUY,
        qty=Decimal(1),
        price=MARKET,
        time_in_force=TbTimeInForce.DAY,
        role=IntentRole.OPEN,
        leg_ids=(),
        reference_price=Decimal(100),
    )


async def run(orders: int, rounds: int) -> None:
    with AlpacaServer(key=KEY, secret=SECRET, cash=Decimal(10**12)) as server:
        server.script_fills(FillScript(hold=True))
        bare = TradingClient(KEY, SECRET, url_override=server.url)
        config = AlpacaConfig(url=server.url, stream=False)
        adapter_times: list[float] = []
        bare_times: list[float] = []
        async with AlpacaBroker(
            config, Mode.PAPER, key_id=SecretStr(KEY), secret_key=SecretStr(SECRET)
        ) as broker:
            await broker.submit(intent(-1))  # warm up both paths (asset cache, connections)
            bare.submit_order(
                MarketOrderRequest(
                    symbol="AAPL",
                    qty=1,
                    side=OrderSide.BUY,
                    time_in_force=TimeInForce.DAY,
                    client_order_id="bare-warm",
                )
            )
            per_round = orders // rounds
            n = 0
            for _ in range(rounds):
                start = time.perf_counter()
                for _ in range(per_round):
                    await broker.submit(intent(n))
                    n += 1
                adapter_times.append((time.perf_counter() - start) / per_round)
                start = time.perf_counter()
                for i in range(per_round):
                    bare.submit_order(
                        MarketOrderRequest(
                            symbol="AAPL",
                            qty=1,
                            side=OrderSide.BUY,
                            time_in_force=TimeInForce.DAY,
                            client_order_id=f"bare-{n}-{i}",
                        )
                    )
                bare_times.append((time.perf_counter() - start) / per_round)
        assert len(server.orders()) == 2 * per_round * rounds + 2
    adapter_ms = statistics.median(adapter_times) * 1000
    bare_ms = statistics.median(bare_times) * 1000
    print(f"orders per side: {per_round * rounds} in {rounds} interleaved rounds")
    print(f"adapter submit : {adapter_ms:.3f} ms/order (median of rounds)")
    print(f"bare SDK submit: {bare_ms:.3f} ms/order (median of rounds)")
    check("broker adapter / bare SDK submit", adapter_ms / bare_ms, "<=", 1.2)
    note("broker adapter submit", adapter_ms, "ms/order")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000, help="orders per side")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(run(args.orders, args.rounds))


if __name__ == "__main__":
    main()
