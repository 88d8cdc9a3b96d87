"""The local Alpaca server's price path, limit orders that fill when the price crosses, and
the cancel/fill race knob, seen through the real adapter as the bot sees them."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from tradebot.broker.alpaca import AlpacaBroker
from tradebot.core.events import OrderAccepted, OrderFilled
from tradebot.core.order_snapshot import OrderStatus
from tradebot.core.signal import Side
from tradebot.simulators.alpaca.faults import FillScript
from tradebot.simulators.alpaca.prices import PricePoint, parse_price_path
from tradebot.simulators.alpaca.server import SNAPSHOTS, AlpacaServer

from .conftest import KEY_ID, SECRET_KEY, make_intent, take_events, wait_until

PATH = """\
{"at": 0, "symbol": "aapl", "price": "101"}
{"at": 2, "symbol": "AAPL", "price": 99.5}

{"at": 1, "symbol": "AAPL", "price": "100.5"}
"""


def test_a_price_path_is_read_in_time_order_with_decimal_prices() -> None:
    assert parse_price_path(PATH) == (
        PricePoint(0.0, "AAPL", Decimal("101")),
        PricePoint(1.0, "AAPL", Decimal("100.5")),
        PricePoint(2.0, "AAPL", Decimal("99.5")),
    )


@pytest.mark.parametrize(
    "line",
    [
        '{"at": 0, "symbol": "AAPL"}',
        '{"at": 0, "symbol": "AAPL", "price": "1", "extra": 1}',
        '{"at": -1, "symbol": "AAPL", "price": "1"}',
        '{"at": 0, "symbol": "", "price": "1"}',
        '{"at": 0, "symbol": "AAPL", "price": "NaN"}',
        '{"at": 0, "symbol": "AAPL", "price": "0"}',
        '{"at": "soon", "symbol": "AAPL", "price": "1"}',
        "[1, 2]",
        "not json",
    ],
)
def test_a_malformed_price_path_names_the_line(line: str) -> None:
    with pytest.raises(ValueError, match="line 2"):
        parse_price_path('{"at": 0, "symbol": "AAPL", "price": "1"}\n' + line)


async def test_a_limit_rests_until_the_price_crosses_it(
    server: AlpacaServer, broker: AlpacaBroker
) -> None:
    server.script_fills(FillScript(limits_cross=True))
    server.set_price("AAPL", Decimal(101))
    server.load_price_path(parse_price_path(PATH))
    await broker.submit(make_intent("buy-1", qty="10", limit="100"))
    await broker.submit(make_intent("sell-1", side=Side.SELL, qty="1", limit="100.5"))
    assert server.step_price_path() == PricePoint(0.0, "AAPL", Decimal("101"))
    # the sell crosses at once (101 >= 100.5); the buy rests above its limit
    await wait_until(lambda: server.orders("sell-1")[0]["status"] == "filled")
    assert server.step_price_path() is not None  # 100.5: still above the buy's limit
    buy = await broker.get_order("buy-1")
    assert buy is not None and buy.status is OrderStatus.PENDING and buy.filled_qty == 0
    assert server.step_price_path() is not None  # 99.5: crosses
    await wait_until(lambda: server.orders("buy-1")[0]["status"] == "filled")
    assert server.orders("buy-1")[0]["filled_avg_price"] == "100"  # at its limit
    assert server.step_price_path() is None


async def test_a_crossing_limit_fills_in_parts_per_the_script(
    server: AlpacaServer, broker: AlpacaBroker
) -> None:
    server.script_fills(FillScript(limits_cross=True, parts=2))
    server.set_price("AAPL", Decimal(101))
    await broker.submit(make_intent("buy-2", qty="10", limit="100"))
    assert [type(e) for e in await take_events(broker, 1)] == [OrderAccepted]
    server.set_price("AAPL", Decimal(100))  # at the limit: rests (its queue place unknown)
    at_limit = await broker.get_order("buy-2")
    assert at_limit is not None and at_limit.status is OrderStatus.PENDING
    server.set_price("AAPL", Decimal(99))  # through it: fills in the script's two parts
    server.set_price("AAPL", Decimal(98))  # crossing again fills nothing more
    fills = await take_events(broker, 2)
    assert [(f.qty, f.partial) for f in fills if isinstance(f, OrderFilled)] == [
        (Decimal(5), True),
        (Decimal(5), False),
    ]
    assert server.account.positions["AAPL"].qty == Decimal(10)


@pytest.mark.parametrize(
    ("race", "status", "filled"),
    [
        (None, OrderStatus.FILLED, Decimal(10)),  # the fill wins outright
        (Decimal(4), OrderStatus.CANCELED, Decimal(4)),  # part fills, the cancel takes the rest
    ],
)
async def test_the_cancel_fill_race_fills_while_the_cancel_is_in_flight(
    server: AlpacaServer,
    broker: AlpacaBroker,
    race: Decimal | None,
    status: OrderStatus,
    filled: Decimal,
) -> None:
    server.script_fills(FillScript(hold=True))
    await broker.submit(make_intent("race-1", qty="10", limit="100"))
    server.race_cancels(race)
    await broker.cancel("race-1")  # accepted, as Alpaca accepts a cancel it will attempt
    snap = await broker.get_order("race-1")
    assert snap is not None and snap.status is status and snap.filled_qty == filled
    assert server.account.positions["AAPL"].qty == filled
    await broker.cancel("race-1")  # a second cancel of an ended order is a no-op


def test_a_cancel_of_an_ended_order_is_422(server: AlpacaServer) -> None:
    import requests

    headers = {"APCA-API-KEY-ID": KEY_ID, "APCA-API-SECRET-KEY": SECRET_KEY}
    body = {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market"}
    server.script_fills(FillScript(hold=True))
    placed = requests.post(
        server.url + "/v2/orders",
        json={**body, "time_in_force": "day", "client_order_id": "e1"},
        headers=headers,
        timeout=5,
    ).json()
    server.fill("e1")
    answer = requests.delete(f"{server.url}/v2/orders/{placed['id']}", headers=headers, timeout=5)
    assert answer.status_code == 422


def test_process_mode_refuses_a_malformed_price_path(tmp_path: Path) -> None:
    path = tmp_path / "prices.jsonl"
    path.write_text('{"at": 0, "symbol": "AAPL", "price": "-1"}\n')
    proc = subprocess.run(
        [sys.executable, "-m", "tradebot", "simulate", "alpaca", "--price-path", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    assert proc.returncode == 2
    assert "line 1" in proc.stderr


def test_the_snapshot_is_stamped_with_the_last_trade_and_a_test_may_date_it() -> None:
    """Issue 19 §3: the snapshot's times are when the symbol last traded (a symbol never moved
    trades all the time: now), so a test can serve a feed that stopped days ago."""
    now = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
    old = now - timedelta(days=5)
    headers = {"APCA-API-KEY-ID": KEY_ID, "APCA-API-SECRET-KEY": SECRET_KEY}
    with AlpacaServer(key=KEY_ID, secret=SECRET_KEY, now=lambda: now) as server:
        server.set_price("AAPL", Decimal("189.5"), at=old)
        server.set_price("MSFT", Decimal("415.3"))
        answer = requests.get(
            server.url + SNAPSHOTS,
            params={"symbols": "AAPL,MSFT,NVDA"},
            headers=headers,
            timeout=5,
        ).json()
    stamps = {s: (a["latestTrade"]["t"], a["latestQuote"]["t"]) for s, a in answer.items()}
    assert stamps == {
        "AAPL": ("2026-11-29T15:00:00Z",) * 2,
        "MSFT": ("2026-12-04T15:00:00Z",) * 2,
        "NVDA": ("2026-12-04T15:00:00Z",) * 2,
    }
