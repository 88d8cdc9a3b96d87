"""The limits an order decided earlier obeys when it leaves (a chased limit's market remainder):
read afresh each time, then judged by :func:`~tradebot.core.risk.refusal_at_leaving`, the same
rules the planner applies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from tradebot.core.book import PositionBook
from tradebot.core.market import MarketPrices
from tradebot.core.orders import OrderIntent
from tradebot.core.risk import DayState, Refusal, refusal_at_leaving
from tradebot.core.rules import PlanningRules


@dataclass(frozen=True, slots=True)
class LimitsInForce:
    """The limits an order decided earlier obeys when it leaves, read afresh each time: the
    runtime binds them to the config in force, today's state (kill switch, counts, losses) and
    the broker's market data."""

    rules: Callable[[], PlanningRules]
    day: Callable[[], Awaitable[DayState]]
    #: reference prices for these symbols (never raises: a failed lookup is "no price")
    market: Callable[[Sequence[str]], Awaitable[MarketPrices]]
    #: the wall clock (UTC), for the reference price's age
    now: Callable[[], datetime]
    #: an order of this algorithm was made durable: it counts toward today's orders
    sent: Callable[[int], None] = lambda algo_id: None

    async def refusal(self, order: OrderIntent, book: PositionBook) -> Refusal | None:
        """Why ``order`` may not leave now, or None (:func:`refusal_at_leaving`)."""
        symbols = [order.symbol, *(s for s in book.holdings(order.algo_id) if s != order.symbol)]
        market = await self.market(symbols)
        day = await self.day()
        return refusal_at_leaving(
            order, book=book, rules=self.rules(), day=day, market=market, now=self.now()
        )
