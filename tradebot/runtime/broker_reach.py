"""Whether the broker answers: learned in one place, the account refresh.

The bot asks the broker for the account every ``account_refresh`` seconds whatever else happens,
and sooner after orders and fills
(:meth:`~tradebot.runtime.context.PlanningContext.refresh_account`), so that request is the one
that notices first, and it notices whether the bot is trading or not.
The broker's own retries (:mod:`tradebot.broker.retry`) come first: a failure seen here is one
the retries did not cure. A change is told to the observers once, as a
:class:`~tradebot.runtime.observer.BrokerReachability`: unreachable (since the first failure,
with its error, masked) and reachable again (with how long it was not).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from tradebot.masking import mask
from tradebot.runtime.observer import BotEvent, BrokerReachability


class BrokerReach:
    def __init__(self, notify: Callable[[BotEvent], None] = lambda event: None) -> None:
        self._notify = notify
        self.down_since: datetime | None = None

    def answered(self, now: datetime) -> None:
        since, self.down_since = self.down_since, None
        if since is not None:
            self._notify(BrokerReachability(True, since, now))

    def failed(self, now: datetime, error: BaseException) -> None:
        if self.down_since is None:
            self.down_since = now
            self._notify(BrokerReachability(False, now, now, mask(str(error))[:300]))
