"""A scripted, recording broker: a real implementation of the Broker protocol, in memory.

Idempotent by client order id like a real broker. Faults are scripted per call:
``broker.faults.append(BrokerUnavailable("..."))`` makes the next submit raise it; the special
``LOSE_RESPONSE`` makes the next submit create the order and then raise ``OrderOutcomeUnknown``
(the response was lost after the broker accepted it).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from types import TracebackType
from typing import Self

from tradebot.broker.base import OrderSnapshot, OrderStatus
from tradebot.core.account import AccountSnapshot, AssetInfo, MarketClock
from tradebot.core.events import OrderAccepted, OrderEvent, OrderFilled
from tradebot.core.market import MarketPrices
from tradebot.core.orders import OrderIntent
from tradebot.exceptions import OrderOutcomeUnknown

LOSE_RESPONSE = "lose-response"
T0 = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)


class ScriptedBroker:
    name = "scripted"

    def __init__(
        self,
        *,
        fill: bool = True,
        slippage: Decimal = Decimal("0.01"),
        clock: Callable[[], datetime] = lambda: T0,
    ) -> None:
        self.fill = fill
        self._now = clock
        self.slippage = slippage
        self.orders: dict[str, OrderSnapshot] = {}
        self.calls: list[tuple[str, str]] = []  # (method, client order id)
        self.faults: list[BaseException | str] = []
        self.extra_positions: dict[str, Decimal] = {}  # positions not made by our orders
        self.prices: dict[str, Decimal] = {}  # the market: reference prices by symbol
        self.price_requests: list[list[str]] = []  # the symbols of each reference_prices call
        self.price_faults: list[BaseException] = []  # raised by the next reference_prices calls
        self._events: asyncio.Queue[OrderEvent | None] = asyncio.Queue()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.end_stream()

    def submissions(self, coid: str) -> int:
        return sum(1 for method, c in self.calls if method == "submit" and c == coid)

    async def submit(self, intent: OrderIntent) -> OrderSnapshot:
        coid = intent.client_order_id
        self.calls.append(("submit", coid))
        now = self._now()
        fault = self.faults.pop(0) if self.faults else None
        if isinstance(fault, BaseException):
            raise fault
        if coid in self.orders:
            return self.orders[coid]
        pending = OrderSnapshot(
            coid,
            f"b-{len(self.orders) + 1}",
            intent.symbol,
            intent.side,
            intent.qty,
            Decimal(0),
            None,
            OrderStatus.PENDING,
            now,
            now,
        )
        self.orders[coid] = pending
        self._events.put_nowait(
            OrderAccepted(client_order_id=coid, broker_order_id=pending.broker_order_id, at=now)
        )
        if self.fill:
            price = intent.reference_price + self.slippage * intent.side.sign
            self.orders[coid] = replace(
                pending, filled_qty=intent.qty, filled_avg_price=price, status=OrderStatus.FILLED
            )
            self._events.put_nowait(
                OrderFilled(
                    client_order_id=coid,
                    broker_order_id=pending.broker_order_id,
                    at=now,
                    symbol=intent.symbol,
                    side=intent.side,
                    qty=intent.qty,
                    price=price,
                    cum_qty=intent.qty,
                    order_qty=intent.qty,
                    partial=False,
                )
            )
        if fault == LOSE_RESPONSE:
            raise OrderOutcomeUnknown("response lost", coid)
        return pending

    async def get_order(self, client_order_id: str) -> OrderSnapshot | None:
        self.calls.append(("get_order", client_order_id))
        return self.orders.get(client_order_id)

    async def cancel(self, client_order_id: str) -> None:
        self.calls.append(("cancel", client_order_id))

    async def positions(self) -> Mapping[str, Decimal]:
        net: dict[str, Decimal] = dict(self.extra_positions)
        for snap in self.orders.values():
            net[snap.symbol] = net.get(snap.symbol, Decimal(0)) + snap.filled_qty * snap.side.sign
        return {s: q for s, q in net.items() if q}

    async def account(self) -> AccountSnapshot:
        return AccountSnapshot("ACCT", Decimal(100000), Decimal(100000), Decimal(100000))

    async def clock(self) -> MarketClock:
        return MarketClock(T0, True, T0, T0)

    async def asset(self, symbol: str) -> AssetInfo:
        return AssetInfo(symbol, shortable=True, fractionable=True)

    async def reference_prices(self, symbols: Sequence[str]) -> MarketPrices:
        self.price_requests.append(list(symbols))
        if self.price_faults:
            raise self.price_faults.pop(0)
        return MarketPrices({s: self.prices[s] for s in symbols if s in self.prices})

    def push(self, event: OrderEvent) -> None:
        self._events.put_nowait(event)

    def end_stream(self) -> None:
        self._events.put_nowait(None)

    async def events(self) -> AsyncIterator[OrderEvent]:
        while (event := await self._events.get()) is not None:
            yield event
