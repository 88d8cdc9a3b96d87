"""Our names for the legs of bracket, oto and oco orders, which Alpaca names itself.

Alpaca gives every leg a uuid client order id of its own making (a client cannot name legs), while
tradebot journals each exit under an id derived from its entry (``<entry>-tp``, ``<entry>-sl``;
:func:`~tradebot.core.ids.leg_exit_id`). A nested order answer lists the legs under their parent,
so :func:`~tradebot.broker.alpaca.convert.order_snapshot` names them there; a trade update about
a leg carries only the leg's own object. :class:`LegNames` remembers, from every snapshot with
legs the adapter sees, which broker order id is which of our ids, and renames those updates.

After a restart it remembers nothing: an update whose client order id Alpaca made up (a uuid)
and whose broker id it does not know makes it list the recent orders, nested, once (one
request, through the adapter's retry layer), and learn every leg named there. An order still
unknown after that is not a leg of ours (placed by hand, say): it passes through unchanged, and
is never asked about again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

from tradebot.core.ids import exit_id, exit_parts
from tradebot.core.order_snapshot import OrderSnapshot

log = logging.getLogger(__name__)


class LegNames:
    """broker order id -> our client order id, for legs. One per adapter, on its event loop.

    ``recent`` lists the account's recent orders with their legs nested (retrying transient
    errors itself).
    """

    def __init__(
        self, recent: Callable[[], Awaitable[list[OrderSnapshot]]], *, answer_wait: float
    ) -> None:
        self._recent = recent
        self._answer_wait = answer_wait
        self._ours: dict[str, str] = {}
        self._not_legs: set[str] = set()  # broker ids a listing showed are no leg of ours
        self._lock = asyncio.Lock()
        self._sending = 0
        self._answered = asyncio.Event()  # set while no submission waits for its answer
        self._answered.set()

    @contextmanager
    def sending(self) -> Iterator[None]:
        """Around a submission and the :meth:`learn` of its answer: updates about the legs of
        an entry that fills at once can arrive before the answer that names them, and wait for
        it (up to ``answer_wait`` seconds) rather than list the orders to learn the same."""
        self._sending += 1
        self._answered.clear()
        try:
            yield
        finally:
            self._sending -= 1
            if not self._sending:
                self._answered.set()

    def learn(self, snap: OrderSnapshot) -> None:
        for leg in snap.legs:
            self._ours[leg.broker_order_id] = leg.client_order_id

    def broker_id(self, client_order_id: str) -> str | None:
        """The broker id of the leg we call ``client_order_id``, when it has been seen."""
        for broker_id, ours in self._ours.items():
            if ours == client_order_id:
                return broker_id
        return None

    async def name(self, snap: OrderSnapshot) -> OrderSnapshot:
        """``snap`` under our id when it is a leg; unchanged otherwise.

        Raises what the listing raises (a :class:`~tradebot.exceptions.TradebotError`) when it
        had to ask and could not.
        """
        ours = self._ours.get(snap.broker_order_id)
        if ours is None and self._worth_asking(snap):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._answered.wait(), self._answer_wait)
            async with self._lock:  # one listing at a time; the next caller may find it learned
                if snap.broker_order_id not in self._ours:
                    await self._refresh()
                ours = self._ours.get(snap.broker_order_id)
                if ours is None:
                    self._not_legs.add(snap.broker_order_id)
        return snap if ours is None else replace(snap, client_order_id=ours)

    def _worth_asking(self, snap: OrderSnapshot) -> bool:
        """Alpaca names legs with uuids: any other client order id is not a leg (ours are
        ``tb...``), and an order a listing did not show as a leg is not asked about twice."""
        return _is_uuid(snap.client_order_id) and snap.broker_order_id not in self._not_legs

    async def _refresh(self) -> None:
        parents = await self._recent()
        for parent in parents:
            self.learn(parent)
        log.info("learned the names of %d order legs from the recent orders", len(self._ours))


def leg_parents(client_order_id: str) -> tuple[str, ...]:
    """The orders a leg we call ``client_order_id`` may belong to: ``<entry>-tp`` is the
    take-profit leg of the bracket/oto ``<entry>``; ``<entry>-sl`` the stop leg of the
    bracket/oto ``<entry>`` or of the oco ``<entry>-tp``. Nothing for any other id."""
    parts = exit_parts(client_order_id)
    if parts is None or parts[1] == "ts":
        return ()
    entry, kind = parts
    return (entry,) if kind == "tp" else (entry, exit_id(entry, "tp"))


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
