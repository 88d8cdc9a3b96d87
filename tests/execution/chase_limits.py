"""The limits in force for a chaser under test: a config, today's state and the broker's prices,
each changed by the test between two ticks (as a config edit, the kill switch file, a fill's loss
or the market would change them for the running bot)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tests.core.helpers import make_config
from tradebot.broker.base import Broker
from tradebot.clock import utcnow
from tradebot.config.model import Config
from tradebot.core.risk import DayState
from tradebot.execution.limits_in_force import LimitsInForce


@dataclass
class Limits:
    """``config``/``day`` are read afresh at every remainder; ``sent`` counts what left."""

    broker: Broker
    config: Config = field(default_factory=lambda: make_config({16: {}}))
    day: DayState = field(default_factory=DayState)
    sent: Counter[int] = field(default_factory=Counter)

    def configure(
        self, algo: dict[str, Any] | None = None, risk: dict[str, Any] | None = None
    ) -> None:
        """Algorithm 16 with ``algo``'s settings, the account with ``risk``: a config edit."""
        self.config = make_config({16: algo or {}}, risk)

    def in_force(self) -> LimitsInForce:
        async def day() -> DayState:
            return self.day

        return LimitsInForce(
            rules=lambda: self.config.planning,
            day=day,
            market=self.broker.reference_prices,
            now=utcnow,
            sent=lambda algo_id: self.sent.update((algo_id,)),
        )
