"""Order events from Alpaca's trade-updates stream, reconciled over REST after every (re)connect.

The stream does not replay what it sent while a client was disconnected, so each time the SDK's
``TradingStream`` (re)connects, :class:`TradeUpdates` asks for the open orders and looks up every
order it watches that has not ended; :class:`~tradebot.broker.tracker.OrderTracker` turns both
sources into events, each exactly once (by client order id and cumulative quantity). Updates and
listed orders that are legs of bracket, oto or oco orders are renamed to our ids first
(:class:`~tradebot.broker.alpaca.legs.LegNames`), so a leg's fill lands on the exit journaled
for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from tradebot.broker.alpaca import convert
from tradebot.broker.alpaca.legs import LegNames
from tradebot.broker.tracker import OrderTracker
from tradebot.core.events import OrderEvent
from tradebot.core.order_snapshot import OrderSnapshot
from tradebot.exceptions import BrokerError, TradebotError

log = logging.getLogger(__name__)


class TradeUpdates:
    """The event side of the Alpaca adapter. Everything runs on the adapter's event loop.

    ``list_open`` returns Alpaca's open orders; ``lookup`` one order by client order id (None
    when Alpaca has none). Both retry transient errors themselves.
    """

    def __init__(
        self,
        *,
        list_open: Callable[[], Awaitable[list[OrderSnapshot]]],
        lookup: Callable[[str], Awaitable[OrderSnapshot | None]],
        names: LegNames,
        now: Callable[[], datetime],
        retry_delay: float,
    ) -> None:
        self._list_open = list_open
        self._lookup = lookup
        self._names = names
        self._now = now
        self._retry_delay = retry_delay
        self._tracker = OrderTracker()
        self._queue: asyncio.Queue[OrderEvent] = asyncio.Queue()
        self._connected = asyncio.Event()

    def watch(self, client_order_id: str) -> None:
        self._tracker.watch(client_order_id)

    def learn(self, snap: OrderSnapshot) -> None:
        """Remember the names of ``snap``'s legs, and watch those that may still fill."""
        self._names.learn(snap)
        for leg in snap.legs:
            if not leg.status.is_final:
                self._tracker.watch(leg.client_order_id)

    def forget(self, client_order_id: str) -> None:
        self._tracker.forget(client_order_id)

    def on_connect(self) -> None:
        """Called by the stream after each (re)connect: schedule a reconcile."""
        self._connected.set()

    async def on_update(self, message: Mapping[str, Any]) -> None:
        """One ``trade_updates`` message (raw JSON, as the SDK passes it with ``raw_data``)."""
        try:
            data = message.get("data") or {}
            snap = convert.order_snapshot(data.get("order"))
            at = convert.timestamp(data.get("timestamp")) or self._now()
            fill_qty = fill_price = None
            if data.get("event") in ("fill", "partial_fill"):
                fill_qty = convert.decimal(data.get("qty"), "fill qty")
                fill_price = convert.decimal(data.get("price"), "fill price")
            reason = str(data.get("event")) if snap.status.is_final else ""
        except BrokerError as exc:
            log.warning("ignored an unreadable trade update: %s", exc)
            return
        try:
            snap = await self._names.name(snap)
        except TradebotError as exc:
            # a leg's update we cannot name yet: the reconcile it asks for looks the watched
            # legs up by our ids, so the fill is reported later, never under Alpaca's name
            log.warning("a trade update for order %s waits: %s", snap.broker_order_id, exc)
            self._connected.set()
            return
        self.learn(snap)
        self._publish(
            self._tracker.observe(snap, at, fill_qty=fill_qty, fill_price=fill_price, reason=reason)
        )

    async def reconcile_on_connect(self) -> None:
        """Run until cancelled: reconcile after every (re)connect, retrying a failed one."""
        while True:
            await self._connected.wait()
            self._connected.clear()
            try:
                await self.reconcile()
            except TradebotError as exc:
                log.warning("reconciling orders after a stream (re)connect failed: %s", exc)
                await asyncio.sleep(self._retry_delay)
                self._connected.set()  # try again

    async def reconcile(self) -> None:
        """Compare open and watched orders with Alpaca; emit what the stream missed."""
        seen: set[str] = set()
        for listed in await self._list_open():
            snap = await self._names.name(listed)  # legs are listed under Alpaca's names
            self.learn(snap)
            seen.add(snap.client_order_id)
            self._publish(self._tracker.observe(snap, self._now()))
        for cid in self._tracker.open_orders():
            if cid not in seen:
                found = await self._lookup(cid)
                if found is not None:
                    self._publish(self._tracker.observe(found, self._now()))

    async def events(self) -> AsyncIterator[OrderEvent]:
        while True:
            yield await self._queue.get()

    def drain(self) -> list[OrderEvent]:
        """Events received and not yet consumed, without waiting."""
        out: list[OrderEvent] = []
        while not self._queue.empty():
            out.append(self._queue.get_nowait())
        return out

    def _publish(self, events: list[OrderEvent]) -> None:
        for event in events:
            self._queue.put_nowait(event)
