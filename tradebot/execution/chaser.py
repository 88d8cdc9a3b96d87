"""Runs the chases of ``limit_then_market`` limits: looks, decides (:mod:`.chase`), acts.

Every ``interval`` seconds, and at once when an order event ends a limit it follows (a
:class:`~tradebot.runtime.followers.Follower`), the chaser

1. finds the chase limits the journal holds without a final outcome (a limit the executor just
   sent, or one a restart left working) and starts following them;
2. looks each one up by client order id: the broker's view is the only source of its filled
   quantity and status (a lookup that shows something new is journaled, like any lookup);
3. asks the :class:`~tradebot.execution.chase.Chase` what to do, and does it, between signals
   (holding the signal lock, so a chase never acts in the middle of a plan; the lookups run
   without it, so a signal never waits on them). No cancel is asked for while the kill switch
   forbids it: halted, the limit keeps working at its price; reduce-only, the chase of an open
   waits. It acts once the switch allows it again:

   * **cancel**: a ``chase`` row goes to the journal first (the write-ahead record that the
     cancel is ours, and why), then the cancel goes to the broker; it is asked again every tick
     until the broker shows the limit final, so a lost cancel answer costs a tick, not a leg;
   * **send the remainder**: only once the broker shows the limit final, and only if no later
     leg of the same algorithm and symbol has been journaled since the limit (a close that
     arrived during the chase has flattened what the limit filled: the rest of the old open
     must not undo it), a market order for
     exactly the planned quantity less what the broker confirmed filled, under the id
     :func:`~tradebot.core.ids.remainder_id` derives from the limit's, **if the limits in force
     now let it leave** (:func:`~tradebot.core.risk.refusal_at_leaving`: the config, the kill
     switch, today's orders and losses, the order and exposure limits, the price collar against
     a reference price read just before). A refused remainder is a ``chase`` row (step
     ``refused``, naming the limit) and a line on the output; the limit stays canceled and the
     leg ends with what it filled. An allowed one goes through :meth:`Executor.execute`:
     journaled before it is sent, and a remainder already on record (a restart after it was
     written) is never sent from here again; the re-check and the next start's recovery settle
     it by that id, as any order.

While the market is closed no chase acts: the timer has not started (it starts at the open),
or the session ended mid-chase and the limit waits for the next open (a market remainder sent
now would only wait for it too, and trade at whatever the open is).

At start, :meth:`Chaser.resume` also picks up chases whose cancel was on record but whose
remainder was not (a crash between the two): the lookup then shows the limit final, and the
remainder follows from what it filled. Monotonic time does not survive a restart: a resumed
chase's timer starts again from when it is resumed (it only ever waits longer, never less).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from tradebot.core.events import OrderEvent
from tradebot.core.ids import remainder_id
from tradebot.core.market import MarketPrices
from tradebot.core.order_shape import MARKET, Limit
from tradebot.core.orders import OrderIntent, Plan, TimeInForce
from tradebot.core.risk import Refusal
from tradebot.execution.chase import ENDED_WITHOUT_REMAINDER, Action, Chase, Phase
from tradebot.execution.executor import Executor
from tradebot.execution.limits_in_force import LimitsInForce
from tradebot.execution.superseded import later_leg
from tradebot.journal.interface import EntryFilter
from tradebot.journal.records import Status, intent_from_entry

log = logging.getLogger(__name__)


@dataclass
class _Followed:
    intent: OrderIntent  # the limit, as journaled
    signal_id: int | None
    state: Chase
    cancel_confirmed_asked: bool = False  # the broker took this process's cancel request


def remainder_intent(limit: OrderIntent, qty: Decimal, why: str) -> OrderIntent:
    """The market order that finishes a chased limit: same legs and role, its own id."""
    return replace(
        limit,
        client_order_id=remainder_id(limit.client_order_id),
        qty=qty,
        # a market order now, in the regular session: the remainder must not wait for a
        # price (that was the limit's job) nor for another day
        price=MARKET,
        time_in_force=TimeInForce.DAY,
        extended_hours=False,
        exits=None,  # the limit's exits cover the remainder's fills too (execution/exit_manager.py)
        attempt=0,
        notes=(*limit.notes, f"market remainder of {limit.client_order_id} ({why})"),
    )


class Chaser:
    """See the module docstring. One per executor; the bot's followers step it."""

    def __init__(
        self,
        executor: Executor,
        *,
        busy: asyncio.Lock,
        stopping: asyncio.Event,
        interval: float = 1.0,
        max_age: timedelta,
        now: Callable[[], datetime],
        limits: LimitsInForce,
        say: Callable[[str], None] = lambda line: None,
        monotonic: Callable[[], float] = time.monotonic,
        may_act: Callable[[OrderIntent], bool] = lambda intent: True,
    ) -> None:
        """``may_act``: the kill switch's say on a cancel; ``limits``: what a remainder obeys
        when it leaves (the kill switch's say on it among them)."""
        self._executor = executor
        self._limits = limits
        self._busy = busy
        self._stopping = stopping
        self._interval = interval
        self._max_age = max_age
        self._now = now
        self._say = say
        self._monotonic = monotonic
        self._may_act = may_act  # the kill switch's say (the runtime reads it)
        self._followed: dict[str, _Followed] = {}
        self._after_id = 0
        self._resumed = False

    @property
    def following(self) -> tuple[str, ...]:
        """The client order ids of the limits being chased (for tests and the status line)."""
        return tuple(self._followed)

    # -- a follower (tradebot.runtime.followers): stepped every interval, and at once when an
    # order event ends a limit it follows (filled: the chase is over; canceled: the remainder)

    name = "chaser"
    at_start = True  # resume what a restart left, at once

    @property
    def interval(self) -> float:
        return self._interval

    def cares(self, event: OrderEvent) -> bool:
        return event.is_final and event.client_order_id in self._followed

    async def step(self) -> None:
        """The first step resumes (see :meth:`resume`), then every step is a :meth:`tick`."""
        if self._stopping.is_set():
            return
        if not self._resumed:
            await self.resume()
            self._resumed = True
        await self.tick()

    async def resume(self) -> None:
        """Pick up chases whose cancel is on record but whose remainder is not (see above)."""
        journal = self._executor.journal
        since = self._now() - self._max_age
        rows = await asyncio.to_thread(
            journal.entries, EntryFilter(statuses=(Status.CHASE,), since=since)
        )
        steps: dict[str, set[str]] = {}
        for row in rows:
            if row.client_order_id is not None:
                step = str((row.data or {}).get("step", ""))
                steps.setdefault(row.client_order_id, set()).add(step)
        for limit_id, seen in steps.items():
            if "cancel" not in seen or seen & ENDED_WITHOUT_REMAINDER or limit_id in self._followed:
                continue
            known = await asyncio.to_thread(
                journal.entries,
                EntryFilter(
                    statuses=(Status.INTENT,),
                    client_order_ids=(limit_id, remainder_id(limit_id)),
                ),
            )
            if any(e.client_order_id != limit_id for e in known):
                continue  # its remainder is on record: settled like any order
            limit = next((e for e in known if e.client_order_id == limit_id), None)
            if limit is not None:
                self._follow(intent_from_entry(limit), limit.signal_id, canceling=True)

    async def tick(self) -> None:
        """One round: find new chase limits, look each one up, act on what it decides."""
        await self._discover()
        if not self._followed:
            return
        now = self._monotonic()
        broker = self._executor.broker
        # asked whenever a limit is working: its timer starts at the open, and a chase never
        # acts while the market is closed (a market remainder would wait for the next open)
        working_any = any(f.state.phase is Phase.WORKING for f in self._followed.values())
        market_open = (await broker.clock()).is_open if working_any else True
        working = sorted(
            {f.intent.symbol for f in self._followed.values() if f.state.phase is Phase.WORKING}
        )
        prices = await broker.reference_prices(working) if working else MarketPrices()
        for limit_id in list(self._followed):
            await self._advance(self._followed[limit_id], now, market_open, prices)

    async def _discover(self) -> None:
        journal = self._executor.journal
        newest = await asyncio.to_thread(journal.last_id)
        open_intents = await asyncio.to_thread(journal.unresolved_intents, after_id=self._after_id)
        for stored in open_intents:
            intent = stored.intent
            # a limit whose cancel is on record was picked up by resume() already
            if intent.chase is not None and intent.client_order_id not in self._followed:
                self._follow(intent, stored.signal_id, canceling=False)
        # outcomes are never taken back: later scans need only start at the oldest still open
        self._after_id = min((s.entry_id for s in open_intents), default=newest + 1) - 1

    def _follow(self, intent: OrderIntent, signal_id: int | None, *, canceling: bool) -> None:
        assert isinstance(intent.price, Limit) and intent.price.chase is not None
        state = Chase(
            intent.client_order_id,
            intent.side,
            intent.qty,
            intent.price.limit,
            chase_after=intent.price.chase.chase_after,
            chase_pct=intent.price.chase.chase_pct,
            phase=Phase.CANCELING if canceling else Phase.WORKING,
        )
        self._followed[intent.client_order_id] = _Followed(intent, signal_id, state)

    async def _advance(
        self, followed: _Followed, now: float, market_open: bool, prices: MarketPrices
    ) -> None:
        executor, intent = self._executor, followed.intent
        limit_id = intent.client_order_id
        snapshot = await executor.broker.get_order(limit_id)
        if snapshot is None:
            return  # not at the broker (yet): the re-check settles the send; nothing to chase
        before = followed.state
        if snapshot.filled_qty != before.filled or snapshot.status != before.status:
            await executor.record_snapshot(snapshot, "lookup")
        state = before.with_limit(snapshot.status, snapshot.filled_qty)
        if market_open:
            state = state.market_opened(now)
        elif state.phase is Phase.WORKING and not state.status.is_final:
            # closed (the session ended after the timer started): a gtc limit keeps working at
            # its price; the chase picks up at the open. A day limit expires at the close, its
            # partial fill stays what it is (no remainder goes into another session)
            followed.state = state
            return
        reference = prices.prices.get(intent.symbol)  # none: only the timer chases it
        decided, action = state.decide(now, reference)
        if action.kind in ("cancel", "send_remainder") or state.phase is Phase.CANCELING:
            async with self._busy:
                # a remainder is not held by the kill switch but judged by it, with every
                # limit, when it is to leave (_act): the limit is final, the chase is over
                held = action.kind != "send_remainder" and self._held(intent)
                if self._stopping.is_set() or held:
                    followed.state = state  # what the broker showed; the decision waits
                    return
                await self._act(followed, decided, action)
            return
        followed.state = decided
        if action.kind == "done":
            await self._act(followed, decided, action)

    def _superseded(self, intent: OrderIntent) -> str | None:
        """The key of a leg of the same algorithm and symbol journaled after this limit, if any
        (read under the signal lock: no plan is half-written)."""
        journal = self._executor.journal
        rows = journal.entries(
            EntryFilter(client_order_ids=(intent.client_order_id,), statuses=(Status.INTENT,))
        )
        if not rows:
            return None
        return later_leg(journal, intent.algo_id, intent.symbol, rows[0].id)

    def _held(self, intent: OrderIntent) -> bool:
        return not self._may_act(intent)

    async def _act(self, followed: _Followed, state: Chase, action: Action) -> None:
        executor, intent = self._executor, followed.intent
        limit_id = intent.client_order_id
        followed.state = state
        if action.kind == "cancel":
            assert action.why is not None
            detail = (
                f"chasing {limit_id} ({action.why}): canceling the limit, filled"
                f" {state.filled} of {state.planned}; the rest goes at market"
            )
            data = {"step": "cancel", "why": str(action.why), "filled": str(state.filled)}
            await asyncio.to_thread(
                executor.journal.record_chase, intent, detail, data, followed.signal_id
            )
            self._say(detail)
            await executor.broker.cancel(limit_id)
            followed.cancel_confirmed_asked = True
        elif state.phase is Phase.CANCELING and not state.status.is_final:
            if not followed.cancel_confirmed_asked:  # resumed, or the last request failed
                await executor.broker.cancel(limit_id)
                followed.cancel_confirmed_asked = True
        elif action.kind == "send_remainder" and (later := self._superseded(intent)):
            # the algorithm spoke about this symbol again since the limit (a close, say): the
            # rest of an old open would undo what the newer signal planned, so none goes
            detail = (
                f"chase of {limit_id} ended without a remainder: a later signal for"
                f" {intent.symbol} ({later}) superseded it; filled {state.filled} of"
                f" {state.planned}"
            )
            data = {"step": "superseded", "filled": str(state.filled), "by": later}
            await asyncio.to_thread(
                executor.journal.record_chase, intent, detail, data, followed.signal_id
            )
            self._say(detail)
            del self._followed[limit_id]
        elif action.kind == "send_remainder":
            why = f"{state.why or 'resumed'}; limit filled {state.filled} of {state.planned}"
            remainder = remainder_intent(intent, action.qty, why)
            refused = await self._limits.refusal(remainder, executor.book)
            if refused is not None:
                await self._refused(followed, state, remainder, refused)
            else:
                plan = Plan(intents=(remainder,), notes=(f"chase of {limit_id}: {why}",))
                await executor.execute(plan, signal_id=followed.signal_id)
                self._limits.sent(intent.algo_id)
                self._say(f"chased {limit_id}: {action.qty} {intent.symbol} sent at market")
            del self._followed[limit_id]
        elif action.kind == "done":
            if action.detail:
                data = {"step": "done", "filled": str(state.filled)}
                detail = f"chase of {limit_id} ended: {action.detail}"
                await asyncio.to_thread(
                    executor.journal.record_chase, intent, detail, data, followed.signal_id
                )
            del self._followed[limit_id]

    async def _refused(
        self, followed: _Followed, state: Chase, remainder: OrderIntent, refused: Refusal
    ) -> None:
        """The limits in force refused the remainder: on record, and said; the leg ends with
        what the limit filled."""
        intent = followed.intent
        detail = (
            f"chase of {intent.client_order_id} ended without a remainder: {remainder.side}"
            f" {remainder.qty} {intent.symbol} at market refused by {refused.limit}"
            f" ({refused.detail}); the limit filled {state.filled} of {state.planned}"
        )
        data = {
            "step": "refused",
            "limit": refused.limit,
            "qty": str(remainder.qty),
            "filled": str(state.filled),
        }
        journal = self._executor.journal
        await asyncio.to_thread(journal.record_chase, intent, detail, data, followed.signal_id)
        log.warning("%s", detail)
        self._say(detail)
