"""The baselines for benchmarks/e2e.py: the least a bot can do, with and without a journal.

Log in, join one AlphaHub channel, and for each ``new_signals`` frame parse it and call
``TradingClient.submit_order`` for each leg. No planning, no checks, no retries.

With ``--durable PATH`` the bot does the least a *safe* bot must do: for each signal it asks
the market-data API for its symbols' prices in one snapshot request (a signal's price is never
trusted: docs/design.md), and each leg is written to a SQLite file and committed the way tradebot's
journal commits (WAL, ``synchronous=FULL``: one fsync) before its order leaves. The difference
from the plain baseline is what those two rules cost on this machine.

Usage: python benchmarks/e2e_minimal_bot.py ALPHAHUB_URL ALPACA_URL ALGO_ID [--durable PATH]
"""

from __future__ import annotations

import argparse
import json
import signal
import sqlite3
import sys
from types import FrameType

import requests
from alpaca.data.enums import DataFeed
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.requests import StockSnapshotRequest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import MarketOrderRequest
from websockets.sync.client import connect


def open_log(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS legs (symbol TEXT, side TEXT, qty INTEGER)")
    return conn


def stop(signum: int, frame: FrameType | None) -> None:
    sys.exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("hub")
    parser.add_argument("alpaca")
    parser.add_argument("algo", type=int)
    parser.add_argument(
        "--durable",
        metavar="PATH",
        help="ask for reference prices, and commit each leg to SQLite, before the orders",
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, stop)  # close the log cleanly when the benchmark ends
    log = open_log(args.durable) if args.durable else None
    token = requests.post(
        f"{args.hub}/api/v1/session",
        data={"user[email]": "demo@example.com", "user[password]": "demo"},
        timeout=10,
    ).json()["data"]["token"]
    client = TradingClient("bench-key", "bench-secret", paper=True, url_override=args.alpaca)
    data = StockHistoricalDataClient("bench-key", "bench-secret", url_override=args.alpaca)
    ws_url = args.hub.replace("http", "ws", 1) + f"/socket/websocket?vsn=2.0.0&api_token={token}"
    with connect(ws_url) as ws:
        ws.send(json.dumps(["1", "1", f"algorithms:{args.algo}", "phx_join", {}]))
        print("ready", flush=True)
        for message in ws:
            _, _, _, event, payload = json.loads(message)
            if event != "new_signals":
                continue
            if log is not None:  # one reference-price request per signal, for all its symbols
                symbols = sorted(
                    {leg["symbol"] for g in ("close", "open") for leg in payload.get(g) or ()}
                )
                data.get_stock_snapshot(
                    StockSnapshotRequest(symbol_or_symbols=symbols, feed=DataFeed.IEX)
                )
            for group in ("close", "open"):
                for leg in payload.get(group) or ():
                    if log is not None:  # autocommit: one transaction, one fsync
                        record = (leg["symbol"], leg["side"])
                        log.execute("INSERT INTO legs VALUES (?, ?, 1)", record)
                    client.submit_order(
                        MarketOrderRequest(
                            symbol=leg["symbol"],
                            qty=1,
                            side=OrderSide(leg["side"]),
                            time_in_force=TimeInForce.DAY,
                        )
                    )


if __name__ == "__main__":
    main()
