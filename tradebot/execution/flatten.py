"""A flip's open waits for its flatten to fill: no order crosses zero, at the broker either.

The planner splits a flip (an open against a holding of the other side) into a flatten, then an
open, so that no order crosses zero. Sending the open as soon as the flatten's submit is
*answered* is not enough: a market order may be accepted and fill a moment later, and while it
works the broker holds the shares for it. Alpaca then refuses the open (a short sale against a
long still held: ``insufficient qty available``), and the algorithm would end flat instead of
short; a broker that took it would net it against the shares still held. So an open whose
algorithm's ledger still holds the other side of its symbol waits until the ledger is flat:

* woken by every fill the executor applies (the event stream), and looking the flattening
  orders up every ``poll`` seconds (a stream may lag; during start-up recovery there is none);
* at most ``timeout`` seconds (monotonic). A flatten that did not fill in time, or ended
  without filling (canceled, rejected, expired), leaves the open **unsent**: it is recorded as
  failed with the reason, never sent to cross zero.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from tradebot.broker.base import Broker
from tradebot.core.book import PositionBook
from tradebot.core.order_snapshot import OrderSnapshot
from tradebot.core.orders import IntentRole, OrderIntent
from tradebot.exceptions import TransientError

log = logging.getLogger(__name__)

#: how long an open waits for the flatten before it (seconds); a market order fills in well
#: under a second while the market is open
FLATTEN_TIMEOUT = 10.0
FLATTEN_POLL = 0.5


def crosses(book: PositionBook, intent: OrderIntent) -> bool:
    """Whether ``intent``'s algorithm still holds the other side of its symbol."""
    held = book.qty(intent.algo_id, intent.symbol)
    return held != 0 and (held > 0) != (intent.side.sign > 0)


def flattens_for(intent: OrderIntent, intents: Sequence[OrderIntent]) -> tuple[str, ...]:
    """The client order ids among ``intents`` that flatten what ``intent`` opens against."""
    return tuple(
        i.client_order_id
        for i in intents
        if i.role is IntentRole.CLOSE
        and i.algo_id == intent.algo_id
        and i.symbol == intent.symbol
        and i.side is intent.side
    )


class FlattenWait:
    """Holds an open back until its algorithm's ledger is flat in the symbol (see the module)."""

    def __init__(
        self,
        book: PositionBook,
        broker: Broker,
        record: Callable[[OrderSnapshot], Awaitable[None]],
        *,
        timeout: float = FLATTEN_TIMEOUT,
        poll: float = FLATTEN_POLL,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``record``: journal a looked-up snapshot and apply its fills to ``book``."""
        self._book = book
        self._broker = broker
        self._record = record
        self._timeout = timeout
        self._poll = poll
        self._monotonic = monotonic
        self._changed = asyncio.Event()

    def book_changed(self) -> None:
        """Fills were applied to the book: wake the opens waiting."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def until_flat(self, intent: OrderIntent, flattens: Sequence[str]) -> str | None:
        """Wait until ``intent`` no longer crosses zero; None then, else why it must not go."""
        if not crosses(self._book, intent):
            return None
        deadline = self._monotonic() + self._timeout
        while True:
            changed = self._changed
            ended = await self._look_up(flattens)
            if not crosses(self._book, intent):
                return None
            held = self._book.qty(intent.algo_id, intent.symbol)
            if flattens and ended == len(flattens):
                return (
                    f"not sent: the flatten before it ({', '.join(flattens)}) ended with"
                    f" {held} {intent.symbol} still held; an open now would cross zero"
                )
            left = deadline - self._monotonic()
            if left <= 0:
                return (
                    f"not sent: the flatten before it did not fill within {self._timeout:g}s"
                    f" ({held} {intent.symbol} still held); an open now would cross zero"
                )
            with contextlib.suppress(TimeoutError):  # a fill, or the next look
                await asyncio.wait_for(changed.wait(), min(left, self._poll))

    async def _look_up(self, flattens: Sequence[str]) -> int:
        """Look each flattening order up and record what is new; how many have ended."""
        ended = 0
        for coid in flattens:
            try:
                snapshot = await self._broker.get_order(coid)
            except TransientError as exc:
                log.warning("looking up %s before the open after it: %s", coid, exc)
                continue
            if snapshot is None:
                continue
            await self._record(snapshot)
            if snapshot.status.is_final:
                ended += 1
        return ended
