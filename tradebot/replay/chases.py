"""The chaser of ``limit_then_market`` in a replay: the live chaser's steps
(:mod:`tradebot.execution.chaser`) on the simulated clock, with its rules, never a copy of them.

A limit that carries chase terms (:attr:`~tradebot.core.orders.OrderIntent.chase`) and is not
final once sent is followed from the instant it was sent (live: from the chaser's next tick,
at most its ``interval`` later). At each simulated instant the replay passes through (a signal,
a ``--prices`` row, and the instant a followed limit's timer runs out, :meth:`Chases.due`, so a
timer fires when it would live and not at the next signal), every followed limit is looked up
at the sim broker and its :class:`~tradebot.execution.chase.Chase` is asked what to do, with
the sim broker's clock and reference price, exactly as :meth:`Chaser._advance
<tradebot.execution.chaser.Chaser>` asks it:

* ``wait``: nothing yet;
* ``done``: the limit ended without a chase (it filled): no longer followed;
* ``cancel``: the limit is canceled at the sim broker, looked up again at once (the live
  chaser is stepped at once when an order event ends a limit it follows) and asked again;
* ``send_remainder``: the market remainder, :func:`~tradebot.execution.chaser.remainder_intent`
  (its id :func:`~tradebot.core.ids.remainder_id`'s), for exactly what the broker shows
  unfilled, unless a later signal of the same algorithm named the symbol since the limit was
  sent (``superseded``, :mod:`tradebot.execution.superseded`'s rule) or the limits in force
  refuse it when it leaves (``refused``,
  :class:`~tradebot.execution.limits_in_force.LimitsInForce`).

Not replayed: the kill switch holding a cancel, a restart resuming a chase, the journal's
``chase`` rows (the replay writes no journal).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from tradebot.broker.sim import SimBroker
from tradebot.core.book import PositionBook
from tradebot.core.order_shape import Limit
from tradebot.core.order_snapshot import OrderSnapshot
from tradebot.core.orders import OrderIntent
from tradebot.execution.chase import Chase, Phase
from tradebot.execution.chaser import remainder_intent
from tradebot.execution.limits_in_force import LimitsInForce

_SECOND = timedelta(seconds=1)
_TICK = timedelta(microseconds=1)


@dataclass
class _Followed:
    intent: OrderIntent  # the limit, as sent
    state: Chase
    #: how many legs of the limit's algorithm and symbol the replay had seen when it was sent
    legs_before: int


class Chases:
    """The chases of one replay. ``epoch``: the simulated instant the monotonic clock counts
    from; ``legs_seen(algo_id, symbol)``: how many legs of that algorithm and symbol the
    replay's signals have carried so far."""

    def __init__(
        self,
        broker: SimBroker,
        limits: LimitsInForce,
        epoch: datetime,
        legs_seen: Callable[[int, str], int],
    ) -> None:
        self._broker = broker
        self._limits = limits
        self._epoch = epoch
        self._legs_seen = legs_seen
        self._followed: dict[str, _Followed] = {}
        #: how chases ended: ``remainder``, ``superseded``, ``refused``, ``done``
        self.ended: Counter[str] = Counter()

    def _monotonic(self, at: datetime) -> float:
        return (at - self._epoch) / _SECOND

    @property
    def following(self) -> tuple[str, ...]:
        return tuple(self._followed)

    def follow(self, intent: OrderIntent, snapshot: OrderSnapshot) -> None:
        """Follow ``intent`` once sent, as the live chaser follows an unresolved chase limit."""
        if intent.chase is None or snapshot.status.is_final:
            return  # not a chase limit, or ended at once (filled, refused): nothing to chase
        assert isinstance(intent.price, Limit)
        state = Chase(
            intent.client_order_id,
            intent.side,
            intent.qty,
            intent.price.limit,
            chase_after=intent.chase.chase_after,
            chase_pct=intent.chase.chase_pct,
        )
        before = self._legs_seen(intent.algo_id, intent.symbol)
        self._followed[intent.client_order_id] = _Followed(intent, state, before)

    def due(self, after: datetime) -> datetime | None:
        """The earliest instant later than ``after`` at which a followed limit's timer has run
        out (None: no timer is running)."""
        found: datetime | None = None
        for followed in self._followed.values():
            state = followed.state
            if state.phase is not Phase.WORKING or state.started is None:
                continue
            at = self._timer_end(state)
            at = max(at, after + _TICK)  # a timer due earlier has fired: never stand still
            found = at if found is None else min(found, at)
        return found

    def _timer_end(self, state: Chase) -> datetime:
        """The first microsecond at which ``state``'s timer has run out by its own rule."""
        assert state.started is not None
        at = self._epoch + timedelta(seconds=state.started + state.chase_after)
        while self._monotonic(at) - state.started < state.chase_after:  # float rounding
            at += _TICK
        return at

    async def step(self, at: datetime, book: PositionBook) -> list[OrderIntent]:
        """Ask every followed limit what to do at ``at``; the remainders that may leave, in the
        order their limits were sent (the caller sends them). ``book``: every fill so far."""
        if not self._followed:
            return []
        now = self._monotonic(at)
        working = sorted(
            {f.intent.symbol for f in self._followed.values() if f.state.phase is Phase.WORKING}
        )
        market_open = (await self._broker.clock()).is_open if working else True
        prices = await self._broker.reference_prices(working)
        out: list[OrderIntent] = []
        for limit_id in list(self._followed):
            remainder = await self._advance(
                self._followed[limit_id], now, market_open, prices.prices, book
            )
            if remainder is not None:
                out.append(remainder)
        return out

    async def _advance(
        self,
        followed: _Followed,
        now: float,
        market_open: bool,
        prices: Mapping[str, Decimal],
        book: PositionBook,
    ) -> OrderIntent | None:
        intent = followed.intent
        limit_id = intent.client_order_id
        while True:
            snapshot = await self._broker.get_order(limit_id)
            if snapshot is None:
                return None
            state = followed.state.with_limit(snapshot.status, snapshot.filled_qty)
            if market_open:
                state = state.market_opened(now)
            elif state.phase is Phase.WORKING and not state.status.is_final:
                followed.state = state  # closed: the chase picks up at the open
                return None
            decided, action = state.decide(now, prices.get(intent.symbol))
            followed.state = decided
            if action.kind == "wait":
                return None
            if action.kind == "cancel":
                await self._broker.cancel(limit_id)
                continue  # the broker confirms at once: look again, as the follower does
            del self._followed[limit_id]
            if action.kind == "done":
                self.ended["done"] += 1
                return None
            return await self._remainder(followed, decided, action.qty, book)

    async def _remainder(
        self, followed: _Followed, state: Chase, qty: Decimal, book: PositionBook
    ) -> OrderIntent | None:
        intent = followed.intent
        if self._legs_seen(intent.algo_id, intent.symbol) > followed.legs_before:
            self.ended["superseded"] += 1  # a later signal spoke about the symbol
            return None
        why = f"{state.why or 'resumed'}; limit filled {state.filled} of {state.planned}"
        remainder = remainder_intent(intent, qty, why)
        if await self._limits.refusal(remainder, book) is not None:
            self.ended["refused"] += 1
            return None
        self.ended["remainder"] += 1
        return remainder
