"""Several ``tradebot run`` processes on one PostgreSQL journal: every one listens, one executes.

**Leadership is a lease row**, ``tradebot_leadership`` (name ``bot``): ``epoch`` counts
take-overs, ``lease_until`` is on the *server's* clock (``now()``), never a process's. A lease
lasts 60% of ``journal.failover_timeout`` and the leader renews it four times per lease;
standbys look every tenth of the timeout, and take over once it has expired, with one
``UPDATE ... WHERE lease_until < now()`` that exactly one standby wins
(:meth:`~tradebot.journal.postgres.PostgresJournal.take_lead`); the epoch goes up by one.

Why a lease and not an advisory lock: a leader paused with SIGSTOP (or frozen in a VM) keeps its
connection open, so a session lock would stay held for as long as the pause lasts and nobody
would trade; a lease expires on the server's clock whatever the holder does.

**Fencing** is what makes a lapsed lease safe: the leader's journal is opened with its epoch,
and every transaction that makes an intent durable checks, in that very transaction, that the
epoch is still current (:meth:`~tradebot.journal.postgres.PostgresJournal._fence`). A leader that
wakes after a standby took over gets :class:`~tradebot.exceptions.NotLeader` at its next intent:
nothing new is written, so nothing new is sent. An intent it made durable *before* it was
deposed may still leave once it wakes; the new leader's recovery has looked that order up by its
client order id and sent it with the same id, and the broker accepts one order per client order
id, so it is still sent once.

**On losing the lease** (a renewal finds another epoch, or no renewal succeeded for a whole
lease), the process stops with :class:`NotLeader` (exit 4): it never trades again
with the old epoch; a supervisor (systemd ``Restart=always``) starts it again, as a standby.

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
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from tradebot import __version__
from tradebot.alphahub.listener import DroppedInput, Listener
from tradebot.alphahub.session import StateChange
from tradebot.config.model import Config
from tradebot.core.orders import Plan, SkippedLeg, SkipReason
from tradebot.exceptions import JournalError, NotLeader
from tradebot.journal.interface import Journal
from tradebot.journal.postgres import PostgresJournal, ProcessBeat, open_postgres, shown
from tradebot.runtime.signals import ALREADY_PLANNED, SignalLoop

log = logging.getLogger(__name__)

LEADER = "leader"
SINCE_MARGIN = timedelta(minutes=5)
STALE_BEAT = 60  # seconds without a heartbeat before `tradebot status` says so
STANDBY = "standby"


def holder_name() -> str:
    """This process, uniquely: host, pid and start time (a pid is reused after a restart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{int(time.time())}"


def connections_of(listener: Listener | None, count: int) -> str:
    if listener is None:
        return f"0/{count} joined"
    up = sum(1 for c in range(count) if listener.joined(c))
    return f"{up}/{count} joined"


class Leadership:
    """This process's side of the lease, on a connection of its own (a renewal never waits
    behind the executor's writes)."""

    def __init__(self, url: str, *, timeout: float, say: Callable[[str], None]) -> None:
        self._url = url
        self.where = shown(url)  # the URL as it may be shown (password masked)
        self.timeout = timeout
        self._say = say
        self.holder = holder_name()
        self.role = STANDBY
        self.epoch: int | None = None
        self._store: PostgresJournal | None = None
        self.listener: Listener | None = None  # whose connections the heartbeat reports
        self.connections = 1

    # Take-over within ``timeout`` of the leader's loss: the lease it last renewed runs out
    # at most ``lease`` later, a standby looks within ``look_every`` of that, and a little is
    # left for the new leader's start (recovery, the broker's streams). The leader renews
    # several times per lease, so one slow renewal does not cost it the lead.
    @property
    def lease(self) -> float:
        return self.timeout * 0.6

    @property
    def renew_every(self) -> float:
        return self.lease / 4

    @property
    def look_every(self) -> float:
        return self.timeout / 10

    async def _db(self) -> PostgresJournal:
        if self._store is None:
            self._store = await asyncio.to_thread(open_postgres, self._url)
        return self._store

    async def beat(self) -> None:
        store = await self._db()
        host, pid = socket.gethostname(), os.getpid()
        beat = ProcessBeat(
            self.holder,
            host,
            pid,
            self.role,
            connections_of(self.listener, self.connections),
        )
        await asyncio.to_thread(store.beat, beat)

    async def try_lead(self) -> int | None:
        store = await self._db()
        epoch = await asyncio.to_thread(store.take_lead, self.holder, self.lease)
        if epoch is not None:
            self.epoch, self.role = epoch, LEADER
        return epoch

    async def keep(self) -> None:
        """The leader's task: renew the lease and beat; raise NotLeader the moment it is lost.

        A renewal that fails (the server unreachable) is tried again; once no renewal has
        succeeded for a whole lease a standby may have taken over, so this process stops.
        """
        assert self.epoch is not None
        store = await self._db()
        renewed = time.monotonic()
        with contextlib.suppress(JournalError):  # `tradebot status` shows the leader at once
            await self.beat()
        while True:
            await asyncio.sleep(self.renew_every)
            try:
                kept = await asyncio.to_thread(store.renew_lead, self.epoch, self.lease)
                await self.beat()
            except JournalError as exc:
                if time.monotonic() - renewed < self.lease:
                    log.warning("lease renewal failed, trying again: %s", exc)
                    continue
                raise NotLeader(
                    f"could not renew the leadership lease for {self.lease:g} s ({exc}): "
                    "another process may lead now; stopping so this one never sends again"
                ) from None
            if not kept:
                raise NotLeader(
                    f"leadership epoch {self.epoch} was taken over by another process (this "
                    "one was paused or cut off past journal.failover_timeout): stopping; "
                    "start it again to stand by"
                )
            renewed = time.monotonic()

    async def release(self) -> None:
        """At a clean stop: the lease ends now, so a standby takes over at its next look."""
        if self._store is None:
            return
        store = self._store
        try:
            if self.epoch is not None:
                await asyncio.to_thread(store.release_lead, self.epoch)
            self.role = "stopped"
            await self.beat()
        except JournalError as exc:
            log.warning("could not release the leadership lease: %s", exc)
        finally:
            store.close()
            self._store = None


async def stand_by(
    config: Config,
    journal: Journal,
    lead: Leadership,
    stopping: asyncio.Event,
    say: Callable[[str], None],
) -> int | None:
    """Listen and journal every signal until this process wins the lease: its epoch, or None
    when the stop came first. Nothing is planned or sent here."""
    epoch = await lead.try_lead()
    if epoch is not None:
        return epoch

    def state(change: StateChange) -> None:
        log.info("alphahub connection %s: %s", change.connection, change.state)

    dropped: asyncio.Queue[DroppedInput] = asyncio.Queue()

    def bad(bad: DroppedInput) -> None:  # journaled as the leader would, off the reader's path
        say(f"dropped an unreadable frame: {bad.reason}")
        dropped.put_nowait(bad)

    listener = Listener(
        config.alphahub, config.subscribed_algorithms, on_state=state, on_bad_input=bad
    )
    lead.listener = listener

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

    async def wait_for_lease() -> int | None:
        while not stopping.is_set():
            try:
                await lead.beat()
                won = await lead.try_lead()
            except JournalError as exc:  # the server away, or the row locked: look again
                log.warning("standby: could not look at the lease: %s", exc)
                won = None
            if won is not None:
                return won
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), lead.look_every)
        return None

    say(
        f"tradebot {__version__}: STANDBY ({lead.holder}) on the journal {lead.where}\n"
        f"standby: listening and journaling; the leader executes (takes over within "
        f"{lead.timeout:g} s of the leader's loss)"
    )
    async with asyncio.TaskGroup() as tg:
        tasks = [
            tg.create_task(listener.run(), name="standby-listener"),
            tg.create_task(journal_signals(), name="standby-journal"),
            tg.create_task(journal_dropped(), name="standby-errors"),
        ]
        won = await wait_for_lease()
        # the queue is drained first: a signal this process heard is on record for the leader
        while not listener.queue.empty():
            await asyncio.to_thread(journal.record_signal, listener.queue.get_nowait())
        for task in tasks:
            task.cancel()
    lead.listener = None
    return won


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
    ) -> None:
        """``planned``: which leg identities a plan has claimed (see ``planner_for``)."""
        self._journal = journal
        self._signals = signals
        self._planned = planned
        self._busy = busy
        self._stopping = stopping
        self._interval = interval
        self._max_age = max_age
        self._now = now
        self._tried: set[int] = set()  # a signal whose planning failed is not retried forever

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
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


def process_lines(url: str) -> list[str]:
    """``tradebot status``: every process that shares the journal at ``url``, one line each.

    A heartbeat older than ``STALE_BEAT`` seconds is marked: that process is gone or frozen
    (its row stays, so a crash is visible, until the same process id beats again).
    """
    with open_postgres(url, readonly=True) as store:
        rows = store.processes()
        lead = store.leadership()
    if not rows:
        return ["processes: none has started on this journal yet"]
    epoch = f", leadership epoch {lead[0]}" if lead else ""
    lines = [f"processes sharing the journal{epoch}:"]
    for row in rows:
        b = row.beat
        gone = "  (no heartbeat: gone or frozen?)" if row.age > STALE_BEAT else ""
        lines.append(
            f"  {b.host:<20} pid {b.pid:<8} {b.role:<8} alphahub {b.connections:<11} "
            f"last heartbeat {row.heartbeat_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC "
            f"({row.age:.0f} s ago){gone}"
        )
    return lines
