"""A close cancels what is in its way first, confirmed, then closes what the ledger still holds.

The signal is durable before any of this (the signal loop journals every signal as it
arrives): a kill -9 at any moment of the cancel-then-close leaves a journaled, unplanned close
that the next start finishes without anything from outside (:func:`orders_in_way`).

Before a signal is planned, for each symbol where it closes or reduces what its algorithm holds
(a close leg, whatever is held; or an open on the other side of a holding, which flattens
first), the algorithm's orders still working in that symbol are canceled: its live exits
(unresolved EXIT intents), and any entry or earlier close not yet final (a resting limit, a
chased one). An exit could sell the shares the close sells; an entry still working could fill
after the close and leave the algorithm holding what it was told to close; an earlier close
still working would sell a second time. So:

1. a row per order says it is canceled for the close, and why (an ``exit`` row, written before
   the cancel goes out: a restart, and the unprotected-position watch, know it was ours);
2. the cancel goes to the broker, then each order is looked up until the broker shows it final
   (every ``poll`` seconds, at most ``timeout``; a deferred close tried again asks for the
   cancel again and looks once). Every lookup that shows something new is
   recorded through :meth:`Executor.record_snapshot`, so a stop (or an entry) that fills at
   the same moment lands on the algorithm's ledger before the close is planned;
3. the signal is then planned against that book: the close is for what the ledger still holds,
   or is skipped ``not_held`` naming the exit that closed the position (:func:`exit_fills`).

If the broker does not confirm every cancel in time, the signal is **not planned**: the close
is never sent blind (it could sell shares a stop is selling too). It stays journaled and
unplanned; the signal loop tries it again on its next passes (and a restart's recovery leaves
it to the loop the same way while it is fresh). A position whose orders were canceled and whose
close has not gone out a minute later is an ERROR (:mod:`.close_watch`). Under a halted kill
switch nothing is canceled (the planner skips the whole signal).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from tradebot.core.book import PositionBook
from tradebot.core.exits import exit_kind
from tradebot.core.orders import ExitFill, IntentRole, OrderIntent
from tradebot.core.signal import LegKind, Signal
from tradebot.exceptions import BrokerError, TransientError
from tradebot.execution.executor import Executor
from tradebot.execution.exit_manager import CANCEL_FOR_CLOSE
from tradebot.journal.interface import EntryFilter, Journal
from tradebot.journal.records import FILL_STATUSES, Status, intent_from_entry

log = logging.getLogger(__name__)

#: told of the orders whose cancels are about to go out for a close, and the first cancel row
OnCancel = Callable[[Sequence[OrderIntent], int], None]


@dataclass(frozen=True, slots=True)
class Gate:
    """What :meth:`CloseCanceler.before_plan` found: go on (with the exits that closed
    positions, for the planner), or wait (``unconfirmed``: the orders still live)."""

    exit_fills: Mapping[str, ExitFill] = field(default_factory=dict)
    unconfirmed: tuple[OrderIntent, ...] = ()
    canceled: tuple[OrderIntent, ...] = ()  # every order whose cancel was asked for

    @property
    def deferred(self) -> bool:
        return bool(self.unconfirmed)


def reducing_symbols(signal: Signal, book: PositionBook) -> list[str]:
    """Symbols where ``signal`` closes or reduces what its algorithm holds: its close legs'
    symbols (held or not: an entry still working there must not fill after the close), and its
    opens against a holding (they flatten it first)."""
    out: list[str] = []
    for leg in signal.legs:
        if leg.symbol in out:
            continue
        held = book.qty(signal.algo_id, leg.symbol)
        if leg.kind is LegKind.CLOSE or (held and (held > 0) != (leg.side.sign > 0)):
            out.append(leg.symbol)
    return out


def orders_in_way(journal: Journal) -> Callable[[Signal, PositionBook], Awaitable[bool]]:
    """For start-up recovery: whether a signal closes or reduces a position where its algorithm
    has orders still working (exits, entries). Such a signal is left to the running signal
    loop, which cancels them first. Recovery asks after settling every order with the broker:
    an exit a crash canceled mid-close is final by then, and its close is planned at once."""

    async def in_way(signal: Signal, book: PositionBook) -> bool:
        symbols = set(reducing_symbols(signal, book))
        if not symbols:
            return False
        stored = await asyncio.to_thread(
            functools.partial(
                journal.unresolved_intents, algo_id=signal.algo_id, symbols=sorted(symbols)
            )
        )
        return bool(stored)

    return in_way


_WHY = {
    IntentRole.EXIT: "a close never sells while an exit could sell the same shares",
    IntentRole.OPEN: "an entry still working could fill after the close",
    IntentRole.CLOSE: "an earlier close still working would sell a second time",
}


def _what(intent: OrderIntent) -> str:
    kind = "exit" if intent.role is IntentRole.EXIT else f"working {intent.role}"
    return f"{kind} {intent.client_order_id} ({intent.side} {intent.qty} {intent.symbol})"


class CloseCanceler:
    """See the module docstring. Called by the signal loop, holding the signal lock."""

    def __init__(
        self,
        executor: Executor,
        *,
        timeout: float = 10.0,
        poll: float = 0.25,
        say: Callable[[str], None] = lambda line: None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._executor = executor
        self._timeout = timeout
        self._poll = poll
        self._say = say
        self._monotonic = monotonic
        #: orders whose cancel row is written (retries): the row's id
        self._announced: dict[str, int] = {}

    async def before_plan(
        self,
        signal: Signal,
        *,
        halted: bool,
        signal_id: int | None = None,
        on_cancel: OnCancel | None = None,
    ) -> Gate:
        """Cancel the orders in the way of the signal's closes; confirm; report.

        The signal must be durable already (journaled under ``signal_id``, which the cancel
        rows name): a cancel goes out only for a close a restart can find and finish.
        ``on_cancel(orders, row_id)`` is told just before the cancels go out, with the id of
        the first cancel row written for them.
        """
        book, journal = self._executor.book, self._executor.journal
        symbols = set(reducing_symbols(signal, book))
        live: list[OrderIntent] = []
        if symbols and not halted:
            stored = await asyncio.to_thread(
                functools.partial(
                    journal.unresolved_intents, algo_id=signal.algo_id, symbols=sorted(symbols)
                )
            )
            live = [s.intent for s in stored]
        unconfirmed: tuple[OrderIntent, ...] = ()
        if live:
            key = next(leg.id.key for leg in signal.legs if leg.symbol in symbols)
            unconfirmed = await self._cancel(live, key, signal_id, on_cancel)
        # only a close of what is no longer held can have been made unnecessary by an exit: an
        # open, or a close of a holding, costs no journal read (nor a hop to a worker thread)
        gone = sorted(
            {leg.symbol for leg in signal.close_legs if not book.qty(signal.algo_id, leg.symbol)}
        )
        fills = await asyncio.to_thread(self._exit_fills, signal.algo_id, gone) if gone else {}
        return Gate(fills, unconfirmed, tuple(live))

    async def _cancel(
        self,
        live: Sequence[OrderIntent],
        close_key: str,
        signal_id: int | None,
        on_cancel: OnCancel | None,
    ) -> tuple[OrderIntent, ...]:
        executor, journal = self._executor, self._executor.journal
        # a deferred close tried again: its cancels are on record and were waited for once;
        # now one round of lookups, so other signals are not held up while the broker is slow
        retry = all(i.client_order_id in self._announced for i in live)
        for intent in live:
            if intent.client_order_id in self._announced:
                continue
            detail = f"canceling {_what(intent)} for the close ({close_key}): " + _WHY[intent.role]
            data = {"step": CANCEL_FOR_CLOSE, "close_leg": close_key}
            row = await asyncio.to_thread(journal.record_exit, intent, detail, data, signal_id)
            self._announced[intent.client_order_id] = row
            self._say(detail)
        if journal.unsynced:  # the signal's own commit is on disk before a cancel leaves
            await asyncio.to_thread(journal.make_durable)  # (the rows' commits did it: a check)
        if on_cancel is not None:
            on_cancel(live, min(self._announced[i.client_order_id] for i in live))
        # one cancel per group: an oco's cancel takes its stop leg; a bracket's legs one by one
        ids = {i.client_order_id for i in live}
        for intent in (i for i in live if i.parent not in ids):
            try:
                await executor.broker.cancel(intent.client_order_id)
            except (BrokerError, TransientError) as exc:
                # already final at the broker (filled or canceled), or a lost answer: the
                # lookups below tell which
                log.warning("cancel of %s: %s", intent.client_order_id, exc)
        return await self._confirm(live, 0.0 if retry else self._timeout)

    async def _confirm(
        self, live: Sequence[OrderIntent], patience: float
    ) -> tuple[OrderIntent, ...]:
        """Look each order up until the broker shows it final; those still live at the end."""
        executor = self._executor
        seen: dict[str, tuple[object, Decimal]] = {}
        waiting = [i.client_order_id for i in live]
        deadline = self._monotonic() + patience
        while True:
            still: list[str] = []
            for coid in waiting:
                snap = await executor.broker.get_order(coid)
                if snap is None:
                    await asyncio.to_thread(
                        executor.journal.record_failed,
                        coid,
                        "never reached the broker; given up for the close",
                    )
                    continue
                if seen.get(coid) != (snap.status, snap.filled_qty):
                    seen[coid] = (snap.status, snap.filled_qty)
                    await executor.record_snapshot(snap, "lookup")
                if not snap.status.is_final:
                    still.append(coid)
            waiting = still
            if not waiting or self._monotonic() >= deadline:
                return tuple(i for i in live if i.client_order_id in waiting)
            await asyncio.sleep(self._poll)

    def _exit_fills(self, algo_id: int, symbols: Sequence[str]) -> dict[str, ExitFill]:
        """Per symbol, the exit whose fill is the algorithm's latest there (it closed the
        position, or part of it, before the close leg came)."""
        journal = self._executor.journal
        out: dict[str, ExitFill] = {}
        for symbol in symbols:  # each no longer held by the algorithm
            last = journal.entries(
                EntryFilter(
                    algo_ids=(algo_id,),
                    symbols=(symbol,),
                    statuses=tuple(FILL_STATUSES),
                    limit=1,
                )
            )
            if not last or last[0].client_order_id is None:
                continue
            coid = last[0].client_order_id
            rows = journal.entries(EntryFilter(client_order_ids=(coid,)))
            intent_rows = [r for r in rows if r.status is Status.INTENT]
            if not intent_rows:
                continue
            intent = intent_from_entry(intent_rows[0])
            if intent.role is not IntentRole.EXIT:
                continue
            fills = [r for r in rows if r.status in FILL_STATUSES and r.qty and r.price]
            qty = sum((r.qty for r in fills if r.qty is not None), Decimal(0))
            value = sum((r.qty * r.price for r in fills if r.qty and r.price), Decimal(0))
            at: datetime = max(r.at for r in fills)
            out[symbol] = ExitFill(coid, exit_kind(intent), qty, value / qty, at)
        return out
