"""Places the exits of entries that could not carry them as bracket legs, once they have filled;
and says when a position has lost its exits.

Every ``interval`` seconds, and at once when an order ends (a
:class:`~tradebot.runtime.followers.Follower`), the exit manager

1. finds entries that carry ``exits`` but no bracket (see :mod:`tradebot.core.exits`), journaled
   within ``lookback`` and whose exits are not on record yet (at start: all of them, so a
   restart resumes what a crash left);
2. asks :func:`~.exit_rules.entry_outcome` whether each is over (a chased limit: its chase too)
   and what it filled; then, holding the signal lock (never in the middle of a plan):

   * nothing happens while the kill switch halts (reduce-only allows exits: they reduce);
   * an entry after which a later leg of the same algorithm and symbol was journaled gets no
     exits (that leg, a close say, decided about the position since: the chaser's rule);
   * else its exits go out for :func:`~.exit_rules.exit_cover` shares, priced from the average
     price of its fills (:func:`~tradebot.core.exits.after_fill_exits`), through
     :meth:`Executor.execute`: journaled before they are sent, under ids derived from the
     entry's, so a restart finds them and never sends a second set. An entry whose exits cover
     nothing (a fractional fill, another algorithm's opposite position) gets an ``exit`` row
     saying so.

3. gives a close that left shares held (it filled only in part) the exits that were canceled
   for it back, and says so (:mod:`.close_exits`);
4. watches exits that ended without filling (expired, canceled at the broker, rejected, never
   sent) while the algorithm's ledger still holds the position: the position is unprotected,
   an ERROR row says so (the ``error`` alert goes out). Exits canceled by a close
   (:mod:`tradebot.runtime.close_cancel`) and an oco's leg canceled because its sibling filled
   are not.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from tradebot.core.events import OrderEvent, OrderFilled
from tradebot.core.exits import after_fill_exits, exit_kind
from tradebot.core.ids import exit_parts, leg_exit_id, remainder_id
from tradebot.core.orders import ExitTerms, IntentRole, OrderIntent, Plan
from tradebot.execution.close_exits import CloseExits
from tradebot.execution.executor import Executor
from tradebot.execution.exit_rules import ZERO, entry_outcome, exit_cover
from tradebot.execution.live_exits import (
    CANCEL_FOR_CLOSE as CANCEL_FOR_CLOSE,  # where close_cancel and the tests read it
)
from tradebot.execution.live_exits import (
    covered_by_live_exits,
    exit_group,
    exits_settled,
)
from tradebot.execution.scan import new_rows
from tradebot.execution.superseded import later_leg
from tradebot.journal.interface import EntryFilter
from tradebot.journal.records import FILL_STATUSES, Entry, Status, intent_from_entry

log = logging.getLogger(__name__)

_ENDED = (Status.CANCELED, Status.EXPIRED, Status.REJECTED, Status.FAILED)


def is_exit_entry(intent: OrderIntent) -> bool:
    """An entry whose exits go after its fill (not a bracket, not a chase's remainder)."""
    return (
        intent.exits is not None and intent.role is not IntentRole.EXIT and intent.attached is None
    )


class ExitManager:
    """See the module docstring. One per executor; the bot's followers step it."""

    def __init__(
        self,
        executor: Executor,
        *,
        busy: asyncio.Lock,
        stopping: asyncio.Event,
        now: Callable[[], datetime],
        interval: float = 1.0,
        lookback: timedelta = timedelta(days=7),
        say: Callable[[str], None] = lambda line: None,
        may_act: Callable[[OrderIntent], bool] = lambda intent: True,
        alert: Callable[[str, int], None] = lambda detail, algo_id: None,
        terms: Callable[[int], ExitTerms | None] = lambda algo_id: None,
    ) -> None:
        """``alert(detail, algo_id)``: a position was left unprotected, or a close left shares
        held (the runtime tells its observers: the alerts plug-in sends it to a person).
        ``terms(algo_id)``: the algorithm's exits in the config in force (what a close that left
        shares held attaches again)."""
        self._executor = executor
        self._busy = busy
        self._stopping = stopping
        self._now = now
        self._interval = interval
        self._lookback = lookback
        self._say = say
        self._alert = alert
        self._may_act = may_act  # the kill switch's say (the runtime reads it)
        self._waiting: dict[str, tuple[OrderIntent, int, int | None]] = {}  # id -> (entry, row)
        self._intents_after: int | None = None  # INTENT rows scanned up to this id
        self._ended_after: int | None = None  # final rows of exits scanned up to this id
        self.closes = CloseExits(
            executor,
            busy=busy,
            stopping=stopping,
            now=now,
            lookback=lookback,
            terms=terms,
            may_act=may_act,
            say=say,
            alert=alert,
        )

    @property
    def waiting(self) -> tuple[str, ...]:
        """Entries whose exits are not placed yet (for tests and the status line)."""
        return tuple(self._waiting)

    # -- a follower (tradebot.runtime.followers): stepped every interval, and at once when an
    # order ends (an entry filled: its exits go now; an exit ended unfilled: say so now)

    name = "exit manager"
    at_start = True  # resume what a restart left, at once

    @property
    def interval(self) -> float:
        return self._interval

    def cares(self, event: OrderEvent) -> bool:
        """Any order that ended, but an exit that filled: an entry or a close it waits on, one
        journaled since its last look (a market entry fills within milliseconds of being
        journaled), or an exit that ended without filling."""
        if not event.is_final:
            return False  # exits go once an entry is over; a partial fill changes nothing
        return exit_parts(event.client_order_id) is None or not isinstance(event, OrderFilled)

    async def step(self) -> None:
        if not self._stopping.is_set():
            await self.tick()

    async def tick(self) -> None:
        await self._discover()
        for entry_id in list(self._waiting):
            await self._advance(entry_id)
        await self.closes.tick()
        await self._watch_ended()

    # -- entries waiting for their exits ----------------------------------------------------

    async def _discover(self) -> None:
        journal = self._executor.journal
        first = self._intents_after is None
        since = self._now() - self._lookback
        rows, newest = await new_rows(
            journal, (Status.INTENT,), after=self._intents_after, since=since
        )
        for row in rows:
            if row.client_order_id is None or "exits" not in (row.data or {}):
                continue
            intent = intent_from_entry(row)
            if not is_exit_entry(intent) or intent.client_order_id in self._waiting:
                continue
            if first and await asyncio.to_thread(exits_settled, journal, intent.client_order_id):
                continue  # a restart: its exits (or why it has none) are on record
            self._waiting[intent.client_order_id] = (intent, row.id, row.signal_id)
        self._intents_after = newest

    async def _advance(self, entry_id: str) -> None:
        entry, row_id, signal_id = self._waiting[entry_id]
        journal = self._executor.journal
        remainder = remainder_id(entry_id) if entry.chase is not None else None
        ids = (entry_id,) if remainder is None else (entry_id, remainder)
        rows = await asyncio.to_thread(journal.entries, EntryFilter(client_order_ids=ids))
        outcome = entry_outcome(entry_id, entry.qty, rows, remainder)
        if not outcome.over:
            return
        if outcome.filled <= 0:
            del self._waiting[entry_id]  # nothing filled: nothing to protect
            return
        async with self._busy:
            if self._stopping.is_set() or not self._may_act(entry):
                return  # the kill switch halts: the exits wait (the entry stays unprotected)
            await self._place(entry, row_id, signal_id, outcome.filled, outcome.average_price)
        del self._waiting[entry_id]

    async def _place(
        self,
        entry: OrderIntent,
        row_id: int,
        signal_id: int | None,
        filled: Decimal,
        average: Decimal | None,
    ) -> None:
        executor = self._executor
        assert average is not None
        later = await asyncio.to_thread(
            later_leg, executor.journal, entry.algo_id, entry.symbol, row_id
        )
        if later is not None:
            detail = (
                f"no exits for {entry.client_order_id}: a later leg of algorithm"
                f" {entry.algo_id} on {entry.symbol} ({later}) decided about the position since"
            )
            await self._row(entry, detail, {"step": "superseded", "by": later}, signal_id)
            return
        direction = entry.side.sign
        positions = await executor.broker.positions()
        covered_algo, covered_account = await asyncio.to_thread(
            covered_by_live_exits,
            executor.journal,
            entry.symbol,
            entry.side.opposite(),
            entry.algo_id,
        )
        cover = exit_cover(
            filled,
            direction,
            ledger=executor.book.qty(entry.algo_id, entry.symbol),
            account=positions.get(entry.symbol, ZERO),
            covered_for_algo=covered_algo,
            covered_in_account=covered_account,
            symbol=entry.symbol,
        )
        why = "; ".join(cover.why_less)
        data: dict[str, object] = {
            "filled": str(filled),
            "average_price": str(average),
            "covered": str(cover.qty),
        }
        if cover.qty <= 0:
            detail = f"no exits for {entry.client_order_id} (filled {filled}): {why}"
            await self._row(entry, detail, {"step": "none", **data}, signal_id)
            log.warning("%s", detail)
            self._say(detail)
            return
        exits = after_fill_exits(entry, cover.qty, average)
        note = f"exits of {entry.client_order_id}: {cover.qty} of {filled} filled @ {average}"
        if why:
            note += f" ({why})"
        await executor.execute(Plan(intents=exits, notes=(note,)), signal_id=signal_id)
        if why:
            await self._row(entry, note, {"step": "partial", **data}, signal_id)
        self._say(note)

    async def _row(
        self, entry: OrderIntent, detail: str, data: dict[str, object], signal_id: int | None
    ) -> None:
        journal = self._executor.journal
        await asyncio.to_thread(journal.record_exit, entry, detail, data, signal_id)

    # -- exits that ended without filling --------------------------------------------------

    async def _watch_ended(self) -> None:
        journal = self._executor.journal
        since = self._now() - self._lookback
        rows, newest = await new_rows(journal, _ENDED, after=self._ended_after, since=since)
        for row in rows:
            if row.client_order_id is None:
                continue
            found = await asyncio.to_thread(self._unprotected, row)
            if found is not None:  # told on the loop, where the observers live
                detail, algo_id = found
                log.error("%s", detail)
                self._say(detail)
                self._alert(detail, algo_id)
        self._ended_after = newest

    def _unprotected(self, ended: Entry) -> tuple[str, int] | None:
        """An ERROR row when ``ended`` was the last live exit of a position still held; then
        its text and the algorithm, for the caller to tell (this runs in a worker thread)."""
        journal, coid = self._executor.journal, ended.client_order_id
        assert coid is not None
        found = journal.entries(EntryFilter(statuses=(Status.INTENT,), client_order_ids=(coid,)))
        if not found:
            return None
        intent = intent_from_entry(found[0])
        if intent.role is not IntentRole.EXIT:
            return None
        rows = self._group_rows(exit_group(intent))
        if any(r.status in FILL_STATUSES for r in rows):
            return None  # an exit of the group filled: the position is closed, not unprotected
        if any(
            r.status is Status.EXIT and (r.data or {}).get("step") in (CANCEL_FOR_CLOSE, "alerted")
            for r in rows
        ):
            return None  # canceled by a close of ours, or already reported
        members = {r.client_order_id for r in rows if r.status is Status.INTENT}
        ended_ids = {r.client_order_id for r in rows if r.status in _ENDED}
        if members - ended_ids:
            return None  # another exit of the group is still live
        held = self._executor.book.qty(intent.algo_id, intent.symbol) * intent.side.opposite().sign
        if held <= 0:
            return None  # the position is gone: nothing is left unprotected
        kind = exit_kind(intent).label
        detail = (
            f"POSITION UNPROTECTED: the {kind} {coid} of algorithm {intent.algo_id} ended"
            f" {ended.status} ({ended.detail}) without filling; it still holds {held}"
            f" {intent.symbol} with no live exit"
        )
        journal.record_exit(intent, detail, {"step": "alerted", "ended": str(ended.status)}, None)
        journal.record_error(
            detail, algo_id=intent.algo_id, symbol=intent.symbol, client_order_id=coid
        )
        return detail, intent.algo_id

    def _group_rows(self, group: str) -> list[Entry]:
        """Every row of the exits in ``group`` (the group's own id, and its legs' ids derived
        from it); an entry's own rows (a bracket's parent) are left out."""
        journal = self._executor.journal
        ids = sorted({group, leg_exit_id(group, "limit"), leg_exit_id(group, "stop")})
        rows = journal.entries(EntryFilter(client_order_ids=tuple(ids)))
        exits = {
            r.client_order_id
            for r in rows
            if r.status is Status.INTENT and (r.data or {}).get("role") == IntentRole.EXIT
        }
        return [r for r in rows if r.client_order_id in exits]
