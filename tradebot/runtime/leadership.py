"""Several ``tradebot run`` processes on one PostgreSQL journal: every one listens, one executes.

Which process executes is the journal's business: the leadership lease, its fencing and its
renewal are the leased tenure's (:mod:`tradebot.journal.lease`), which the journal opener picks
for a PostgreSQL journal (:func:`tradebot.journal.opener.tenure_for`). This module holds the
runtime's two parts of it: what a process does while it stands by (:func:`standing_by`: listen
and journal, send nothing), and what the leader does with the signals the standbys journaled
(:class:`ForeignSignals`, one of the bot's followers).

**Signals seen by several processes.** Every process journals every frame (its own SIGNAL row;
the LEG rows insert-if-absent, so each leg is on record once). The leader plans its own signals
as they arrive, and polls the journal for signals other processes journaled and nobody planned
(:class:`ForeignSignals`), planning them through the same path. A leg is planned once whatever
the number of SIGNAL rows that carry it: every plan claims its legs in
``tradebot_planned_legs`` in its fenced transaction, and the planner is given only the legs no
plan has claimed (:func:`tradebot.runtime.signals.planner_for`); the others are journaled as
skipped duplicates.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from tradebot.alphahub.listener import DroppedInput, Listener
from tradebot.alphahub.session import StateChange
from tradebot.config.model import Config
from tradebot.core.events import OrderEvent
from tradebot.core.orders import Plan, SkippedLeg, SkipReason
from tradebot.exceptions import NotLeader
from tradebot.journal.interface import Journal
from tradebot.runtime.signals import ALREADY_PLANNED, SignalLoop

log = logging.getLogger(__name__)

SINCE_MARGIN = timedelta(minutes=5)


def connections_of(listener: Listener | None, count: int) -> str:
    """What a heartbeat says of this process's AlphaHub connections."""
    if listener is None:
        return f"0/{count} joined"
    up = sum(1 for c in range(count) if listener.joined(c))
    return f"{up}/{count} joined"


@asynccontextmanager
async def standing_by(
    config: Config,
    journal: Journal,
    say: Callable[[str], None],
    listening: Callable[[Listener | None], None] = lambda listener: None,
) -> AsyncIterator[None]:
    """While another process leads: listen and journal every signal (and every unreadable
    frame, as the leader would) in ``journal``; nothing is planned or sent. On leaving, the
    signals heard are journaled first, so each is on record for whoever plans it.
    ``listening(listener)``: the listener in use (None once stopped), for the heartbeat."""

    def state(change: StateChange) -> None:
        log.info("alphahub connection %s: %s", change.connection, change.state)

    dropped: asyncio.Queue[DroppedInput] = asyncio.Queue()

    def bad(bad: DroppedInput) -> None:  # journaled as the leader would, off the reader's path
        say(f"dropped an unreadable frame: {bad.reason}")
        dropped.put_nowait(bad)

    listener = Listener(
        config.alphahub, config.subscribed_algorithms, on_state=state, on_bad_input=bad
    )
    listening(listener)

    async def journal_signals() -> None:
        while True:
            signal = await listener.queue.get()
            await asyncio.to_thread(journal.record_signal, signal)
            say(f"standby: signal for algorithm {signal.algo_id} journaled for the leader")

    async def journal_dropped() -> None:
        while True:
            bad = await dropped.get()
            await asyncio.to_thread(
                journal.record_error,
                f"malformed input from AlphaHub dropped (connection {bad.connection}): "
                f"{bad.reason}; received: {bad.raw[:500]}",
                algo_id=bad.algo_id,
            )

    async with asyncio.TaskGroup() as tg:
        tasks = [
            tg.create_task(listener.run(), name="standby-listener"),
            tg.create_task(journal_signals(), name="standby-journal"),
            tg.create_task(journal_dropped(), name="standby-errors"),
        ]
        yield
        # the queue is drained first: a signal this process heard is on record for the leader
        while not listener.queue.empty():
            await asyncio.to_thread(journal.record_signal, listener.queue.get_nowait())
        for task in tasks:
            task.cancel()
    listening(None)


