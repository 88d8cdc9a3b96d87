"""Limit, then market: the decisions of one chase, as a small pure state machine.

A ``limit_then_market`` leg goes out first as a limit order. When it has not filled completely
``chase_after`` seconds after the market could fill it, or the reference price has moved more
than ``chase_pct`` percent past the limit (a buy: above it; a sell: below it), the limit is
canceled and exactly the unfilled quantity goes out at market.

This module decides; it does no I/O. The driver feeds it what the broker confirmed (order
updates and lookups: the limit's cumulative filled quantity and status), the monotonic time and
the reference price, and carries out what :meth:`Chase.decide` answers. Keeping the rules here,
apart from the sending, is what lets them be checked against every interleaving (the tests run
hypothesis over event orders), and lets a restart rebuild a chase from the journal and the
broker's view of the order, then simply ask it again what to do.

The guarantee it is built around, **the cancel/fill race**: the limit may fill, wholly or in
part, while its cancel is in flight. So the remainder is computed only once the broker has
confirmed the limit final (canceled, filled or expired), from the broker-confirmed filled
quantity, never from what was expected: the leg's total is never more than planned.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from tradebot.core.order_snapshot import OrderStatus
from tradebot.core.signal import Side

#: the steps of the journal's ``chase`` rows that end a chase with no remainder on record: it
#: ended by itself (``done``), a later leg took over (``superseded``), or the limits in force
#: when the remainder was to leave refused it (``refused``)
ENDED_WITHOUT_REMAINDER = frozenset({"done", "superseded", "refused"})


class Phase(StrEnum):
    WORKING = "working"  # the limit is live; waiting for a fill, the timer or the price
    CANCELING = "canceling"  # the cancel was asked for; waiting for the broker to confirm
    REMAINDER = "remainder"  # the limit is final; the market remainder is to go out
    DONE = "done"


class Why(StrEnum):
    """Why the limit was chased."""

    TIMER = "timer"
    PRICE = "price"


@dataclass(frozen=True, slots=True)
class Action:
    """What the driver must do next.

    ``kind`` is one of ``wait``, ``cancel``, ``send_remainder`` or ``done``.
    """

    kind: str
    qty: Decimal = Decimal(0)  # send_remainder: exactly this many, at market
    why: Why | None = None  # cancel: the trigger
    detail: str = ""


WAIT = Action("wait")


@dataclass(frozen=True, slots=True)
class Chase:
    """One leg's chase. Immutable: every ``with_*`` returns the next state.

    ``started`` is the monotonic time from which the timer runs: when the market can fill the
    limit (None while it is closed: the timer has not started). ``filled`` and ``status`` are
    only ever what the broker confirmed about the limit.
    """

    limit_id: str
    side: Side
    planned: Decimal
    limit_price: Decimal
    chase_after: float  # seconds; the algorithm's key (its range and default: the config's)
    chase_pct: Decimal  # percent past the limit; likewise
    started: float | None = None
    phase: Phase = Phase.WORKING
    filled: Decimal = Decimal(0)
    status: OrderStatus = OrderStatus.PENDING
    why: Why | None = None
    remainder_qty: Decimal | None = None  # set when the remainder was decided (and journaled)

    def __post_init__(self) -> None:
        if self.planned <= 0:
            raise ValueError("a chase needs a positive planned quantity")

    # -- what the broker confirmed ----------------------------------------------------------

    def with_limit(self, status: OrderStatus, filled: Decimal) -> Chase:
        """The broker's view of the limit (an order update or a lookup).

        Cumulative quantities only grow: a stale update arriving after a newer one must not
        shrink what is known to be filled, and a final status is never undone.
        """
        if filled > self.planned:
            raise ValueError(f"the broker reports {filled} filled of a {self.planned} limit")
        known = max(self.filled, filled)
        final = self.status if self.status.is_final else status
        return replace(self, filled=known, status=final)

    def market_opened(self, now: float) -> Chase:
        """The market can fill the limit from ``now``: the timer starts (once)."""
        return self if self.started is not None else replace(self, started=now)

    # -- what to do -------------------------------------------------------------------------

    def decide(self, now: float, reference: Decimal | None) -> tuple[Chase, Action]:
        """The next state and the action, from the monotonic time and the reference price."""
        if self.phase is Phase.DONE:
            return self, Action("done")
        if self.phase is Phase.WORKING:
            return self._working(now, reference)
        if self.phase is Phase.CANCELING:
            if not self.status.is_final:
                return self, WAIT  # a fill may still arrive: nothing is computed before this
            return self._after_final()
        # REMAINDER: decided; the driver sends it (again after a restart: same id, no double)
        assert self.remainder_qty is not None
        return self, Action("send_remainder", qty=self.remainder_qty)

    def _working(self, now: float, reference: Decimal | None) -> tuple[Chase, Action]:
        if self.status.is_final:
            # ended without our cancel: filled (nothing to chase), or rejected, expired or
            # canceled by someone else (at the broker): a remainder then would overrule them
            return replace(self, phase=Phase.DONE), Action(
                "done", detail=f"the limit ended {self.status} before any chase"
            )
        why = self._trigger(now, reference)
        if why is None:
            return self, WAIT
        return replace(self, phase=Phase.CANCELING, why=why), Action("cancel", why=why)

    def _trigger(self, now: float, reference: Decimal | None) -> Why | None:
        if self.started is None:
            return None  # the market cannot fill it yet: neither the timer nor the price runs
        if now - self.started >= self.chase_after:
            return Why.TIMER
        if reference is not None:
            past = (reference - self.limit_price) * self.side.sign  # > 0: moved away from us
            if past > self.limit_price * self.chase_pct / 100:
                return Why.PRICE
        return None

    def _after_final(self) -> tuple[Chase, Action]:
        rest = self.planned - self.filled  # broker-confirmed, never what was expected
        if rest <= 0:
            return replace(self, phase=Phase.DONE, remainder_qty=Decimal(0)), Action(
                "done", detail="the limit filled completely while its cancel was in flight"
            )
        state = replace(self, phase=Phase.REMAINDER, remainder_qty=rest)
        return state, Action("send_remainder", qty=rest)
