"""The baseline for benchmarks/e2e.py: the least a bot can do.

Log in, join one AlphaHub channel, and for each ``new_signals`` frame parse it and call
``TradingClient.submit_order`` for each leg. No journal, no planning, no checks, no retries.
Usage: python benchmarks/e2e_minimal_bot.py ALPHAHUB_URL ALPACA_URL ALGO_ID
"""

from __future__ import annotations

import json
import sys

import requests
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import MarketOrderRequest
from websockets.sync.client import connect


def main() -> None:
    hub, alpaca, algo = sys.argv[1], sys.argv[2], int(sys.argv[3])
    token = requests.post(
        f"{hub}/api/v1/session",
        data={"user[email]": "demo@example.com", "user[password]": "demo"},
        timeout=10,
    ).json()["data"]["token"]
    client = TradingClient("bench-key", "bench-secret", paper=True, url_override=alpaca)
    ws_url = hub.replace("http", "ws", 1) + f"/socket/websocket?vsn=2.0.0&api_token={token}"
    with connect(ws_url) as ws:
        ws.send(json.dumps(["1", "1", f"algorithms:{algo}", "phx_join", {}]))
        print("ready", flush=True)
        for message in ws:
            _, _, _, event, payload = json.loads(message)
            if event != "new_signals":
                continue
            for group in ("close", "open"):
                for leg in payload.get(group) or ():
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
