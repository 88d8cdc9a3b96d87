"""The in-process ``sim`` broker: same protocol, same events, its own fills and checks."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from tradebot.broker.base import Broker
from tradebot.broker.sim import SimBroker
from tradebot.config.model import SimBrokerConfig
from tradebot.core.events import OrderAccepted, OrderCanceled, OrderEvent, OrderFilled
from tradebot.core.order_snapshot import OrderStatus
from tradebot.core.signal import Side
from tradebot.exceptions import OrderRejected

from .conftest import T0, make_intent


async def next_events(broker: SimBroker, count: int) -> list[OrderEvent]:
    stream = broker.events()
    async with asyncio.timeout(10):
        return [await anext(stream) for _ in range(count)]


async def test_fills_at_the_signal_price_plus_slippage() -> None:
    async with SimBroker(SimBrokerConfig(slippage_bps=Decimal(10)), now=lambda: T0) as broker:
        assert isinstance(broker, Broker)
        snap = await broker.submit(make_intent(qty="10", price="100"))
        assert snap.status is OrderStatus.FILLED
        assert snap.filled_avg_price == Decimal("100.1")
        accepted, filled = await next_events(broker, 2)
        assert isinstance(accepted, OrderAccepted) and isinstance(filled, OrderFilled)
        assert (filled.qty, filled.price, filled.partial) == (Decimal(10), Decimal("100.1"), False)
        sell = await broker.submit(make_intent("s1", side=Side.SELL, qty="10", price="110"))
        assert sell.filled_avg_price == Decimal("109.89")
        assert await broker.positions() == {}
        account = await broker.account()
        assert account.cash == Decimal(100000) - Decimal(1001) + Decimal("1098.9")


async def test_submit_is_idempotent_by_client_order_id() -> None:
    async with SimBroker(SimBrokerConfig()) as broker:
        first = await broker.submit(make_intent())
        again = await broker.submit(make_intent())
        assert again == first
        assert await broker.positions() == {"AAPL": Decimal(10)}
        assert (await broker.get_order(first.client_order_id)) == first
        assert await broker.get_order("unknown") is None


async def test_checks_like_a_broker() -> None:
    config = SimBrokerConfig(cash=Decimal(1000), shortable=False, fractionable=False)
    async with SimBroker(config) as broker:
        with pytest.raises(OrderRejected, match="buying power"):
            await broker.submit(make_intent(qty="11", price="100"))
        with pytest.raises(OrderRejected, match="short"):
            await broker.submit(make_intent("s", side=Side.SELL, qty="1"))
        with pytest.raises(OrderRejected, match="fractional"):
            await broker.submit(make_intent("f", qty="0.5"))
        assert (await broker.asset("X")).shortable is False


async def test_delayed_fill_and_cancel() -> None:
    async with SimBroker(SimBrokerConfig(fill_delay=0.01)) as broker:
        snap = await broker.submit(make_intent(qty="2"))
        assert snap.status is OrderStatus.PENDING
        events = await next_events(broker, 2)
        assert isinstance(events[1], OrderFilled)
        resting = await broker.submit(make_intent("lim", qty="1", limit="90", price="100"))
        await broker.cancel(resting.client_order_id)
        accepted, canceled = await next_events(broker, 2)
        assert isinstance(accepted, OrderAccepted) and isinstance(canceled, OrderCanceled)
        order = await broker.get_order("lim")
        assert order is not None and order.status is OrderStatus.CANCELED
        await broker.cancel("lim")  # already ended: no-op


async def test_buying_power_reserves_only_the_open_buys() -> None:
    """Filled and canceled buys reserve nothing; a resting buy reserves its limit's worth."""
    async with SimBroker(SimBrokerConfig(cash=Decimal(10000), slippage_bps=Decimal(0))) as broker:
        await broker.submit(make_intent("b1", qty="10", price="100"))  # filled: cash pays
        rest = await broker.submit(make_intent("b2", qty="10", limit="90", price="100"))
        assert not rest.status.is_final
        assert (await broker.account()).buying_power == Decimal(10000 - 1000 - 900)
        await broker.cancel("b2")
        assert (await broker.account()).buying_power == Decimal(10000 - 1000)
        broker.set_price("AAPL", Decimal(100))
        late = await broker.submit(make_intent("b3", qty="10", limit="90", price="100"))
        broker.set_price("AAPL", Decimal(89))  # goes through the limit: filled at 90
        filled = await broker.get_order(late.client_order_id)
        assert filled is not None and filled.status is OrderStatus.FILLED
        assert (await broker.account()).buying_power == Decimal(10000 - 1000 - 900)
