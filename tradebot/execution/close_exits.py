"""A close that leaves shares held gets their exits back, and a person is told.

A close first cancels the algorithm's exits in its symbol (:mod:`tradebot.runtime.close_cancel`:
an ``exit`` row ``cancel_for_close`` per exit, written before its cancel). When the close then
leaves shares held (it filled in part, or not at all: rejected, expired, canceled at the broker;
a chased close whose remainder the limits refused; a close capped by ``max_order_qty``), those
shares would be held with no exit, and nothing would say so. So the exit manager watches every
close that canceled exits, and once it is over (no more of it can fill:
:func:`~.exit_rules.entry_outcome`), holding the signal lock and not while the kill switch halts:

* if the algorithm's ledger no longer holds shares in the direction the close reduced, nothing
  is left naked: nothing to do;
* if a later leg of the same algorithm and symbol was journaled since the close, that leg
  decided about the position (an ``exit`` row ``superseded`` says so);
* else the algorithm's exits **as configured now** go out for what its ledger still holds
  (:func:`~.exit_rules.exit_cover`: whole shares, less what live exits cover, never more than
  the account holds), priced from the price the canceled exits were priced from (their entry's
  average fill, or the basis of an earlier re-protection), under ids derived from the close's
  (``<close id>-tp``...) through :meth:`Executor.execute`: journaled before they are sent, so a
  restart finds them and never sends a second set.

Either way the close did not do all it was asked, so an ``exit`` row (step ``reprotect``, or
``none`` when no exit can go: the algorithm has no exits configured any more, or none can cover
what is held), an ERROR row and the observers (the ``error`` alert) say what is held and how it
is protected, and the bot's output says it too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from tradebot.core.exits import after_fill_exits
from tradebot.core.ids import exit_parts, remainder_id
from tradebot.core.market import implausible_price
from tradebot.core.order_shape import unchased
from tradebot.core.orders import ExitTerms, IntentRole, OrderIntent, Plan
from tradebot.execution.executor import Executor
from tradebot.execution.exit_rules import ZERO, entry_outcome, exit_cover
from tradebot.execution.live_exits import CANCEL_FOR_CLOSE, covered_by_live_exits, exits_settled
from tradebot.execution.scan import new_rows
from tradebot.execution.superseded import later_leg
from tradebot.journal.interface import EntryFilter
from tradebot.journal.records import FILL_STATUSES, Entry, Status, intent_from_entry

log = logging.getLogger(__name__)

#: the ``exit`` row step of a close's exits attached again for what it left held
REPROTECT = "reprotect"


@dataclass(frozen=True, slots=True)
class _Close:
    intent: OrderIntent
    row_id: int
    signal_id: int | None
    canceled: tuple[str, ...]  # the exits canceled for it


class CloseExits:
    """See the module docstring. Owned and ticked by the exit manager."""

    def __init__(
        self,
        executor: Executor,
        *,
        busy: asyncio.Lock,
        stopping: asyncio.Event,
        now: Callable[[], datetime],
        lookback: timedelta,
        terms: Callable[[int], ExitTerms | None],
        may_act: Callable[[OrderIntent], bool],
        say: Callable[[str], None],
        alert: Callable[[str, int], None],
    ) -> None:
        self._executor = executor
        self._busy = busy
        self._stopping = stopping
        self._now = now
        self._lookback = lookback
        self._terms = terms  # the algorithm's exits in the config in force
        self._may_act = may_act
        self._say = say
        self._alert = alert
        self._canceled: dict[tuple[int, str], list[Entry]] = {}  # cancels awaiting their close
        self._closes: dict[str, _Close] = {}
        self._after: int | None = None  # INTENT and EXIT rows scanned up to this id

    @property
    def waiting(self) -> tuple[str, ...]:
        """Closes that canceled exits and are not over yet (for tests)."""
        return tuple(self._closes)

    async def tick(self) -> None:
        await self._discover()
        for close_id in list(self._closes):
            await self._advance(self._closes[close_id])

    async def _discover(self) -> None:
        """Pair each close with the exits canceled for it: the cancels' rows come first (they
        are written before the close is planned), then the algorithm's next order in the
        symbol on the same side is the close (a flip's flatten included)."""
        journal = self._executor.journal
        first = self._after is None
        statuses = (Status.EXIT, Status.INTENT)
        since = self._now() - self._lookback
        rows, newest = await new_rows(journal, statuses, after=self._after, since=since)
        for row in rows:
            coid, data = row.client_order_id, row.data or {}
            if coid is None or row.algo_id is None or row.symbol is None:
                continue
            key = (row.algo_id, row.symbol)
            if row.status is Status.EXIT:
                if data.get("step") == CANCEL_FOR_CLOSE and exit_parts(coid) is not None:
                    self._canceled.setdefault(key, []).append(row)
                continue
            if data.get("role") == IntentRole.EXIT:
                continue
            canceled = self._canceled.pop(key, None)  # any order of the algorithm there ends it
            if not canceled:
                continue
            intent = intent_from_entry(row)
            if intent.exits is not None or all(c.side != str(intent.side) for c in canceled):
                continue  # an entry (with exits of its own), not the close of what they sold
            if first and await asyncio.to_thread(exits_settled, journal, coid):
                continue  # a restart: what was done about it is on record
            ids = tuple(c.client_order_id for c in canceled if c.client_order_id is not None)
            self._closes[coid] = _Close(intent, row.id, row.signal_id, ids)
        self._after = newest

    async def _advance(self, close: _Close) -> None:
        journal, close_id = self._executor.journal, close.intent.client_order_id
        remainder = remainder_id(close_id) if close.intent.chase is not None else None
        ids = (close_id,) if remainder is None else (close_id, remainder)
        rows = await asyncio.to_thread(journal.entries, EntryFilter(client_order_ids=ids))
        outcome = entry_outcome(close_id, close.intent.qty, rows, remainder)
        if not outcome.over:
            return
        async with self._busy:
            if self._stopping.is_set() or not self._may_act(close.intent):
                return  # the kill switch halts: the exits wait
            await self._reprotect(close, outcome.filled)
        del self._closes[close_id]

    async def _reprotect(self, close: _Close, filled: Decimal) -> None:
        executor, intent = self._executor, close.intent
        algo_id, symbol = intent.algo_id, intent.symbol
        direction = intent.side.opposite().sign  # the position the close reduced
        ledger = executor.book.qty(algo_id, symbol)
        held = ledger * direction
        if held <= 0:
            return  # closed: nothing is left without exits
        what = (
            f"close {intent.client_order_id} filled {filled} of {intent.qty} {symbol}: algorithm"
            f" {algo_id} still holds {held} {symbol}, whose exits were canceled for the close"
        )
        data: dict[str, object] = {
            "filled": str(filled),
            "planned": str(intent.qty),
            "held": str(held),
        }
        journal = executor.journal
        later = await asyncio.to_thread(later_leg, journal, algo_id, symbol, close.row_id)
        if later is not None:
            detail = f"{what}; a later leg ({later}) decided about the position since"
            await self._row(intent, detail, {"step": "superseded", "by": later, **data}, close)
            self._say(detail)
            return
        terms = self._terms(algo_id)
        if terms is None:
            detail = f"{what}; the algorithm has no exits configured now: it is UNPROTECTED"
            await self._tell(intent, detail, {"step": "none", **data}, close)
            return
        positions = await executor.broker.positions()
        mine, everyones = await asyncio.to_thread(
            covered_by_live_exits, journal, symbol, intent.side, algo_id
        )
        cover = exit_cover(
            held,
            direction,
            ledger=ledger,
            account=positions.get(symbol, ZERO),
            covered_for_algo=mine,
            covered_in_account=everyones,
            symbol=symbol,
        )
        why = "; ".join(cover.why_less)
        if cover.qty <= 0:
            detail = f"{what}; no exit can cover it ({why}): it is UNPROTECTED"
            await self._tell(intent, detail, {"step": "none", "covered": "0", **data}, close)
            return
        basis = await asyncio.to_thread(self._basis, close.canceled) or intent.reference_price
        exits = after_fill_exits(
            replace(intent, side=intent.side.opposite(), exits=terms, price=unchased(intent.price)),
            cover.qty,
            basis,
        )
        detail = (
            f"{what}: its exits attached again for {cover.qty} {symbol}, priced from {basis}"
            + (f" ({why})" if why else "")
        )
        data |= {"step": REPROTECT, "covered": str(cover.qty), "basis": str(basis)}
        await self._tell(intent, detail, data, close)
        await executor.execute(Plan(intents=exits, notes=(detail,)), signal_id=close.signal_id)

    def _basis(self, canceled: tuple[str, ...]) -> Decimal | None:
        """The price the canceled exits were priced from: their entry's average fill, or the
        basis an earlier re-protection recorded (its "entry" is a close). In a worker thread."""
        journal = self._executor.journal
        for coid in canceled:
            parts = exit_parts(coid)
            if parts is None:
                continue
            entry_id = parts[0]
            rows = journal.entries(EntryFilter(client_order_ids=(entry_id, remainder_id(entry_id))))
            for row in rows:
                data = row.data or {}
                if row.status is Status.EXIT and data.get("step") == REPROTECT:
                    recorded = _price(data.get("basis"))
                    if recorded is not None:
                        return recorded
            fills = [r for r in rows if r.status in FILL_STATUSES and r.qty and r.price]
            qty = sum((r.qty for r in fills if r.qty is not None), ZERO)
            if qty > 0:
                value = sum((r.qty * r.price for r in fills if r.qty and r.price), ZERO)
                return _price(value / qty)
        return None

    async def _tell(
        self, intent: OrderIntent, detail: str, data: dict[str, object], close: _Close
    ) -> None:
        """The ``exit`` row, an ERROR row, the output and the observers (the ``error`` alert)."""
        await self._row(intent, detail, data, close)
        await asyncio.to_thread(
            self._executor.journal.record_error,
            detail,
            algo_id=intent.algo_id,
            symbol=intent.symbol,
            client_order_id=intent.client_order_id,
        )
        log.warning("%s", detail)
        self._say(detail)
        self._alert(detail, intent.algo_id)

    async def _row(
        self, intent: OrderIntent, detail: str, data: dict[str, object], close: _Close
    ) -> None:
        journal = self._executor.journal
        await asyncio.to_thread(journal.record_exit, intent, detail, data, close.signal_id)


def _price(value: object) -> Decimal | None:
    """A journaled price read back: a plausible share price, or None (the journal may hold
    anything)."""
    try:
        price = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return None if implausible_price(price) else price
