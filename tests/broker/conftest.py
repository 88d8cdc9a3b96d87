"""Fixtures for the broker tests: the local Alpaca server on 127.0.0.1 and fast adapter settings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr

from tradebot.broker.alpaca import AlpacaBroker
from tradebot.config.model import AlpacaConfig, Mode
from tradebot.core.events import OrderEvent
from tradebot.core.order_shape import MARKET, Limit
from tradebot.core.orders import IntentRole, OrderIntent, TimeInForce
from tradebot.core.signal import Side
from tradebot.simulators.alpaca.server import AlpacaServer

KEY_ID, SECRET_KEY = "PKTESTKEYID0000001", "s3cr3t-key-that-must-never-leak"
T0 = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)


def fast_config(server: AlpacaServer, **overrides: Any) -> AlpacaConfig:
    """Short timeout and backoff, so faults heal in milliseconds."""
    values: dict[str, Any] = {
        "url": server.url,
        "stream_url": server.stream_url,
        "data_url": server.url,
        "timeout": 0.5,
        "max_attempts": 5,
        "first_retry_delay": 0.01,
        "max_retry_delay": 0.05,
        "reconnect_delay": 0.05,
    }
    values.update(overrides)
    return AlpacaConfig(**values)


def make_intent(
    cid: str = "tb1-AAPL-o-0001",
    symbol: str = "AAPL",
    side: Side = Side.BUY,
    qty: str = "10",
    *,
    limit: str | None = None,
    tif: TimeInForce = TimeInForce.DAY,
    price: str = "100",
) -> OrderIntent:
    return OrderIntent(
        client_order_id=cid,
        algo_id=1,
        symbol=symbol,
        side=side,
        qty=Decimal(qty),
        price=Limit(Decimal(limit)) if limit else MARKET,
        time_in_force=tif,
        role=IntentRole.OPEN,
        leg_ids=(),
        reference_price=Decimal(price),
    )


async def wait_until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` until it holds (a condition wait, not a timed assertion)."""
    async with asyncio.timeout(10):
        while not condition():  # noqa: ASYNC110 - the state lives in the server's threads
            await asyncio.sleep(0.01)


async def take_events(broker: AlpacaBroker, count: int) -> list[OrderEvent]:
    """The next ``count`` events from the broker's stream."""
    stream = broker.events()
    async with asyncio.timeout(10):
        return [await anext(stream) for _ in range(count)]


def drain(broker: AlpacaBroker) -> list[OrderEvent]:
    """Events already queued, without waiting."""
    return broker.drain_events()


@pytest.fixture
def server() -> Iterator[AlpacaServer]:
    with AlpacaServer(key=KEY_ID, secret=SECRET_KEY) as srv:
        yield srv


@pytest.fixture
async def broker(server: AlpacaServer) -> AsyncIterator[AlpacaBroker]:
    adapter = AlpacaBroker(
        fast_config(server), Mode.PAPER, key_id=SecretStr(KEY_ID), secret_key=SecretStr(SECRET_KEY)
    )
    async with adapter:
        await wait_until(lambda: server.stream.listeners == 1)
        yield adapter
