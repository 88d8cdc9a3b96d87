"""Orders whose outcome is unknown, settled while the bot runs rather than at the next start.

A submission can end without an answer: every retry timed out, or the broker stayed unreachable
until the adapter gave up. The order may exist or not. When it exists, the trade-updates stream
reports it; nothing ever reports an order that never arrived, so its leg would wait for the next
start's recovery. Every ``interval`` seconds, between signals (never while one is handled, so no
submission is in flight: a step holds the signal lock), the intents the broker never answered
for are looked up by client order id and settled as recovery settles them: recorded if the
broker has them, sent again under the same id while their signal is fresh, otherwise recorded
as failed with the reason.

It is a :class:`~tradebot.runtime.followers.Follower` on the tick alone: no order event concerns
it (an order the stream reports has an answer already), and its first step comes one interval
after the start (the start's recovery has just settled every intent).

The journal it reads and writes is passed in, like the executor that settles (sends, records
answers): the same objects the bot gives every component, named where they are used.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from tradebot.core.events import OrderEvent
from tradebot.execution.executor import Executor
from tradebot.execution.recovery import Settled, settle
from tradebot.journal.interface import Journal

log = logging.getLogger(__name__)

STALE_UNKNOWN = "outcome unknown and the broker has no such order; signal stale"


def lines(done: Settled) -> list[str]:
    """One line per order a re-check settled, for the bot's output and the journal."""
    out = [f"order {coid}: outcome was unknown; the broker has it" for coid in done.found]
    out += [f"order {coid}: never reached the broker; sent again" for coid in done.resent]
    out += [
        f"order {coid}: never reached the broker; sent again, and that did not reach it"
        f" either ({why})"
        for coid, why in done.unsent
    ]
    out += [f"order {coid} failed: {reason}" for coid, reason in done.failed]
    return out


class UnknownOutcomes:
    """A follower whose :meth:`step` runs :meth:`check` holding ``busy`` (the signal lock)."""

    name = "re-check"
    at_start = False

    def __init__(
        self,
        executor: Executor,
        journal: Journal,
        *,
        busy: asyncio.Lock,
        stopping: asyncio.Event,
        interval: float,
        max_age: timedelta,
        now: Callable[[], datetime],
        say: Callable[[str], None],
        on_settled: Callable[[Settled], None] = lambda settled: None,
        may_act: Callable[[], bool] = lambda: True,
    ) -> None:
        self._executor = executor
        #: False while the broker circuit breaker is open: no lookups the broker cannot answer,
        #: and the orders it holds wait for it to close (tradebot/execution/circuit.py)
        self._may_act = may_act
        self._journal = journal
        self._on_settled = on_settled
        self._busy = busy
        self._stopping = stopping
        self._interval = interval
        self._max_age = max_age
        self._now = now
        self._say = say
        self._after_id = 0  # every unanswered intent is newer than this row

    @property
    def interval(self) -> float:
        return self._interval

    def cares(self, event: OrderEvent) -> bool:
        return False  # an order the stream reports is answered: nothing to settle

    async def step(self) -> None:
        async with self._busy:
            if self._stopping.is_set() or not self._may_act():
                return  # nothing is sent once the stop has begun, or while the circuit is open
            await self.check()

    async def check(self) -> Settled:
        """Settle every intent the broker never answered for; say and journal what was done."""
        journal = self._journal
        newest = await asyncio.to_thread(journal.last_id)
        pending = await asyncio.to_thread(
            journal.unresolved_intents, after_id=self._after_id, unanswered=True
        )
        done = Settled()
        if pending:
            done = await settle(self._executor, pending, self._now(), self._max_age, STALE_UNKNOWN)
            said = lines(done)
            for line in said:
                self._say(line)
            data = {
                "found": done.found,
                "resent": done.resent,
                "unsent": [coid for coid, _ in done.unsent],
                "failed": done.failed,
            }
            await asyncio.to_thread(journal.record_recovery, "re-check: " + "; ".join(said), data)
            self._on_settled(done)
            pending = await asyncio.to_thread(
                journal.unresolved_intents, after_id=self._after_id, unanswered=True
            )
        # answers are never taken back: later checks need only start at the oldest still open
        self._after_id = min((p.entry_id for p in pending), default=newest + 1) - 1
        return done