class ForeignSignals:
    """The leader's poll for signals other processes journaled and nobody planned yet.

    Each is planned through the signal loop's own path (same context, same planner, legs
    already planned left out); one too old (``journal.recovery_max_age``) is recorded skipped
    as stale, as recovery does. It holds ``busy`` like the signal loop, so a live signal being
    handled finishes first and its legs are claimed before the poll looks.
    """

    def __init__(
        self,
        journal: Journal,
        signals: SignalLoop,
        *,
        busy: asyncio.Lock,
        stopping: asyncio.Event,
        interval: float,
        max_age: timedelta,
        now: Callable[[], datetime],
        planned: Callable[[Sequence[str]], set[str]],
        handles: Callable[[int], bool] = lambda algo_id: True,
    ) -> None:
        """``planned``: which leg identities a plan has claimed (see ``planner_for``);
        ``handles``: whether a signal of that algorithm is this account's to plan (with several
        accounts, each polls for its own; ``runtime/account_engine.route``)."""
        self._handles = handles
        self._journal = journal
        self._signals = signals
        self._planned = planned
        self._busy = busy
        self._stopping = stopping
        self._interval = interval
        self._max_age = max_age
        self._now = now
        self._tried: set[int] = set()  # a signal whose planning failed is not retried forever

    # -- a follower (tradebot.runtime.followers): on the tick alone, no order event concerns it;
    # the first look one interval after the start (recovery planned what was waiting then)

    name = "pick-up of foreign signals"
    at_start = False

    @property
    def interval(self) -> float:
        return self._interval

    def cares(self, event: OrderEvent) -> bool:
        return False

    async def step(self) -> None:
        await self.poll()

    async def poll(self) -> int:
        """Plan what is waiting; returns how many signals were handled."""
        handled = 0
        async with self._busy:
            if self._stopping.is_set():
                return 0
            # older than max_age would be skipped as stale: not even looked at (the next
            # recovery records them), so the poll reads only recent rows however long the
            # journal; a margin covers a standby whose clock is behind ours
            since = self._now() - self._max_age - SINCE_MARGIN
            waiting = await asyncio.to_thread(self._journal.unplanned_signals, since=since)
            for stored in waiting:
                if stored.signal_id in self._tried or self._signals.owns(stored.signal_id):
                    continue  # (owned: journaled by this process, its own loop plans it)
                if not self._handles(stored.signal.algo_id):
                    continue  # another account's algorithm: never a plan of this account's
                self._tried.add(stored.signal_id)
                signal = stored.signal
                if self._now() - signal.received_at > self._max_age:
                    skips = tuple(
                        SkippedLeg(
                            leg.id,
                            SkipReason.STALE,
                            "journaled by another process, too old to trade when the leader "
                            "found it",
                            leg=leg,
                        )
                        for leg in signal.legs
                    )
                    await asyncio.to_thread(
                        self._journal.record_plan, stored.signal_id, Plan(skipped=skips)
                    )
                    continue
                keys = [leg.id.key for leg in signal.legs]
                done = await asyncio.to_thread(self._planned, keys)
                if done.issuperset(keys):
                    # the usual case: the leader heard it too and planned its own copy; no
                    # need to ask the broker for the context of a plan with nothing in it
                    dups = tuple(
                        SkippedLeg(leg.id, SkipReason.DUPLICATE, ALREADY_PLANNED, leg=leg)
                        for leg in signal.legs
                    )
                    await asyncio.to_thread(
                        self._journal.record_plan, stored.signal_id, Plan(skipped=dups)
                    )
                    continue
                try:
                    await self._signals.handle(signal, signal_id=stored.signal_id)
                except NotLeader:
                    raise
                except Exception as exc:  # a planner bug: on record, the poll goes on
                    log.exception("planning signal %s failed", stored.signal_id)
                    await asyncio.to_thread(
                        self._journal.record_error,
                        f"planning failed, nothing sent: {exc!r}",
                        algo_id=signal.algo_id,
                        signal_id=stored.signal_id,
                    )
                    continue
                handled += 1
        return handled
