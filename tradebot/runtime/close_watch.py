"""Positions a close has stripped of their exits, watched until the close goes out.

A close cancels the orders in its way first (:mod:`.close_cancel`): from that moment the
position has no live exit until the close's own order reaches the broker, normally a fraction
of a second later. When it does not (the broker does not confirm the cancels, the close is
rejected or gets no answer, the kill switch halts it in between, it is skipped), the position
is held with nothing to protect it and nothing on its way to close it. After ``alert_after``
seconds (a minute) that is an ERROR row naming the position, the orders canceled and why the
close is not out, told to the observers (the ``error`` alert reaches a person); once per
position until its watch ends.

A watch starts when the cancels are asked for and ends when

* the algorithm's ledger no longer holds the symbol (the close filled, or an exit did first);
* the broker answered a close for the symbol (it is out: its fills follow on the ledger);
* the broker answered any other order of the algorithm in that symbol after the cancels (an
  exit placed again, an earlier close settled by the re-check), or the exit manager has told
  about the close already (:mod:`tradebot.execution.close_exits`: an ``exit`` row
  ``reprotect`` or ``none``), looked up once, at alert time.

A restart resumes the watches from the journal (:meth:`CloseWatch.resume`): the newest
cancel-for-close rows of the last :data:`RESUME_LOOKBACK` for positions the ledger still holds,
timed from when those cancels were written. A close that recovery or the loop then sends ends
its watch; one recovery found too old to send leaves the position held with no exit, and is
told at once (the minute is long past).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tradebot.core.book import PositionBook
from tradebot.core.orders import IntentRole, OrderIntent
from tradebot.execution.close_exits import REPROTECT
from tradebot.execution.executor import ExecutionResult
from tradebot.execution.exit_manager import CANCEL_FOR_CLOSE
from tradebot.journal.interface import EntryFilter, Journal
from tradebot.journal.records import Status
from tradebot.runtime.observer import BotEvent, ErrorRecorded

log = logging.getLogger(__name__)

#: rows that say the broker has an order: a close with one of these went out
_ANSWERED = (Status.SUBMITTED, Status.ACCEPTED, Status.PARTIAL, Status.FILLED)
#: ``exit`` row steps by which the exit manager told about a close that left shares held
_TOLD = frozenset({REPROTECT, "none"})
#: how far back a restart looks for positions a close stripped of their exits
RESUME_LOOKBACK = timedelta(days=1)


@dataclass(slots=True)
class _Watch:
    algo_id: int
    symbol: str
    since: float  # monotonic, when the cancels were asked for
    canceled: tuple[str, ...]  # client order ids canceled for the close
    signal_id: int | None  # the close's (None: a cancel row written before rows named it)
    after_id: int  # the newest journal row when the cancels were asked for
    alerted: bool = False


class CloseWatch:
    """See the module docstring. Driven by the signal loop, on its event loop."""

    def __init__(
        self,
        journal: Journal,
        book: PositionBook,
        *,
        alert_after: float,
        monotonic: Callable[[], float],
        notify: Callable[[BotEvent], None],
        say: Callable[[str], None],
    ) -> None:
        self._journal = journal
        self._book = book
        self._alert_after = alert_after
        self._monotonic = monotonic
        self._notify = notify
        self._say = say
        self._watches: dict[tuple[int, str], _Watch] = {}

    @property
    def watching(self) -> tuple[tuple[int, str], ...]:
        """(algorithm, symbol) of every position watched."""
        return tuple(self._watches)

    def canceled(self, signal_id: int, orders: Sequence[OrderIntent], after_id: int) -> None:
        """The cancels of ``orders`` are being asked for, for the close of ``signal_id``
        (``after_id``: the newest journal row then). A position already watched keeps the
        moment its first cancel went out."""
        now = self._monotonic()
        for order in orders:
            key = (order.algo_id, order.symbol)
            watch = self._watches.get(key)
            if watch is None:
                self._watches[key] = _Watch(
                    order.algo_id, order.symbol, now, (), signal_id, after_id
                )
                watch = self._watches[key]
            if order.client_order_id not in watch.canceled:
                watch.canceled += (order.client_order_id,)

    async def resume(self, now: datetime, lookback: timedelta = RESUME_LOOKBACK) -> None:
        """At start, after recovery: watch again the positions still held whose orders a
        close canceled within ``lookback`` (see the module docstring)."""
        rows = await asyncio.to_thread(
            self._journal.entries, EntryFilter(statuses=(Status.EXIT,), since=now - lookback)
        )
        legs: dict[tuple[int, str], object] = {}  # the close leg of each position's newest
        for row in rows:  # newest first
            data = row.data or {}
            if data.get("step") != CANCEL_FOR_CLOSE or row.algo_id is None or not row.symbol:
                continue
            if row.client_order_id is None or not self._book.qty(row.algo_id, row.symbol):
                continue
            key = (row.algo_id, row.symbol)
            watch = self._watches.get(key)
            if watch is None and key not in legs:
                legs[key] = data.get("close_leg")
                age = max((now - row.at).total_seconds(), 0.0)
                since = self._monotonic() - age
                self._watches[key] = _Watch(*key, since, (), row.signal_id, row.id)
                watch = self._watches[key]
            if watch is not None and legs.get(key) == data.get("close_leg"):
                if row.client_order_id not in watch.canceled:
                    watch.canceled += (row.client_order_id,)
                watch.after_id = min(watch.after_id, row.id)

    def went_out(self, result: ExecutionResult) -> None:
        """A plan was executed: the positions whose close the broker answered are done."""
        for outcome in result.outcomes:
            intent = outcome.intent
            if intent.role is IntentRole.CLOSE and outcome.snapshot is not None:
                self._watches.pop((intent.algo_id, intent.symbol), None)

    async def check(self, deferred: Collection[int] = ()) -> None:
        """End the watches the ledger has settled; tell about those overdue (``deferred``:
        signal ids whose close waits for the broker to confirm its cancels)."""
        for key, watch in list(self._watches.items()):
            if not self._book.qty(*key):
                del self._watches[key]
                continue
            waited = self._monotonic() - watch.since
            if watch.alerted or waited < self._alert_after:
                continue
            if await asyncio.to_thread(self._answered_since, watch):
                del self._watches[key]
                continue
            watch.alerted = True
            await self._alert(watch, waited, watch.signal_id in deferred)

    def _answered_since(self, watch: _Watch) -> bool:
        """Whether, since the cancels, the broker answered an order of the algorithm in the
        symbol other than those canceled, or the exit manager re-protected the position or
        said it could not (one read; a worker thread)."""
        rows = self._journal.entries(
            EntryFilter(
                algo_ids=(watch.algo_id,),
                symbols=(watch.symbol,),
                statuses=(*_ANSWERED, Status.EXIT),
                after_id=watch.after_id,
            )
        )
        return any(
            (r.data or {}).get("step") in _TOLD
            if r.status is Status.EXIT
            else r.client_order_id not in watch.canceled
            for r in rows
        )

    async def _alert(self, watch: _Watch, waited: float, deferred: bool) -> None:
        held = self._book.qty(watch.algo_id, watch.symbol)
        ids = ", ".join(watch.canceled)
        close = f"the close of signal #{watch.signal_id}" if watch.signal_id else "the close"
        if deferred:
            detail = (
                f"{close} has waited {waited:.0f}s: the broker"
                f" still has not confirmed the cancel of {ids}; algorithm {watch.algo_id}"
                f" holds {held} {watch.symbol}, which stays open until it does (check the"
                " broker)"
            )
        else:
            detail = (
                f"POSITION UNPROTECTED: algorithm {watch.algo_id} holds {held} {watch.symbol}"
                f" with no live exit: {ids} canceled for {close} {waited:.0f}s ago, and the"
                " close has not gone out (see `tradebot explain` of the close; close the"
                " position by hand if it should be)"
            )
        log.error("%s", detail)
        await asyncio.to_thread(
            self._journal.record_error,
            detail,
            algo_id=watch.algo_id,
            symbol=watch.symbol,
            signal_id=watch.signal_id,
        )
        self._say(detail)
        self._notify(ErrorRecorded(detail, watch.algo_id))
