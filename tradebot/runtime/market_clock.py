"""The broker's market clock, asked once per session boundary instead of once per signal.

Alpaca's clock says whether the market is open and when it next opens and closes; between those
two moments the answer cannot change, so the bot reads the clock again only after a boundary has
passed (or after ``max_age``, in case of an unscheduled halt). If the clock cannot be read, the
state is unknown (``None``), which the planner treats as open: the broker, not tradebot, has the
final word on whether an order can queue.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from tradebot.broker.base import Broker
from tradebot.core.account import MarketClock
from tradebot.exceptions import TransientError

log = logging.getLogger(__name__)


class ClockCache:
    def __init__(self, broker: Broker, *, max_age: timedelta = timedelta(minutes=15)) -> None:
        self._broker = broker
        self._max_age = max_age
        self._clock: MarketClock | None = None
        self._read_at: datetime | None = None

    @property
    def clock(self) -> MarketClock | None:
        return self._clock

    def _fresh(self, now: datetime) -> bool:
        clock, read_at = self._clock, self._read_at
        if clock is None or read_at is None or now - read_at > self._max_age:
            return False
        boundary = clock.next_close if clock.is_open else clock.next_open
        return now < boundary

    async def is_open(self, now: datetime) -> bool | None:
        """Whether the market is open at ``now``; None when the broker's clock is unavailable."""
        if not self._fresh(now):
            try:
                self._clock = await self._broker.clock()
                self._read_at = now
            except TransientError as exc:
                log.warning("market clock unavailable (%s); treating the market as open", exc)
                return None
        return self._clock.is_open if self._clock is not None else None
