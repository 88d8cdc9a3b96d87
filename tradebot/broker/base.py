"""The small protocol every broker implements (``alpaca``, ``sim``, test fakes).

Commands go in (:class:`~tradebot.core.orders.OrderIntent`), events come out
(:mod:`tradebot.core.events`), both immutable. All methods are coroutines; implementations that
wrap a blocking SDK run it off the event loop.

Errors are from :mod:`tradebot.exceptions` only: ``OrderRejected`` (record, never retry),
``OrderOutcomeUnknown`` (look the order up by client order id before sending again),
``BrokerUnavailable``/``RateLimited`` (transient), ``AuthenticationError``, ``BrokerError``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from decimal import Decimal
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from tradebot.core.account import AccountSnapshot, AssetInfo, MarketClock
from tradebot.core.events import OrderEvent
from tradebot.core.market import MarketPrices
from tradebot.core.order_snapshot import OrderSnapshot
from tradebot.core.orders import OrderIntent


@runtime_checkable
class Broker(Protocol):
    """What the executor, recovery and reconciliation need from a broker."""

    name: str

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def submit(self, intent: OrderIntent) -> OrderSnapshot:
        """Send the order, idempotently by ``intent.client_order_id``.

        If the broker already has an order with that id (a retry, a restart), return it rather
        than creating another. Never returns before the outcome is known: raises
        ``OrderOutcomeUnknown`` when it cannot tell.
        """
        ...

    async def get_order(self, client_order_id: str) -> OrderSnapshot | None:
        """The order with this client order id, or None if the broker never received it."""
        ...

    async def cancel(self, client_order_id: str) -> None:
        """Ask the broker to cancel; the outcome arrives as an event."""
        ...

    async def positions(self) -> Mapping[str, Decimal]:
        """Net signed quantity per symbol for the whole account (non-zero only)."""
        ...

    async def account(self) -> AccountSnapshot: ...

    async def clock(self) -> MarketClock: ...

    async def asset(self, symbol: str) -> AssetInfo:
        """Tradable, shortable, fractionable for ``symbol``."""
        ...

    async def reference_prices(self, symbols: Sequence[str]) -> MarketPrices:
        """The broker's market price for each of ``symbols``, in one request for all of them.

        The independent price that sizing and every limit use instead of the signal's claim. A
        symbol the broker has no price for is left out of the answer. Raises like the other
        calls when the broker cannot be asked; the caller plans without references then.
        """
        ...

    def events(self) -> AsyncIterator[OrderEvent]:
        """Order events (accepted, fills, cancels, rejections, expiries) as they happen.

        After the underlying stream reconnects, implementations reconcile open orders and emit
        whatever they missed, so no fill is lost. One consumer.
        """
        ...
